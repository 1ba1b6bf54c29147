"""Turn ``DATABASE_URL`` into a Django ``DATABASES`` entry.

Twenty lines of our own instead of a dependency: RxWatch supports exactly two databases (SQLite by
default, PostgreSQL for a shared service), so only their two URL forms are understood.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def parse(url: str) -> dict:
    """``postgres://user:pass@host:5432/name?sslmode=require`` or ``sqlite:///abs/path.sqlite3``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path would put the first segment in netloc
            raise ImproperlyConfigured("a SQLite URL is sqlite:///absolute/path (three slashes)")
        return sqlite(Path(path) if path not in ("", "/:memory:") else ":memory:")
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
            "CONN_MAX_AGE": 60,
        }
    raise ImproperlyConfigured("the database URL must start with postgres:// or sqlite:///")


def sqlite(path: Path | str) -> dict:
    """SQLite with IMMEDIATE transactions: every write transaction takes the write lock at its start,
    so two appends to the audit hash chain can never read the same chain head."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
