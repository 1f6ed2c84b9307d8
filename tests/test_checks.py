"""System checks of the foundation (personalize.E001-E009, W001-W009)."""

import pytest

from personalize.checks import check_settings

BASE = {"PRODUCT_MODEL": "testshop.Product"}


def ids(settings_obj=None) -> list[str]:
    return [message.id for message in check_settings()]


def test_test_settings_are_clean(settings):
    silenced = set(settings.SILENCED_SYSTEM_CHECKS)
    assert [m for m in ids() if m.startswith("personalize.") and m not in silenced] == []


def test_e001_product_model_missing(settings):
    settings.PERSONALIZE = {}
    assert "personalize.E001" in ids()


def test_e002_product_model_unknown(settings):
    settings.PERSONALIZE = {"PRODUCT_MODEL": "testshop.Nope"}
    errors = [m for m in check_settings() if m.id == "personalize.E002"]
    assert errors and "testshop.Nope" in errors[0].msg


def test_e003_adapter_not_importable(settings):
    settings.PERSONALIZE = {**BASE, "ADAPTER": "nowhere.Adapter"}
    assert "personalize.E003" in ids()


def test_e004_adapter_wrong_type(settings):
    settings.PERSONALIZE = {**BASE, "ADAPTER": "collections.OrderedDict"}
    assert "personalize.E004" in ids()


def test_w001_unknown_key(settings):
    settings.PERSONALIZE = {**BASE, "COOKIE_NAEM": "x"}
    warnings = [m for m in check_settings() if m.id == "personalize.W001"]
    assert len(warnings) == 1 and "COOKIE_NAEM" in warnings[0].msg


def test_w002_middleware_missing(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "personalize" not in m]
    assert "personalize.W002" in ids()


def test_e005_middleware_before_authentication(settings):
    middleware = [m for m in settings.MIDDLEWARE if "personalize" not in m]
    middleware.insert(0, "personalize.middleware.PersonalizeMiddleware")
    settings.MIDDLEWARE = middleware
    assert "personalize.E005" in ids()


@pytest.mark.parametrize("check_id", ["personalize.E001", "personalize.W001"])
def test_checks_run_through_the_framework(settings, check_id):
    """Registered with Django's check framework, so `manage.py check` reports them."""
    from django.core import checks

    settings.PERSONALIZE = {} if check_id.endswith("E001") else {**BASE, "TYPO": 1}
    assert check_id in [m.id for m in checks.run_checks()]


def test_per_process_cache_warns_outside_debug(settings):
    from personalize.checks import _check_cache

    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert [w.id for w in _check_cache()] == ["personalize.W003"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}}
    assert _check_cache() == []
