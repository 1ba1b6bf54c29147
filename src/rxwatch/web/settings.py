"""Django settings for the RxWatch workflow app.

Configured from the environment (twelve-factor): ``RXWATCH_DATABASE_URL`` / ``DATABASE_URL`` choose
PostgreSQL, otherwise SQLite at ``<data dir>/workflow.sqlite3``; ``RXWATCH_SECRET_KEY`` is required unless
``RXWATCH_DEBUG=1`` (or under pytest), so a deployment can never run on a published key.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from rxwatch.config import data_dir
from rxwatch.web import dburl


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


DEBUG = _flag("RXWATCH_DEBUG")
TESTING = "PYTEST_VERSION" in os.environ  # set by pytest ≥ 8.2 for the whole run

SECRET_KEY = os.environ.get("RXWATCH_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("set RXWATCH_SECRET_KEY (or RXWATCH_DEBUG=1 for development)")
    SECRET_KEY = "rxwatch-development-only-key-never-use-in-production"

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("RXWATCH_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
if DEBUG or TESTING:
    ALLOWED_HOSTS += ["testserver"]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("RXWATCH_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "rxwatch.web.organisations",
    "rxwatch.web.cases",
    "rxwatch.web.reviews",
    "rxwatch.web.audit",
    "rxwatch.web.api",
    "rxwatch.web.scorecards",
    "rxwatch.web.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rxwatch.web.urls"
WSGI_APPLICATION = "rxwatch.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
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

_db_url = os.environ.get("RXWATCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
DATABASES = {
    "default": dburl.parse(_db_url) if _db_url else dburl.sqlite(data_dir() / "workflow.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "organisations.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:  # fast hashing for factories; production keeps the default PBKDF2
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("RXWATCH_STATIC_ROOT") or str(data_dir() / "static")
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# The web UI's own CSS/JS, and the NHS.UK frontend and htmx built files straight from node_modules
# (installed by `npm ci`, pinned by package-lock.json; never copied into the repo, never a CDN).
_NODE_MODULES = Path(
    os.environ.get("RXWATCH_NODE_MODULES") or Path(__file__).resolve().parents[3] / "node_modules"
)
STATICFILES_DIRS = [
    (prefix, str(path))
    for prefix, path in (
        ("rxwatch", Path(__file__).resolve().parent / "static" / "rxwatch"),
        ("nhsuk", _NODE_MODULES / "nhsuk-frontend" / "dist" / "nhsuk"),
        ("htmx", _NODE_MODULES / "htmx.org" / "dist"),
    )
    if path.is_dir()
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_SECURE = not (DEBUG or TESTING)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Patient identifiers never reach a log line: every handler passes through the redacting filter, and
# Django's request logger (which would print URLs and POST data on errors) is kept at WARNING without
# request bodies. See rxwatch.web.logging.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "rxwatch.web.logging.RedactPatientIdentifiers"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "rxwatch": {
            "handlers": ["console"],
            "level": os.environ.get("RXWATCH_LOG_LEVEL", "WARNING"),
            "propagate": False,
        },
    },
}
# Error e-mails would carry request data: there are none (no ADMINS), and DEBUG pages are off in production.
ADMINS: list[tuple[str, str]] = []

NINJA_PAGINATION_PER_PAGE = 50
