"""Start-up configuration (lumiodesk.config.read_config): a malformed variable stops start-up and is named."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from lumiodesk.config import read_config

SECRET = "s" * 50
ENCRYPTION = "e" * 50

VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEY_FALLBACKS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DB_CONN_MAX_AGE",
    "REDIS_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "MEDIA_ROOT",
    "ATTACHMENT_MAX_BYTES",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Each test starts from the defaults with the two required secrets set; whatever read_config (or a .env)
    sets is undone afterwards."""
    for name in VARIABLES:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("ENCRYPTION_KEY", ENCRYPTION)


def test_defaults_are_production_safe_and_usable_locally(tmp_path):
    config = read_config(tmp_path)
    assert config.debug is False
    assert (config.secret_key, config.encryption_key, config.encryption_key_fallbacks) == (SECRET, ENCRYPTION, [])
    assert config.database["ENGINE"] == "django.db.backends.postgresql"
    assert config.database["NAME"] == "lumiodesk"
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert config.attachment_max_bytes == 10 * 1024 * 1024
    assert config.media_root == tmp_path / "media"


def test_good_values_are_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUG", "off")
    monkeypatch.setenv("SECRET_KEY", "k" * 50)
    monkeypatch.setenv("ALLOWED_HOSTS", "help.example.com,127.0.0.1")
    monkeypatch.setenv("DATABASE_URL", "postgres://desk:s3cret@db.internal:6543/helpdesk")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.internal:6380/2")
    monkeypatch.setenv("EMAIL_URL", "smtp://user:pw@mail.example.com:587")
    monkeypatch.setenv("ATTACHMENT_MAX_BYTES", "1024")
    config = read_config(tmp_path)
    assert config.debug is False
    assert config.allowed_hosts == ["help.example.com", "127.0.0.1"]
    assert (config.database["HOST"], config.database["PORT"], config.database["NAME"]) == (
        "db.internal",
        6543,
        "helpdesk",
    )
    assert config.database["USER"] == "desk" and config.database["PASSWORD"] == "s3cret"
    assert config.redis_url == "rediss://cache.internal:6380/2"
    assert config.email["EMAIL_HOST"] == "mail.example.com" and config.email["EMAIL_PORT"] == 587
    assert config.attachment_max_bytes == 1024


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "mysql://root@localhost/lumiodesk"),
        ("DATABASE_URL", "sqlite:///db.sqlite3"),
        ("DATABASE_URL", "postgres://localhost:5432/"),
        ("DATABASE_URL", "postgres://localhost:notaport/lumiodesk"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("REDIS_URL", "redis:///0"),
        ("REDIS_URL", "redis://127.0.0.1:port/0"),
        ("REDIS_URL", "localhost:6379"),
        ("DEBUG", "maybe"),
        ("DEBUG", "2"),
        ("EMAIL_URL", "bogus://mail.example.com"),
        ("EMAIL_URL", "not a url"),
        ("EMAIL_URL", "smtp://mail.example.com:notaport"),
        ("ATTACHMENT_MAX_BYTES", "ten megabytes"),
    ],
)
def test_malformed_variable_is_named(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as exc:
        read_config(tmp_path)
    message = str(exc.value)
    assert message.startswith(f"{name}=")
    assert "Example of a valid value" in message


def test_a_short_secret_key_is_refused_without_echoing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ImproperlyConfigured) as exc:
        read_config(tmp_path)
    assert str(exc.value).startswith("SECRET_KEY=")
    assert "short" not in str(exc.value)


def test_production_refuses_a_missing_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ImproperlyConfigured, match="^SECRET_KEY="):
        read_config(tmp_path)


def test_values_are_read_from_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("REDIS_URL=ftp://nope\n")
    with pytest.raises(ImproperlyConfigured, match="^REDIS_URL='ftp://nope'"):
        read_config(tmp_path)


def test_the_environment_wins_over_the_dotenv_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DEBUG=maybe\n")
    monkeypatch.setenv("DEBUG", "true")
    assert read_config(tmp_path).debug is True


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "postgres://desk:topsecret@db.internal:bad/helpdesk"),
        ("DATABASE_URL", "mysql://desk:topsecret@db.internal/helpdesk"),
        ("EMAIL_URL", "smtp://user:topsecret@mail.example.com:bad"),
        ("REDIS_URL", "redis://:topsecret@cache.internal:bad/0"),
    ],
)
def test_a_password_in_a_malformed_url_is_not_echoed(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as exc:
        read_config(tmp_path)
    assert str(exc.value).startswith(f"{name}=")
    assert "topsecret" not in str(exc.value)
    assert ":***@" in str(exc.value)


def test_prepared_statements_are_planned_for_their_parameters(tmp_path, monkeypatch):
    options = read_config(tmp_path).database["OPTIONS"]
    assert options["server_side_binding"] is True and "-c plan_cache_mode=force_custom_plan" in options["options"]
    monkeypatch.setenv("DB_SERVER_SIDE_BINDING", "0")  # behind a transaction pooler: no prepared statement, no option
    assert "options" not in read_config(tmp_path).database.get("OPTIONS", {})


@pytest.mark.django_db
def test_the_production_options_keep_postgresql_from_switching_to_a_generic_plan(tmp_path):
    """A generic plan does not know the organization nor the statuses asked for: at 100,000 tickets it made the
    console's status counters ten times slower after a connection's fifth list page. The server takes the option
    string as production sends it (the tests' own connections leave it out: conftest, LUMIODESK_TEST_PLAN_CACHE)."""
    import psycopg
    from django.db import connection

    options = read_config(tmp_path).database["OPTIONS"]["options"]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params["options"] = options
    with psycopg.connect(**params) as conn:
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_custom_plan"
