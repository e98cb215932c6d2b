"""All settings, read from the environment in this one module (django-environ)."""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Safe defaults --------------------------------------------------------------------------------------------------
# DEBUG is off unless the environment turns it on (`make run` sets DEBUG=1 for itself). With DEBUG off the app
# refuses to start on the development SECRET_KEY or without ALLOWED_HOSTS, and the HTTPS settings below default to
# what `manage.py check --deploy` asks for.
DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
_DEV_ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = [h.strip() for h in env.list("ALLOWED_HOSTS", default=_DEV_ALLOWED_HOSTS if DEBUG else []) if h.strip()]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if not DEBUG:
    if not SECRET_KEY.strip() or SECRET_KEY == _DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is empty or the development key: with DEBUG off, set the SECRET_KEY environment variable "
            "to a long random string (python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), or set "
            "DEBUG=1 for development.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is empty: with DEBUG off, set the ALLOWED_HOSTS environment variable to the host names "
            "this site answers to (comma-separated, e.g. ALLOWED_HOSTS=jobs.example.com), or set DEBUG=1 for "
            "development.")

# HTTPS. Each setting reads its environment variable; unset, it is on in production (DEBUG off) and off in
# development. Behind a proxy that terminates TLS, set SECURE_PROXY_SSL_HEADER=true (opt-in: only when the proxy
# sets X-Forwarded-Proto on every request, overwriting the client's), or the SSL redirect loops.
_PRODUCTION = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
# Probes and Prometheus often call a web host directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[r"^healthz$", r"^metrics$"])
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("SECURE_PROXY_SSL_HEADER",
                                                                           default=False) else None
SECURE_CONTENT_TYPE_NOSNIFF = env.bool("SECURE_CONTENT_TYPE_NOSNIFF", default=True)
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = env.str("SECURE_CROSS_ORIGIN_OPENER_POLICY", default="same-origin")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not from a CDN
    "django_apscheduler",
    "axes",  # brute-force protection of the admin login (see "Authentication" below)
    "scheduler_app",
    "scraping_app",
    "logs_app",
]

MIDDLEWARE = [
    "jobsite.middleware.TraceMiddleware",  # first: its span covers the whole request (dropped while traces are off)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # admin and Swagger UI assets, from any web host
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a locked-out login into axes' lockout response
]

ROOT_URLCONF = "jobsite.urls"
WSGI_APPLICATION = "jobsite.wsgi.application"
ASGI_APPLICATION = "jobsite.asgi.application"

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

# --- Database -------------------------------------------------------------------------------------------------------
# SQLite by default (WAL, busy timeout, IMMEDIATE transactions so concurrent writers queue instead of failing with
# "database is locked"); PostgreSQL through DATABASE_URL for real deployments.
_SQLITE_DEFAULT = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL", default="") or _SQLITE_DEFAULT)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env.float("SQLITE_BUSY_TIMEOUT_SECONDS", default=20.0),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not :memory:, so that subprocesses started by tests (runjob, kill -9) share the test database.
    DATABASES["default"]["TEST"] = {"NAME": env.str("SQLITE_TEST_NAME", default=str(BASE_DIR / ".test-db.sqlite3"))}
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # A dead network path must fail a call, not hang it: libpq has no TCP timeout of its own. Keepalives notice an
    # idle connection whose peer is gone; tcp_user_timeout fails a request whose bytes are never acknowledged (a cut
    # link). A slow query is not affected: the server acknowledges the request and answers the keepalives.
    _tcp_timeout = env.float("DATABASE_TCP_TIMEOUT_SECONDS", default=10.0)
    for _option, _value in {"connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5),
                            "keepalives": 1, "keepalives_idle": max(1, int(_tcp_timeout / 2)),
                            "keepalives_interval": max(1, int(_tcp_timeout / 6)), "keepalives_count": 3,
                            "tcp_user_timeout": int(_tcp_timeout * 1000)}.items():
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(_option, _value)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------------------------------
# django-axes first: it refuses a locked-out (username, IP) before any password is checked. With it, authenticate()
# needs the request (the admin's and Django's login views pass it; tests use force_login or pass request=).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Passwords set through forms, createsuperuser and changepassword must pass Django's four standard validators.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are counted per (username, client IP) in the database (axes' AccessAttempt, migrated like any
# app); after AXES_FAILURE_LIMIT failures that pair is locked out for AXES_COOLOFF_MINUTES. A success resets the
# count. Other users, and the same user from another IP, can still log in. `manage.py axes_reset` unlocks all.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client IP, the same one the API's throttles see: REMOTE_ADDR, or with NUM_PROXIES > 0 the address that many
# proxies back in X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "jobsite.throttles.client_ip"

# --- Redis and the execution lock -----------------------------------------------------------------------------------
# The topology (README "Deployment at scale"): standalone (REDIS_URL), sentinel (REDIS_SENTINELS +
# REDIS_SENTINEL_MASTER), cluster (REDIS_URL names any node) or quorum (LOCK_REDIS_URLS, N independent masters).
REDIS_MODE = env.str("REDIS_MODE", default="standalone")
if REDIS_MODE not in ("standalone", "sentinel", "cluster", "quorum"):
    raise ImproperlyConfigured(f"REDIS_MODE must be standalone, sentinel, cluster or quorum, not {REDIS_MODE!r}")
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
LOCK_REDIS_URLS = env.list("LOCK_REDIS_URLS", default=[])
if REDIS_MODE == "sentinel" and not REDIS_SENTINELS:
    raise ImproperlyConfigured("REDIS_MODE=sentinel needs REDIS_SENTINELS=host:port,...")
if REDIS_MODE == "quorum" and len(LOCK_REDIS_URLS) < 3:
    raise ImproperlyConfigured("REDIS_MODE=quorum needs LOCK_REDIS_URLS with at least three independent masters")
# Redlock's clock-drift allowance: a quorum lock is valid for lease - elapsed - (lease * factor + 2 ms).
LOCK_QUORUM_DRIFT_FACTOR = env.float("LOCK_QUORUM_DRIFT_FACTOR", default=0.01)
# In quorum mode the cache (API throttles) and REDIS_URL default to the first master.
REDIS_URL = env.str("REDIS_URL", default=LOCK_REDIS_URLS[0] if REDIS_MODE == "quorum"
                    else "redis://127.0.0.1:6379/0")
REDIS_SOCKET_CONNECT_TIMEOUT = env.float("REDIS_SOCKET_CONNECT_TIMEOUT", default=0.5)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
_TOPOLOGY_CACHE_CLIENT = {"sentinel": {"CONNECTION_FACTORY": "scheduler_app.locks.topology.CacheConnectionFactory"},
                          "cluster": {"CONNECTION_FACTORY": "scheduler_app.locks.topology.CacheConnectionFactory",
                                      "CLIENT_CLASS": "scheduler_app.locks.topology.ClusterCacheClient"}}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            **_TOPOLOGY_CACHE_CLIENT.get(REDIS_MODE, {}),
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_CONNECT_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # redis-py retries with exponential backoff by default, which stalls every lock call for seconds
            # during an outage. The lock decides what an outage means (fallback or refuse), so fail at once.
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
            "IGNORE_EXCEPTIONS": False,
        },
    }
}
# The Redis key's TTL; renewed every third of it while the holder lives.
LOCK_LEASE_SECONDS = env.float("LOCK_LEASE_SECONDS", default=30.0)
# What to do when Redis cannot be reached: "database" (lease in the database) or "fail" (refuse the run).
LOCK_FALLBACK = env.str("LOCK_FALLBACK", default="database")
# How long, after a failure, the lock skips Redis and goes straight to the fallback.
LOCK_REDIS_RETRY_SECONDS = env.float("LOCK_REDIS_RETRY_SECONDS", default=2.0)

# Extra modules whose @with_execution_lock functions are registered as jobs too (plugins; tests use it).
EXTRA_JOB_MODULES = env.list("EXTRA_JOB_MODULES", default=[])

# --- Scheduler ------------------------------------------------------------------------------------------------------
SCHEDULER_HEARTBEAT_SECONDS = env.float("SCHEDULER_HEARTBEAT_SECONDS", default=5.0)
SCHEDULER_STALE_SECONDS = env.float("SCHEDULER_STALE_SECONDS", default=15.0)
SCHEDULER_MISFIRE_GRACE_SECONDS = env.int("SCHEDULER_MISFIRE_GRACE_SECONDS", default=60)
SCHEDULER_REAPER_SECONDS = env.float("SCHEDULER_REAPER_SECONDS", default=60.0)
# how soon the scheduler loop tries the job store again after a database error
SCHEDULER_JOBSTORE_RETRY_SECONDS = env.float("SCHEDULER_JOBSTORE_RETRY_SECONDS", default=5.0)
# runscheduler keeps each thread's database connection this long (seconds) instead of one per fire; health-checked
# before reuse on PostgreSQL. 0: a new connection for every piece of work.
SCHEDULER_CONN_MAX_AGE = env.int("SCHEDULER_CONN_MAX_AGE", default=60)
# The DRF field that validates a team id for the scheduler's API and runjob (the domain app owns teams).
SCHEDULER_TEAM_ID_FIELD = "scraping_app.api.fields.TeamIdField"
APSCHEDULER_DATETIME_FORMAT = "N j, Y, f:s a"
APSCHEDULER_RUN_NOW_TIMEOUT = 25

# --- Logs -----------------------------------------------------------------------------------------------------------
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=30)
RUN_RETENTION_DAYS = env.int("RUN_RETENTION_DAYS", default=90)
LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Console and logs/app.log: `text` (readable) or `json` (one object per line, for jq and log shippers).
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
# logs/app.log rotates at this size, keeping this many backups (app.log.1 ... app.log.N).
LOG_FILE_MAX_BYTES = env.int("LOG_FILE_MAX_BYTES", default=10 * 1024 * 1024)
LOG_FILE_BACKUP_COUNT = env.int("LOG_FILE_BACKUP_COUNT", default=5)
# The database log handler (LogEntry rows behind /api/v1/logs/), written from a background thread. Unset
# LOG_DB_BACKGROUND means "yes, except under pytest" (see jobsite/logging_config.py).
LOG_DB_ENABLED = env.bool("LOG_DB_ENABLED", default=True)
LOG_DB_LEVEL = env.str("LOG_DB_LEVEL", default="INFO")
LOG_DB_BACKGROUND = env.bool("LOG_DB_BACKGROUND", default=None)
LOG_DB_BATCH_SIZE = env.int("LOG_DB_BATCH_SIZE", default=500)
LOG_DB_FLUSH_SECONDS = env.float("LOG_DB_FLUSH_SECONDS", default=0.5)
LOG_DB_MAX_PENDING = env.int("LOG_DB_MAX_PENDING", default=10_000)
# Rows per delete transaction in cleanup_old_logs_task (capped at 10,000).
LOG_CLEANUP_BATCH_SIZE = env.int("LOG_CLEANUP_BATCH_SIZE", default=10_000)
# When set, /metrics requires `Authorization: Bearer <token>`; empty leaves it open (protect it at the network).
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")

from jobsite.logging_config import LOG_FORMATS, PROCESS_ROLES, build_logging, process_role  # noqa: E402

if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {LOG_FORMAT!r}")
# On every log line: which kind of process wrote it (web, scheduler, cli, test), from the command line unless set.
PROCESS_ROLE = env.str("PROCESS_ROLE", default="") or process_role(sys.argv, sys.modules)
if PROCESS_ROLE not in PROCESS_ROLES:
    raise ImproperlyConfigured(f"PROCESS_ROLE must be one of {', '.join(PROCESS_ROLES)}, not {PROCESS_ROLE!r}")

LOGGING = build_logging(log_dir=LOG_DIR, level=LOG_LEVEL, log_format=LOG_FORMAT, role=PROCESS_ROLE,
                        db_enabled=LOG_DB_ENABLED, db_level=LOG_DB_LEVEL, db_background=LOG_DB_BACKGROUND,
                        db_batch_size=LOG_DB_BATCH_SIZE, db_flush_seconds=LOG_DB_FLUSH_SECONDS,
                        db_max_pending=LOG_DB_MAX_PENDING, file_max_bytes=LOG_FILE_MAX_BYTES,
                        file_backup_count=LOG_FILE_BACKUP_COUNT)

# --- Scraping -------------------------------------------------------------------------------------------------------
SCRAPE_HTTP_CONNECT_TIMEOUT = env.float("SCRAPE_HTTP_CONNECT_TIMEOUT", default=5.0)
SCRAPE_HTTP_READ_TIMEOUT = env.float("SCRAPE_HTTP_READ_TIMEOUT", default=20.0)
SCRAPE_RETRY_TOTAL = env.int("SCRAPE_RETRY_TOTAL", default=3)
SCRAPE_RETRY_AFTER_CAP_SECONDS = env.float("SCRAPE_RETRY_AFTER_CAP_SECONDS", default=10.0)
SCRAPE_RETRY_BACKOFF_FACTOR = env.float("SCRAPE_RETRY_BACKOFF_FACTOR", default=0.5)
SCRAPE_MAX_WORKERS = env.int("SCRAPE_MAX_WORKERS", default=8)
# Bounded work per team: saved searches a team may keep, and the time one scrape run may spend on its searches
# (checked between searches and before each board page; keep it well under scrape_jobs_task's 10-minute timeout).
SAVED_SEARCHES_PER_TEAM_MAX = env.int("SAVED_SEARCHES_PER_TEAM_MAX", default=20)
SCRAPE_RUN_BUDGET_SECONDS = env.float("SCRAPE_RUN_BUDGET_SECONDS", default=120.0)
# A new automation rule's first run matches the whole store: it shortlists at most this many (newest first); 0: no cap.
AUTOMATION_FIRST_RUN_CAP = env.int("AUTOMATION_FIRST_RUN_CAP", default=50)
# A saved search's digest lists at most this many new matches (newest first), then "and N more".
SAVED_SEARCH_DIGEST_MAX = env.int("SAVED_SEARCH_DIGEST_MAX", default=50)
# Duplicates (scraping_app.dedupe): two postings with one normalised key are one job when their descriptions overlap
# this much (0..1). After a change, `manage.py dedupe_postings --rebuild` applies it to the stored postings.
DEDUPE_SIMILARITY_THRESHOLD = env.float("DEDUPE_SIMILARITY_THRESHOLD", default=0.6)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="jobsite@localhost")

# --- REST API -------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobsite.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "scheduler_app.api.schema.ProjectAutoSchema",
    "EXCEPTION_HANDLER": "scheduler_app.api.exception_handler.api_exception_handler",
    # JSON only, bounded (size, depth, storable text); answers render safely even for rows stored before that.
    "DEFAULT_PARSER_CLASSES": ["scheduler_app.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["scheduler_app.api.renderers.SafeJSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "scheduler_app.api.pagination.Pagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    # Every view is throttled per user (per client IP when anonymous) at the "user" rate; a view may name its own
    # throttles instead (the scrape endpoint does). Both fail open when the cache (Redis) is down.
    "DEFAULT_THROTTLE_CLASSES": ["jobsite.throttles.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1000/hour"),
        "scrape": env.str("API_THROTTLE_SCRAPE", default="60/minute"),
        # Requests with an invalid Bearer token, per client IP; past it every Bearer request from that IP is a 429.
        "auth_failures": env.str("API_THROTTLE_AUTH_FAILURES", default="20/minute"),
    },
    # Proxies in front of the web server that append to X-Forwarded-For. 0: the client IP is REMOTE_ADDR, and a
    # client-sent X-Forwarded-For is ignored (DRF's default, None, would trust it).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Every list: ?page_size= from 1 to this (a bad or bigger one is a 400, on every list alike).
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=500)
# A JSON body larger than this is a 413; nested deeper than this, a 400.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
SPECTACULAR_SETTINGS = {
    "TITLE": "jobsite API",
    "DESCRIPTION": "Job search with a scheduler whose every job runs behind an execution lock.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # no CDN: machines without internet access still get a working /api/docs/
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,  # request bodies without the read-only fields, so clients see what to send
    # One enum for every overlap field (a trigger's `overlap`, a definition's `overlap_policy`).
    "ENUM_NAME_OVERRIDES": {"OverlapPolicyEnum": "scheduler_app.models.JobDefinition.OverlapPolicy",
                            "ApplicationStatusEnum": "scraping_app.models.JobApplication.Status"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "scheduler_app.api.schema.paths_without_trailing_slash",
                             "scheduler_app.api.schema.input_rules_documented"],
}

# --- i18n, static ---------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["jobsite.formats"]  # date-times with seconds and zone (jobsite/formats/en)
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# WhiteNoise serves static files straight from the installed apps, so a web host needs no collectstatic step.
# Set STATIC_ROOT only to collect them for a front web server.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = True
