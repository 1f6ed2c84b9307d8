"""Cart offers in an Oscar store read Oscar's basket (``request.basket``), not personalize's
snapshot: OscarAdapter.cart_item_count."""

from __future__ import annotations

from django.test import RequestFactory
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model

from personalize.adapters import get_adapter

Basket = get_model("basket", "Basket")


def request_with(basket=None):
    request = RequestFactory().get("/basket/")
    if basket is not None:
        request.basket = basket
    return request


def test_the_adapter_counts_the_items_in_oscars_basket(shop):
    adapter = get_adapter()
    basket = Basket.objects.create()
    basket.strategy = Default()
    assert adapter.cart_item_count(request_with(basket)) == 0
    basket.add_product(shop.products[0], 2)
    basket.add_product(shop.products[1], 1)
    assert adapter.cart_item_count(request_with(basket)) == 3


def test_an_unsaved_basket_is_empty_and_no_basket_is_unknown(shop):
    adapter = get_adapter()
    assert adapter.cart_item_count(request_with(Basket())) == 0
    assert adapter.cart_item_count(request_with()) is None
