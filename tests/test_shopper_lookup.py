"""The page's first read, the shopper by the cookie's key with their cart, is one statement
built once per database (personalize.identity.resolution.shopper_with_cart): the same objects
the ORM would build, the cart cached on the shopper (no query when there is none)."""

from __future__ import annotations

import uuid

import pytest

from personalize.events import set_cart_lines
from personalize.identity.resolution import shopper_with_cart
from personalize.models import Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_shopper_and_their_cart_as_the_orm_builds_them(django_assert_num_queries):
    product = factories.product()
    shopper = Shopper.objects.create(language="pl", country="PL", device="mobile")
    set_cart_lines(shopper, [{"product": str(product.pk), "quantity": 2, "price": "12.50"}])
    expected = Shopper.objects.select_related("cart").get(pk=shopper.pk)
    with django_assert_num_queries(1):
        found = shopper_with_cart(shopper.key)
        cart = found.cart  # cached with the shopper
        assert cart.shopper is found
    assert {f.attname: getattr(found, f.attname) for f in Shopper._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Shopper._meta.concrete_fields
    }
    assert (cart.pk, cart.lines, cart.value, cart.item_count) == (
        expected.cart.pk, expected.cart.lines, expected.cart.value, expected.cart.item_count
    )
    assert isinstance(found.key, uuid.UUID) and found._state.adding is False


def test_no_cart_is_cached_as_none_and_an_unknown_key_is_none(django_assert_num_queries):
    shopper = Shopper.objects.create()
    with django_assert_num_queries(1):
        found = shopper_with_cart(shopper.key)
        assert not hasattr(found, "cart") or found.cart is None
    assert found.pk == shopper.pk
    assert shopper_with_cart(uuid.uuid4()) is None
