"""One order walked through every report: each names the same campaign (or none).

The shopper saw the first-visit campaign and got its code, later clicked a recommendation, an
abandoned-cart email and the free-shipping nudge; the order redeemed the first-visit code. Every
screen must credit the first-visit campaign, and nothing else.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from personalize.emails.defaults import ABANDONED_SLUG
from personalize.models import CampaignAssignment, EmailSend, Event, Flow, Redemption, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def walk_one_order():
    now = timezone.now()
    first_visit = factories.campaign(name="First visit: 10% off", control_percent=10)
    nudge = factories.campaign("cart", name="Free-shipping nudge")
    offer = factories.offer(name="Welcome 10%")
    first_visit.offer = offer
    first_visit.save()
    shopper = Shopper.objects.create()
    at = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    CampaignAssignment.objects.create(campaign=first_visit, shopper=shopper, arm="A", impressions=1, first_seen=at(90), last_seen=at(90))
    CampaignAssignment.objects.create(campaign=nudge, shopper=shopper, arm="A", impressions=3, clicks=1, first_seen=at(20), last_seen=at(6))
    Event.objects.create(shopper=shopper, kind="rec_click", product_key="7", created_at=at(40),
                         context={"placement": "for_you", "model_version": "3", "variant": "default"})
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    step = flow.steps.get(position=1)
    EmailSend.objects.create(flow=flow, step=step, shopper=shopper, cycle="cart:1", status="sent", sent_at=at(60), clicked_at=at(30),
                             order_ref="A-1001", order_value=Decimal("90.00"), recovered_at=at(1))
    Event.objects.create(shopper=shopper, kind="campaign_click", created_at=at(5), context={"campaign": nudge.pk, "arm": "A"})
    Event.objects.create(shopper=shopper, kind="purchase", order_ref="A-1001", value=Decimal("90.00"), created_at=at(1))
    Redemption.objects.create(offer=offer, code=offer.code, shopper=shopper, order_ref="A-1001", discount=Decimal("10.00"),
                              campaign=first_visit, created_at=at(1))
    return first_visit, nudge, step


def test_every_report_credits_the_order_to_the_campaign_whose_code_it_redeemed(admin_client):
    first_visit, nudge, step = walk_one_order()

    # Campaign results: the first visit has it, the nudge (clicked last) does not.
    page = admin_client.get(reverse("admin:personalize_campaign_change", args=[first_visit.pk]))
    assert page.context["result_credited"]["orders"] == 1 and page.context["result_credited"]["by_code"] == 1
    assert admin_client.get(reverse("admin:personalize_campaign_change", args=[nudge.pk])).context["result_credited"]["orders"] == 0

    # Redemptions list.
    html = admin_client.get(reverse("admin:personalize_redemption_changelist")).content.decode()
    assert "First visit: 10% off (Offer code redeemed)" in html

    # Flow report: the email was clicked, but the order is not the email's.
    report = admin_client.get(reverse("admin:personalize_flow_report") + "?days=7")
    row = next(r for r in report.context["rows"] if r["step_id"] == step.pk)
    assert (row["clicked"], row["orders"], row["revenue"]) == (1, 0, Decimal("0"))

    # Recommendation report: the click is counted, the order is not.
    rec = admin_client.get(reverse("admin:personalize_recommendationreport_changelist") + "?days=7")
    assert sum(r.clicks for r in rec.context["rows"]) == 1
    assert sum(r.orders for r in rec.context["rows"]) == 0

    # Impact page and dashboard: one order, credited to an offer code.
    impact = admin_client.get(reverse("admin:personalize_campaign_impact") + "?days=7")
    channels = {c["label"]: c["orders"] for c in impact.context["channels"]}
    assert channels == {"Offer code redeemed": 1, "Recommendation click": 0, "Campaign click": 0, "Email click": 0}
    dashboard = admin_client.get(reverse("admin:personalize_campaign_dashboard") + "?days=7")
    assert {c["channel"]: c["orders"] for c in dashboard.context["series"]["channels"]}["offer"] == 1


def test_without_the_code_the_last_click_wins_on_every_report(admin_client):
    first_visit, nudge, step = walk_one_order()
    Redemption.objects.all().delete()
    page = admin_client.get(reverse("admin:personalize_campaign_change", args=[nudge.pk]))
    assert page.context["result_credited"]["orders"] == 1 and page.context["result_credited"]["by_click"] == 1
    assert admin_client.get(reverse("admin:personalize_campaign_change", args=[first_visit.pk])).context["result_credited"]["orders"] == 0
    report = admin_client.get(reverse("admin:personalize_flow_report") + "?days=7")
    assert next(r for r in report.context["rows"] if r["step_id"] == step.pk)["orders"] == 0
    impact = admin_client.get(reverse("admin:personalize_campaign_impact") + "?days=7")
    assert {c["label"]: c["orders"] for c in impact.context["channels"]}["Campaign click"] == 1
