"""personalize.W006: one real product serialised through the adapter, naming the field that came
out empty or is not a URL (what a store sees when its field names differ from the guesses)."""

from __future__ import annotations

import pytest

from personalize.adapters import DefaultAdapter
from personalize.checks import check_adapter_output
from tests import factories

pytestmark = pytest.mark.django_db


class ImageOnlyAdapter(DefaultAdapter):
    """The product has an image URL (testshop has no image field)."""

    def image_url(self, product):
        return f"/media/{product.pk}.jpg"


class OscarLikeMistakes(DefaultAdapter):
    """What DefaultAdapter made of Oscar's Product: a dict's str() as the image, no price."""

    def image_url(self, product):
        return "Image of 'Zip Hoodie'"

    def price(self, product):
        return None


class Broken(DefaultAdapter):
    def serialize(self, product):
        raise KeyError("title")


def warnings_for(settings, adapter: str) -> list:
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ADAPTER": f"tests.test_checks_adapter.{adapter}"}
    return check_adapter_output()


def test_a_good_product_gives_no_warning(settings):
    factories.product()
    assert warnings_for(settings, "ImageOnlyAdapter") == []


def test_each_bad_field_is_named(settings):
    product = factories.product()
    [warning] = warnings_for(settings, "OscarLikeMistakes")
    assert warning.id == "personalize.W006"
    assert "price is empty" in warning.msg
    assert "image \"Image of 'Zip Hoodie'\" is not a URL" in warning.msg
    assert str(product.pk) in warning.msg and "title" not in warning.msg


def test_an_empty_image_is_named(settings):
    factories.product()
    [warning] = warnings_for(settings, "DefaultAdapter")  # testshop has no image field at all
    assert "image is empty" in warning.msg


def test_an_adapter_that_raises_is_reported_not_raised(settings):
    factories.product()
    [warning] = warnings_for(settings, "Broken")
    assert "cannot serialise" in warning.msg and "KeyError" in warning.msg


def test_an_empty_catalogue_says_nothing(settings):
    assert warnings_for(settings, "OscarLikeMistakes") == []
