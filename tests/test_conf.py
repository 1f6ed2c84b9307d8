"""personalize's one settings object: defaults, overrides, typos."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from personalize.adapters import DefaultAdapter
from personalize.conf import DEFAULTS, PersonalizeSettings, import_path
from personalize.conf import personalize_settings as ps


def test_defaults():
    assert ps.COOKIE_NAME == "personalize_id"
    assert ps.API_MAX_BATCH == DEFAULTS["API_MAX_BATCH"] == 50
    assert ps.API_EVENT_KINDS == DEFAULTS["API_EVENT_KINDS"]
    assert "purchase" not in ps.API_EVENT_KINDS
    assert ps.ADAPTER is DefaultAdapter  # dotted paths are imported on access


def test_project_value_wins():
    assert ps.PRODUCT_MODEL == "testshop.Product"  # from tests/settings.py


def test_override_settings_reloads():
    assert ps.RECENTLY_VIEWED_LIMIT == 8
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "RECENTLY_VIEWED_LIMIT": 3}):
        assert ps.RECENTLY_VIEWED_LIMIT == 3
        assert ps.COOKIE_NAME == "personalize_id"  # other keys keep their defaults
    assert ps.RECENTLY_VIEWED_LIMIT == 8


def test_pytest_settings_fixture_reloads(settings):
    assert ps.API_THROTTLE_RATE == "120/min"
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": "5/min"}
    assert ps.API_THROTTLE_RATE == "5/min"


def test_typo_raises_attribute_error():
    with pytest.raises(AttributeError, match="COOKIE_NAEM"):
        ps.COOKIE_NAEM  # noqa: B018
    with pytest.raises(AttributeError):
        ps._private  # noqa: B018


def test_user_dict_is_not_mutated():
    user = {"PRODUCT_MODEL": "testshop.Product"}
    with override_settings(PERSONALIZE=user):
        ps.COOKIE_NAME  # noqa: B018
        ps.ADAPTER  # noqa: B018
    assert user == {"PRODUCT_MODEL": "testshop.Product"}


def test_bad_adapter_path_raises_import_error():
    custom = PersonalizeSettings()
    with override_settings(PERSONALIZE={"ADAPTER": "nowhere.Adapter"}):
        custom.reload()
        with pytest.raises(ImportError):
            custom.ADAPTER  # noqa: B018


def test_renamed_duration_keys_are_accepted_with_a_deprecation_warning():
    custom = PersonalizeSettings()
    with override_settings(PERSONALIZE={"COOKIE_AGE": 60}):
        custom.reload()
        with pytest.warns(DeprecationWarning, match="COOKIE_AGE_SECONDS"):
            assert custom.COOKIE_AGE_SECONDS == 60
        assert custom.COOKIE_AGE == 60  # old attribute name reads the new key


def test_dict_settings_are_merged_one_level_over_their_defaults():
    custom = PersonalizeSettings()
    with override_settings(PERSONALIZE={"DIVERSITY": {"brand": 1}, "RECOMMENDERS": {"default": {"BACKEND": "x.Y"}}}):
        custom.reload()
        assert custom.DIVERSITY == {"category": 4, "brand": 1}
        assert custom.RECOMMENDERS["default"] == {"BACKEND": "x.Y"}
        assert set(custom.RECOMMENDERS) == set(DEFAULTS["RECOMMENDERS"])  # other aliases kept


def test_a_bad_dotted_path_names_its_setting():
    with pytest.raises(ImproperlyConfigured, match="SEGMENT_RULES"):
        import_path("nowhere.Rule", "SEGMENT_RULES")
    assert import_path(len, "X") is len
