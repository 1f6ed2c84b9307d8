"""Recommendation performance: impressions, clicks, CTR, attributed orders and revenue.

Grouped by placement, model version and variant (the keys every impression and click carries
in its context). Orders are credited by the one attribution rule (``personalize.attribution``).
A few aggregate queries, however many events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.utils import timezone

from personalize import attribution
from personalize.models import Event, EventKind
from personalize.placements.config import placement_configs

GROUP = ("placement", "model_version", "variant")


@dataclass
class PerformanceRow:
    placement: str
    model_version: str
    variant: str
    impressions: int = 0
    clicks: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0")

    @property
    def ctr(self) -> float | None:
        """Clicks per impression (``None`` without impressions)."""
        return self.clicks / self.impressions if self.impressions else None

    @property
    def ctr_percent(self) -> float | None:
        return None if self.ctr is None else self.ctr * 100

    @property
    def conversion(self) -> float | None:
        """Attributed orders per click."""
        return self.orders / self.clicks if self.clicks else None


def _key(placement: str | None, version: str | None, variant: str | None) -> tuple[str, str, str]:
    return (placement or "", version or "", variant or "")


def performance(since: datetime, until: datetime | None = None, *, found: dict | None = None) -> list[PerformanceRow]:
    """One row per (placement, model version, variant) with activity in [since, until)."""
    until = until or timezone.now()
    rows: dict[tuple[str, str, str], PerformanceRow] = {}

    def row(key: tuple[str, str, str]) -> PerformanceRow:
        if key not in rows:
            rows[key] = PerformanceRow(*key)
        return rows[key]

    activity = (
        Event.objects.filter(
            kind__in=(EventKind.IMPRESSION, EventKind.REC_CLICK), created_at__gte=since, created_at__lt=until
        )
        .annotate(placement=KT("context__placement"), model_version=KT("context__model_version"), variant=KT("context__variant"))
        .filter(placement__isnull=False)
        .values(*GROUP)
        .annotate(
            impressions=Count("id", filter=Q(kind=EventKind.IMPRESSION)),
            clicks=Count("id", filter=Q(kind=EventKind.REC_CLICK)),
        )
        .order_by()
    )
    for item in activity:
        target = row(_key(item["placement"], item["model_version"], item["variant"]))
        target.impressions += item["impressions"]
        target.clicks += item["clicks"]

    for item in attributed_orders(since, until, found=found):
        target = row(_key(item["placement"], item["model_version"], item["variant"]))
        target.orders += item["orders"]
        target.revenue += item["revenue"] or Decimal("0")
    return sorted(rows.values(), key=lambda r: (r.placement, r.model_version, r.variant))


def attributed_orders(since: datetime, until: datetime, *, found: dict | None = None) -> list[dict]:
    """Purchases in [since, until) credited to a recommendation by the one attribution rule
    (``personalize.attribution``: a redeemed code or a later campaign/email click wins),
    grouped by the clicked list's placement, model version and variant. ``found``: the period's
    credits when the caller already has them (the dashboard), so they are computed once."""
    found = (found if found is not None else attribution.credits(attribution.in_period(since, until))).values()
    groups = attribution.totals(
        (c for c in found if c.channel == attribution.RECOMMENDATION), lambda c: (c.placement, c.model_version, c.variant)
    )
    return [
        {"placement": key[0], "model_version": key[1], "variant": key[2], "orders": v["orders"], "revenue": v["revenue"]}
        for key, v in groups.items()
    ]


@dataclass
class VariantSummary:
    """One A/B variant of a placement over the period (all model versions together)."""

    placement: str
    variant: str
    impressions: int = 0
    clicks: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0")
    control: bool = False
    # Two-sided Fisher exact test of this variant's CTR against the control's (None: n/a).
    p_value: float | None = None

    @property
    def ctr_percent(self) -> float | None:
        return self.clicks / self.impressions * 100 if self.impressions else None

    @property
    def revenue_per_click(self) -> Decimal | None:
        return (self.revenue / self.clicks).quantize(Decimal("0.01")) if self.clicks else None


def variant_summaries(rows: list[PerformanceRow]) -> list[VariantSummary]:
    """Per placement with two or more variants: each variant's totals and its CTR test.

    The control is the first variant of the placement's configuration (else the first by
    name); a low ``p_value`` means the CTR difference is unlikely to be chance.
    """
    from scipy.stats import fisher_exact

    totals: dict[tuple[str, str], VariantSummary] = {}
    for row in rows:
        if not row.variant or row.variant == "holdout":
            continue
        summary = totals.setdefault((row.placement, row.variant), VariantSummary(row.placement, row.variant))
        summary.impressions += row.impressions
        summary.clicks += row.clicks
        summary.orders += row.orders
        summary.revenue += row.revenue
    configs = placement_configs()
    result: list[VariantSummary] = []
    for placement in sorted({p for p, _v in totals}):
        variants = [s for (p, _v), s in totals.items() if p == placement]
        if len(variants) < 2:
            continue
        order = [str(v.get("name")) for v in (configs.get(placement, {}).get("variants") or []) if isinstance(v, dict)]
        variants.sort(key=lambda s: (order.index(s.variant) if s.variant in order else len(order), s.variant))
        control = variants[0]
        control.control = True
        for summary in variants[1:]:
            if 0 < summary.clicks <= summary.impressions and control.clicks <= control.impressions and control.impressions:
                table = [
                    [summary.clicks, summary.impressions - summary.clicks],
                    [control.clicks, control.impressions - control.clicks],
                ]
                summary.p_value = float(fisher_exact(table).pvalue)
        result.extend(variants)
    return result
