"""Settings for the demo shop.

Zero configuration gives SQLite in ``var/demo.sqlite3`` and Celery in eager mode.
Environment variables select the real services:

- ``DATABASE_URL`` (e.g. ``postgres://postgres@127.0.0.1:5432/demo``): PostgreSQL via dj-database-url.
- ``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``): a real broker; run a worker and beat.
- ``DJANGO_DEBUG`` (``1``/``0``, default ``1``), ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


DEBUG = _env_bool("DJANGO_DEBUG", True)
PUBLIC_DEMO_KEY = "demo-shop-not-secret-change-me-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", PUBLIC_DEMO_KEY)
if not DEBUG and SECRET_KEY == PUBLIC_DEMO_KEY:
    # Everyone knows this key: with it anyone can sign shopper cookies, email links and sessions.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_DEBUG=0 needs a secret DJANGO_SECRET_KEY (the demo's default key is public).")
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_celery_beat",
    "personalize",
    # The shop itself.
    "demo_shop.catalog",
    "demo_shop.orders",
    "demo_shop.accounts",
    "demo_shop.outbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication (and locale): gives every request a lazy ``request.shopper``.
    "personalize.middleware.PersonalizeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_shop.urls"
WSGI_APPLICATION = "demo_shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'demo.sqlite3'}"), conn_max_age=60
    ),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache for every process (web server, Celery worker, `personalize_train`): that is how a
# newly trained model or an edited campaign reaches the running shop without a restart.
if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"

# --- i18n ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("id", _("Indonesian")),
    ("sr", _("Serbian")),
    ("sr-latn", _("Serbian (Latin)")),
    ("pl", _("Polish")),
    ("pt", _("Portuguese")),
    ("tr", _("Turkish")),
    ("nl", _("Dutch")),
]
LOCALE_PATHS = [BASE_DIR / "demo_shop" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- static and media ------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DEMO_MEDIA_ROOT", VAR_DIR / "media"))

# --- email: every message is stored so the /outbox/ page can show it --------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "demo_shop.outbox.backends.OutboxEmailBackend")
DEFAULT_FROM_EMAIL = "Personalize Demo Shop <shop@demo.example>"

# --- Celery: eager unless a broker is configured -----------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
# With a real broker, results go back through it so the web process sees what a worker did.
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", "cache+memory://" if CELERY_TASK_ALWAYS_EAGER else CELERY_BROKER_URL
)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- the shop's own rules ----------------------------------------------------------------
SHOP_CURRENCY_SYMBOL = "€"
SHOP_FREE_SHIPPING_OVER = "50.00"
SHOP_SHIPPING_FEE = "4.95"

# --- personalize -------------------------------------------------------------------------
PERSONALIZE = {
    # The demo's Product uses the field names the default adapter reads; its adapter only adds
    # the live (session) cart.
    "PRODUCT_MODEL": "catalog.Product",
    "ADAPTER": "demo_shop.orders.adapter.DemoAdapter",
    # Prices in widgets and emails, written like the shop's own (``money`` filter).
    "PRICE_FORMAT": SHOP_CURRENCY_SYMBOL + "{amount}",
    # Fills the free-shipping nudge's {free_shipping_gap} (same threshold as the checkout's).
    "FREE_SHIPPING_THRESHOLD": SHOP_FREE_SHIPPING_OVER,
    # Lifecycle emails: absolute links back to this shop, and how a restore link refills the
    # shop's own (session) cart.
    "SITE_URL": os.environ.get("DEMO_SITE_URL", "http://127.0.0.1:8000"),
    "EMAIL_RESTORE_CART_HOOK": "demo_shop.orders.cart.restore_cart_hook",
    # Consent is required (the default): the banner in shop/base.html asks; the privacy page
    # (download, erase, change the choice) is the demo's privacy notice.
    "CONSENT_POLICY_URL": "/personalize/privacy/",
    # A store-wide holdout of 10% (sticky per shopper): the impact page compares it with
    # everyone else; load_demo_data simulates weeks of it.
    "HOLDOUT_PERCENT": 10,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"personalize": {"handlers": ["console"], "level": "INFO" if DEBUG else "WARNING"}},
}
