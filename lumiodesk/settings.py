"""LumioDesk settings, read from the environment (django-environ).

Defaults are production-safe: DEBUG off, HTTPS redirect, HSTS and secure cookies; SECRET_KEY and
ENCRYPTION_KEY are required everywhere (``make run`` writes DEBUG=true and random local secrets to a
git-ignored .env on first run; the test suite makes its own, see tests/settings.py). A malformed value
stops start-up with a message naming the variable (see ``lumiodesk.config``).
"""

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from lumiodesk.config import read_config

BASE_DIR = Path(__file__).resolve().parent.parent
config = read_config(BASE_DIR)

SECRET_KEY = config.secret_key
# Mailbox passwords and webhook secrets at rest (lumiodesk.crypto); never derived from SECRET_KEY.
ENCRYPTION_KEY = config.encryption_key
ENCRYPTION_KEY_FALLBACKS = config.encryption_key_fallbacks
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
    "axes",
    "django_otp",  # 2FA for every member (lumiodesk.two_factor): TOTP apps and recovery codes
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",  # the REST API (tickets/api)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our static files (no CDN)
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
    "lumiodesk.middleware.TwoFactorMiddleware",  # a session owing a 2FA code or set-up reaches only those pages
    "axes.middleware.AxesMiddleware",  # turns a lock-out into the sign-in page with its message (429)
]

ROOT_URLCONF = "lumiodesk.urls"
WSGI_APPLICATION = "lumiodesk.wsgi.application"

# What happens when a ticket changes, in order (tickets.pipeline explains the contract). Written here, in the
# composition root, because ``tickets`` sits below ``sla`` and ``automations`` and never imports them.
TICKET_PIPELINE = {
    # Inside the service's transaction, before the ticket is saved; each returns the ticket fields it set.
    "steps": [
        "sla.pipeline.stamp_due_times",  # due times, pauses, outcomes
        "tickets.assignment.pipeline.assign_by_availability",  # creation: the available agent (setting, off by default)
        "automations.pipeline.rules_on_creation",  # "ticket created" rules: they see the SLA stamps
    ],
    # Then, in the transaction; each decides now and returns what to run after the commit.
    "subscribers": [
        "tickets.subscribers.notify_agents_of_change",  # assigned, urgent, customer reply, mention
        "tickets.subscribers.follow_chat_inbox",  # the chat inbox's waiting state (committed with the change)
        "tickets.subscribers.forget_cached_counts",  # the cached "closed" and "resolved today" counts
        "automations.pipeline.rules_after_update",  # "updated" / "customer replied" rules, after the commit
        "automations.webhooks.on_ticket_change",  # webhook outbox rows, sent after the commit
        "billing.alerts.on_ticket_created",  # ticket volume alerts at 80/100/120 % of the month, after the commit
    ],
}

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
            "builtins": ["lumiodesk.templatetags.people"],  # {{ user|display_name }} everywhere
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
# Brute-force protection of /login/ and /admin/login/: django-axes, see lumiodesk/signin.py for the contract.
# Counts in PostgreSQL (shared by every web process, survives restarts, listed in /admin/, reset by its commands).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked account or address before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account (any address) and per address (any account)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refused attempts neither count nor extend the lock-out
AXES_RESET_ON_SUCCESS = False  # a success from an address must not clear the failures counted against it
AXES_CLIENT_IP_CALLABLE = "lumiodesk.ratelimit.client_address"  # None when unreadable: a column of addresses
AXES_HANDLER = "lumiodesk.signin.AuditedDatabaseHandler"
AXES_LOCKOUT_CALLABLE = "lumiodesk.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept (no table that grows with every login)
AXES_VERBOSE = False
LOGIN_URL = "login"
# 2FA (lumiodesk.two_factor): the name authenticator apps show; code attempts are limited per account and
# address in Redis by our views (lumiodesk.ratelimit), so django-otp's own per-device delay is off (it would
# also make a right code wait seconds after a typo).
OTP_TOTP_ISSUER = "LumioDesk"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "login"

# The REST API (tickets/api, section 12): keys, plans, rate limits and errors are tickets.api's; DRF is only told
# to stay out of the way (no session, no browsable page, one error shape).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tickets.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LumioDesk API",
    "DESCRIPTION": "REST API of LumioDesk (Business and Scale plans). Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Status", "ArticleStatusEnum": "kb.models.ArticleStatus",
    },
}
# Requests per minute and organization: the plan's figure (billing.catalogue); a number here replaces it
# for every plan (tests drive a key past a small limit).
API_RATE_LIMIT_OVERRIDE = None

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
    "api-idempotency-purge": {  # the REST API's idempotency records, kept 24 hours
        "task": "tickets.tasks.purge_idempotency_records",
        "schedule": crontab(minute=17),
    },
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
    # Queue hygiene (002): "En cours" left 24 h, urgent customers without news for 2 h; notified once.
    "sla-queue-hygiene": {
        "task": "sla.tasks.run_queue_hygiene",
        "schedule": crontab(minute="*/10"),
    },
    # The dashboard's per-day rollups: the days ended or changed since (sla.dashboard.rollups; the page reads the
    # other days live, so the figures never wait for this task).
    "sla-dashboard-rollups": {
        "task": "sla.tasks.refresh_dashboard_rollups",
        "schedule": crontab(minute="*/5"),
    },
    # The dashboard's weekly PDF report to the Managers who opted in, Monday from 08:00 local time.
    "sla-weekly-report": {
        "task": "sla.tasks.send_weekly_reports",
        "schedule": crontab(minute=5),
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
    # billing: trials that ended become read-only; today's seat count (extra agents are billed per day).
    "billing-subscriptions": {
        "task": "billing.tasks.update_subscriptions",
        "schedule": crontab(minute=5),
    },
    # billing: the month's invoices, the 1st at 00:00 UTC (CELERY_TIMEZONE); running it again changes nothing.
    "billing-monthly-invoices": {
        "task": "billing.tasks.issue_monthly_invoices",
        "schedule": crontab(minute=0, hour=0, day_of_month=1),
    },
    "audit-log-purge": {  # lumiodesk.audit: each organization keeps its plan's retention (30/180/365 days)
        "task": "lumiodesk.tasks.purge_audit_log",
        "schedule": crontab(hour=3, minute=40),
    },
    # tickets.costs: running timers left past TIMER_IDLE_LIMIT_MINUTES stop (counted up to the limit).
    "stop-idle-timers": {
        "task": "tickets.tasks.stop_idle_timers",
        "schedule": crontab(minute="*/5"),
    },
    "export-purge": {  # tickets.exports: download links last 14 days, then the file is deleted
        "task": "tickets.tasks.purge_expired_exports",
        "schedule": crontab(hour=3, minute=25),
    },
    "attachment-retention": {  # tickets: files past the plan's 12/24/36 months leave the storage (section 18)
        "task": "tickets.tasks.purge_expired_attachments",
        "schedule": crontab(hour=3, minute=35),
    },
    "webhook-delivery-purge": {  # automations: the delivery log keeps 30 days
        "task": "automations.tasks.purge_webhook_deliveries",
        "schedule": crontab(hour=3, minute=15),
    },
}

# Attachments: size limit and the types we accept (see tickets.attachments).
ATTACHMENT_MAX_BYTES = config.attachment_max_bytes
TICKETS_PER_PAGE = 25
TIMER_IDLE_LIMIT_MINUTES = config.timer_idle_limit_minutes  # tickets.costs: the idle limit of a running timer

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
# HTTPS: production-safe when DEBUG is off, each switch overridable by its environment variable (lumiodesk.config).
SECURE_SSL_REDIRECT = config.security.ssl_redirect
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # the container's health check probes plain HTTP on loopback
SECURE_HSTS_SECONDS = config.security.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = config.security.hsts_include_subdomains
SECURE_HSTS_PRELOAD = config.security.hsts_preload
SESSION_COOKIE_SECURE = config.security.session_cookie_secure
CSRF_COOKIE_SECURE = config.security.csrf_cookie_secure
SECURE_PROXY_SSL_HEADER = config.security.proxy_ssl_header
# HSTS preload is an opt-in (SECURE_HSTS_PRELOAD=true): once a domain is on the browsers' list, every one of its
# subdomains must serve HTTPS for months, a decision for whoever owns the domain, not a default of this product.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Every handler redacts link tokens from what it writes (lumiodesk/log_redaction.py): django.request logs
# the paths of 4xx answers, django.server (runserver) every request line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "lumiodesk.log_redaction.RedactTokens"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}",
                          "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server",
                          "filters": ["redact_tokens"]},
        "mail_admins": {"class": "django.utils.log.AdminEmailHandler", "level": "ERROR",
                        "filters": ["require_debug_false", "redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": "INFO" if not DEBUG else "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # not every failed sign-in at INFO (they are in the audit log)
        "saml2": {"level": "WARNING"},  # pysaml2 logs names and attributes at INFO; lumiodesk.sso logs the refusals
        "xmlschema": {"level": "WARNING"},
        # Replaces Django's default handlers of "django" (an unfiltered console one, mail_admins); its records
        # reach the console through the root logger.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# billing: VAT added to every invoice (percent), and who issues the invoices (printed on the PDF).
BILLING_VAT_PERCENT = "20.00"
BILLING_ISSUER = {
    "name": "LumioDesk SAS", "address": "10 rue de la Démo, 75001 Paris, France", "vat_id": "FR00 000000000",
}
