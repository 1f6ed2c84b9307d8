"""What the campaign page and the impact page show: arms, lift (only with data), credit, charts.

The numbers come from ``campaigns.stats`` (lift, measured over each arm's purchases) and
``personalize.attribution`` (credit, the one rule); this module only shapes them for templates.
No lift, interval, p-value or chart is shown when the comparison lacks the data for a verdict;
the page says what is missing instead.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from personalize import attribution
from personalize.admin.widgets import money
from personalize.campaigns.stats import campaign_results, holdout_results
from personalize.conf import personalize_settings as ps
from personalize.models import Campaign


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def arm_row(arm, label: str = "") -> dict[str, Any]:
    return {
        "arm": arm.arm,
        "label": label or arm.arm,
        "shoppers": arm.shoppers,
        "impressions": arm.impressions,
        "clicks": arm.clicks,
        "click_rate": arm.click_rate * 100,
        "converters": arm.converters,
        "conversions": arm.conversions,
        "conversion_rate": arm.conversion_rate * 100,
        "revenue": arm.revenue,
        "revenue_text": money(round(arm.revenue, 2)),
        "revenue_per_shopper": arm.revenue_per_shopper,
        "revenue_per_shopper_text": money(round(arm.revenue_per_shopper, 2)),
    }


def lift_row(comparison) -> dict[str, Any]:
    interval = comparison.revenue_lift_interval
    low, high = _finite(comparison.revenue.low), _finite(comparison.revenue.high)
    return {
        "arm": comparison.arm,
        "revenue_diff": comparison.revenue.diff,
        "revenue_diff_text": money(round(comparison.revenue.diff, 2)),
        "revenue_low": low,
        "revenue_high": high,
        "revenue_low_text": money(round(low, 2)) if low is not None else "",
        "revenue_high_text": money(round(high, 2)) if high is not None else "",
        "revenue_p": comparison.revenue.p_value,
        "revenue_lift": None if comparison.revenue_lift is None else comparison.revenue_lift * 100,
        "revenue_lift_low": None if interval is None or not math.isfinite(interval[0]) else interval[0] * 100,
        "revenue_lift_high": None if interval is None or not math.isfinite(interval[1]) else interval[1] * 100,
        "conversion_diff": comparison.conversion.diff * 100,
        "conversion_low": _finite(comparison.conversion.low * 100) if math.isfinite(comparison.conversion.low) else None,
        "conversion_high": _finite(comparison.conversion.high * 100) if math.isfinite(comparison.conversion.high) else None,
        "conversion_p": comparison.conversion.p_value,
        "verdict": comparison.verdict,
        "verdict_code": comparison.verdict_code,
        "enough_data": comparison.enough_data,
    }


def _chart(labels: list[str], arms: list, lifts: list[dict[str, Any]], lift_labels: list[str], versus: str) -> dict[str, Any]:
    return {
        "labels": labels,
        "datasets": {
            "revenue_per_shopper": [round(a.revenue_per_shopper, 2) for a in arms],
            "conversion_rate": [round(a.conversion_rate * 100, 2) for a in arms],
        },
        "lift": {
            "labels": lift_labels,
            "ranges": [[round(c["revenue_low"], 2), round(c["revenue_high"], 2)] for c in lifts],
            "points": [round(c["revenue_diff"], 2) for c in lifts],
        },
        "text": {"revenue": _("Revenue per shopper"), "conversion": _("Conversion rate (%)"), "lift": versus},
        "money_format": str(ps.PRICE_FORMAT),  # axis and tooltip amounts as the store writes them
    }


def credited(since=None) -> dict[int, attribution.Credit]:
    """Credits of the purchases since ``since`` (all when None): the one attribution rule."""
    purchases = attribution.in_period(since) if since is not None else None
    return attribution.credits(purchases)


def results_context(campaign: Campaign) -> dict[str, Any]:
    """Arms, verdicts, lifts (only with data), what is credited to the campaign, and the chart."""
    results = campaign_results(campaign)
    labels = [_("control") if a.is_control else _("Variant %(key)s") % {"key": a.arm} for a in results.arms]
    all_lifts = [lift_row(c) for c in results.comparisons]
    lifts = [c for c in all_lifts if c["enough_data"] and c["revenue_low"] is not None]
    found = credited(campaign.starts_at).values()
    mine = [c for c in found if attribution.campaign_of(c) == campaign.pk]
    by_arm = attribution.totals(mine, lambda c: c.arm or "")
    rows = [dict(arm_row(a, label), credited_orders=by_arm.get(a.arm, {}).get("orders", 0)) for a, label in zip(results.arms, labels)]
    return {
        "campaign_results": results,
        "result_rows": rows,
        "result_verdicts": list(dict.fromkeys(c["verdict"] for c in all_lifts)),
        "result_lifts": lifts,
        "result_missing": results.missing,
        "result_control_percent": campaign.control_percent,
        "result_chart": _chart(labels, results.arms, lifts, [_("Variant %(key)s") % {"key": c["arm"]} for c in lifts],
                               _("Extra revenue per shopper vs control (confidence interval)")),
        "result_credited": {
            "orders": len(mine),
            "revenue": money(sum((c.value for c in mine), start=0)),
            "by_code": sum(1 for c in mine if c.channel == attribution.OFFER),
            "by_click": sum(1 for c in mine if c.channel == attribution.CAMPAIGN),
        },
        "attribution_hours": ps.ATTRIBUTION_WINDOW_HOURS,
        "impact_url": reverse("admin:personalize_campaign_impact"),
        "dashboard_url": reverse("admin:personalize_campaign_dashboard"),
    }


def impact_context(days: int) -> dict[str, Any]:
    """The store-wide holdout against everyone else, and what each channel was credited."""
    results, meta = holdout_results(days)
    comparison = results.comparisons[0] if results.comparisons else None
    lift = lift_row(comparison) if comparison is not None else None
    lifts = [dict(lift, arm=_("Personalisation"))] if lift and lift["enough_data"] and lift["revenue_low"] is not None else []
    labels = [_("Personalised") if a.arm == "personalised" else _("Holdout") for a in results.arms]
    found = credited(timezone.now() - timedelta(days=days)).values()
    channels = attribution.totals(found, lambda c: c.channel)
    return {
        "results": results,
        "comparison": comparison,
        "missing": results.missing,
        "verdict": lift["verdict"] if lift else "",
        "rows": [arm_row(a, label) for a, label in zip(results.arms, labels)],
        "lift": lifts[0] if lifts else None,
        "impact_lifts": lifts,
        "baseline_label": _("Compared with the holdout"),
        "chart": _chart(labels, results.arms, lifts, [_("Personalisation")] if lifts else [],
                        _("Extra revenue per shopper vs holdout (confidence interval)")),
        "meta": meta,
        "holdout_percent": ps.HOLDOUT_PERCENT,
        "channels": [
            {"label": str(label), "orders": channels.get(key, {}).get("orders", 0), "revenue": money(channels.get(key, {}).get("revenue", 0))}
            for key, label in attribution.CHANNELS.items()
        ],
        "attribution_hours": ps.ATTRIBUTION_WINDOW_HOURS,
    }
