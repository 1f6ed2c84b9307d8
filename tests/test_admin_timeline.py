"""The shopper's admin page is a decision timeline: what was shown, suppressed and credited, and why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from personalize.models import CampaignAssignment, EmailSend, Event, Flow, Redemption, Shopper
from personalize.emails.defaults import ABANDONED_SLUG
from tests import factories

pytestmark = pytest.mark.django_db


def test_timeline_names_lists_campaigns_suppressions_emails_and_the_credit(admin_client):
    now = timezone.now()
    shopper = Shopper.objects.create()
    shown = factories.campaign(name="<b>Spring</b>")
    held = factories.campaign("cart", name="Nudge")
    CampaignAssignment.objects.create(campaign=shown, shopper=shopper, arm="A", impressions=2, first_seen=now - timedelta(hours=3))
    CampaignAssignment.objects.create(campaign=held, shopper=shopper, arm="control", first_seen=now - timedelta(hours=2))
    Event.objects.create(shopper=shopper, kind="impression", product_key="5", created_at=now - timedelta(hours=1),
                         context={"placement": "for_you", "model_version": "7", "variant": "b"})
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    EmailSend.objects.create(flow=flow, step=flow.steps.first(), shopper=shopper, cycle="cart:1", status="skipped", error="store-wide holdout")
    offer = factories.offer(name="Welcome")
    Event.objects.create(shopper=shopper, kind="purchase", order_ref="T-1", value=Decimal("20"), created_at=now)
    Redemption.objects.create(offer=offer, code=offer.code, shopper=shopper, order_ref="T-1", campaign=shown, created_at=now)
    html = admin_client.get(reverse("admin:personalize_shopper_change", args=[shopper.pk])).content.decode()
    assert "data-personalize-timeline" in html
    assert "Campaign “&lt;b&gt;Spring&lt;/b&gt;” shown (variant A)" in html  # escaped
    assert "Campaign “Nudge” not shown: control group" in html
    assert "List shown: product 5" in html and "for_you · model 7 · variant b" in html
    assert "store-wide holdout" in html
    assert "Order T-1 credited to: Offer code redeemed" in html
