"""Contexten settings: one flat file, every value read once from the environment.

The embedded default (no DATABASE_URL, no REDIS_URL) needs nothing installed: SQLite in WAL
mode, the django-q2 ORM broker, a local-memory cache and a database-backed channel layer.
Production sets DATABASE_URL (Postgres through Django's psycopg pool) and REDIS_URL.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ

from contexten_site.envtools import (
    database_from_url,
    default_deployment_name,
    fail,
    read_bool,
    read_extension_settings,
    read_host_list,
    read_int,
    read_networks,
    read_secret,
    redis_url_or_none,
)
from extensions.discovery import declared_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"  # noqa: S105 - flagged by a system check
SECRET_KEY = read_secret(env, "SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = read_bool(env, "DEBUG", True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_q",
    "axes",
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
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
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
# Seconds a request waits for a pooled connection (Postgres) before failing; while the database
# restarts, requests fail after this long instead of piling up.
DATABASE_POOL_TIMEOUT = read_int(env, "DATABASE_POOL_TIMEOUT", 10)
# Our hot statements run prepared on Postgres (orchestrator/core/prepared.py); false behind
# a PgBouncer older than 1.21 in transaction mode, which cannot keep prepared statements.
DATABASE_PREPARE = read_bool(env, "DATABASE_PREPARE", True)
DATABASES = {
    "default": database_from_url(
        DATABASE_URL, SQLITE_PATH, DATABASE_POOL_MAX, DATABASE_POOL_TIMEOUT, DATABASE_PREPARE
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Names this deployment's django-q2 queue (and cache keys) in a Redis it may share with
# others: each signs tasks with its own SECRET_KEY, so a task taken by another deployment's
# cluster is dropped there. Default: the database name (a hash of the SQLite path).
DEPLOYMENT_NAME = env.str("DEPLOYMENT_NAME", default="") or default_deployment_name(
    DATABASES["default"]
)
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", DEPLOYMENT_NAME):
    fail("DEPLOYMENT_NAME", "must be 1-64 letters, digits, '.', '_' or '-'")

# --- Redis: cache, channel layer, django-q2 broker, shared breaker state --------------------
REDIS_URL = redis_url_or_none(env.str("REDIS_URL", default=""))

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"contexten-{DEPLOYMENT_NAME}",
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
    "name": f"contexten-{DEPLOYMENT_NAME}",
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
# A measured alternative to runner processes (docs/architecture.md): runner tasks on a
# django-q2 cluster of their own, started as `Q_CLUSTER_NAME=<name> manage.py qcluster`.
WORKFLOW_RUNNER_CLUSTER = env.str("WORKFLOW_RUNNER_CLUSTER", default="")
if WORKFLOW_RUNNER_CLUSTER:
    Q_CLUSTER["ALT_CLUSTERS"] = {
        WORKFLOW_RUNNER_CLUSTER: {"workers": read_int(env, "WORKFLOW_RUNNERS", 1)}
    }

# --- Workflow engine (orchestrator/workflows) ---------------------------------------------
# Steps one runner keeps in flight at once (asyncio, not processes). Above the largest pool
# (HTTP_REQUEST_POOL_MAX, 500) plus its waiting share, so a burst on one platform leaves
# room for every other platform's steps (docs/architecture.md, "Runners").
WORKFLOW_MAX_IN_FLIGHT = read_int(env, "WORKFLOW_MAX_IN_FLIGHT", 1000)
# Runner processes `manage.py serve` starts, each with its own platform pools: one per core,
# since a busy runner is CPU-bound. Without runner processes (qcluster alone) it caps the
# runner tasks instead (leases "runner:0".."runner:K-1"), each of which holds a worker.
WORKFLOW_RUNNERS = read_int(env, "WORKFLOW_RUNNERS", len(os.sched_getaffinity(0)))
# A running step whose heartbeat is older than this is re-driven by the sweeper (seconds).
# Runners beat every 5 s, so 15 s is three missed beats; runner processes look every 5 s.
WORKFLOW_HEARTBEAT_TIMEOUT = read_int(env, "WORKFLOW_HEARTBEAT_TIMEOUT", 15)
WORKFLOW_SWEEP_MINUTES = read_int(env, "WORKFLOW_SWEEP_MINUTES", 1)
# A runner stops claiming after this many seconds and hands over (django-q2 timeout is 120 s).
WORKFLOW_RUNNER_LIFETIME = read_int(env, "WORKFLOW_RUNNER_LIFETIME", 45)
# An idle runner stays for steps due within this many seconds (backoff, open breakers).
WORKFLOW_RUNNER_MAX_WAIT = read_int(env, "WORKFLOW_RUNNER_MAX_WAIT", 30)
WORKFLOW_POLL_MS = read_int(env, "WORKFLOW_POLL_MS", 20)
# Finished runs (and their steps) older than this are pruned hourly (workflows.prune).
WORKFLOW_RETENTION_DAYS = read_int(env, "WORKFLOW_RETENTION_DAYS", 30)

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/admin/login/"
# Password logins are rate-limited by django-axes (its backend first; it needs the request).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# ADMIN_LOGIN_FAILURE_LIMIT failed logins for one username from one address lock that pair
# out for ADMIN_LOGIN_COOLOFF_MINUTES (429); attempts live in the database, so every process
# and host shares them. The address is the socket's peer (REMOTE_ADDR), never a client-sent
# X-Forwarded-For, which an attacker would rotate to escape the limit.
AXES_ENABLED = read_bool(env, "ADMIN_LOGIN_RATE_LIMIT", True)
AXES_FAILURE_LIMIT = read_int(env, "ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=read_int(env, "ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "servestatic.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app directories too, so DEBUG=false works before collectstatic.
SERVESTATIC_USE_FINDERS = True

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
# Bad-signature floods (events/throttle.py): an address may fail verification this many times
# in a burst, refilled at this rate; past it, its webhooks answer 429 before any work. Good
# deliveries spend nothing. A burst of 0 turns the throttle off.
WEBHOOK_BAD_SIGNATURE_BURST = read_int(env, "WEBHOOK_BAD_SIGNATURE_BURST", 20)
WEBHOOK_BAD_SIGNATURE_PER_MINUTE = read_int(env, "WEBHOOK_BAD_SIGNATURE_PER_MINUTE", 60)
# Webhook secrets, API tokens and URLs, pool sizes: each manifest names the settings it reads
# (SPEC §3 lists the built-ins'), and they are read here, once, like every other setting.
globals().update(read_extension_settings(env, declared_settings()))

# --- Platform clients: timeouts, circuit breakers, lookup cache -----------------------------
PLATFORM_HTTP_TIMEOUT = read_int(env, "PLATFORM_HTTP_TIMEOUT", 30)  # seconds per call
# core.http_request: connections per process, sized for 1,000 one-second calls in flight
# across the default runners (SPEC §11), and the loopback/private/link-local hosts and
# networks it may reach (empty: none; an SSRF guard).
HTTP_REQUEST_POOL_MAX = read_int(env, "HTTP_REQUEST_POOL_MAX", 500)
HTTP_REQUEST_ALLOWLIST = read_host_list(env, "HTTP_REQUEST_ALLOWLIST")
BREAKER_FAILURE_RATE = read_int(env, "BREAKER_FAILURE_RATE", 50)  # percent of the window
BREAKER_WINDOW = read_int(env, "BREAKER_WINDOW", 20)  # last N calls
BREAKER_MIN_CALLS = read_int(env, "BREAKER_MIN_CALLS", 10)
BREAKER_OPEN_SECONDS = read_int(env, "BREAKER_OPEN_SECONDS", 30)
BREAKER_HALF_OPEN_PROBES = read_int(env, "BREAKER_HALF_OPEN_PROBES", 3)
BREAKER_SYNC_MS = read_int(env, "BREAKER_SYNC_MS", 200)  # how stale a process's view may be
PLATFORM_CACHE_TTL = read_int(env, "PLATFORM_CACHE_TTL", 300)  # seconds, lookups
PLATFORM_CACHE_SIZE = read_int(env, "PLATFORM_CACHE_SIZE", 1024)  # in-process LRU entries

# --- Health: detection, baselines, alerts, escalation (orchestrator/health) ----------------
# How often the detection job runs (django-q2's scheduler looks every 30 s at most).
HEALTH_CHECK_INTERVAL_SECONDS = read_int(env, "HEALTH_CHECK_INTERVAL_SECONDS", 30)
HEALTH_RETENTION_HOURS = read_int(env, "HEALTH_RETENTION_HOURS", 72)  # stored check results
HEALTH_PROBE_TIMEOUT_SECONDS = read_int(env, "HEALTH_PROBE_TIMEOUT_SECONDS", 5)  # platform APIs
# Consecutive results that must agree before a check changes status (hysteresis).
HEALTH_HYSTERESIS = read_int(env, "HEALTH_HYSTERESIS", 2)
HEALTH_BASELINE_ALPHA = env.float("HEALTH_BASELINE_ALPHA", default=0.1)  # EWMA weight
HEALTH_BASELINE_BAND = env.float("HEALTH_BASELINE_BAND", default=4.0)  # deviations above mean
HEALTH_BASELINE_MIN_SAMPLES = read_int(env, "HEALTH_BASELINE_MIN_SAMPLES", 30)
HEALTH_FORECAST_POINTS = read_int(env, "HEALTH_FORECAST_POINTS", 10)  # least-squares window
HEALTH_FORECAST_HORIZON_SECONDS = read_int(env, "HEALTH_FORECAST_HORIZON_SECONDS", 600)
HEALTH_BACKLOG_WARN = read_int(env, "HEALTH_BACKLOG_WARN", 1000)  # events or steps waiting
HEALTH_BACKLOG_FAIL = read_int(env, "HEALTH_BACKLOG_FAIL", 10000)
HEALTH_AGE_WARN_SECONDS = read_int(env, "HEALTH_AGE_WARN_SECONDS", 120)  # oldest waiting item
HEALTH_AGE_FAIL_SECONDS = read_int(env, "HEALTH_AGE_FAIL_SECONDS", 900)
HEALTH_ERROR_RATE_WARN = env.float("HEALTH_ERROR_RATE_WARN", default=0.1)  # failed steps
HEALTH_ERROR_RATE_FAIL = env.float("HEALTH_ERROR_RATE_FAIL", default=0.5)
HEALTH_ERROR_RATE_WINDOW_SECONDS = read_int(env, "HEALTH_ERROR_RATE_WINDOW_SECONDS", 300)
HEALTH_ERROR_RATE_MIN_STEPS = read_int(env, "HEALTH_ERROR_RATE_MIN_STEPS", 20)
# A firing alert is notified again after this long (Alertmanager's repeat_interval).
HEALTH_ALERT_REPEAT_SECONDS = read_int(env, "HEALTH_ALERT_REPEAT_SECONDS", 3600)
# Chat escalation (HEALTH_ESCALATION_ACTION, HEALTH_ESCALATION_CHANNEL) is declared by the chat
# extension's manifest and read above with the other extension settings; without one, it is off.
HEALTH_ALERT_EMAILS = env.list("HEALTH_ALERT_EMAILS", default=[])
# Mail: the console backend unless EMAIL_URL names SMTP (smtp+tls://user:pass@host:587).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="contexten@localhost")

# --- Event store (orchestrator/events) ------------------------------------------------------
EVENT_MAX_ATTEMPTS = read_int(env, "EVENT_MAX_ATTEMPTS", 5)
EVENT_RETRY_BASE_SECONDS = read_int(env, "EVENT_RETRY_BASE_SECONDS", 10)
EVENT_RETRY_MAX_SECONDS = read_int(env, "EVENT_RETRY_MAX_SECONDS", 600)
# An event left in received/dispatched this long lost its doorbell or its worker (a dispatch
# takes milliseconds, and a repeated one starts no second run: one run per workflow and event).
EVENT_STUCK_AFTER_SECONDS = read_int(env, "EVENT_STUCK_AFTER_SECONDS", 15)
# Runner processes sweep events this often (a worker host killed holding doorbells is taken
# over within EVENT_STUCK_AFTER_SECONDS plus this); the django-q2 schedule, which runs at
# most once a minute, remains for a deployment that runs qcluster alone.
EVENT_SWEEP_SECONDS = read_int(env, "EVENT_SWEEP_SECONDS", 5)
EVENT_SWEEP_INTERVAL_MINUTES = read_int(env, "EVENT_SWEEP_INTERVAL_MINUTES", 1)
EVENT_RETENTION_DAYS = read_int(env, "EVENT_RETENTION_DAYS", 30)
# Dispatcher threads per runner process (with Redis; events/dispatchers.py), and how long
# one waits after its first event id for more to share its batch (docs/architecture.md,
# "Dispatchers linger"). 0 threads leaves dispatch to the qcluster's doorbell tasks.
DISPATCHER_THREADS = read_int(env, "DISPATCHER_THREADS", 3, minimum=0)
DISPATCH_LINGER_MS = read_int(env, "DISPATCH_LINGER_MS", 10, minimum=0)
# The webhook fast path writes an event's runs in its own INSERT when it can decide them
# (workflows/at_ingest.py); off, every event goes to the dispatchers.
EVENT_PLAN_AT_INGEST = read_bool(env, "EVENT_PLAN_AT_INGEST", True)
# Web and runner processes freeze their start-up heap, so the collector never walks it
# (orchestrator/core/heap.py; a gen-2 collection stopped a runner for 250-300 ms).
GC_FREEZE_AT_START = read_bool(env, "GC_FREEZE_AT_START", True)
# Connections per web process for the webhook fast path (async psycopg, Postgres only).
WEBHOOK_POOL_MAX = read_int(env, "WEBHOOK_POOL_MAX", 8)
# Seconds a webhook waits for a pooled connection before answering 503 + Retry-After (a
# database restart shorter than this is absorbed; longer, the platform retries).
WEBHOOK_POOL_TIMEOUT = read_int(env, "WEBHOOK_POOL_TIMEOUT", 10)
# Concurrent deliveries share one INSERT and commit; off stores each row on its own.
WEBHOOK_GROUP_COMMIT = read_bool(env, "WEBHOOK_GROUP_COMMIT", True)
WEBHOOK_INSERT_CONCURRENCY = read_int(env, "WEBHOOK_INSERT_CONCURRENCY", 4)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs every login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # django-q2 logs every task at INFO; `make run` sets WARNING for a calm console.
        "django-q": {"level": env.str("Q_LOG_LEVEL", default=LOG_LEVEL)},
    },
}


# --- Serving --------------------------------------------------------------------------------
HOST = env.str("HOST", default="127.0.0.1")
PORT = read_int(env, "PORT", 8000)
# One uvicorn process per usable core: at one process ingest measured 0.44-0.46 of pgbench,
# at two (this machine's cores) 0.64 (docs/performance.md).
WEB_CONCURRENCY = read_int(env, "WEB_CONCURRENCY", len(os.sched_getaffinity(0)))
DEMO_ADMIN_USERNAME = env.str("DEMO_ADMIN_USERNAME", default="admin")
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="contexten-demo")

# --- Feature flags (orchestrator/flags) -----------------------------------------------------
# How often each process checks whether flags changed (the 1 s invalidation promise).
FLAGS_CACHE_POLL_SECONDS = read_int(env, "FLAGS_CACHE_POLL_MS", 500) / 1000
# How often each process checks whether any API token was revoked (the 1 s promise; OFREP's
# per-process token cache, core/tokens.py).
TOKEN_CACHE_POLL_SECONDS = read_int(env, "TOKEN_CACHE_POLL_MS", 500) / 1000
# OFREP requests per token per minute in each web process; 0 means unlimited.
OFREP_RATE_LIMIT_PER_MINUTE = read_int(env, "OFREP_RATE_LIMIT_PER_MINUTE", 0)
FLAGS_GUARD_INTERVAL_SECONDS = read_int(env, "FLAGS_GUARD_INTERVAL_SECONDS", 20)

# --- Configuration store (extensions/config) ------------------------------------------------
# How often each process checks whether any configuration changed (the 2 s promise).
CONFIG_CACHE_POLL_SECONDS = read_int(env, "CONFIG_CACHE_POLL_MS", 500) / 1000

# --- Metrics and the dashboard (orchestrator/health) ---------------------------------------
# /metrics answers a staff session, a request bearing METRICS_TOKEN, or one from
# METRICS_ALLOWED_IPS (empty by default: nobody is let in by address alone).
METRICS_TOKEN = read_secret(env, "METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = read_networks(env, "METRICS_ALLOWED_IPS", [])
# Off: nothing is counted (the cost benchmark's reference; /metrics then shows gauges only).
METRICS_ENABLED = read_bool(env, "METRICS_ENABLED", True)
# How often each process folds its counters into the shared store (Redis or database).
METRICS_FLUSH_MS = read_int(env, "METRICS_FLUSH_MS", 1000)
# How often a dashboard connection looks for a changed snapshot to push.
DASHBOARD_PUSH_MS = read_int(env, "DASHBOARD_PUSH_MS", 300)
# The ingest p95 the dashboard's capacity panel measures headroom against (SPEC §11: p99 < 250).
CAPACITY_P95_TARGET_MS = read_int(env, "CAPACITY_P95_TARGET_MS", 250)
# --- Operations -----------------------------------------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(BASE_DIR / "var" / "backups")))
BACKUP_KEEP = read_int(env, "BACKUP_KEEP", 20)  # automatic backups kept; yours are never pruned
