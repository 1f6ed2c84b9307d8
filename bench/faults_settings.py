"""Settings of the servers bench/faults.py starts: the demo shop as shipped, on PostgreSQL + Redis.

Nothing here makes personalize more robust than a store's own settings would: the cache entry
is a plain ``RedisCache`` without timeouts (personalize must add its own), sessions stay in the
database, and the only overrides are what a fault scenario needs to be measurable.

Environment: ``DATABASE_URL`` (PostgreSQL), ``FAULTS_REDIS_URL`` (the real Redis, a refused
port or the black-hole listener), ``FAULTS_LOG`` (a file for personalize's log lines).
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")

from demo_shop.settings import *  # noqa: E402,F403

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/11"),
    }
}
# The demo shop keeps sessions in the database already; say so, because a cache-backed session
# store would take the site down with the cache whatever personalize does.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Demo data stays small so the suite runs in a few minutes; images are not drawn.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "file": {"class": "logging.FileHandler", "filename": os.environ.get("FAULTS_LOG", os.devnull)},
    },
    "loggers": {
        "personalize": {"handlers": ["file"], "level": "INFO"},
        "django.request": {"handlers": ["file"], "level": "ERROR"},
    },
}
