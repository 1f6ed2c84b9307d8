"""The adapter: default field names, a store with other names, bulk lookups."""

import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from personalize.adapters import DefaultAdapter, get_adapter
from tests import factories
from tests.testshop.models import Product

pytestmark = pytest.mark.django_db


class HeadlineAdapter(DefaultAdapter):
    """A store whose products say ``headline``, ``cost`` and ``picture``: a few lines."""

    title_fields = ("headline",)
    price_fields = ("cost",)
    image_fields = ("picture",)
    brand_fields = ("maker",)
    stock_fields = ("available",)

    def url(self, product):
        return f"/items/{product.slug}/"

    def features(self, product):
        return {**super().features(product), "colour": product.colour}


def test_default_adapter_reads_common_field_names():
    cat = factories.category("Kitchen")
    p = factories.product(name="Kettle", price=Decimal("19.50"), brand="Acme", category=cat, stock=3)
    adapter = get_adapter()
    assert isinstance(adapter, DefaultAdapter)
    assert adapter.get_product_model() is Product
    assert adapter.title(p) == "Kettle"
    assert adapter.price(p) == Decimal("19.50")
    assert adapter.url(p) == f"/shop/p/{p.pk}/"
    assert adapter.category(p) == "Kitchen"
    assert adapter.category_key(p) == str(cat.pk)
    assert adapter.category_lookup() == "category_id"
    assert adapter.brand(p) == "Acme"
    assert adapter.image_url(p) == ""
    assert adapter.in_stock(p) is True
    assert adapter.product_key(p) == str(p.pk)
    assert adapter.features(p) == {"category": str(cat.pk), "brand": "Acme", "price_band": "<25"}
    assert adapter.serialize(p) == {
        "id": str(p.pk),
        "title": "Kettle",
        "url": f"/shop/p/{p.pk}/",
        "price": "19.50",
        "image": "",
        "category": "Kitchen",
        "brand": "Acme",
        "in_stock": True,
    }


def test_stock_and_active_filters():
    adapter = get_adapter()
    ok, sold_out, hidden = factories.product(), factories.product(stock=0), factories.product(is_active=False)
    assert adapter.in_stock(sold_out) is False
    shown = set(adapter.get_queryset().filter(adapter.stock_filter()))
    assert ok in shown and sold_out not in shown and hidden not in shown


def test_store_subclass_with_other_field_names(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ADAPTER": "tests.test_adapters.HeadlineAdapter"}
    adapter = get_adapter()
    assert type(adapter) is HeadlineAdapter
    item = SimpleNamespace(
        pk=1, headline="Lamp", cost="12.00", picture=SimpleNamespace(url="/m/lamp.jpg"), maker="Lumo",
        available=False, slug="lamp", colour="red", category=None,
    )
    assert adapter.title(item) == "Lamp"
    assert adapter.price(item) == Decimal("12.00")
    assert adapter.image_url(item) == "/m/lamp.jpg"
    assert adapter.brand(item) == "Lumo"
    assert adapter.in_stock(item) is False
    assert adapter.url(item) == "/items/lamp/"
    assert adapter.features(item) == {"brand": "Lumo", "price_band": "<25", "colour": "red"}
    assert adapter.serialize(item)["title"] == "Lamp"


def test_get_products_keeps_order_in_one_query(django_assert_num_queries):
    products = [factories.product() for _ in range(5)]
    keys = [str(p.pk) for p in reversed(products)]
    adapter = get_adapter()
    with django_assert_num_queries(1):
        found = adapter.get_products(keys)
        # The category is joined: serializing costs nothing more.
        categories = [adapter.category(p) for p in found]
    assert [str(p.pk) for p in found] == keys
    assert all(categories)


def test_get_products_drops_malformed_unknown_and_hidden_keys(django_assert_num_queries):
    p, hidden = factories.product(), factories.product(is_active=False)
    keys = ["not-a-uuid", str(uuid.uuid4()), str(p.pk), "", str(hidden.pk), "1; DROP TABLE"]
    with django_assert_num_queries(1):
        assert get_adapter().get_products(keys) == [p]
    with django_assert_num_queries(0):
        assert get_adapter().get_products(["bad", ""]) == []
    assert get_adapter().get_product(p.pk) == p
    assert get_adapter().get_product("bad") is None


def test_key_validation():
    adapter = get_adapter()
    assert adapter.is_valid_key(str(uuid.uuid4()))
    assert not adapter.is_valid_key("42")
    assert not adapter.is_valid_key("")


def test_user_facts():
    user = factories.user(email="ana@example.com", first_name="Ana")
    adapter = get_adapter()
    assert adapter.user_email(user) == "ana@example.com"
    assert adapter.user_first_name(user) == "Ana"
    assert adapter.user_language(user) == ""


def test_missing_product_model_is_a_clear_error(settings):
    settings.PERSONALIZE = {"PRODUCT_MODEL": None}
    with pytest.raises(ImproperlyConfigured, match="PRODUCT_MODEL"):
        get_adapter().get_product_model()
    settings.PERSONALIZE = {"PRODUCT_MODEL": "testshop.Nope"}
    with pytest.raises(ImproperlyConfigured, match="testshop.Nope"):
        get_adapter().get_product_model()


def test_resolve_keys_in_one_query_without_loading_rows(django_assert_num_queries):
    p, hidden = factories.product(), factories.product(is_active=False)
    given = [str(p.pk).upper(), str(hidden.pk), "bad", str(uuid.uuid4())]
    with django_assert_num_queries(1) as ctx:
        resolved = get_adapter().resolve_keys(given)
    assert resolved == {str(p.pk).upper(): str(p.pk), str(hidden.pk): str(hidden.pk)}
    assert '"name"' not in ctx.captured_queries[0]["sql"]  # keys only
    with django_assert_num_queries(0):
        assert get_adapter().resolve_keys(["bad"]) == {}
