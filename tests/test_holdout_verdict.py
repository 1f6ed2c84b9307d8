"""The impact page's verdict names the holdout (shoppers who see no personalisation), never "the
control" (a campaign's own control group); a lift over nothing is an amount in the store's money."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from personalize.campaigns.stats import CONTROL, HOLDOUT, ArmResult, Interval, compare, holdout_results, verdict
from personalize.holdout import in_holdout
from personalize.models import Event, Shopper


def arm_from(values, name) -> ArmResult:
    values = [float(v) for v in values]
    return ArmResult(arm=name, shoppers=len(values), converters=sum(v > 0 for v in values), conversions=sum(v > 0 for v in values),
                     revenue=sum(values), revenue_sq=sum(v * v for v in values))


def test_holdout_verdicts_name_the_holdout_not_the_control():
    rng = np.random.default_rng(3)
    held = arm_from(np.where(rng.random(1000) < 0.10, 50.0, 0.0), CONTROL)
    better = arm_from(np.where(rng.random(1000) < 0.20, 50.0, 0.0), "personalised")
    same = arm_from(np.where(rng.random(1000) < 0.10, 50.0, 0.0), "personalised")
    text = compare(better, held, label="Personalisation", against=HOLDOUT).verdict
    assert text.startswith("Personalisation earns more per shopper than the holdout, who see no personalisation: +")
    assert "control" not in text
    text = compare(same, held, label="Personalisation", against=HOLDOUT).verdict
    assert text.startswith("No clear difference yet between personalised shoppers and the holdout") and "control" not in text
    # A campaign still compares with its control group.
    assert "than the control:" in compare(better, held, label="Variant A").verdict


def test_holdout_not_enough_data_talks_about_groups_not_arms():
    text = compare(arm_from([5.0] * 20, "personalised"), arm_from([0.0] * 20, CONTROL), against=HOLDOUT).verdict
    assert "in the holdout and as many personalised" in text and "arm" not in text


def test_a_lift_over_a_baseline_without_revenue_is_money(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRICE_FORMAT": "€{amount}"}
    code, text = verdict("Personalisation", Interval(2.5, 1.0, 4.0, 0.01), 0.0, True, 0.95, against=HOLDOUT)
    assert code == "better" and "+€2.50 (95% confidence: +€1.00 to +€4.00)" in text


@pytest.mark.django_db
def test_impact_results_use_the_holdout_wording(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 50, "CAMPAIGN_MIN_SAMPLE": 10, "CAMPAIGN_MIN_CONVERSIONS": 5}
    groups: dict[bool, list] = {True: [], False: []}
    while min(len(groups[True]), len(groups[False])) < 20:
        shopper = Shopper.objects.create()
        groups[in_holdout(shopper)].append(shopper)
    for shopper in groups[False][:20]:
        Event.objects.create(shopper=shopper, kind="purchase", value=Decimal("40"))
    for shopper in groups[True][:2]:
        Event.objects.create(shopper=shopper, kind="purchase", value=Decimal("10"))
    results, _meta = holdout_results(30)
    assert results.comparisons[0].verdict_code == "better"
    assert "than the holdout, who see no personalisation" in results.comparisons[0].verdict
