"""The store-wide holdout: sticky, sized by the setting, no campaigns or offers, and its result."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import override_settings

from personalize.campaigns import selection
from personalize.campaigns.stats import holdout_results
from personalize.holdout import in_holdout
from personalize.models import Event, Shopper
from personalize.offers import best_offer
from tests import factories


def holdout(percent):
    return override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "HOLDOUT_PERCENT": percent})


def test_holdout_is_sticky_and_sized_by_the_setting():
    shoppers = [Shopper(key=uuid.uuid4()) for _ in range(5000)]
    with holdout(5):
        five = {s.key for s in shoppers if in_holdout(s)}
        assert five == {s.key for s in shoppers if in_holdout(s)}  # same answer every time
    with holdout(10):
        ten = {s.key for s in shoppers if in_holdout(s)}
    assert abs(len(five) / 5000 - 0.05) < 0.012
    assert abs(len(ten) / 5000 - 0.10) < 0.015
    assert five <= ten  # growing the holdout keeps everyone who was in it


def test_holdout_is_independent_of_campaign_arms():
    spec_shoppers = [Shopper(key=uuid.uuid4()) for _ in range(4000)]
    with holdout(50):
        held = [s for s in spec_shoppers if in_holdout(s)]
    points = [s.bucket(f"{selection.ARM_SALT}:1") for s in held]
    # the campaign's own split inside the holdout is still uniform (different salts)
    assert abs(sum(p < 0.5 for p in points) / len(points) - 0.5) < 0.05


@pytest.mark.django_db
def test_holdout_sees_no_campaign_no_automatic_offer_and_a_neutral_greeting():
    offer = factories.offer(code="HELLO", value=Decimal("10"))
    factories.campaign(headline="Promo", offer=offer)
    product = factories.product(price=Decimal("50.00"))
    lines = [{"product": str(product.pk), "quantity": 1, "price": "50.00"}]
    with holdout(100):
        user = factories.user(first_name="Ana")
        s = Shopper.objects.create(user=user, visits=5)
        req = factories.shopper_request(s, user_obj=user)
        html = Template('{% load personalize %}{% personalized_content "home_banner" %}{% greeting %}').render(
            Context({"request": req})
        )
        assert "Promo" not in html and "Ana" not in html and 'data-greeting="new"' in html
        assert not best_offer(req, lines).applies
        # a code the shopper brings from elsewhere (an ad, a flyer) still works at checkout
        assert best_offer(req, lines, code="hello").discount == Decimal("5.00")


@pytest.mark.django_db
def test_holdout_results_compare_revenue_per_shopper():
    with holdout(50):
        groups = {True: [], False: []}
        while min(len(groups[True]), len(groups[False])) < 30:
            s = Shopper.objects.create()
            groups[in_holdout(s)].append(s)
        for s in groups[True][:30]:
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("10"))
        for s in groups[False][:15]:
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("40"))
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("20"))
        results, meta = holdout_results(30)
    personalised, held = results.arms
    assert held.shoppers == len(groups[True]) and personalised.shoppers == len(groups[False])
    assert held.revenue == 300 and held.converters == 30
    assert personalised.revenue == 900 and personalised.converters == 15 and personalised.conversions == 30
    comparison = results.comparisons[0]
    assert comparison.revenue.diff == pytest.approx(900 / personalised.shoppers - 300 / held.shoppers)
    assert comparison.verdict_code == "not_enough_data"  # fewer than CAMPAIGN_MIN_SAMPLE per group
    assert meta["percent"] == 50
