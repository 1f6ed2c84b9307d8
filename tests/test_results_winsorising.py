"""Revenue in campaign and holdout results is winsorised at RESULTS_REVENUE_CAP_PERCENTILE."""

from __future__ import annotations

import math

from personalize.campaigns.stats import ArmResult, _add_shopper, revenue_cap


def test_cap_is_the_percentile_of_buyers_and_off_for_small_samples_or_when_disabled(settings):
    buyers = [float(v) for v in range(1, 201)] + [0.0] * 50  # non-buyers do not count
    cap = revenue_cap(buyers)
    assert 197 < cap < 199  # the 99th percentile of 1..200
    assert revenue_cap(buyers[:99]) == math.inf  # fewer than 100 buyers: no cap
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RESULTS_REVENUE_CAP_PERCENTILE": None}
    assert revenue_cap(buyers) == math.inf


def test_one_huge_order_cannot_decide_the_comparison():
    totals = [50.0] * 150 + [100_000.0]
    cap = revenue_cap(totals)
    arm = ArmResult(arm="A")
    for total in totals:
        arm.shoppers += 1
        _add_shopper(arm, 1, total, cap)
    assert arm.revenue == 151 * 50.0  # the outlier counts as much as the 99th percentile buyer
    assert arm.conversions == 151 and arm.converters == 151
