"""LumioDesk settings, read from the environment (django-environ).

Every value has a safe default for local use; a malformed value stops start-up
with a message naming the variable (see ``lumiodesk.config``).
"""

from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from lumiodesk.config import read_config

BASE_DIR = Path(__file__).resolve().parent.parent
config = read_config(BASE_DIR)

SECRET_KEY = config.secret_key
DEBUG = config.debug
ALLOWED_HOSTS = config.allowed_hosts
CSRF_TRUSTED_ORIGINS = config.csrf_trusted_origins

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "lumiodesk",
    "billing",
    "crm",
    "tickets",
    "kb",
    "sla",
    "automations",
    "devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lumiodesk.middleware.HtmxLoginRedirectMiddleware",
    "lumiodesk.middleware.CurrentOrganizationMiddleware",
]

ROOT_URLCONF = "lumiodesk.urls"
WSGI_APPLICATION = "lumiodesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lumiodesk.context_processors.workspace",
            ],
        },
    },
]

DATABASES = {"default": config.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": config.redis_url,
        "KEY_PREFIX": "lumiodesk",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = config.media_root
MEDIA_URL = "media/"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Email: EMAIL_URL (smtp://, consolemail://, ...). Console by default for local use.
vars().update(config.email)
DEFAULT_FROM_EMAIL = config.default_from_email

# Celery on Redis.
CELERY_BROKER_URL = config.redis_url
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task has a soft time limit (SoftTimeLimitExceeded is raised in it: it can clean up) and a hard one (the
# worker process is replaced). Tasks that need another figure set it on the decorator (email intake: 60/90 s,
# webhooks: 30/45 s, IMAP polling: 240/300 s).
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TIMEZONE = "UTC"
CELERY_IMPORTS = ("tickets.portal.tasks",)  # tasks outside an app's tasks.py (contact form, portal)
CELERY_BEAT_SCHEDULE = {
    "ticket-lifecycle": {
        "task": "tickets.tasks.run_ticket_lifecycle",
        "schedule": crontab(minute="*/10"),
    },
    # Email stored but never processed (its task was lost): processed within 5 to 10 minutes.
    "inbound-email-sweep": {
        "task": "tickets.tasks.process_stale_inbound_emails",
        "schedule": crontab(minute="*/5"),
    },
    "imap-poll": {
        "task": "tickets.tasks.poll_imap_mailboxes",
        "schedule": crontab(minute="*"),
    },
    # SLA warnings and breach notices: a few indexed rows per minute (sla.alerts).
    "sla-scan": {
        "task": "sla.tasks.run_sla_scan",
        "schedule": crontab(minute="*"),
    },
    # The managers' daily digest, due at 08:30 in each organization's time zone (sla.digest).
    "sla-daily-digest": {
        "task": "sla.tasks.send_daily_digests",
        "schedule": crontab(minute="*/5"),
    },
    "agent-notification-emails": {
        "task": "lumiodesk.tasks.resend_unsent_notification_emails",
        "schedule": crontab(minute="*/10"),
    },
    # automations: time rules ("still New after 2 business hours"), once per ticket and episode.
    "automation-time-rules": {
        "task": "automations.tasks.run_time_rules",
        "schedule": crontab(minute="*"),
    },
    # automations: webhook retries (1 min ... 15 h) and deliveries the broker missed.
    "webhook-retries": {
        "task": "automations.tasks.deliver_due_webhooks",
        "schedule": crontab(minute="*"),
    },
    "webhook-delivery-purge": {  # automations: the delivery log keeps 30 days
        "task": "automations.tasks.purge_webhook_deliveries",
        "schedule": crontab(hour=3, minute=15),
    },
}

# Attachments: size limit and the types we accept (see tickets.attachments).
ATTACHMENT_MAX_BYTES = config.attachment_max_bytes
TICKETS_PER_PAGE = 25

# Email channel: forwarding addresses <org-slug>-<token>@INBOUND_EMAIL_DOMAIN, the SMTP receiver.
INBOUND_EMAIL_DOMAIN = config.inbound_email_domain
SMTP_INBOUND_HOST = config.smtp_inbound_host
SMTP_INBOUND_PORT = config.smtp_inbound_port
INBOUND_MAX_BYTES = config.inbound_max_bytes

# Links in emails to agents (notifications, daily digest) start with this.
SITE_URL = config.site_url
# Proxies of our own in front of the app (lumiodesk.ratelimit.client_ip); 0: REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = config.trusted_proxy_count
# Networks a webhook may call although they are private (lumiodesk.outbound); none by default.
WEBHOOK_ALLOWED_NETWORKS = config.webhook_allowed_networks

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO" if not DEBUG else "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
