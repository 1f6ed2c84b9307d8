"""Money in the admin is written the store's way (PRICE_FORMAT, grouping, two decimals) on every
page that shows an amount: events, carts, the shopper page, email sends and report, offers,
the recommendation report."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from personalize.emails.defaults import ABANDONED_SLUG
from personalize.models import EmailSend, Event, Flow, Offer
from tests import factories

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("2256.50")
SHOWN = "€2,256.50"


@pytest.fixture
def store_money(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRICE_FORMAT": "€{amount}"}
    settings.USE_THOUSAND_SEPARATOR = False  # the admin's grouping must not depend on it


@pytest.fixture
def shop(store_money):
    now = timezone.now()
    product = factories.product(price=AMOUNT)
    shopper = factories.cart_shopper([product], updated_at=now)
    context = {"placement": "home", "model_version": "7", "variant": "A"}
    Event.objects.create(shopper=shopper, kind="impression", product_key=str(product.pk), context=context, created_at=now - timedelta(hours=3))
    Event.objects.create(shopper=shopper, kind="rec_click", product_key=str(product.pk), context=context, created_at=now - timedelta(hours=2))
    purchase = Event.objects.create(shopper=shopper, kind="purchase", order_ref="O-9", value=AMOUNT, created_at=now - timedelta(hours=1))
    # A second shopper's order came from an email's link (the email report credits it).
    reader = factories.cart_shopper([product], updated_at=now)
    Event.objects.create(shopper=reader, kind="purchase", order_ref="O-10", value=AMOUNT, created_at=now - timedelta(hours=1))
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    EmailSend.objects.create(
        flow=flow, step=flow.steps.get(position=1), shopper=reader, cycle="cart:1", status="sent", sent_at=now - timedelta(days=1),
        clicked_at=now - timedelta(minutes=90), order_ref="O-10", order_value=AMOUNT, recovered_at=now - timedelta(hours=1),
    )
    Offer.objects.create(name="Big spenders", discount_type=Offer.DiscountType.PERCENT, value=Decimal("10"), min_cart_value=Decimal("1500"))
    return shopper, purchase


@pytest.mark.parametrize(
    "url",
    [
        "admin:personalize_event_changelist",
        "admin:personalize_cart_changelist",
        "admin:personalize_emailsend_changelist",
        "admin:personalize_flow_report",
        "admin:personalize_recommendationreport_changelist",
    ],
)
def test_lists_and_reports_write_money_the_store_way(admin_client, shop, url):
    html = admin_client.get(reverse(url)).content.decode()
    assert SHOWN in html
    assert "2256.50<" not in html and ">2256.5<" not in html


def test_shopper_page_cart_events_and_timeline_write_money_the_store_way(admin_client, shop):
    shopper, purchase = shop
    html = admin_client.get(reverse("admin:personalize_shopper_change", args=[shopper.pk])).content.decode()
    assert html.count(SHOWN) >= 4  # cart line price and total, cart value, the purchase in recent events and the timeline
    assert "Purchase O-9: " + SHOWN in html
    event_html = admin_client.get(reverse("admin:personalize_event_change", args=[purchase.pk])).content.decode()
    assert SHOWN in event_html


def test_offer_list_writes_the_minimum_cart_the_store_way(admin_client, shop):
    html = admin_client.get(reverse("admin:personalize_offer_changelist")).content.decode()
    assert "€1,500.00" in html
