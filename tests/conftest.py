"""Shared test set-up.

Settings are loaded by pytest-django before this file is imported, so the
test-only values (Redis db 15, a Celery queue and a database of this run alone, a throw-away
MEDIA_ROOT, a fast password hasher) are applied in ``pytest_configure``,
before anything reads them: Celery and the cache read Django's settings lazily.

The people (healthchecks style): an organization with an admin, a manager, an
agent and a viewer, and an outsider organization with its own agent and ticket.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import itertools
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import is_hypothesis_test

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def xdist_worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


_SESSION_TOKEN = uuid.uuid4().hex[:8]


def celery_test_queue() -> str:
    """A Celery queue of this test process alone (per xdist worker and per run), so a real worker
    started by a test only sees the tasks of that test, even when two test runs share the Redis."""
    return f"lumiodesk-test-{xdist_worker()}-{_SESSION_TOKEN}"


_media_root: str | None = None


def pytest_configure(config):
    global _media_root
    from django.conf import settings

    # WhiteNoise warns when collectstatic has not been run; tests do not need it.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")

    _media_root = tempfile.mkdtemp(prefix=f"lumiodesk-media-{xdist_worker()}-")
    os.environ["REDIS_URL"] = TEST_REDIS_URL  # inherited by subprocesses (the real worker)
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = celery_test_queue()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": celery_test_queue(),
        }
    }
    settings.MEDIA_ROOT = _media_root
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if os.environ.get("LUMIODESK_TEST_FLUSH", "delete") != "truncate":
        _flush_by_delete()
    if os.environ.get("LUMIODESK_TEST_DROP", "background") != "wait":
        _drop_in_background()
    if os.environ.get("LUMIODESK_TEST_SYNC_COMMIT", "off") == "off":
        # A commit of the tests' connections does not wait for its WAL to reach the disk (a test that commits
        # for real commits each statement; the flush after it, the module worlds). What the other
        # connections see is unchanged; only a crash of the server could lose the last commits.
        for db in settings.DATABASES.values():
            options = db.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
    if os.environ.get("LUMIODESK_TEST_PLAN_CACHE", "auto") == "auto":
        # Production plans every prepared statement for its parameters (lumiodesk.config: a generic plan knows
        # neither the organization nor the statuses, and was ten times slower at 100,000 tickets). The tests'
        # tables hold a few rows, where any plan is fast, and the same statements run thousands of times:
        # planning each one again cost the fast lane 3-4 s. LUMIODESK_TEST_PLAN_CACHE=custom keeps production's.
        for db in settings.DATABASES.values():
            options = db.get("OPTIONS", {})
            if "options" in options:
                options["options"] = " ".join(options["options"].replace("-c plan_cache_mode=force_custom_plan",
                                                                         "").split())
    if os.environ.get("LUMIODESK_TEST_SOCKET", "on") == "on":
        _through_local_socket(settings)
    if os.environ.get("LUMIODESK_TEST_JIT", "off") == "off":
        # No JIT compilation of the plans: the tests' tables are small but never analyzed inside their
        # transaction, so PostgreSQL overestimates the dashboard's and rollups' queries past jit_above_cost and
        # compiles them with LLVM, tens of milliseconds each, for a few thousand rows (the rollup tests: 2.5 s
        # of the server's CPU). The plans and the results are the same.
        for db in settings.DATABASES.values():
            options = db.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c jit=off".strip()


def _through_local_socket(settings) -> None:
    """The tests' own connections reach a PostgreSQL of this machine through its Unix socket, where it takes
    them: a round trip costs less than over TCP, and the fast lane makes about 100,000 of them. Only when
    DATABASE_URL names this machine (127.0.0.1 or localhost) and a connection through the socket succeeds;
    otherwise nothing changes. ``HOST`` is emptied and the socket's folder given in ``OPTIONS``: what builds a
    URL for another process (the real worker, the SMTP receiver, the template's migration) reads
    ``HOST or 127.0.0.1`` and still connects over TCP."""
    import psycopg

    for db in settings.DATABASES.values():
        if db.get("HOST") not in ("127.0.0.1", "localhost") or "host" in db.get("OPTIONS", {}):
            continue
        port = int(db.get("PORT") or 5432)
        for folder in ("/var/run/postgresql", "/tmp"):
            if not os.path.exists(os.path.join(folder, f".s.PGSQL.{port}")):
                continue
            try:
                psycopg.connect(host=folder, port=port, user=db.get("USER") or "postgres",
                                password=db.get("PASSWORD") or None, dbname="postgres", connect_timeout=2).close()
            except psycopg.Error:
                continue
            db["HOST"] = ""
            db.setdefault("OPTIONS", {})["host"] = folder
            break


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """What exists after the collection (Django, the apps, every test module: a few hundred thousand
    objects) is moved out of the garbage collector's reach, and a young-generation collection runs every
    100,000 allocations instead of 700: the collector walked those objects again and again, about 5 % of
    the fast lane. Cycles are still collected, less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _drop_in_background() -> None:
    """The test database of this run is dropped by a detached process when the run ends, not waited for:
    PostgreSQL's ``DROP DATABASE`` forces a checkpoint of the whole server (every dirty page written), which
    took 1 to 17 s at the end of each xdist worker depending on the disk's load. Nothing reads that database
    any more (Django has closed its connection; ``WITH (FORCE)`` ends a connection a thread may have left),
    and its name is of this run alone. ``LUMIODESK_TEST_DROP=wait`` drops it in the run, as Django does."""
    import json
    import subprocess
    import sys

    from django.db.backends.postgresql.creation import DatabaseCreation

    def _destroy_test_db(self, test_database_name, verbosity):
        s = self.connection.settings_dict
        params = {"host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432, "user": s["USER"] or "postgres",
                  "password": s["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}
        sql = f"DROP DATABASE IF EXISTS {self.connection.ops.quote_name(test_database_name)} WITH (FORCE)"
        script = "import json, sys, psycopg; psycopg.connect(**json.loads(sys.argv[1])).execute(sys.argv[2])"
        subprocess.Popen([sys.executable, "-c", script, json.dumps(params), sql], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    DatabaseCreation._destroy_test_db = _destroy_test_db


_WRITTEN_BY_TRIGGERS = ("sla_dashboarddirtyday",)  # the dirty-day triggers of migration sla 0006 write it


def _flush_by_delete() -> None:
    """After a test that commits for real (``transaction=True``, a live server, the worker), Django empties
    every table with one ``TRUNCATE`` of all ~90 tables: 1.5 to 2.5 s each time on this machine (PostgreSQL
    makes and unlinks the files of every table, empty or not), the largest single cost of the suite. The
    same end state for a fraction: ``DELETE FROM`` only the tables holding rows (one query finds them), in one
    transaction, the foreign keys checked at its commit (Django makes them ``DEFERRABLE INITIALLY DEFERRED``).
    Our only triggers (migration sla 0006) mark dashboard days dirty when tickets, outcomes, ratings or messages
    change, so a DELETE of those tables writes ``sla_dashboarddirtyday`` rows: that table is emptied last, after
    them. Sequences are not reset, as Django's flush between tests does not either;
    a flush that resets them or cascades keeps Django's TRUNCATE. ``LUMIODESK_TEST_FLUSH=truncate`` restores
    it everywhere."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        tables = list(tables)
        if reset_sequences or allow_cascade or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        probe = " UNION ALL ".join(
            f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {self.quote_name(table)})" for i, table in enumerate(tables)
        )
        with self.connection.cursor() as cursor:
            cursor.execute(probe)
            filled = [tables[i] for (i,) in cursor.fetchall()]
        # Emptied last, and whether or not it held rows before: the DELETEs above it may write it.
        filled = [t for t in filled if t not in _WRITTEN_BY_TRIGGERS] + [t for t in tables if t in _WRITTEN_BY_TRIGGERS]
        return ["SET CONSTRAINTS ALL DEFERRED;", *(f"DELETE FROM {self.quote_name(table)};" for table in filled)]

    DatabaseOperations.sql_flush = sql_flush


def pytest_unconfigure(config):
    if _media_root:
        shutil.rmtree(_media_root, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A test database of this run alone (``test_lumiodesk_gw0_<token>``): two test runs at the same
    time on one PostgreSQL (two engineers, CI) must not drop each other's database.

    It is a copy of a migrated template (``CREATE DATABASE … TEMPLATE``, ``_migrated_template``), so a run
    does not apply every migration again in each xdist worker; Django's ``migrate`` then finds nothing to do.
    ``LUMIODESK_TEST_DB_TEMPLATE=0`` migrates from scratch, as before."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        base = test.get("NAME") or "test_" + db["NAME"]
        test["NAME"] = f"{base}_{_SESSION_TOKEN}"
        if os.environ.get("LUMIODESK_TEST_DB_TEMPLATE", "1") != "0" and "postgresql" in db["ENGINE"]:
            test["TEMPLATE"] = _migrated_template(db)


def _migrations_digest() -> str:
    """What the migrated schema depends on: every installed app's migration files (ours and third parties')."""
    import hashlib
    from pathlib import Path

    from django.apps import apps

    digest = hashlib.sha256()
    for app in sorted(apps.get_app_configs(), key=lambda a: a.label):
        folder = Path(app.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            digest.update(f"{app.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _migrated_template(db: dict) -> str:
    """The name of a database holding every migration of this code (by the digest of the migration files),
    built once (``manage.py migrate`` into a database renamed when complete, under an advisory lock: two
    workers or runs never build it twice, nor copy half of it) and kept for the next runs. Older templates of
    the same database name are dropped when a new one is built."""
    import subprocess
    import sys
    from pathlib import Path

    import psycopg
    from django.conf import settings

    prefix = f"test_{db['NAME']}_tpl_"
    name = f"{prefix}{_migrations_digest()}"
    params = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"] or "postgres",
              "password": db["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**params) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [prefix])
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return name
            building = f"{name}_{_SESSION_TOKEN}"
            conn.execute(f'DROP DATABASE IF EXISTS "{building}"')
            conn.execute(f'CREATE DATABASE "{building}"')
            auth = params["user"] + (f":{params['password']}" if params["password"] else "")
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
                   "DATABASE_URL": f"postgres://{auth}@{params['host']}:{params['port']}/{building}"}
            done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                                  cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True)
            if done.returncode != 0:
                conn.execute(f'DROP DATABASE IF EXISTS "{building}"')
                pytest.exit(f"could not migrate the test template database:\n{done.stdout}\n{done.stderr}", 1)
            conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            stale = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                [prefix.replace("_", r"\_") + "%", name],
            ).fetchall()
            for (old,) in stale:  # a run copying it right now keeps it: the next build drops it
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'DROP DATABASE IF EXISTS "{old}"')
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [prefix])


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's language: a request through the test client leaves the language it
    activated (an English organization, an Accept-Language header) in the thread for the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def queued_emails(request, monkeypatch):
    """Notification ids handed to Celery (``send_customer_notification_email.delay``).

    Unit tests do not publish to the broker: they check what was queued (after
    commit, see ``django_capture_on_commit_callbacks``) and call the task
    function themselves. Tests marked ``worker`` use the real broker.
    """
    if request.node.get_closest_marker("worker"):
        yield None
        return
    from tickets.tasks import send_customer_notification_email

    queued: list[int] = []
    monkeypatch.setattr(
        send_customer_notification_email, "delay", lambda notification_id: queued.append(notification_id)
    )
    yield queued


@pytest.fixture(autouse=True)
def queued_tasks(request, monkeypatch):
    """The agent-notification, SLA, passage-embedding and mailbox-verification tasks handed to Celery after
    commit, as (task name, args, kwargs).

    Like ``queued_emails``: unit tests check what was queued and run the task function themselves
    (``run_queued`` below); tests marked ``worker`` use the real broker.
    """
    if request.node.get_closest_marker("worker"):
        yield None
        return
    from billing.tasks import finish_invoice
    from kb.tasks import embed_article_passages
    from lumiodesk.tasks import send_agent_notification_email, send_invitation_email, send_verification_email
    from sla.tasks import restamp_organization
    from tickets.tasks import notify_agents, send_mailbox_verification

    queued: list[tuple[str, tuple, dict]] = []
    for task in (notify_agents, send_agent_notification_email, restamp_organization, embed_article_passages,
                 send_mailbox_verification, finish_invoice, send_verification_email, send_invitation_email):
        monkeypatch.setattr(
            task, "delay", lambda *args, _name=task.name, **kwargs: queued.append((_name, args, kwargs))
        )
    yield queued


def run_queued(queued: list) -> None:
    """Run, in this process, the tasks queued so far (and those they queue), then forget them."""
    from celery import current_app

    while queued:
        name, args, kwargs = queued.pop(0)
        current_app.tasks[name](*args, **kwargs)


class Clock:
    """Stands in for ``django.utils.timezone.now``: services, the SLA scan and the digest run at ``clock.now``."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def set(self, now) -> None:
        self.now = now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


def clock_start():
    """Monday 10 March 2025, 10:00 in Paris."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(2025, 3, 10, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Time under the test's control, starting on Monday 10 March 2025, 10:00 in Paris."""
    from django.utils import timezone

    c = Clock(clock_start())
    monkeypatch.setattr(timezone, "now", c)
    return c


@dataclass
class World:
    """The base cast every view test checks."""

    org: object
    admin: object
    manager: object
    agent: object
    viewer: object
    customer: object
    ticket: object
    other_org: object
    outsider: object
    other_ticket: object


def build_world() -> World:
    import factories as f

    from lumiodesk.models import Role

    org = f.OrganizationFactory(name="Acme", slug="acme")
    admin = f.member(org, Role.ADMIN, first_name="Alice", email="alice@acme.test")
    manager = f.member(org, Role.MANAGER, first_name="Marc", email="marc@acme.test")
    agent = f.member(org, Role.AGENT, first_name="Agathe", email="agathe@acme.test")
    viewer = f.member(org, Role.VIEWER, first_name="Victor", email="victor@acme.test")
    customer = f.CustomerFactory(
        organization=org, first_name="Claire", last_name="Dupont", email="claire.dupont@example.com"
    )
    ticket = f.TicketFactory(
        organization=org, customer=customer, subject="Facture en double", body="J'ai reçu deux fois la facture de mars."
    )

    other_org = f.OrganizationFactory(name="Globex", slug="globex")
    # The outsider's ticket numbers do not exist in Acme: a URL naming one must answer 404 there.
    other_org.last_ticket_number = 1000
    other_org.save(update_fields=["last_ticket_number"])
    outsider = f.member(other_org, Role.AGENT, first_name="Otto", email="otto@globex.test")
    other_ticket = f.TicketFactory(organization=other_org, subject="Globex secret", body="Interne Globex.")
    return World(org, admin, manager, agent, viewer, customer, ticket, other_org, outsider, other_ticket)


_TRANSACTIONAL_FIXTURES = {
    "transactional_db",
    "live_server",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
}
_DB_FIXTURES = {"db", *_TRANSACTIONAL_FIXTURES}


def _commits(item) -> bool:
    """A test that commits for real (``transaction=True``, a live server, the worker)."""
    names = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    return bool(_TRANSACTIONAL_FIXTURES.intersection(names)) or (
        marker is not None and bool(marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))
    )


def _world_time(items) -> str | None:
    """When a module's shared world is built: ``"now"``, ``"clock"`` (its tests ask for the ``clock`` before
    the world, so their world was made at the clock's start), or ``None`` when the module cannot share
    one: tests of both times. The module's tests that do not ask for the world run first, before it exists;
    those that commit for real run last (pytest-django), after the shared world is rolled back
    (``pytest_runtest_setup``), each with a world of its own."""
    times = set()
    for item in items:
        names = list(getattr(item, "fixturenames", ()))
        marker = item.get_closest_marker("django_db")
        if marker is None and not _DB_FIXTURES.intersection(names):
            continue  # no database
        if _commits(item):
            continue  # run after the others, once the module's transaction is rolled back
        if "world" not in names:
            continue  # run before the world is built (pytest_collection_modifyitems)
        times.add("clock" if "clock" in names and names.index("clock") < names.index("world") else "now")
    return times.pop() if len(times) == 1 else None


@pytest.fixture(scope="module")
def module_world(request, django_db_setup, django_db_blocker):
    """The world built once per test module, where the module allows it (``_world_time``).

    Like Django's ``TestCase.setUpTestData``: the rows are written inside a transaction held open for the
    module; each test runs in a savepoint of it (pytest-django's ``db``), rolled back at the test's end, so
    a test that writes still leaves a clean world to the next one; the Python objects are deep-copied per
    test (see ``world``). The transaction is rolled back after the module's last test. Elsewhere
    (``None``), or with ``LUMIODESK_SHARED_WORLD=0``: each test builds its own world, as before."""
    module_id = request.node.nodeid
    items = [item for item in request.session.items if item.nodeid.split("::")[0] == module_id]
    when = _world_time(items)
    if _setting_up is not None and _commits(_setting_up):
        when = None  # asked for by a test that commits for real (the module seen again in a one-process run)
    if os.environ.get("LUMIODESK_SHARED_WORLD", "1") == "0" or when is None:
        yield None
        return
    from unittest import mock

    from django.db import transaction
    from django.utils import timezone

    with django_db_blocker.unblock():
        module_atomic = transaction.atomic()
        module_atomic.__enter__()
        try:
            if when == "clock":
                with mock.patch.object(timezone, "now", Clock(clock_start())):
                    built = build_world()
            else:
                built = build_world()
        except BaseException:
            transaction.set_rollback(True)
            module_atomic.__exit__(None, None, None)
            raise

    def roll_back() -> None:
        if id(built) in _ROLLED_BACK:
            return
        from django.db import connection

        if connection.savepoint_ids:  # a module_transaction opened inside would be cut in half
            raise RuntimeError(f"{module_id}: module_transaction in a module with tests that commit for real")
        _ROLLED_BACK.add(id(built))
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            module_atomic.__exit__(None, None, None)

    _OPEN_MODULE_WORLDS[module_id] = roll_back
    try:
        yield built
    finally:
        _OPEN_MODULE_WORLDS.pop(module_id, None)
        roll_back()
        _ROLLED_BACK.discard(id(built))


# Shared worlds still in their module's transaction (module id -> what rolls it back), those rolled back early,
# and the test being set up.
_OPEN_MODULE_WORLDS: dict = {}
_ROLLED_BACK: set[int] = set()
_setting_up = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a test that commits for real, its module's shared world is rolled back: pytest-django runs such
    tests after the module's others (``--dist loadfile`` keeps them in the same process, right after), and
    each of them gets a world of its own (``world``)."""
    global _setting_up
    _setting_up = item
    if _commits(item):
        roll_back = _OPEN_MODULE_WORLDS.pop(item.nodeid.split("::")[0], None)
        if roll_back is not None:
            roll_back()


_cache_namespaces = itertools.count()


def own_cache_namespace(monkeypatch) -> None:
    """A cache namespace of this test alone. Rows shared by a module's tests keep their primary keys from
    test to test: what a test left in the cache (counters, presence, rate limits, keyed by organization)
    must not reach the next one, as it could not when each test had rows of its own."""
    from django.core.cache import caches

    backend = caches["default"]  # this thread's backend (not the proxy: monkeypatch restores its __dict__)
    monkeypatch.setattr(backend, "key_prefix", f"{backend.key_prefix}-{next(_cache_namespaces)}")


@contextlib.contextmanager
def module_transaction(django_db_blocker):
    """For a module-scoped fixture (like Django's ``TestCase.setUpTestData``): the rows it writes inside
    are seen by each test of the module, which runs in a savepoint of this transaction (pytest-django's
    ``db``) rolled back at its end; the transaction is rolled back after the module's last test. Only for
    modules without tests that commit for real (``transaction=True``, a live server, the worker). The
    fixture that uses it gives each test fresh objects (read again, or a deep copy) and
    ``own_cache_namespace``."""
    from django.db import transaction

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@contextlib.contextmanager
def module_history(module_world, django_db_blocker, build):
    """For a module-scoped fixture: ``build(clock, world)`` writes a history once for the module, on a copy of
    its shared world, with the clock at its start (``module_transaction``: each test in a savepoint of it);
    yields what ``build`` returned, or ``None`` where the module builds a world per test (``_world_time``): each
    test then writes its own history."""
    from unittest import mock

    from django.utils import timezone

    if module_world is None:
        yield None
        return
    with module_transaction(django_db_blocker):
        clock = Clock(clock_start())
        with django_db_blocker.unblock(), mock.patch.object(timezone, "now", clock):
            built = build(clock, copy.deepcopy(module_world))
        yield built


@pytest.fixture
def world(module_world, db, monkeypatch) -> World:
    """The two organizations every view test checks: Acme (admin, manager, agent, viewer, a customer and
    her ticket) and Globex (an outsider and his ticket)."""
    if module_world is None or id(module_world) in _ROLLED_BACK:
        return build_world()
    own_cache_namespace(monkeypatch)
    return copy.deepcopy(module_world)


# --- Real Celery worker ----------------------------------------------------------------------------------


@pytest.fixture
def mail_dir(tmp_path):
    """Where the real worker's email backend (``filemail://``) writes what it sends (``worker_helpers.sent_mails``)."""
    path = tmp_path / "mails"
    path.mkdir()
    return path


@pytest.fixture
def celery_worker_process(transactional_db, mail_dir, tmp_path):
    """A real ``celery worker`` process on this test's database, the real Redis and this run's own queue,
    configured by environment variables only, as in production; stopped afterwards. Tests using it are
    marked ``worker`` (automatically) and commit for real (``transactional_db``)."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import redis
    from django.conf import settings
    from worker_helpers import database_url

    queue = celery_test_queue()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": TEST_REDIS_URL,
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "lumiodesk.settings",
        "PYTHONUNBUFFERED": "1",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the test receivers listen on loopback
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    # fmt: off
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lumiodesk", "worker", "-P", "solo", "-c", "1",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
         "-n", f"{queue}@%h", "--", f"task.default_queue={queue}"],
        cwd=Path(settings.BASE_DIR), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    # fmt: on
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        log.close()
        client = redis.Redis.from_url(TEST_REDIS_URL)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()


# The markers follow from the fixtures a test uses, so a new test cannot forget its marker and slip into
# the fast lane (``make test-fast``: ``-m "not browser and not worker and not imap and not slow and not commits"``).
# Property-based tests (hypothesis: hundreds of examples each) are ``slow``; tests that commit for real
# (``_commits``) are ``commits``.
_MARKER_OF_FIXTURE = {"celery_worker_process": "worker", "dovecot": "imap", "browser": "browser"}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in _MARKER_OF_FIXTURE.items():
            if fixture in names and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker))
        if is_hypothesis_test(getattr(item, "obj", None)) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
        if _commits(item) and item.get_closest_marker("commits") is None:
            item.add_marker(pytest.mark.commits)
    # In each file, the tests that do not ask for the world run first (in their order), then those that
    # do: a shared world (module_world) is built by the first test asking for it, so the others never see
    # its rows. Files keep their order.
    files: dict[str, int] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], len(files))
    items.sort(key=lambda item: (files[item.nodeid.split("::")[0]], "world" in getattr(item, "fixturenames", ())))


# --- Real browser (Playwright driving Debian's Chromium) -------------------------------------------------

CHROMIUM = os.environ.get("LUMIODESK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts", "screenshots")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process (tests/install_system_deps.sh installs it)."""
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the tests make
    # between two page actions are still synchronous, so allow them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run tests/install_system_deps.sh (make test does)")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def browser_context(browser):
    """A fresh browser profile (cookies, storage) per test, in French like our users."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` keeps a PNG of a main screen under artifacts/screenshots/."""
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)

    def take(target_page, name: str, **kwargs) -> str:
        path = os.path.join(ARTIFACTS_DIR, f"{name}.png")
        target_page.screenshot(path=path, **kwargs)
        return path

    return take


def browser_login(page, live_server_url: str, email: str, password: str = "secret-pass-123") -> None:
    """Sign an agent in through the real login form."""
    page.goto(f"{live_server_url}/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


# --- A real SAML identity provider on loopback (tests/sso_idp.py) ------------------------------------------------


@pytest.fixture(scope="session")
def saml_idp_server():
    """One pysaml2 IdP per test process: its own key and self-signed certificate, a free port on 127.0.0.1."""
    from sso_idp import SamlIdP

    idp = SamlIdP().start()
    yield idp
    idp.stop()
