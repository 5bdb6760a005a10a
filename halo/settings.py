"""Halo's settings: one module, every value read from the environment (django-environ).

With no environment at all Halo runs on its *embedded defaults*: a SQLite file in the data directory, the
in-memory channel layer, a local-memory cache and a Celery worker that runs inside the serving process on
the ``memory://`` broker (``manage.py serve`` starts it). Work that must survive a restart is written to
the database outbox (``halo.outbox``) in the transaction that causes it, so nothing queued is lost when
the process stops: the outbox sweep sends it again at start-up and on a timer.

``DATABASE_URL`` switches to PostgreSQL (psycopg 3); ``REDIS_URL`` switches the channel layer, the Celery
broker and the cache to Redis, so web, socket and worker processes can run on many machines.
``HALO_ENV=production`` requires ``SECRET_KEY`` and ``ALLOWED_HOSTS`` and turns on HTTPS-only cookies,
HSTS and the SSL redirect, so that ``manage.py check --deploy`` is clean.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

HALO_ENV = env.str("HALO_ENV", default="development")
PRODUCTION = HALO_ENV == "production"

DATA_DIR = Path(env.str("HALO_DATA_DIR", default=str(BASE_DIR / "var")))


def _embedded_secret_key() -> str:
    """A key generated once per data directory, so logins survive a restart of the embedded default."""
    from django.core.management.utils import get_random_secret_key

    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters when HALO_ENV=production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names when HALO_ENV=production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

DEBUG = env.bool("DEBUG", default=False)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Public base URL, used in links sent out of the app (Slack, email).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
# Knowledge search by meaning: "local" runs the all-MiniLM-L6-v2 package when it is installed
# (requirements-model.txt; search is lexical only without it), "off" never loads it.
HALO_EMBEDDINGS = env.str("HALO_EMBEDDINGS", default="local")

# Outbound requests (halo.outbound): the private, loopback or link-local hosts (names or addresses) Halo may
# call anyway, e.g. an internal SearxNG; empty: only public addresses. Operators only, never per workspace.
HALO_OUTBOUND_ALLOW_HOSTS = env.list("HALO_OUTBOUND_ALLOW_HOSTS", default=[])
# The hosts a Slack webhook URL may name (https only), e.g. to add a Slack-compatible chat service.
HALO_SLACK_WEBHOOK_HOSTS = env.list("HALO_SLACK_WEBHOOK_HOSTS", default=["hooks.slack.com"])

INSTALLED_APPS = [
    "daphne",
    "halo.admin_site.HaloAdminConfig",  # Django's admin, with Halo's sections (halo/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "csp",
    "halo",
    "segments",
    "agents",
    "escalation",
    "inbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "halo.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "halo.urls"
WSGI_APPLICATION = "halo.wsgi.application"
ASGI_APPLICATION = "halo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------

if "DATABASE_URL" in env:
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "halo.sqlite3")}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker thread read while a request writes; IMMEDIATE takes the write lock at BEGIN
    # so two writers wait for each other instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements on: Django's own cursors bind on the client and never prepare; only ``halo.prepared``'s
    # cursor does, for the statements of fixed text Halo runs on every widget request (psycopg's default).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    # An explicit test database name: pytest-django and Channels' live server agree on it.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker ------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

# A Redis that stops answering (blackholed, hung) rather than refusing connections must not hang a request:
# every Redis client here gives up after a second (a healthy Redis answers in well under a millisecond).
# What each then does: the throttles fail open (halo.api.throttling), a live event is dropped and recovered
# by replay (inbox sequence numbers, the widget's ?after=), an outbox message waits for the sweep.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}

if REDIS_URL:
    # Pub/sub: a group_send is one PUBLISH that each process fans out locally, not one list push and pop per
    # socket. At-most-once, like every broadcast here: inbox
    # sockets replay gaps from the inbox event log, the widget catches up with ?after=.
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis's pub/sub layer, sending once more on a fresh connection after Redis restarted.
            "BACKEND": "halo.layers.RedisChannelLayer",
            # channels_redis passes a host's other keys to redis-py's connection pool. Pub/sub channels are
            # global to a Redis server (not per database): the prefix keeps deployments that share one apart.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **REDIS_TIMEOUTS}],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "halo.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": dict(REDIS_TIMEOUTS),
        }
    }
else:
    # Channels' in-memory layer, safe for sends from the embedded worker thread (see halo.layers).
    CHANNEL_LAYERS = {"default": {"BACKEND": "halo.layers.EmbeddedChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# The embedded default runs its worker inside `manage.py serve` (see halo.embedded).
CELERY_EMBEDDED_WORKER = not REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Redis: retry delays stay far below the visibility timeout, so a scheduled retry is never re-delivered
# early; without a socket timeout a publish to a silent Redis waits forever (kombu's default), holding the
# request that commits an outbox row (the worker's BRPOP runs on its event loop, which these do not bound).
# memory:// (embedded) is polled: a short interval keeps background work prompt.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, float] = (
    {"visibility_timeout": 3600, **REDIS_TIMEOUTS} if REDIS_URL else {"polling_interval": 0.1}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# How often the outbox sweep looks for work that was queued but never delivered (seconds).
OUTBOX_SWEEP_INTERVAL = env.int("OUTBOX_SWEEP_INTERVAL", default=30)
# Delivered outbox messages are deleted this many days after delivery (failed ones are kept for admins).
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=30)
# Periodic jobs: run by `celery beat` in production and by beat inside `manage.py serve` when embedded.
# Apps add their own entries here.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "outbox-sweep": {"task": "halo.tasks.outbox_sweep", "schedule": float(OUTBOX_SWEEP_INTERVAL)},
    "outbox-purge": {"task": "halo.tasks.outbox_purge", "schedule": 3600.0},
    # Live inbox events older than their retention (inbox.events.RETENTION); sockets further behind resync.
    "inbox-events-prune": {"task": "inbox.tasks.events_prune", "schedule": 3600.0},
    # Snoozed tickets whose wake-up time has come go back to open.
    "inbox-tickets-wake": {"task": "inbox.tasks.tickets_wake", "schedule": 60.0},
    # Tickets whose first reply is due within inbox.sla.WARNING_LEAD: their assignee and Slack are told, once.
    "inbox-first-reply-warn": {"task": "inbox.tasks.first_reply_warn", "schedule": 60.0},
    # The escalation report's daily rollups: the days touched since the last run are counted again.
    "escalation-report-rollups": {
        "task": "escalation.tasks.report_rollups_update",
        "schedule": env.float("HALO_REPORT_ROLLUP_INTERVAL", default=60.0),
    },
    # Team inboxes' waiting tickets get an assignee where a place is free; the backstop of the assignment
    # each freed place records in its own transaction.
    "inbox-tickets-assign": {"task": "inbox.tasks.tickets_assign_sweep", "schedule": 60.0},
}

# --- Email -------------------------------------------------------------------------------------------

# SMTP in production (e.g. smtp+tls://user:password@host:587); the console in the embedded default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Halo <halo@localhost>")
# A teammate's reply the customer has not seen in the widget this many minutes after it was sent is emailed
# to their verified address (one email per burst of replies).
REPLY_EMAIL_DELAY_MINUTES = env.float("REPLY_EMAIL_DELAY_MINUTES", default=5.0)
# How long the signed links in customer emails work: "reopen the conversation" and "confirm your email".
REPLY_LINK_MAX_AGE_DAYS = env.int("REPLY_LINK_MAX_AGE_DAYS", default=14)
EMAIL_CONFIRM_MAX_AGE_DAYS = env.int("EMAIL_CONFIRM_MAX_AGE_DAYS", default=3)

# --- Auth, i18n, static ------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/inbox/"

# Brute force on /accounts/login/ and /admin/login/ (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords
# an account is locked, and so is the client address that sent them (each on its own count), for
# LOGIN_LOCKOUT_MINUTES. A successful login clears the account's count; an admin unlocks at once by deleting
# the "Access attempts" rows in the admin. The address is halo.api.throttling.client_address (TRUSTED_PROXIES).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "halo.api.throttling.client_address"
AXES_USERNAME_CALLABLE = "halo.forms.login_username"
AXES_LOCKOUT_CALLABLE = "halo.views.login_locked_out"
# Successful logins are not recorded (Django's last_login has them); failed ones are, as access attempts.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # log the lock-out's own parameters (account, address), not every request attribute

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles" if PRODUCTION else DATA_DIR / "static")))
if not PRODUCTION:
    # WhiteNoise serves from the finders here; an existing (empty) root keeps it from warning on every request.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collectstatic (the embedded default), WhiteNoise serves straight from the app directories.
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- API ---------------------------------------------------------------------------------------------

# How many reverse proxies in front of Halo append the address they received to X-Forwarded-For. 0 (no proxy):
# the connecting address is the client and the header is ignored, since anyone can send it. With N, the N-th
# address from the right is the client. Every rate limit and login lock-out keys on this address
# (halo.api.throttling.client_address, through DRF's NUM_PROXIES).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("TRUSTED_PROXIES is a count of proxies: 0 or more.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["halo.api.authentication.WorkspaceKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["halo.api.permissions.IsWorkspace"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["halo.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["halo.api.throttling.WorkspaceRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "workspace": env.str("THROTTLE_WORKSPACE", default="1200/min"),
        "widget": env.str("THROTTLE_WIDGET", default="120/min"),
        "anon": env.str("THROTTLE_ANON", default="60/min"),
        # Password-reset mails (halo.views.PasswordResetView): per client address and per email asked for.
        "password_reset_address": env.str("THROTTLE_PASSWORD_RESET_ADDRESS", default="10/hour"),
        "password_reset_account": env.str("THROTTLE_PASSWORD_RESET_ACCOUNT", default="3/hour"),
    },
    "EXCEPTION_HANDLER": "halo.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXIES,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Halo API",
    "DESCRIPTION": "Server API (`/api/v1/`, bearer workspace API key) and widget API (`/api/widget/v1/`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "inbox.models.Ticket.Status",
        "ConversationStatusEnum": "agents.models.Conversation.Status",
    },
}

# --- Production hardening ----------------------------------------------------------------------------

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp, halo.csp): pages load everything from Halo's own origin and nothing
# inline; responses that are not HTML (JSON of the APIs and the widget) get default-src 'none'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # incl. the same origin's WebSockets (CSP level 3)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No credential in a log line (halo.logs): every logger ends in this handler.
    "filters": {"redact_secrets": {"()": "halo.logs.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The embedded worker and beat share the server's terminal: a line per routine job is noise there
    # (failures are still logged, and recorded on the outbox rows). Separate worker processes keep them.
    "loggers": {}
    if REDIS_URL
    else {
        **{
            name: {"level": env.str("CELERY_LOG_LEVEL", default="WARNING")}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat", "celery.worker.consumer")
        },
        # memory:// has no host name; kombu warns about it on every start.
        "kombu.connection": {"level": "ERROR"},
    },
}
