"""Settings for personalize's own test suite.

SQLite in memory by default; ``DATABASE_URL`` selects PostgreSQL, ``CELERY_BROKER_URL`` a real
broker (the tests marked ``celery_worker`` then talk to a real worker).
"""

import os
import tempfile

import dj_database_url

SECRET_KEY = "personalize-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "personalize",
    "tests.testshop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "personalize.middleware.PersonalizeMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL", "sqlite://:memory:")),
}
if os.environ.get("PERSONALIZE_TEST_DB"):  # lets parallel runs on one server keep apart
    DATABASES["default"]["TEST"] = {"NAME": os.environ["PERSONALIZE_TEST_DB"]}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The suite runs in one process (the real-worker tests publish through the database).
SILENCED_SYSTEM_CHECKS = ["personalize.W003"]
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
# Model artefacts and uploads from the tests go to a throwaway folder, never into the tree.
MEDIA_ROOT = os.environ.get("PERSONALIZE_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="personalize-test-media-")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
# Results must cross processes when a real worker runs: keep them in the broker's Redis.
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "cache+memory://"
)
# Tasks run inline in every test; tests marked ``celery_worker`` switch to the real worker
# (tests/conftest.py), so the rest of the suite behaves the same with or without a broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

PERSONALIZE = {
    "PRODUCT_MODEL": "testshop.Product",
    # Absolute links in lifecycle emails (personalize.W040 otherwise).
    "SITE_URL": "https://testserver",
    # Consent is on by default (docs/privacy.md); the suite tests features behind it, so it is
    # off here and tests/test_consent.py turns the default back on.
    "CONSENT_REQUIRED": False,
    # Every read reaches the cache: a test that changes data behind the ORM's signals sees it at
    # once (tests/test_serving.py turns the in-process layer's bound back on to prove budgets).
    "LOCAL_CACHE_SECONDS": 0,
    # Campaign exposures are written as they happen, so a test reads them at once
    # (tests/test_exposures.py and tests/test_page_budgets.py turn the buffer back on).
    "CAMPAIGN_EXPOSURE_FLUSH_SECONDS": 0,
    # The lifecycle tests mail account holders on the strength of their sign-up; the default
    # (explicit opt-in for accounts too) is tested in tests/test_privacy_emails.py.
    "EMAIL_SIGNUP_CONSENT_COUNTS": True,
    # Trained models go to a throwaway private folder, never into the tree.
    "ARTEFACT_DIR": tempfile.mkdtemp(prefix="personalize-test-artefacts-"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"personalize": {"handlers": ["null"], "propagate": True}},
}
