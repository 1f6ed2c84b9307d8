"""Which external services this test run has, and what happens to a test needing a missing one.

Tests needing a service carry a marker: ``postgres`` (the database is PostgreSQL), ``redis``
(Redis at ``REDIS_URL`` or a ``redis://`` ``CELERY_BROKER_URL``) or ``celery_worker`` (a real
broker plus a database a worker process can open). ``PERSONALIZE_SERVICES`` picks the rule:

- ``auto`` (default): a test whose service is missing is skipped, with the reason.
- ``require`` (default when ``CI=true``; set by ``make test-postgres``): it fails instead.
- ``off`` (CI's SQLite stage): service tests are skipped on purpose; the PostgreSQL stage runs them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

SERVICE_MARKERS = ("postgres", "redis", "celery_worker")
MODES = ("auto", "require", "off")
PG_STAGE = "runs in the PostgreSQL+Redis stage (make test-postgres, CI stage 2)"


def service_mode(env: Mapping[str, str] = os.environ) -> str:
    """The rule in force: ``PERSONALIZE_SERVICES`` if set, else ``require`` under ``CI=true``."""
    value = env.get("PERSONALIZE_SERVICES", "").strip().lower()
    if not value:
        return "require" if env.get("CI", "").strip().lower() in {"true", "1", "yes"} else "auto"
    if value not in MODES:
        raise ValueError(f"PERSONALIZE_SERVICES={value!r}: expected one of {', '.join(MODES)}")
    return value


def redis_url(env: Mapping[str, str] = os.environ) -> str | None:
    """``REDIS_URL``, else the Celery broker when that is Redis."""
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = env.get(name, "").strip()
        if url.startswith(("redis://", "rediss://")):
            return url
    return None


def broker_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The real Celery broker, or None when tasks can only run eagerly."""
    url = env.get("CELERY_BROKER_URL", "").strip()
    return None if not url or url.startswith("memory://") else url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


@functools.cache
def redis_problem(url: str | None) -> str | None:
    if url is None:
        return "needs Redis: none configured (set REDIS_URL or CELERY_BROKER_URL=redis://...)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:  # any failure means "not usable"; the message says which
        return f"needs Redis: {redact(url)} is unreachable ({exc.__class__.__name__}: {exc})"
    return None


@functools.cache
def broker_problem(url: str | None) -> str | None:
    if url is None:
        return "needs a real Celery broker: CELERY_BROKER_URL is unset, so tasks run eagerly"
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=3)
    except Exception as exc:
        return f"needs a real Celery broker: {redact(url)} is unreachable ({exc.__class__.__name__}: {exc})"
    return None


def postgres_problem(connection) -> str | None:
    if connection.vendor != "postgresql":
        return f"needs PostgreSQL: the database is {connection.vendor} (set DATABASE_URL=postgres://...)"
    return None


def shared_database_problem(connection) -> str | None:
    """A worker process must open the test database: in-memory SQLite cannot be shared."""
    if connection.vendor != "sqlite":
        return None
    from django.db.backends.sqlite3.creation import DatabaseCreation

    if DatabaseCreation.is_in_memory_db(connection.creation._get_test_db_name()):
        return (
            "needs a database a worker process can open: the test database is in-memory SQLite "
            "(use PostgreSQL via DATABASE_URL, or an on-disk file via PERSONALIZE_TEST_DB=/path/test.sqlite3)"
        )
    return None


def problems(markers: Iterable[str], env: Mapping[str, str] = os.environ) -> list[str]:
    """Why the services behind ``markers`` are not usable (empty when they all are)."""
    from django.db import connection

    found: list[str] = []
    for marker in markers:
        if marker == "postgres":
            found.append(postgres_problem(connection))
        elif marker == "redis":
            found.append(redis_problem(redis_url(env)))
        elif marker == "celery_worker":
            found.append(broker_problem(broker_url(env)))
            found.append(shared_database_problem(connection))
    return [p for p in dict.fromkeys(found) if p]
