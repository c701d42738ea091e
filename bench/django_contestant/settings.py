"""Production-like settings for the benchmark's Django contestant.

The database is named by the environment, which bench/over_waitress.py sets:
``DJANGO_BENCH_ENGINE`` (``sqlite`` or ``postgresql``), ``DJANGO_BENCH_NAME``
(a file path for SQLite, a database name for PostgreSQL) and, for PostgreSQL,
``DJANGO_BENCH_USER``, ``DJANGO_BENCH_PASSWORD``, ``DJANGO_BENCH_HOST``,
``DJANGO_BENCH_PORT``; ``DJANGO_BENCH_SECRET_KEY`` the secret key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

HERE = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_BENCH_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]

# startproject's list, minus the messages framework (not installed, nothing uses it)
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "django_contestant.urls"
WSGI_APPLICATION = "django_contestant.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]

# Persistent connections (one per waitress thread, kept up to 10 minutes), as a
# production Django site would run: without them every request opens a connection.
CONN_MAX_AGE = 600

if os.environ.get("DJANGO_BENCH_ENGINE", "sqlite") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["DJANGO_BENCH_NAME"],
            "USER": os.environ.get("DJANGO_BENCH_USER", ""),
            "PASSWORD": os.environ.get("DJANGO_BENCH_PASSWORD", ""),
            "HOST": os.environ.get("DJANGO_BENCH_HOST", ""),
            "PORT": os.environ.get("DJANGO_BENCH_PORT", ""),
            "CONN_MAX_AGE": CONN_MAX_AGE,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_BENCH_NAME", str(HERE / "django.sqlite")),
            "CONN_MAX_AGE": CONN_MAX_AGE,
            # the same pragmas camauth sets on its SQLite connections (camauth/db.py)
            "OPTIONS": {
                "timeout": 10,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

# the default: sessions in the database (django_session), not signed cookies or a cache
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# as a site behind TLS would set them (the server reads the cookies all the same)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/protected"

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# errors to stderr (the server's log file), nothing else
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
