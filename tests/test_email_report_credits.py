"""The email report's daily chart counts the orders credited to an email by the one attribution
rule (personalize.attribution), like its table: not every order an email's link led to."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from personalize.emails import reporting
from personalize.emails.defaults import ABANDONED_SLUG
from personalize.models import EmailSend, Event, Flow, Redemption
from tests import factories

pytestmark = pytest.mark.django_db


def emailed_order(ref: str, value: str, *, clicked_hours_ago: float = 3) -> tuple:
    """A shopper who clicked an abandoned-cart email and then ordered (the link led to ``ref``)."""
    now = timezone.now()
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    shopper = factories.cart_shopper([], updated_at=now)
    purchase = Event.objects.create(shopper=shopper, kind="purchase", order_ref=ref, value=Decimal(value), created_at=now - timedelta(hours=1))
    send = EmailSend.objects.create(
        flow=flow, step=flow.steps.get(position=1), shopper=shopper, cycle="cart:1", status="sent",
        sent_at=now - timedelta(days=1), clicked_at=now - timedelta(hours=clicked_hours_ago),
        order_ref=ref, order_value=Decimal(value), recovered_at=now - timedelta(hours=1),
    )
    return shopper, purchase, send


def test_chart_counts_credited_orders_not_link_led_ones():
    emailed_order("O-1", "80.00")  # credited to the email's click
    shopper, _purchase, _send = emailed_order("O-2", "500.00")
    # O-2 redeemed a campaign's code: the offer (and its campaign) gets it, not the email.
    campaign = factories.campaign()
    offer = factories.offer()
    Redemption.objects.create(offer=offer, code="WELCOME", shopper=shopper, order_ref="O-2", campaign=campaign)
    other, _p, _s = emailed_order("O-3", "70.00")
    # O-3 followed a recommendation click after the email's: the recommendation gets it.
    Event.objects.create(shopper=other, kind="rec_click", product_key="1", context={"placement": "home"},
                         created_at=timezone.now() - timedelta(hours=2))
    series = reporting.daily_series(7)
    assert sum(series["orders"]) == 1 and sum(series["revenue"]) == 80.0
    table = reporting.step_table(timezone.now() - timedelta(days=7))
    assert sum(row["orders"] for row in table) == 1 and sum(row["revenue"] for row in table) == Decimal("80.00")


def test_chart_counts_an_order_the_emailed_code_brought_without_a_link():
    shopper, purchase, send = emailed_order("O-4", "60.00")
    EmailSend.objects.filter(pk=send.pk).update(order_ref="", order_value=None, recovered_at=None, clicked_at=None, offer_code="BACK-1")
    Redemption.objects.create(offer=factories.offer(), code="BACK-1", shopper=shopper, order_ref="O-4")
    series = reporting.daily_series(7)
    assert sum(series["orders"]) == 1 and sum(series["revenue"]) == 60.0
    assert series["orders"][series["labels"].index(timezone.localdate(purchase.created_at).isoformat())] == 1


def test_report_page_chart_and_table_agree(admin_client):
    emailed_order("O-1", "80.00")
    shopper, _p, _s = emailed_order("O-2", "500.00")
    Redemption.objects.create(offer=factories.offer(), code="X", shopper=shopper, order_ref="O-2", campaign=factories.campaign())
    response = admin_client.get(reverse("admin:personalize_flow_report") + "?days=7")
    series = response.context["series"]
    assert sum(series["orders"]) == response.context["totals"]["orders"] == 1
    assert sum(series["revenue"]) == float(response.context["totals"]["revenue"]) == 80.0
