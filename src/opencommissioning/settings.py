"""One settings module for every environment, configured from the environment.

Variables (all optional in development and the demo):

- ``DATABASE_URL``: defaults to SQLite at ``var/opencommissioning.sqlite3``.
- ``OPENCOMMISSIONING_ENV``: ``development`` (default), ``demo``, ``test`` or ``production``.
- ``DJANGO_SECRET_KEY``: required in production. Elsewhere a random key is generated once
  and kept in ``var/secret_key`` (never committed).
- ``DJANGO_DEBUG``: ``1`` to turn on debug pages (never in production).
- ``DJANGO_ALLOWED_HOSTS``: comma-separated; defaults to localhost names outside production.
- ``OPENCOMMISSIONING_DATA_DIR``: the public data directory; defaults to ``../shared/data``
  beside the checkout when it exists.
- ``OPENCOMMISSIONING_NEEDS_STORE``: the folder of loaded row-level data (Parquet) the needs
  assessment computes from; defaults to ``var/needs-store``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent.parent  # the checkout: src/opencommissioning/ -> ./
VAR_DIR = Path(os.environ.get("OPENCOMMISSIONING_VAR_DIR", BASE_DIR / "var"))

ENVIRONMENT = os.environ.get("OPENCOMMISSIONING_ENV", "development")
if ENVIRONMENT not in {"development", "demo", "test", "production"}:
    raise ImproperlyConfigured(
        f"OPENCOMMISSIONING_ENV must be development, demo, test or production, not {ENVIRONMENT!r}"
    )
PRODUCTION = ENVIRONMENT == "production"
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1" and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when OPENCOMMISSIONING_ENV=production")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

_hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "")
if _hosts:
    ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()]
elif PRODUCTION:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when OPENCOMMISSIONING_ENV=production")
else:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", "[::1]"]


def _data_dir() -> Path | None:
    configured = os.environ.get("OPENCOMMISSIONING_DATA_DIR")
    if configured:
        return Path(configured)
    default = BASE_DIR.parent / "shared" / "data"
    return default if default.is_dir() else None


OPENCOMMISSIONING_DATA_DIR = _data_dir()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "opencommissioning.audit",
    "opencommissioning.core",
    "opencommissioning.public",
    "opencommissioning.referrals",
    "opencommissioning.governance",
    "opencommissioning.needs",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opencommissioning.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "opencommissioning.core.middleware.AccessControlMiddleware",
]

ROOT_URLCONF = "opencommissioning.urls"
WSGI_APPLICATION = "opencommissioning.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opencommissioning.core.context_processors.platform",
            ],
        },
    },
]

_default_sqlite = VAR_DIR / "opencommissioning.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{_default_sqlite}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL lets readers carry on while a writer commits; IMMEDIATE transactions take the
    # write lock up front, so two writers queue instead of failing half-way.
    DATABASES["default"]["OPTIONS"].update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use an in-memory SQLite database (Django's default): fast, and private to each run.

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "opencommissioning.core.views.csrf_failure"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # `collectstatic` target for production
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # serve straight from the app folders in development and tests

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_patient_identifiers": {"()": "opencommissioning.audit.redaction.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_patient_identifiers"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

NINJA_PAGINATION_PER_PAGE = 50

# Referrals (issue 6): the largest FHIR request body and attachment the intake accepts.
REFERRALS_MAX_REQUEST_BYTES = int(os.environ.get("REFERRALS_MAX_REQUEST_BYTES", str(12 * 1024 * 1024)))
REFERRALS_MAX_ATTACHMENT_BYTES = int(os.environ.get("REFERRALS_MAX_ATTACHMENT_BYTES", str(5 * 1024 * 1024)))

# Governance (issue 5): gifts and hospitality below this value need not be declared;
# declarations at or above it are published.
GOVERNANCE_GIFTS_THRESHOLD_POUNDS = int(os.environ.get("GOVERNANCE_GIFTS_THRESHOLD_POUNDS", "25"))

# Needs and outcomes (issue 4): row-level data lives as Parquet under NEEDS_STORE (the
# database keeps the load records and the computed values); uploads wait in NEEDS_UPLOADS
# until the background worker (`manage.py db_worker`) loads them. See docs/decisions/0005-needs-data-store.md.
NEEDS_STORE = Path(os.environ.get("OPENCOMMISSIONING_NEEDS_STORE", VAR_DIR / "needs-store"))
NEEDS_UPLOADS = Path(os.environ.get("OPENCOMMISSIONING_NEEDS_UPLOADS", VAR_DIR / "needs-uploads"))
NEEDS_ENGINE = os.environ.get("OPENCOMMISSIONING_NEEDS_ENGINE", "duckdb")
NEEDS_DEMO = True  # load_demo loads the needs demo data (tests turn it off except their own)
# A load or recompute whose worker has shown no sign of life for this long is stalled (the
# worker died): the page says so and offers "Try again". The worker beats every
# NEEDS_HEARTBEAT_SECONDS while it runs one.
NEEDS_STALL_SECONDS = int(os.environ.get("NEEDS_STALL_SECONDS", "600"))
NEEDS_HEARTBEAT_SECONDS = float(os.environ.get("NEEDS_HEARTBEAT_SECONDS", "30"))
NEEDS_MAX_UPLOAD_BYTES = int(os.environ.get("NEEDS_MAX_UPLOAD_BYTES", str(2 * 1024 * 1024 * 1024)))

# Background tasks: django-tasks with its database backend (no broker). `make demo` starts
# the worker beside the web server; tests run tasks at once.
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend"
        if ENVIRONMENT == "test"
        else "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
