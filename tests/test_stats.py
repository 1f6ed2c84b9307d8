"""Campaign statistics: intervals on known inputs, verdict thresholds, results from the database."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.test import override_settings
from django.utils import timezone
from scipy import stats as sps

from personalize.models import CampaignAssignment
from personalize.campaigns.stats import ArmResult, campaign_results, compare, proportion_interval, welch_interval
from personalize.models import Event, Shopper
from tests import factories



def arm_from(values, name) -> ArmResult:
    values = [float(v) for v in values]
    return ArmResult(
        arm=name,
        shoppers=len(values),
        converters=sum(1 for v in values if v > 0),
        conversions=sum(1 for v in values if v > 0),
        revenue=sum(values),
        revenue_sq=sum(v * v for v in values),
    )


def test_welch_interval_matches_scipy_on_raw_data():
    rng = np.random.default_rng(7)
    a = rng.exponential(12.0, 300) * (rng.random(300) < 0.3)
    b = rng.exponential(10.0, 280) * (rng.random(280) < 0.25)
    interval = welch_interval(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    reference = sps.ttest_ind(a, b, equal_var=False)
    ci = reference.confidence_interval(0.95)
    assert interval.diff == pytest.approx(a.mean() - b.mean())
    assert (interval.low, interval.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert interval.p_value == pytest.approx(reference.pvalue)


def test_welch_interval_known_numbers():
    # means 10 and 8, variances 16 and 9, n = 50 each: se = sqrt(0.32 + 0.18) = 0.7071,
    # df = 0.25 / (0.1024/49 + 0.0324/49) = 90.88, t(0.975, 90.88) = 1.98640
    interval = welch_interval(10, 16, 50, 8, 9, 50)
    assert interval.diff == 2
    assert interval.low == pytest.approx(2 - 1.98640 * math.sqrt(0.5), abs=1e-4)
    assert interval.high == pytest.approx(2 + 1.98640 * math.sqrt(0.5), abs=1e-4)


def test_welch_with_too_few_shoppers_is_unbounded():
    interval = welch_interval(5, 1, 1, 3, 1, 10)
    assert interval.low == -math.inf and interval.high == math.inf and not interval.excludes_zero


def test_two_proportion_interval_known_numbers():
    # 60/500 vs 40/500: diff 0.04, se = sqrt(.12*.88/500 + .08*.92/500) = 0.018896
    interval = proportion_interval(60, 500, 40, 500)
    se = math.sqrt(0.12 * 0.88 / 500 + 0.08 * 0.92 / 500)
    assert interval.diff == pytest.approx(0.04)
    assert interval.low == pytest.approx(0.04 - 1.959964 * se, abs=1e-6)
    assert interval.high == pytest.approx(0.04 + 1.959964 * se, abs=1e-6)
    pooled = 100 / 1000
    z = 0.04 / math.sqrt(pooled * (1 - pooled) * (2 / 500))
    assert interval.p_value == pytest.approx(2 * sps.norm.sf(z))


def test_verdict_not_enough_data_below_the_minimum_sample():
    treated = arm_from([20.0] * 30 + [0.0] * 40, "A")
    control = arm_from([0.0] * 70, "control")
    result = compare(treated, control)
    assert result.verdict_code == "not_enough_data"
    assert result.verdict == "Not enough data yet: a verdict needs 100 shoppers in each arm (the smaller has 70) and 10 buyers in both together (now 30)."


def test_verdict_not_enough_conversions():
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "CAMPAIGN_MIN_CONVERSIONS": 10}):
        treated = arm_from([30.0] * 4 + [0.0] * 196, "A")
        control = arm_from([30.0] * 3 + [0.0] * 197, "control")
        assert compare(treated, control).verdict_code == "not_enough_data"


def test_verdict_better_worse_and_no_difference():
    rng = np.random.default_rng(3)
    control = arm_from(np.where(rng.random(1000) < 0.10, 50.0, 0.0), "control")
    better = arm_from(np.where(rng.random(1000) < 0.20, 50.0, 0.0), "A")
    worse = arm_from(np.where(rng.random(1000) < 0.04, 50.0, 0.0), "B")
    same = arm_from(np.where(rng.random(1000) < 0.10, 50.0, 0.0), "C")
    result = compare(better, control, label="Variant A")
    assert result.verdict_code == "better" and result.revenue.low > 0
    assert result.verdict.startswith("Variant A earns more per shopper than the control: +")
    assert "95% confidence" in result.verdict
    assert result.revenue_lift == pytest.approx(better.revenue_per_shopper / control.revenue_per_shopper - 1)
    assert compare(worse, control).verdict_code == "worse"
    assert compare(same, control).verdict_code == "no_difference"


@pytest.mark.django_db
def test_campaign_results_from_the_database():
    campaign = factories.campaign(control_percent=50)
    revenue = {"A": [Decimal("30"), Decimal("0"), Decimal("10")], "control": [Decimal("0"), Decimal("20")]}
    for arm, values in revenue.items():
        for value in values:
            s = Shopper.objects.create()
            CampaignAssignment.objects.create(
                campaign=campaign, shopper=s, arm=arm, impressions=0 if arm == "control" else 2, clicks=1 if value else 0
            )
            if value:
                for part in (value / 2, value / 2):  # two orders: per-shopper revenue is their sum
                    Event.objects.create(shopper=s, kind="purchase", value=part)
            # Bought before seeing the campaign, or long after: not part of the arm's outcome.
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("999"), created_at=timezone.now() - timedelta(days=1))
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("999"), created_at=timezone.now() + timedelta(days=30))
    results = campaign_results(campaign)
    a, control = results.arms
    assert (a.arm, a.shoppers, a.impressions, a.clicks, a.converters, a.conversions) == ("A", 3, 6, 2, 2, 4)
    assert a.revenue_per_shopper == pytest.approx(40 / 3)
    assert a.revenue_variance == pytest.approx(np.var([30, 0, 10], ddof=1))
    assert (control.arm, control.shoppers, control.converters) == ("control", 2, 1)
    assert control.conversion_rate == 0.5
    (comparison,) = results.comparisons
    assert comparison.arm == "A" and comparison.verdict_code == "not_enough_data"
    assert comparison.revenue.diff == pytest.approx(40 / 3 - 10)
