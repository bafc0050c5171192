"""Contexten settings: one flat file, every value read once from the environment.

The embedded default (no DATABASE_URL, no REDIS_URL) needs nothing installed: SQLite in WAL
mode, the django-q2 ORM broker, a local-memory cache and a database-backed channel layer.
Production sets DATABASE_URL (Postgres through Django's psycopg pool) and REDIS_URL.
"""

from pathlib import Path

import environ

from contexten_site.envtools import (
    database_from_url,
    read_extension_settings,
    read_int,
    read_secret,
    redis_url_or_none,
)
from extensions.discovery import declared_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 - flagged by a system check
SECRET_KEY = read_secret(env, "SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_q",
    "orchestrator.core",
    "orchestrator.events",
    "orchestrator.workflows",
    "orchestrator.flags",
    "orchestrator.health",
    "orchestrator.operations",
    "extensions",
    "extensions.config",
    "extensions.legacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "contexten_site.urls"
ASGI_APPLICATION = "contexten_site.asgi.application"
WSGI_APPLICATION = "contexten_site.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
SQLITE_PATH = Path(env.str("SQLITE_PATH", default=str(BASE_DIR / "var" / "contexten.sqlite3")))
DATABASE_POOL_MAX = read_int(env, "DATABASE_POOL_MAX", 20)
DATABASES = {"default": database_from_url(DATABASE_URL, SQLITE_PATH, DATABASE_POOL_MAX)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, django-q2 broker, shared breaker state --------------------
REDIS_URL = redis_url_or_none(env.str("REDIS_URL", default=""))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "contexten",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Reaches browsers from worker processes through the shared database (see docs).
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "orchestrator.core.channel_layer.DatabaseChannelLayer"}
    }

Q_CLUSTER = {
    "name": "contexten",
    "workers": read_int(env, "Q_WORKERS", 6),
    "timeout": 120,
    "retry": 180,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.05,
    "save_limit": 500,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Workflow engine (orchestrator/workflows) ---------------------------------------------
# Steps one runner task keeps in flight at once (asyncio, not processes).
WORKFLOW_MAX_IN_FLIGHT = read_int(env, "WORKFLOW_MAX_IN_FLIGHT", 500)
# Runners driving steps at once, each in its own worker process with its own platform pools
# (leases "runner:0".."runner:K-1"); keep it below Q_WORKERS so dispatch is never starved.
WORKFLOW_RUNNERS = read_int(env, "WORKFLOW_RUNNERS", 1)
# A running step whose heartbeat is older than this is re-driven by the sweeper (seconds).
WORKFLOW_HEARTBEAT_TIMEOUT = read_int(env, "WORKFLOW_HEARTBEAT_TIMEOUT", 60)
WORKFLOW_SWEEP_MINUTES = read_int(env, "WORKFLOW_SWEEP_MINUTES", 1)
# A runner stops claiming after this many seconds and hands over (django-q2 timeout is 120 s).
WORKFLOW_RUNNER_LIFETIME = read_int(env, "WORKFLOW_RUNNER_LIFETIME", 45)
# An idle runner stays for steps due within this many seconds (backoff, open breakers).
WORKFLOW_RUNNER_MAX_WAIT = read_int(env, "WORKFLOW_RUNNER_MAX_WAIT", 30)
WORKFLOW_POLL_MS = read_int(env, "WORKFLOW_POLL_MS", 20)

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app directories too, so DEBUG=false works before collectstatic.
WHITENOISE_USE_FINDERS = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "orchestrator.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "orchestrator.core.schema.ContextenAutoSchema",
    "EXCEPTION_HANDLER": "orchestrator.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contexten control plane API",
    "DESCRIPTION": "Events, workflows, runs, feature flags, configuration and extensions.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema maps every operation: staff only, like the API it describes.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    # Swagger UI's assets come from the sidecar package, not a CDN: works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Extensions: installed versions, and the settings their manifests declare ---------------
# Each version installed through `manage.py extensions install` lives in its own folder here.
EXTENSIONS_DIR = Path(env.str("EXTENSIONS_DIR", default=str(BASE_DIR / "var" / "extensions")))
# Platforms whose unsigned webhooks the operator explicitly accepts (names of extensions).
WEBHOOK_ALLOW_UNSIGNED = env.list("WEBHOOK_ALLOW_UNSIGNED", default=[])
WEBHOOK_MAX_BYTES = read_int(env, "WEBHOOK_MAX_BYTES", 25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BYTES
# Webhook secrets, API tokens and URLs, pool sizes: each manifest names the settings it reads
# (SPEC §3 lists the built-ins'), and they are read here, once, like every other setting.
globals().update(read_extension_settings(env, declared_settings()))

# --- Platform clients: timeouts, circuit breakers, lookup cache -----------------------------
PLATFORM_HTTP_TIMEOUT = read_int(env, "PLATFORM_HTTP_TIMEOUT", 30)  # seconds per call
BREAKER_FAILURE_RATE = read_int(env, "BREAKER_FAILURE_RATE", 50)  # percent of the window
BREAKER_WINDOW = read_int(env, "BREAKER_WINDOW", 20)  # last N calls
BREAKER_MIN_CALLS = read_int(env, "BREAKER_MIN_CALLS", 10)
BREAKER_OPEN_SECONDS = read_int(env, "BREAKER_OPEN_SECONDS", 30)
BREAKER_HALF_OPEN_PROBES = read_int(env, "BREAKER_HALF_OPEN_PROBES", 3)
BREAKER_SYNC_MS = read_int(env, "BREAKER_SYNC_MS", 200)  # how stale a process's view may be
PLATFORM_CACHE_TTL = read_int(env, "PLATFORM_CACHE_TTL", 300)  # seconds, lookups
PLATFORM_CACHE_SIZE = read_int(env, "PLATFORM_CACHE_SIZE", 1024)  # in-process LRU entries

# --- Event store (orchestrator/events) ------------------------------------------------------
EVENT_MAX_ATTEMPTS = read_int(env, "EVENT_MAX_ATTEMPTS", 5)
EVENT_RETRY_BASE_SECONDS = read_int(env, "EVENT_RETRY_BASE_SECONDS", 10)
EVENT_RETRY_MAX_SECONDS = read_int(env, "EVENT_RETRY_MAX_SECONDS", 600)
EVENT_STUCK_AFTER_SECONDS = read_int(env, "EVENT_STUCK_AFTER_SECONDS", 120)
EVENT_SWEEP_INTERVAL_MINUTES = read_int(env, "EVENT_SWEEP_INTERVAL_MINUTES", 1)
EVENT_RETENTION_DAYS = read_int(env, "EVENT_RETENTION_DAYS", 30)
# Connections per web process for the webhook fast path (async psycopg, Postgres only).
WEBHOOK_POOL_MAX = read_int(env, "WEBHOOK_POOL_MAX", 8)
# Concurrent deliveries share one INSERT and commit; off stores each row on its own.
WEBHOOK_GROUP_COMMIT = env.bool("WEBHOOK_GROUP_COMMIT", default=True)
WEBHOOK_INSERT_CONCURRENCY = read_int(env, "WEBHOOK_INSERT_CONCURRENCY", 4)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


# --- Serving --------------------------------------------------------------------------------
HOST = env.str("HOST", default="127.0.0.1")
PORT = read_int(env, "PORT", 8000)
WEB_CONCURRENCY = read_int(env, "WEB_CONCURRENCY", 1)
DEMO_ADMIN_USERNAME = env.str("DEMO_ADMIN_USERNAME", default="admin")
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="contexten-demo")

# --- Feature flags (orchestrator/flags) -----------------------------------------------------
# How often each process checks whether flags changed (the 1 s invalidation promise).
FLAGS_CACHE_POLL_SECONDS = read_int(env, "FLAGS_CACHE_POLL_MS", 500) / 1000
# How long an OFREP process trusts a token it has already looked up (revocation delay).
OFREP_TOKEN_CACHE_SECONDS = read_int(env, "OFREP_TOKEN_CACHE_SECONDS", 30)
# OFREP requests per token per minute in each web process; 0 means unlimited.
OFREP_RATE_LIMIT_PER_MINUTE = read_int(env, "OFREP_RATE_LIMIT_PER_MINUTE", 0)
FLAGS_GUARD_INTERVAL_SECONDS = read_int(env, "FLAGS_GUARD_INTERVAL_SECONDS", 20)

# --- Configuration store (extensions/config) ------------------------------------------------
# How often each process checks whether any configuration changed (the 2 s promise).
CONFIG_CACHE_POLL_SECONDS = read_int(env, "CONFIG_CACHE_POLL_MS", 500) / 1000

# --- Operations -----------------------------------------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(BASE_DIR / "var" / "backups")))
BACKUP_KEEP = read_int(env, "BACKUP_KEEP", 20)  # automatic backups kept; yours are never pruned
