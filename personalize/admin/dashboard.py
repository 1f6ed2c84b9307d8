"""Admin → "Is personalisation paying off?": one page with what personalisation earned.

Incremental revenue against the store-wide holdout (with its interval), revenue credited by the
one attribution rule per channel over time (a date range), CTR per placement, the biggest
materialised segments with their conversion, and model quality per version. Every number comes
from the functions the other reports use (``campaigns.stats``, ``attribution``,
``placements.attribution``), so the dashboard never disagrees with them.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from personalize import attribution
from personalize.admin.periods import REPORT_PERIODS
from personalize.admin.widgets import money
from personalize.campaigns.stats import holdout_results
from personalize.conf import personalize_settings as ps
from personalize.models import EventKind, ModelVersion, Segment, SegmentMembership
from personalize.placements.attribution import performance

MAX_RANGE_DAYS = 366
TOP_SEGMENTS = 8
METRICS = ("ndcg@10", "precision@10", "recall@10", "coverage")


def date_range(request: HttpRequest, today: date | None = None) -> dict[str, Any]:
    """``?from=&to=`` (dates, inclusive) or ``?days=``; a bad range falls back to 30 days with a message."""
    today = today or timezone.localdate()
    error = ""
    start = parse_date(request.GET.get("from") or "") if request.GET.get("from") else None
    end = parse_date(request.GET.get("to") or "") if request.GET.get("to") else None
    if (request.GET.get("from") and start is None) or (request.GET.get("to") and end is None):
        error, start, end = _("Dates are written YYYY-MM-DD; showing the last 30 days."), None, None
    if start is None and end is None:
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        days = days if 1 <= days <= MAX_RANGE_DAYS else 30
        start, end = today - timedelta(days=days - 1), today
    start, end = start or (end - timedelta(days=29)), end or today
    if end < start:
        error, start, end = _("The end is before the start; the dates were swapped."), end, start
    if (end - start).days >= MAX_RANGE_DAYS:
        error, start = _("At most a year at a time."), end - timedelta(days=MAX_RANGE_DAYS - 1)
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start, dtime.min), tz)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), dtime.min), tz)
    return {"start": start, "end": end, "since": since, "until": until, "days": (end - start).days + 1, "error": error}


def incremental(days: int) -> dict[str, Any]:
    """Extra revenue of the personalised shoppers over what they would have spent as the holdout."""
    results, meta = holdout_results(days)
    comparison = results.comparisons[0] if results.comparisons else None
    treated = next((a for a in results.arms if a.arm == "personalised"), None)
    held = next((a for a in results.arms if a.arm == "holdout"), None)
    out: dict[str, Any] = {
        "comparison": None,
        "missing": results.missing,
        "personalised_shoppers": treated.shoppers if treated else 0,
        "holdout_shoppers": held.shoppers if held else 0,
        "level": round(float(ps.CAMPAIGN_CONFIDENCE) * 100),
    }
    if comparison is None or not comparison.enough_data or not math.isfinite(comparison.revenue.low):
        if comparison is not None and not out["missing"]:
            out["missing"] = comparison.verdict
        return out
    n = treated.shoppers
    out.update(
        comparison=comparison,
        incremental=money(Decimal(str(round(comparison.revenue.diff * n, 2)))),
        incremental_low=money(Decimal(str(round(comparison.revenue.low * n, 2)))),
        incremental_high=money(Decimal(str(round(comparison.revenue.high * n, 2)))),
        incremental_value=comparison.revenue.diff * n,
    )
    return out


def attributed_series(since: datetime, until: datetime, credits: dict) -> dict[str, Any]:
    """Credited revenue per day and channel in [since, until)."""
    start = timezone.localdate(since)
    days = max(1, (timezone.localdate(until - timedelta(microseconds=1)) - start).days + 1)
    labels = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    values: dict[str, list[float]] = {channel: [0.0] * days for channel in attribution.CHANNELS}
    totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"orders": 0, "revenue": Decimal("0")})
    for credit in credits.values():
        index = (timezone.localdate(credit.purchased_at) - start).days
        if 0 <= index < days:
            values[credit.channel][index] += float(credit.value)
        totals[credit.channel]["orders"] += 1
        totals[credit.channel]["revenue"] += credit.value
    channels = [
        {"channel": c, "label": str(label), "orders": totals[c]["orders"], "revenue": totals[c]["revenue"],
         "revenue_text": money(totals[c]["revenue"])}
        for c, label in attribution.CHANNELS.items()
    ]
    return {
        "labels": labels,
        "datasets": [{"label": str(label), "values": [round(v, 2) for v in values[c]]} for c, label in attribution.CHANNELS.items()],
        "channels": channels,
        "total_orders": sum(t["orders"] for t in totals.values()),
    }


def placement_rows(since: datetime, until: datetime, credits: dict) -> tuple[list[dict[str, Any]], list]:
    """CTR per placement, and the performance rows (per placement/model/variant) behind it."""
    rows = performance(since, until, found=credits)
    by_placement: dict[str, dict[str, Any]] = {}
    for row in rows:
        acc = by_placement.setdefault(row.placement, {"placement": row.placement, "impressions": 0, "clicks": 0, "orders": 0})
        acc["impressions"] += row.impressions
        acc["clicks"] += row.clicks
        acc["orders"] += row.orders
    out = []
    for acc in sorted(by_placement.values(), key=lambda a: -a["impressions"]):
        if acc["impressions"]:
            acc["ctr"] = acc["clicks"] / acc["impressions"] * 100
            out.append(acc)
    return out, rows


def segment_rows(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The biggest materialised segments, and the share of members who bought in the period."""
    segments = list(
        Segment.objects.filter(is_active=True)
        .annotate(size=Count("memberships"))
        .filter(size__gt=0)
        .order_by("-size", "name")[:TOP_SEGMENTS]
    )
    if not segments:
        return []
    buyers = dict(
        SegmentMembership.objects.filter(segment__in=segments)
        .values("segment_id")
        .annotate(
            n=Count(
                "shopper",
                distinct=True,
                filter=Q(
                    shopper__events__kind=EventKind.PURCHASE,
                    shopper__events__created_at__gte=since,
                    shopper__events__created_at__lt=until,
                ),
            )
        )
        .values_list("segment_id", "n")
    )
    return [
        {"name": s.name, "size": s.size, "buyers": buyers.get(s.pk, 0), "conversion": buyers.get(s.pk, 0) / s.size * 100}
        for s in segments
    ]


def model_rows(rows: list) -> list[dict[str, Any]]:
    """Per model version that served in the period: impressions, CTR, credited orders, offline metrics."""
    served: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.model_version:
            continue
        acc = served.setdefault(row.model_version, {"version": row.model_version, "impressions": 0, "clicks": 0, "orders": 0})
        acc["impressions"] += row.impressions
        acc["clicks"] += row.clicks
        acc["orders"] += row.orders
    ids = [int(v) for v in served if v.isdigit()]
    versions = ModelVersion.objects.in_bulk(ids) if ids else {}
    out = []
    for key, acc in sorted(served.items()):
        version = versions.get(int(key)) if key.isdigit() else None
        acc["version"] = str(version) if version is not None else key
        acc["ctr"] = acc["clicks"] / acc["impressions"] * 100 if acc["impressions"] else None
        acc["metrics"] = [version.metric(name) if version is not None else None for name in METRICS]
        out.append(acc)
    return out


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    started = time.perf_counter()
    span = date_range(request)
    impact = incremental(min(max(span["days"], 1), MAX_RANGE_DAYS))
    credits = attribution.credits(attribution.in_period(span["since"], span["until"]))  # once for both
    series = attributed_series(span["since"], span["until"], credits)
    placements, performance_rows = placement_rows(span["since"], span["until"], credits)
    context = {
        "title": _("Is personalisation paying off?"),
        "range": span,
        "periods": REPORT_PERIODS,
        "impact": impact,
        "series": series,
        "placements": placements,
        "segments": segment_rows(span["since"], span["until"]),
        "models": model_rows(performance_rows),
        "model_metric_names": METRICS,
        "chart": {
            "series": {"labels": series["labels"], "datasets": series["datasets"]},
            "ctr": {"labels": [p["placement"] for p in placements], "values": [round(p["ctr"], 2) for p in placements]},
            "text": {"revenue": _("Credited revenue"), "ctr": _("Click-through rate (%)")},
            "money_format": str(ps.PRICE_FORMAT),  # axis and tooltip amounts as the store writes them
        },
    }
    context["render_ms"] = round((time.perf_counter() - started) * 1000)
    return context
