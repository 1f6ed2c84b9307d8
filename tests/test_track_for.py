"""The request-less tracking API: ``personalize.track_for(user | shopper | email, kind, ...)`` for
webhooks, payment callbacks and staff orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

import personalize
from personalize.identity import shopper_for
from personalize.models import Cart, Event, EventKind, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_purchase_for_a_user_goes_to_the_accounts_profile_and_empties_its_cart():
    user = factories.user()
    product = factories.product(price=Decimal("12.50"))
    shopper = factories.cart_shopper([product], updated_at=timezone.now(), user_obj=user)
    event = personalize.track_for(user, "purchase", lines=[(product, 2)], order_ref="A-1")
    assert event is not None and event.shopper == shopper
    assert event.value == Decimal("25.00") and event.order_ref == "A-1"
    assert Cart.objects.get(shopper=shopper).lines == []  # no abandoned-cart email after it


def test_a_user_without_a_profile_gets_one():
    user = factories.user()
    event = personalize.track_for(user, EventKind.VIEW, factories.product())
    assert Shopper.objects.get(user=user) == event.shopper


def test_an_email_finds_the_account_with_that_address():
    user = factories.user(email="Ana@Example.com")
    event = personalize.track_for("  ana@example.COM ", "purchase", lines=[(factories.product(), 1)], order_ref="W-9")
    assert event.shopper.user == user


def test_an_unknown_email_is_a_guest_shopper_reused_next_time():
    first = personalize.track_for("guest@example.com", "purchase", lines=[(factories.product(), 1)], order_ref="G-1")
    second = personalize.track_for("Guest@example.com", "purchase", lines=[(factories.product(), 1)], order_ref="G-2")
    assert first.shopper == second.shopper
    assert first.shopper.user is None and first.shopper.email == "guest@example.com"


def test_a_merged_shopper_resolves_to_the_account_it_was_merged_into():
    account = Shopper.objects.create(user=factories.user())
    browser = Shopper.objects.create(merged_into=account)
    assert shopper_for(browser) == account
    assert personalize.track_for(browser, "view", factories.product()).shopper == account


def test_a_past_event_keeps_its_time():
    when = timezone.now() - timedelta(days=30)
    event = personalize.track_for(factories.user(), "view", factories.product(), created_at=when)
    assert Event.objects.get(pk=event.pk).created_at == when


@pytest.mark.parametrize("who", [None, "", "not-an-email", 42, object()])
def test_nobody_records_nothing_and_never_raises(who):
    assert personalize.track_for(who, "view", factories.product()) is None
    assert not Event.objects.exists()


def test_bad_input_is_logged_not_raised():
    user = factories.user()
    assert personalize.track_for(user, "no-such-kind") is None
    assert personalize.track_for(user, "view") is None  # a view needs a product
    assert not Event.objects.exists()
