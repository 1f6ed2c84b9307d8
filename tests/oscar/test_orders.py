"""Orders placed without a request (payment callbacks, staff), the order history importer, and
purchases recorded exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order

from personalize.models import Cart, Event, EventKind, Shopper
from tests.oscar.shop import add_to_basket, login

pytestmark = pytest.mark.django_db

Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
OrderCreator = get_class("order.utils", "OrderCreator")
Selector = get_class("partner.strategy", "Selector")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
Free = get_class("shipping.methods", "Free")


def place_without_request(basket, user=None, number=None):
    """What a payment provider's callback or a staff tool does: OrderCreator, no request."""
    basket.strategy = Selector().strategy()
    method = Free()
    charge = method.calculate(basket)
    total = OrderTotalCalculator().calculate(basket, charge)
    return OrderCreator().place_order(
        basket=basket, total=total, shipping_method=method, shipping_charge=charge, user=user, order_number=number
    )


def test_an_order_placed_without_a_request_is_a_purchase_of_the_basket_owner(shop, shopper_client):
    login(shopper_client)
    add_to_basket(shopper_client, shop.products[0], 2)
    account = Shopper.objects.get(user=shop.customer)
    assert Cart.objects.get(shopper=account).item_count == 2
    basket = Basket.open.get(owner=shop.customer)
    order = place_without_request(basket, user=shop.customer)
    purchase = Event.objects.get(kind=EventKind.PURCHASE)
    assert purchase.shopper == account and purchase.order_ref == str(order.number)
    assert purchase.context["lines"] == [{"product": str(shop.products[0].pk), "quantity": 2, "price": "10.00"}]
    assert Cart.objects.get(shopper=account).lines == []  # no abandoned-cart email after the order


def test_an_anonymous_basket_order_goes_to_the_browser_that_filled_it(shop, shopper_client):
    add_to_basket(shopper_client, shop.products[1], 1)
    browser = Shopper.objects.get(user__isnull=True)
    basket = Basket.objects.get()
    place_without_request(basket)
    assert Event.objects.get(kind=EventKind.PURCHASE).shopper == browser
    assert Cart.objects.get(shopper=browser).lines == []


def test_importer_records_past_orders_once(shop):
    first = create_order(user=shop.customer)
    guest = create_order(guest_email="Bob@Example.com")
    # Oscar's order_placed already recorded them; the history of a store that just installed
    # personalize has no events yet.
    assert Event.objects.filter(kind=EventKind.PURCHASE).count() == 2
    Event.objects.all().delete()
    out = call_command_output("personalize_import_oscar_orders")
    assert "2 imported" in out
    events = {e.order_ref: e for e in Event.objects.filter(kind=EventKind.PURCHASE)}
    assert set(events) == {str(first.number), str(guest.number)}
    assert events[str(first.number)].shopper.user == shop.customer
    assert events[str(guest.number)].shopper.email == "bob@example.com"
    assert events[str(first.number)].created_at == first.date_placed
    assert events[str(first.number)].value == Decimal(first.total_incl_tax)
    again = call_command_output("personalize_import_oscar_orders")
    assert "0 imported, 2 already recorded" in again
    assert Event.objects.filter(kind=EventKind.PURCHASE).count() == 2


def test_importer_rejects_a_bad_date():
    with pytest.raises(CommandError):
        call_command("personalize_import_oscar_orders", "--since", "yesterday-ish")


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
