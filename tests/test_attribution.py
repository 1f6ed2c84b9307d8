"""The one attribution rule (personalize/attribution.py): redeemed offer, else last click in the
window (recommendation, campaign or email), else nothing."""

from __future__ import annotations

import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from personalize import attribution
from personalize.conf import personalize_settings as ps
from personalize.models import EmailSend, Event, Flow, Redemption, Shopper, Step
from tests import factories

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def event(shopper, kind, minutes_ago, **fields):
    return Event.objects.create(shopper=shopper, kind=kind, created_at=NOW - timedelta(minutes=minutes_ago), **fields)


def rec_click(shopper, minutes_ago, placement="for_you", version="m-1"):
    return event(shopper, "rec_click", minutes_ago, product_key="1", context={"placement": placement, "model_version": version, "variant": "a"})


def campaign_click(shopper, campaign, minutes_ago):
    return event(shopper, "campaign_click", minutes_ago, context={"campaign": campaign.pk, "arm": "A"})


def purchase(shopper, order_ref="O-1", value="50.00", minutes_ago=0):
    return event(shopper, "purchase", minutes_ago, order_ref=order_ref, value=Decimal(value))


def email_send(shopper, clicked_minutes_ago, *, code=""):
    flow = Flow.objects.filter(slug="cart-test").first() or Flow.objects.create(name="Cart", slug="cart-test", kind="abandoned_cart")
    step = Step.objects.filter(flow=flow).first() or Step.objects.create(flow=flow, position=1, delay=timedelta(hours=1), subject="Hi")
    return EmailSend.objects.create(
        flow=flow, step=step, shopper=shopper, cycle=f"cart:{EmailSend.objects.count()}", status=EmailSend.Status.SENT,
        sent_at=NOW - timedelta(days=1), clicked_at=NOW - timedelta(minutes=clicked_minutes_ago), offer_code=code,
    )


def test_the_redeemed_offer_wins_over_any_later_click():
    shopper = Shopper.objects.create()
    first_visit = factories.campaign(name="First visit")
    nudge = factories.campaign("cart", name="Nudge")
    offer = factories.offer(name="Welcome")
    rec_click(shopper, 30)
    campaign_click(shopper, nudge, 5)  # the last click...
    order = purchase(shopper)
    Redemption.objects.create(offer=offer, code=offer.code, shopper=shopper, order_ref="O-1", campaign=first_visit)
    credit = attribution.credit(order)  # ...but the order used the first visit's code
    assert (credit.channel, credit.campaign_id, credit.offer_id) == ("offer", first_visit.pk, offer.pk)
    assert attribution.campaign_of(credit) == first_visit.pk


def test_else_the_last_click_of_any_kind_within_the_window():
    shopper = Shopper.objects.create()
    nudge = factories.campaign("cart", name="Nudge")
    rec_click(shopper, 50)
    send = email_send(shopper, 40)
    order = purchase(shopper)
    assert attribution.credit(order).channel == "email"
    assert attribution.credit(order).send_id == send.pk and attribution.step_of(attribution.credit(order)) == send.step_id
    click = campaign_click(shopper, nudge, 20)
    assert (attribution.credit(order).channel, attribution.credit(order).campaign_id) == ("campaign", nudge.pk)
    rec_click(shopper, 10, placement="similar", version="m-2")
    credit = attribution.credit(order)
    assert (credit.channel, credit.placement, credit.model_version, credit.variant) == ("recommendation", "similar", "m-2", "a")
    assert credit.touched_at > click.created_at


def test_clicks_outside_the_window_or_after_the_purchase_or_of_someone_else_credit_nothing(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ATTRIBUTION_WINDOW_HOURS": 2}
    shopper, other = Shopper.objects.create(), Shopper.objects.create()
    rec_click(shopper, 3 * 60)  # three hours before: outside
    email_send(shopper, 4 * 60)
    rec_click(other, 5)
    order = purchase(shopper, minutes_ago=10)
    rec_click(shopper, 1)  # after the purchase
    assert attribution.credit(order) is None
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ATTRIBUTION_WINDOW_HOURS": 4}
    assert attribution.credit(order).channel == "recommendation"


def test_an_emailed_code_credits_the_email_that_carried_it():
    shopper = Shopper.objects.create()
    offer = factories.offer(name="Come back", code_mode="unique", code="")
    send = email_send(shopper, 60 * 24 * 30, code="BACK-1")  # clicked long ago: the code still counts
    order = purchase(shopper)
    Redemption.objects.create(offer=offer, code="BACK-1", shopper=shopper, order_ref="O-1")
    credit = attribution.credit(order)
    assert (credit.channel, credit.send_id, credit.flow_id) == ("offer", send.pk, send.flow_id)
    assert attribution.step_of(credit) == send.step_id and attribution.campaign_of(credit) is None


def test_bulk_credits_take_a_fixed_number_of_queries(django_assert_max_num_queries):
    campaign = factories.campaign(name="C")
    offer = factories.offer()
    for n in range(6):
        shopper = Shopper.objects.create()
        rec_click(shopper, 30)
        campaign_click(shopper, campaign, 20)
        email_send(shopper, 10)
        purchase(shopper, order_ref=f"O-{n}")
        if n % 2:
            Redemption.objects.create(offer=offer, code=offer.code, shopper=shopper, order_ref=f"O-{n}", campaign=campaign)
    with django_assert_max_num_queries(5):
        found = attribution.credits(attribution.in_period(NOW - timedelta(days=1)))
    assert sorted(c.channel for c in found.values()) == ["email"] * 3 + ["offer"] * 3
    totals = attribution.totals(found.values(), attribution.campaign_of)
    assert totals == {campaign.pk: {"orders": 3, "revenue": Decimal("150.00")}}


def test_old_window_settings_are_deprecated_aliases(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CAMPAIGN_ATTRIBUTION_DAYS": 3}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ps.ATTRIBUTION_WINDOW_HOURS == 72
    assert any("ATTRIBUTION_WINDOW_HOURS" in str(w.message) for w in caught)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "REC_ATTRIBUTION_HOURS": 5, "ATTRIBUTION_WINDOW_HOURS": 12}
    assert ps.ATTRIBUTION_WINDOW_HOURS == 12  # the new key wins
