"""Settings for the Halobestie backend, read from the environment.

Every value a deployment changes comes from an environment variable; the defaults
are the embedded development setup that `make run` starts (SQLite and an embedded
Redis whose URL the launcher exports as REDIS_URL).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from common.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


LOCAL_HOSTS = "127.0.0.1,localhost,testserver,[::1]"
BENCH_ROUTES = env_bool("BENCH_ROUTES", False)  # the HTTP benchmark's bare view (bench/views.py)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", LOCAL_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")


def _secret_key() -> str:
    """SECRET_KEY from the environment. A deployment (ALLOWED_HOSTS names real hosts) refuses
    to start without one; on a developer's machine one is generated once and kept in
    .run/secret_key, so sessions survive restarts and no key is ever built in."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if set(ALLOWED_HOSTS) - set(LOCAL_HOSTS.split(",")):
        raise ImproperlyConfigured("SECRET_KEY must be set when ALLOWED_HOSTS names hosts beyond this machine.")
    path = BASE_DIR / ".run" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(get_random_secret_key())
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# Behind TLS (a load balancer or proxy in front): every switch from the environment.
TRUSTED_PROXY = env_bool("TRUSTED_PROXY", False)  # it sets X-Forwarded-Proto and X-Forwarded-For
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^api/health/"]  # the load balancer's probe speaks plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "axes",
    "drf_spectacular_sidecar",
    "channels",
    "appconfig",
    "pairing",
    "activity",
]

MIDDLEWARE = [
    "common.logs.RequestContextMiddleware",  # first: the request id and the HTTP metrics see everything
    # Before the Host check: a load balancer probes with the node's address (common/health.py).
    "common.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into its 429 page
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked (username, address) pair first
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "halobestie.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "halobestie.asgi.application"

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

# SQLite: IMMEDIATE transactions take the write lock up front, so concurrent
# accepts queue up instead of failing with "database is locked" mid-transaction.
_sqlite_options = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "8"))  # PostgreSQL connections per process; 0: no pool
# PostgreSQL: how many runs on a connection before a statement is prepared there (0: never).
DB_PREPARE_THRESHOLD = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
DATABASES = {
    "default": dj_database_url.parse(  # an empty DATABASE_URL is no DATABASE_URL, as the launcher's REDIS_URL
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
_database_options = DATABASES["default"].setdefault("OPTIONS", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _database_options.update(_sqlite_options)
else:
    if DB_POOL_SIZE and not DATABASES["default"].get("CONN_MAX_AGE"):
        # psycopg's pool, per process: a request borrows a connection instead of opening one
        # (Django's persistent connections are not meant for ASGI).
        _database_options["pool"] = {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": 10}
        # Django asks the pool to check a connection as it is handed out only with health
        # checks on: a connection the server killed meanwhile is replaced, never handed on.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("DB_CHECK_CONNECTIONS", "1") != "0"
    # A statement waiting on a row lock gives up after this long (503 `unavailable`, the
    # change rolled back) instead of holding the request; 0 waits for ever.
    _database_options["options"] = f"-c lock_timeout={int(os.environ.get('DB_LOCK_TIMEOUT_MS', '3000'))}"
    if DB_PREPARE_THRESHOLD:
        # Parameters bound by the server, and a statement run this many times on a connection
        # prepared there: the hot statements (token, offers, outbox) are no longer parsed and
        # planned on every request. 0 turns it off (PgBouncer in transaction mode).
        _database_options.update(server_side_binding=True, prepare_threshold=DB_PREPARE_THRESHOLD)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "pairing.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
# Staff pages and the admin show 24-hour times with the zone (common/formats/en/formats.py).
FORMAT_MODULE_PATH = ["common.formats"]
# The control center's calendar days (date filters, daily caps) are in this zone.
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Jakarta")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Only a deployment that runs collectstatic sets STATIC_ROOT; WhiteNoise serves from the finders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders so a fresh checkout needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/control-center/login/"
LOGIN_REDIRECT_URL = "/control-center/"

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

# Every Redis call has a short timeout: a hung Redis fails fast instead of holding an
# answer, and what could not be published is carried by the outbox and the relay.
REDIS_SOCKET_TIMEOUT_SECONDS = float(os.environ.get("REDIS_SOCKET_TIMEOUT_SECONDS", "1"))
_REDIS_TIMEOUTS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "halobestie"),
        "OPTIONS": _REDIS_TIMEOUTS,
    }
}

# The pub/sub layer: a group message is one PUBLISH that each process receives once
# and hands to its own sockets, so a fan-out costs one Redis round trip.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            # The subscription reads with its own short timeout, so this bounds the publishes
            # and group changes, which share one lock per process.
            "hosts": [{"address": REDIS_URL, **_REDIS_TIMEOUTS}],
            "prefix": os.environ.get("CHANNEL_PREFIX", "halobestie"),
        },
    }
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "halobestie")
# Pushes have a queue and a worker of their own (many threads, each send bounded), so a
# thousand pushes never queue ahead of the sweep, the relay or the roll-ups.
CELERY_PUSH_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-push"
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_PUSH_QUEUE}
    for name in ("pairing.tasks.push_new_request", "pairing.tasks.push_request_withdrawn", "pairing.tasks.send_push")
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing a task (after a commit) fails fast on a hung broker instead of retrying:
# the event stays undispatched in the outbox and the relay enqueues it again later.
CELERY_BROKER_TRANSPORT_OPTIONS = {**_REDIS_TIMEOUTS}
CELERY_TASK_PUBLISH_RETRY = False
# How often beat runs the sweep that expires requests and moves sessions along.
SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "1"))
CELERY_BEAT_SCHEDULE = {
    "pairing-sweep": {
        "task": "pairing.tasks.sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
        # A sweep that waited longer than two intervals is superseded by the next one.
        "options": {"expires": max(2.0, 2 * SWEEP_INTERVAL_SECONDS)},
    },
    "events-relay": {"task": "pairing.tasks.relay_events", "schedule": 2.0, "options": {"expires": 4.0}},
    # Contract section 12: offers the app has not proved delivered are pushed (push_fallback_seconds).
    "push-unproven-offers": {
        "task": "pairing.tasks.push_unproven_offers",
        "schedule": 1.0,
        "options": {"expires": 2.0},
    },
    # A run that waited a whole interval is superseded by the next one.
    "events-prune": {"task": "pairing.tasks.prune_events", "schedule": 60.0, "options": {"expires": 60.0}},
    "activity-roll-up": {"task": "activity.tasks.roll_up", "schedule": 600.0},
    "activity-prune-log": {"task": "activity.tasks.prune_log", "schedule": 3600.0, "options": {"expires": 3600.0}},
}
# The activity log (one row per offer) keeps this many days; an older day's rows (and its
# push attempts) are deleted once the day is rolled up, and the control center's figures
# for it come from the rollups, kept forever. 0 keeps every row.
ACTIVITY_LOG_RETENTION_DAYS = int(os.environ.get("ACTIVITY_LOG_RETENTION_DAYS", "400"))

# Sockets (contract section 11): a socket idle this long gets a heartbeat with the latest
# seq; every process checks its sockets against the outbox this often and catches up the
# ones that missed an event; the relay re-hands events no subscriber took after this delay.
EVENTS_HEARTBEAT_SECONDS = float(os.environ.get("EVENTS_HEARTBEAT_SECONDS", "30"))
EVENTS_CATCH_UP_SECONDS = float(os.environ.get("EVENTS_CATCH_UP_SECONDS", "2"))
EVENTS_RELAY_AFTER_SECONDS = float(os.environ.get("EVENTS_RELAY_AFTER_SECONDS", "5"))
# A new request is refused (503 `unavailable`, `"reason": "busy"`, Retry-After) while this
# process hands committed events to its sockets more than this many seconds late; 0: never.
SHED_BEHIND_SECONDS = float(os.environ.get("SHED_BEHIND_SECONDS", "1"))
# How long one run of the outbox's pruning (beat, every minute) may go on: it deletes in
# short transactions until nothing old is left or this budget is used up.
EVENTS_PRUNE_SECONDS = float(os.environ.get("EVENTS_PRUNE_SECONDS", "20"))
# How long a committed change's answer waits for its events to be handed to the sockets
# and push (normally a few milliseconds); past it the answer leaves, and the events follow.
EVENTS_DISPATCH_WAIT_SECONDS = float(os.environ.get("EVENTS_DISPATCH_WAIT_SECONDS", "0.25"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["pairing.accounts.auth.StrictTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Failed logins per username and per client address before 429, and the window.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "300"))
# Brute force (django-axes, in the database): failures count per username *and* address
# together, so guesses from elsewhere never lock a mitra out of their own phone, and one
# address guessing at one account does not block other accounts from that address.
# Staff see and lift locks in the admin (Axes > Access attempts).
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "common.lockout.lockout_response"
AXES_VERBOSE = False

SPECTACULAR_SETTINGS = {
    "TITLE": "Halobestie pairing API",
    "DESCRIPTION": "REST API of the Halobestie pairing backend. See shared/CONTRACT.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.add_error_responses",
    ],
}

# FCM: a service-account JSON file and the Firebase project id. Without both,
# pushes are recorded as not sent.
FCM_SERVICE_ACCOUNT_FILE = os.environ.get("FCM_SERVICE_ACCOUNT_FILE", "")
FCM_PROJECT_ID = os.environ.get("FCM_PROJECT_ID", "")
# Where pyfcm sends messages; tests point it at a fake FCM service.
FCM_ENDPOINT_BASE = os.environ.get("FCM_ENDPOINT_BASE", "https://fcm.googleapis.com/v1/projects")
# Retries of a push that failed with an FCM server error (5xx), with exponential backoff.
FCM_MAX_ATTEMPTS = int(os.environ.get("FCM_MAX_ATTEMPTS", "4"))
FCM_RETRY_BASE_SECONDS = float(os.environ.get("FCM_RETRY_BASE_SECONDS", "1"))

# Plain text by default; LOG_FORMAT=json writes one JSON object a line, with the request
# id and the user id (common/logs.py).
LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"))

# Prometheus (common/metrics.py): read at each scrape of the metrics process, beside what
# every process counts. The launcher serves them on METRICS_ADDR:METRICS_PORT when set.
METRICS_COLLECTORS = [
    "common.metrics.CeleryQueueCollector",
    "pairing.events.metrics.OutboxCollector",
    "pairing.realtime.metrics.MitrasCollector",
    "pairing.requests.metrics.OverdueCollector",
]
