"""Settings for the recommender benchmarks (bench/recommend_*.py).

The test settings plus ``bench.benchshop`` (a tiny product model: MovieLens films, or a
generated catalogue) as the store's products. ``DATABASE_URL`` picks the database (the
scripts set a temporary SQLite file or a PostgreSQL database of their own).
"""

import os

import dj_database_url

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchshop"]  # noqa: F405
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", "sqlite:///var/bench.sqlite3"))}
PERSONALIZE = {
    "PRODUCT_MODEL": "benchshop.Movie",
    # MovieLens events are from 1997-98: read every event (relative times are what matter).
    "TRAINING_WINDOW_DAYS": None,
    "SITE_URL": "https://bench.invalid",
}
ROOT_URLCONF = "tests.urls"
if os.environ.get("BENCH_REDIS_URL"):  # bench/recommend_speed.py's serving part on Redis
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["BENCH_REDIS_URL"]}}
