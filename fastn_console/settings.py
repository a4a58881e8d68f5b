"""Fastn Console settings, driven by environment variables.

Two modes share this one file:
- embedded (the default of `make run`): a private PostgreSQL (or SQLite) under var/, a local
  Redis, DEBUG allowed;
- production: FASTN_ENV=production, DATABASE_URL, REDIS_URL, SECRET_KEY and
  FASTN_MASTER_KEY must be set; anything unsafe raises ImproperlyConfigured.
"""

from __future__ import annotations

import contextlib
import grp
import os
import re
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FASTN_VAR_DIR", BASE_DIR / "var"))


def private_var_dir() -> Path:
    """VAR_DIR, created or tightened to owner-only: it holds the keys and the databases, and
    the sandbox processes' user (like every other) must not even look inside. One exception:
    run as root, `make run` lets the group `postgres` through (0710: traverse, not list), so
    that the private PostgreSQL server, which refuses to run as root, reaches var/pg."""
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = VAR_DIR.stat()
    through = status.st_mode & 0o010 if status.st_gid == postgres_gid() else 0
    if status.st_mode & 0o077 != through:
        VAR_DIR.chmod(0o700 | through)
    return VAR_DIR


def postgres_gid() -> int | None:
    try:
        return grp.getgrnam("postgres").gr_gid
    except KeyError:
        return None


if VAR_DIR.is_dir():
    private_var_dir()


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def embedded_secret_key() -> str:
    """A per-installation key kept under var/, so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        private_var_dir()
        # Owner-only from the start and never half-written: written aside (mkstemp: 0600),
        # then linked into place; when processes start at once, the first link wins.
        fd, aside = tempfile.mkstemp(dir=VAR_DIR, prefix=".secret-key-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
        finally:
            os.unlink(aside)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


FASTN_ENV = env_str("FASTN_ENV", "embedded")
if FASTN_ENV not in {"embedded", "production", "test"}:
    raise ImproperlyConfigured("FASTN_ENV must be embedded, production or test")
PRODUCTION = FASTN_ENV == "production"

DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG cannot be on with FASTN_ENV=production")

SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = embedded_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "apps.spaces",
    "apps.environments",
    "apps.workflows",
    "apps.secrets",
    "apps.configs",
    "apps.connectors",
    "apps.console",
    "apps.api",
    "apps.datastore",
    "apps.executions",
    "apps.triggers",
    "apps.insight",
    "apps.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.api.fastpath.MachineApiFastPathMiddleware",  # runs and webhooks skip what follows
    "apps.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.spaces.middleware.CurrentSpaceMiddleware",
]

ROOT_URLCONF = "fastn_console.urls"
WSGI_APPLICATION = "fastn_console.wsgi.application"

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
                "apps.spaces.context_processors.console",
            ],
            # {% icon %} and the formatting filters (`ago`, `duration`, …) are used across every
            # app's templates: no {% load %} line needed.
            "builtins": [
                "apps.console.templatetags.icons",
                "apps.console.templatetags.formatting",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------


def embedded_database_url() -> str:
    """make run's private PostgreSQL (var/pg, reached only through its socket directory,
    var/pg/run) once it exists; otherwise SQLite in var/ (an installation made before the
    private PostgreSQL, or one without PostgreSQL: scripts/run.sh)."""
    if (VAR_DIR / "pg" / "data" / "PG_VERSION").exists():
        return f"postgres://postgres@{quote(str(VAR_DIR / 'pg' / 'run'), safe='')}/fastn"
    return f"sqlite:///{VAR_DIR / 'fastn.sqlite3'}"


DATABASE_URL = env_str("DATABASE_URL") or embedded_database_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default (README "Performance" says what each choice cost and saved):
    # - Django's backend with a writer queue (fastn_console/sqlite/base.py): writers wait on a
    #   lock that wakes them, not in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms;
    # - WAL, so readers never block the writer nor it them; IMMEDIATE transactions, so a
    #   transaction that will write holds the lock from its start and never fails half-way;
    # - synchronous=FULL: every commit is on disk before it returns (an fdatasync of the WAL),
    #   so a run answered 202 survives a power cut too (NORMAL would lose the last commits);
    # - connections kept (CONN_MAX_AGE, as on PostgreSQL): opening one and setting WAL mode
    #   cost 1.5–2 ms, per request and per run;
    # - the busy timeout (20 s) bounds the wait for the lock; past it, the API answers 503.
    DATABASES["default"]["ENGINE"] = "fastn_console.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }
else:
    # Off by default: a health check is one more round trip (SELECT 1) on every request. A
    # connection that broke (PostgreSQL restarted) fails the request that finds it and is then
    # replaced: Django closes connections that saw errors at the end of a request, and the
    # Celery tasks do the same before each run.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("FASTN_DB_HEALTH_CHECKS", False)
    if env_bool("FASTN_DB_PREPARED_STATEMENTS", True):
        # A statement run five times on a connection is prepared once: PostgreSQL stops
        # planning it again (planning the API's key-and-deployment join costs more than
        # running it). Turn off behind a transaction-pooling PgBouncer older than 1.21.
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
    test_db_name = env_str("FASTN_TEST_DB_NAME", "test_fastn")
    DATABASES["default"].setdefault("TEST", {})["NAME"] = test_db_name

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker ------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:63790/0")
if FASTN_ENV == "test" and os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs the suite in several processes (pytest-xdist); each has its own test
    # database already, and here its own Redis database, so one process's Celery workers never
    # take another's runs. Written back for the processes the tests start.
    worker_number = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    REDIS_URL = re.sub(r"/\d+$", "", REDIS_URL.rstrip("/")) + f"/{worker_number + 1}"
    os.environ["REDIS_URL"] = REDIS_URL

CACHES = {
    "default": {
        # Redis, failing open: with Redis down the cache misses instead of raising, so the login
        # page (whose rate limiter is the cache's one user) still answers. fastn_console/cache.py
        "BACKEND": "fastn_console.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("FASTN_CACHE_PREFIX", "fastn"),
        # An unreachable Redis must cost a login a second at most, not a TCP timeout.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

# --- Auth -----------------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if FASTN_ENV == "test":
    # Argon2 is deliberately slow; the suite creates hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "apps.spaces.forms.SignupSpaceForm"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_ADAPTER = "apps.spaces.adapters.AccountAdapter"
# allauth's rate limits (its defaults for the other actions stay), counted per client address
# (`apps.spaces.clientip`: X-Forwarded-For only BEHIND_PROXY) and per email. Off in tests, which
# log in from one address many times a minute; the limiter's own tests switch them on.
FASTN_LOGIN_RATE_LIMITS = {"login": "30/m/ip", "login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_RATE_LIMITS = False if FASTN_ENV == "test" else FASTN_LOGIN_RATE_LIMITS

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if env_str("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Fastn Console <noreply@localhost>")

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
if SESSION_COOKIE_SECURE:
    # `__Host-`: the browser keeps the cookie only if it is Secure, for Path=/ and without a
    # Domain, so neither a sibling subdomain nor a plain-HTTP page can set or shadow it.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = "/"
    SESSION_COOKIE_DOMAIN = CSRF_COOKIE_DOMAIN = None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
# Behind a proxy, the client's address is the X-Forwarded-For entry this many hops from the
# right (each trusted proxy appends the address it saw); entries further left are the client's
# own say and are never believed. Not behind a proxy, the header is ignored: REMOTE_ADDR.
FASTN_TRUSTED_PROXY_COUNT = env_int("FASTN_TRUSTED_PROXY_COUNT", 1, minimum=1)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy on every response (django.middleware.csp): our own origin only. No
# inline script anywhere (page data travels in json_script blocks, which do not execute).
# What Monaco needs, each checked in tests/e2e/test_csp_e2e.py: 'unsafe-inline' styles (it
# injects <style> elements for themes and decorations, with no nonce support), workers from
# blob: URLs (its language workers) and data: fonts (its icons). data: images: the favicon.
# htmx is configured in base.html to need nothing more (no eval, no injected styles).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "worker-src": ["blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("FASTN_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_MAX_AGE = 3600

# --- I18N -----------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- Celery ---------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = "standard"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Run priorities (apps/executions/services/dispatch.py: P1 user 0, P2 event 3, P3 schedule 6,
# P4 polling 9): one Redis list per step, popped in step order; a worker serving several queues
# takes them in the order it lists them.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "priority_steps": [0, 3, 6, 9],
    "queue_order_strategy": "priority",
}
# Housekeeping (the reaper, purges, state TTL) has its own queue and worker process, so a
# backed-up or dead `standard` queue never leaves runs unreaped (fastn_console/celery.py routes
# the tasks there whoever sends them).
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE["datastore-purge-expired-state"] = {
    "task": "apps.datastore.tasks.purge_expired_state",
    "schedule": 300.0,
    "options": {"queue": "housekeeping", "expires": 300},
}

# --- Logging: everything to stdout ----------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
# Celery's "Task … received" and "Task … succeeded" lines, two per run in every worker's log:
# off unless asked for (every run is in Activity → Executions, and a failed task still logs an
# ERROR). Each line costs the worker, the log prefixer and supervisord about 0.3 ms of CPU.
FASTN_LOG_TASKS = env_bool("FASTN_LOG_TASKS", False)
if not FASTN_LOG_TASKS:
    for _logger in ("celery.app.trace", "celery.worker.strategy"):
        LOGGING["loggers"][_logger] = {"level": "WARNING"}

# --- Fastn ----------------------------------------------------------------------------------

FASTN_INVITATION_DAYS = env_int("FASTN_INVITATION_DAYS", 7, minimum=1)
# Where fastn.db keeps tenant databases: "" follows DATABASES (PostgreSQL schemas + roles, or
# SQLite files under var/tenantdb/); "postgresql" or "sqlite" forces one.
FASTN_TENANTDB_BACKEND = env_str("FASTN_TENANTDB_BACKEND", "")
if FASTN_TENANTDB_BACKEND not in {"", "postgresql", "sqlite"}:
    raise ImproperlyConfigured("FASTN_TENANTDB_BACKEND must be postgresql or sqlite")
# Master keys that wrap the data keys encrypting secrets: "ID:BASE64,ID:BASE64", the first
# current (format and rotation: apps/secrets/crypto.py). Unset in embedded/test mode: a key file
# var/master.key is generated (mode 600). Unset in production: the console refuses to start.
FASTN_MASTER_KEY = env_str("FASTN_MASTER_KEY")
FASTN_MEMORY_MB = env_int("FASTN_MEMORY_MB", 128, minimum=16)
# The warm sandbox processes of every process that runs workflows (apps/runtime/pool.py, set up
# by apps/executions/apps.py): kept warm, the most while runs wait, runs before a sandbox is
# replaced, and the Python that runs them (it needs mini-racer: this one unless said otherwise).
FASTN_SANDBOX_POOL_SIZE = env_int("FASTN_SANDBOX_POOL_SIZE", 2, minimum=1)
FASTN_SANDBOX_POOL_MAX = env_int("FASTN_SANDBOX_POOL_MAX", max(8, FASTN_SANDBOX_POOL_SIZE))
if FASTN_SANDBOX_POOL_MAX < FASTN_SANDBOX_POOL_SIZE:
    raise ImproperlyConfigured(
        f"FASTN_SANDBOX_POOL_MAX must be at least FASTN_SANDBOX_POOL_SIZE "
        f"({FASTN_SANDBOX_POOL_SIZE})"
    )
FASTN_SANDBOX_MAX_RUNS = env_int("FASTN_SANDBOX_MAX_RUNS", 500, minimum=1)
FASTN_SANDBOX_PYTHON = env_str("FASTN_SANDBOX_PYTHON", sys.executable)
if shutil.which(FASTN_SANDBOX_PYTHON) is None:
    raise ImproperlyConfigured(
        f"FASTN_SANDBOX_PYTHON must be an executable Python, not {FASTN_SANDBOX_PYTHON!r}"
    )
# Let fastn.connector.http reach loopback addresses: for tests and local development only.
FASTN_HTTP_ALLOW_LOOPBACK = env_bool("FASTN_HTTP_ALLOW_LOOPBACK", False)
# A running execution renews its lease every second; a reaper re-dispatches runs whose lease
# expired (their worker died). Lease 8 s + reaper every 2 s: a lost attempt is recorded and
# dispatched again within 8 + 2 (+ 1 for the last renewal) s of its worker's death, under the
# 15 s the README promises. See README "Executions: nothing lost, nothing looping".
FASTN_EXECUTION_LEASE_SECONDS = env_int("FASTN_EXECUTION_LEASE_SECONDS", 8, minimum=2)
FASTN_REAPER_INTERVAL_SECONDS = env_int("FASTN_REAPER_INTERVAL_SECONDS", 2, minimum=1)
FASTN_EXECUTION_RETENTION_DAYS = env_int("FASTN_EXECUTION_RETENTION_DAYS", 30, minimum=1)
# `expires`: a reap that waited longer than one interval (housekeeping worker down) is dropped
# rather than run in a burst after it comes back; the next one does the same work.
CELERY_BEAT_SCHEDULE["reap-executions"] = {
    "task": "executions.reap",
    "schedule": FASTN_REAPER_INTERVAL_SECONDS,
    "options": {"queue": "housekeeping", "expires": FASTN_REAPER_INTERVAL_SECONDS},
}
CELERY_BEAT_SCHEDULE["purge-old-executions"] = {
    "task": "executions.purge",
    "schedule": 3600,
    "options": {"queue": "housekeeping", "expires": 3600},
}
# Idempotency-Key answers are kept 24 h (README "Safe retries"); older ones are dropped hourly.
CELERY_BEAT_SCHEDULE["purge-idempotency-keys"] = {
    "task": "api.purge_idempotency_keys",
    "schedule": 3600,
    "options": {"queue": "housekeeping", "expires": 3600},
}

# --- Triggers: the event pipeline (apps/triggers/pipeline, `python manage.py events`) --------

# Seconds a stream entry stays with a consumer that does not acknowledge it before another
# consumer claims it (XAUTOCLAIM): longer than routing one event ever takes.
FASTN_EVENTS_CLAIM_IDLE_SECONDS = env_int("FASTN_EVENTS_CLAIM_IDLE_SECONDS", 5, minimum=1)
# Consumer threads of one `events` process: routing one event waits on several database round
# trips, which other threads use (bench_webhooks: 4 drained a burst faster than 2).
FASTN_EVENTS_CONSUMERS = env_int("FASTN_EVENTS_CONSUMERS", 4, minimum=1)
# Dead letters not replayed within this many days become `expired`.
FASTN_DEAD_LETTER_DAYS = env_int("FASTN_DEAD_LETTER_DAYS", 14, minimum=1)
# Test suites only: make the `events` process SIGKILL itself at a named point of the pipeline
# (publisher-after-xadd, consumer-before-ack, scheduler-after-claim), to prove that a crash
# there loses nothing.
FASTN_EVENTS_FAULT = env_str("FASTN_EVENTS_FAULT", "") if FASTN_ENV == "test" else ""
