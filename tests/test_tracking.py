import pytest

import personalize
from personalize.models import Cart, Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def test_view_creates_shopper_and_event():
    p = factories.product()
    req = factories.request()
    event = personalize.track(req, "view", product=p)
    assert event is not None
    assert Shopper.objects.count() == 1
    assert Event.objects.get().product_key == str(p.pk)


def test_bot_leaves_nothing():
    p = factories.product()
    req = factories.request(HTTP_USER_AGENT="Googlebot/2.1")
    assert personalize.track(req, "view", product=p) is None
    assert Shopper.objects.count() == 0


def test_unknown_kind_is_logged_not_raised(caplog):
    req = factories.request()
    assert personalize.track(req, "teleport") is None
    assert Event.objects.count() == 0


def test_cart_snapshot_follows_cart_events_and_purchase():
    a, b = factories.product(price=5), factories.product(price=7)
    req = factories.request()
    personalize.track(req, "add_to_cart", product=a, quantity=2)
    personalize.track(req, "add_to_cart", product=b)
    cart = Cart.objects.get()
    assert cart.item_count == 3 and str(cart.value) == "17.00"
    personalize.track(req, "remove_from_cart", product=a, quantity=2)
    cart.refresh_from_db()
    assert cart.product_keys() == [str(b.pk)]
    personalize.track(req, "purchase", lines=[{"product": b, "quantity": 1}], order_ref="A1")
    cart.refresh_from_db()
    assert cart.is_empty
    purchase = Event.objects.get(kind="purchase")
    assert str(purchase.value) == "7.00"
    assert purchase.context["lines"][0]["product"] == str(b.pk)


def test_tuple_lines_take_the_product_price():
    p = factories.product(price=12)
    req = factories.request()
    personalize.update_cart(req, [(p, 2)])
    cart = Cart.objects.get()
    assert cart.lines == [{"product": str(p.pk), "quantity": 2, "price": "12.00"}]
    assert str(cart.value) == "24.00"
