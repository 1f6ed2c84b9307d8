"""Campaign results and the store-wide holdout's result, with confidence intervals.

Method (docs/campaigns.md, "Reading the results"):

* The unit is the shopper. A shopper belongs to the arm they were assigned (a variant or the
  control) the first time they were eligible; their revenue is the sum of all their purchases
  from first exposure until ``ATTRIBUTION_WINDOW_HOURS`` after the last one (0 if none), the
  same in every arm. Credit (``personalize.attribution``) is reported beside it, never used for it.
* Revenue per shopper: difference of means, variant minus control, with a Welch t-interval
  (unequal variances, Welch-Satterthwaite degrees of freedom) and its two-sided p-value.
* Conversion rate (share of shoppers with at least one purchase in that span): difference of
  proportions with a Wald interval and the pooled two-proportion z-test's p-value.
* Relative lift = difference / control's value; its interval divides the difference's interval
  by the control's value (treating the control's mean as known: an approximation that is good
  once the sample is large enough for a verdict).
* Verdict: "not enough data yet" until every compared arm has ``CAMPAIGN_MIN_SAMPLE`` shoppers
  and the pair ``CAMPAIGN_MIN_CONVERSIONS`` conversions; then better/worse when the revenue
  interval excludes 0, else "no clear difference".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from scipy import stats as sps

from personalize import exposures
from personalize.conf import personalize_settings as ps
from personalize.holdout import in_holdout
from personalize.models import CONTROL, Campaign, CampaignAssignment, Event, EventKind, Shopper
from personalize.pricing import format_price


@dataclass(frozen=True)
class Interval:
    """A difference (treatment minus control) with its confidence interval and p-value."""

    diff: float
    low: float
    high: float
    p_value: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def welch_interval(
    mean_t: float, var_t: float, n_t: int, mean_c: float, var_c: float, n_c: int, confidence: float = 0.95
) -> Interval:
    """Welch's t-interval for ``mean_t - mean_c`` from summary statistics (sample variances)."""
    diff = mean_t - mean_c
    if n_t < 2 or n_c < 2:
        return Interval(diff, -math.inf, math.inf, 1.0)
    se_t, se_c = var_t / n_t, var_c / n_c
    se2 = se_t + se_c
    if se2 <= 0:  # no variance at all: the difference is exact
        return Interval(diff, diff, diff, 0.0 if diff else 1.0)
    df = se2**2 / ((se_t**2) / (n_t - 1) + (se_c**2) / (n_c - 1))
    margin = sps.t.ppf(0.5 + confidence / 2, df) * math.sqrt(se2)
    p_value = float(2 * sps.t.sf(abs(diff) / math.sqrt(se2), df))
    return Interval(diff, diff - margin, diff + margin, p_value)


def proportion_interval(x_t: int, n_t: int, x_c: int, n_c: int, confidence: float = 0.95) -> Interval:
    """Wald interval for ``p_t - p_c`` with the pooled two-proportion z-test's p-value."""
    if not n_t or not n_c:
        return Interval(0.0, -math.inf, math.inf, 1.0)
    p_t, p_c = x_t / n_t, x_c / n_c
    diff = p_t - p_c
    z = sps.norm.ppf(0.5 + confidence / 2)
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    pooled = (x_t + x_c) / (n_t + n_c)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    p_value = float(2 * sps.norm.sf(abs(diff) / se_pooled)) if se_pooled > 0 else 1.0
    return Interval(diff, diff - z * se, diff + z * se, p_value)


@dataclass
class ArmResult:
    """One arm's numbers: a variant, the control, or a holdout group."""

    arm: str
    shoppers: int = 0
    impressions: int = 0
    clicks: int = 0
    converters: int = 0
    conversions: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0  # sum over shoppers of (revenue of the shopper)^2

    @property
    def is_control(self) -> bool:
        return self.arm == CONTROL

    @property
    def revenue_per_shopper(self) -> float:
        return self.revenue / self.shoppers if self.shoppers else 0.0

    @property
    def revenue_variance(self) -> float:
        n = self.shoppers
        if n < 2:
            return 0.0
        mean = self.revenue / n
        return max(0.0, (self.revenue_sq - n * mean * mean) / (n - 1))

    @property
    def conversion_rate(self) -> float:
        return self.converters / self.shoppers if self.shoppers else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


@dataclass
class Comparison:
    """A treatment arm against the control: lifts with intervals and a verdict."""

    arm: str
    revenue: Interval
    conversion: Interval
    control_revenue_per_shopper: float
    control_conversion_rate: float
    enough_data: bool
    verdict: str
    verdict_code: str  # "not_enough_data", "better", "worse", "no_difference"

    @property
    def revenue_lift(self) -> float | None:
        """Relative lift of revenue per shopper (0.12 = +12%); None without control revenue."""
        base = self.control_revenue_per_shopper
        return self.revenue.diff / base if base else None

    @property
    def revenue_lift_interval(self) -> tuple[float, float] | None:
        base = self.control_revenue_per_shopper
        return (self.revenue.low / base, self.revenue.high / base) if base else None

    @property
    def conversion_lift(self) -> float | None:
        base = self.control_conversion_rate
        return self.conversion.diff / base if base else None


@dataclass
class Results:
    arms: list[ArmResult] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    control_percent: float = 0
    # Why there is no comparison (no control share, an empty arm, the holdout off), for the page.
    missing: str = ""

    @property
    def control(self) -> ArmResult | None:
        return next((a for a in self.arms if a.is_control), None)


CONTROL_GROUP, HOLDOUT = "control", "holdout"


def compare(treatment: ArmResult, control: ArmResult, *, label: str | None = None, against: str = CONTROL_GROUP) -> Comparison:
    """Lift of ``treatment`` over ``control`` with intervals and a plain-language verdict.

    ``against`` names what ``control`` is in the sentences: a campaign's control group
    (``CONTROL_GROUP``) or the store-wide holdout (``HOLDOUT``), which sees no personalisation.
    """
    confidence = float(ps.CAMPAIGN_CONFIDENCE)
    revenue = welch_interval(
        treatment.revenue_per_shopper,
        treatment.revenue_variance,
        treatment.shoppers,
        control.revenue_per_shopper,
        control.revenue_variance,
        control.shoppers,
        confidence,
    )
    conversion = proportion_interval(
        treatment.converters, treatment.shoppers, control.converters, control.shoppers, confidence
    )
    enough = (
        min(treatment.shoppers, control.shoppers) >= ps.CAMPAIGN_MIN_SAMPLE
        and treatment.converters + control.converters >= ps.CAMPAIGN_MIN_CONVERSIONS
    )
    code, text = verdict(label or treatment.arm, revenue, control.revenue_per_shopper, enough, confidence, against=against)
    if not enough and against == HOLDOUT:
        text = _(
            "Not enough data yet: a verdict needs %(sample)d shoppers in the holdout and as many personalised "
            "(the smaller group has %(n)d) and %(conversions)d buyers in both together (now %(buyers)d)."
        ) % {
            "sample": ps.CAMPAIGN_MIN_SAMPLE,
            "n": min(treatment.shoppers, control.shoppers),
            "conversions": ps.CAMPAIGN_MIN_CONVERSIONS,
            "buyers": treatment.converters + control.converters,
        }
    elif not enough:
        text = _(
            "Not enough data yet: a verdict needs %(sample)d shoppers in each arm (the smaller has %(n)d) and "
            "%(conversions)d buyers in both together (now %(buyers)d)."
        ) % {
            "sample": ps.CAMPAIGN_MIN_SAMPLE,
            "n": min(treatment.shoppers, control.shoppers),
            "conversions": ps.CAMPAIGN_MIN_CONVERSIONS,
            "buyers": treatment.converters + control.converters,
        }
    return Comparison(
        arm=treatment.arm,
        revenue=revenue,
        conversion=conversion,
        control_revenue_per_shopper=control.revenue_per_shopper,
        control_conversion_rate=control.conversion_rate,
        enough_data=enough,
        verdict=text,
        verdict_code=code,
    )


def _signed_money(value: float) -> str:
    """``+€5.00`` / ``−€5.00``: a difference of money in the store's format."""
    return ("+" if value >= 0 else "−") + format_price(round(abs(value), 2))


def verdict(
    label: str, revenue: Interval, base: float, enough: bool, confidence: float, *, against: str = CONTROL_GROUP
) -> tuple[str, str]:
    """``(code, sentence)`` for a marketer, naming what the arm is compared with."""
    if not enough:
        return "not_enough_data", _("Not enough data yet.")
    level = round(confidence * 100)
    values = {"label": label, "level": level}
    if base:
        values.update(
            lift=f"{revenue.diff / base:+.1%}", low=f"{revenue.low / base:+.1%}", high=f"{revenue.high / base:+.1%}"
        )
    else:  # no revenue in the baseline: an amount per shopper, not a percentage of nothing
        values.update(lift=_signed_money(revenue.diff), low=_signed_money(revenue.low), high=_signed_money(revenue.high))
    code = "better" if revenue.low > 0 else "worse" if revenue.high < 0 else "no_difference"
    if against == HOLDOUT:
        sentences = {
            "better": _(
                "%(label)s earns more per shopper than the holdout, who see no personalisation: %(lift)s "
                "(%(level)s%% confidence: %(low)s to %(high)s)."
            ),
            "worse": _(
                "%(label)s earns less per shopper than the holdout, who see no personalisation: %(lift)s "
                "(%(level)s%% confidence: %(low)s to %(high)s)."
            ),
            "no_difference": _(
                "No clear difference yet between personalised shoppers and the holdout, who see no personalisation: "
                "%(lift)s (%(level)s%% confidence: %(low)s to %(high)s)."
            ),
        }
    else:
        sentences = {
            "better": _(
                "%(label)s earns more per shopper than the control: %(lift)s (%(level)s%% confidence: %(low)s to %(high)s)."
            ),
            "worse": _(
                "%(label)s earns less per shopper than the control: %(lift)s (%(level)s%% confidence: %(low)s to %(high)s)."
            ),
            "no_difference": _(
                "No clear difference between %(label)s and the control yet: %(lift)s (%(level)s%% confidence: %(low)s to %(high)s)."
            ),
        }
    return code, sentences[code] % values


def revenue_cap(totals: list[float]) -> float:
    """The winsorising cap: ``RESULTS_REVENUE_CAP_PERCENTILE`` of the buyers' revenues (inf: none).

    Revenue per shopper is heavy-tailed; capping the few largest buyers at a high percentile (a
    standard variance reduction in A/B testing) keeps one big order from deciding a test.
    """
    percentile = ps.RESULTS_REVENUE_CAP_PERCENTILE
    buyers = sorted(t for t in totals if t > 0)
    if not percentile or percentile >= 100 or len(buyers) < 100:
        return math.inf
    rank = (len(buyers) - 1) * float(percentile) / 100
    low = int(math.floor(rank))
    high = min(low + 1, len(buyers) - 1)
    return buyers[low] + (buyers[high] - buyers[low]) * (rank - low)


def _add_shopper(arm: ArmResult, count: int, total: float, cap: float = math.inf) -> None:
    """One shopper's purchases (``count`` of them, worth ``total``, counted up to ``cap``) into
    the arm's sums."""
    total = min(total, cap)
    if count:
        arm.converters += 1
        arm.conversions += count
        arm.revenue += total
        arm.revenue_sq += total * total


def _exposed_purchases(campaign: Campaign):
    """Per assignment: its arm, impressions, clicks, and all of the shopper's purchases from first
    exposure until the attribution window after the last one (count, total).

    Every arm is measured the same way (the control is exposed too, it just sees nothing), so the
    difference between arms is what the campaign caused. Purchases after a login merge are on
    the account's shopper: they follow ``merged_into``.
    """
    window = timedelta(hours=float(ps.ATTRIBUTION_WINDOW_HOURS))
    purchases = (
        Event.objects.filter(
            kind=EventKind.PURCHASE,
            shopper_id=OuterRef("owner"),
            created_at__gte=OuterRef("first_seen"),
            created_at__lte=OuterRef("until"),
        )
        .order_by()
        .values("shopper_id")
    )
    return (
        CampaignAssignment.objects.filter(campaign=campaign)
        .annotate(
            owner=Coalesce("shopper__merged_into_id", "shopper_id"),
            until=ExpressionWrapper(F("last_seen") + Value(window), output_field=DateTimeField()),
        )
        .annotate(
            n=Subquery(purchases.annotate(n=Count("pk")).values("n")[:1]),
            total=Subquery(purchases.annotate(t=Sum("value")).values("t")[:1]),
        )
        .values_list("arm", "impressions", "clicks", "n", "total")
    )


def campaign_results(campaign: Campaign) -> Results:
    """Per arm: shoppers, impressions, clicks, buyers, orders and revenue; each variant vs control.

    No comparison (and a ``missing`` sentence saying why) when the campaign has no control share
    or an arm has fewer than two shoppers: a lift computed on nothing would look like a result.
    """
    exposures.flush()  # this process's buffered exposures count too (other processes' within seconds)
    arms: dict[str, ArmResult] = {}
    rows = [
        (arm_name, impressions or 0, clicks or 0, int(count or 0), float(total or 0))
        for arm_name, impressions, clicks, count, total in _exposed_purchases(campaign).iterator(chunk_size=5000)
    ]
    cap = revenue_cap([row[4] for row in rows])
    for arm_name, impressions, clicks, count, total in rows:
        arm = arms.setdefault(arm_name, ArmResult(arm=arm_name))
        arm.shoppers += 1
        arm.impressions += impressions
        arm.clicks += clicks
        _add_shopper(arm, count, total, cap)
    ordered = sorted(arms.values(), key=lambda a: (a.is_control, a.arm))
    results = Results(arms=ordered, control_percent=campaign.control_percent)
    control = results.control
    treated = [a for a in ordered if not a.is_control]
    if not campaign.control_percent and control is None:
        results.missing = _(
            "This campaign has no control group, so its lift cannot be measured: give it a control share "
            "(e.g. 10%) to compare with shoppers who do not see it."
        )
    elif not ordered:
        results.missing = _("No shopper has seen this campaign yet.")
    elif control is None or control.shoppers < 2:
        results.missing = _(
            "The control group (%(percent)s%% of shoppers) has %(n)d shoppers so far: the lift appears once "
            "both the control and the variants have shoppers."
        ) % {"percent": campaign.control_percent, "n": control.shoppers if control else 0}
    elif not any(a.shoppers >= 2 for a in treated):
        results.missing = _("No variant has two shoppers yet: the lift appears once shoppers have seen the campaign.")
    else:
        for arm in treated:
            if arm.shoppers >= 2:
                label = _("Variant %(key)s") % {"key": arm.arm}
                results.comparisons.append(compare(arm, control, label=label))
    return results


def holdout_results(days: int = 30) -> tuple[Results, dict]:
    """The store-wide holdout against everyone else, over shoppers seen in the last ``days``.

    Revenue is every purchase of those shoppers in the period (not only attributed ones): the
    holdout saw no personalisation at all, so the whole difference is what it earns.
    """
    since = timezone.now() - timedelta(days=days)
    groups = {"holdout": ArmResult(arm="holdout"), "personalised": ArmResult(arm="personalised")}
    membership: dict[int, str] = {}
    for shopper in Shopper.objects.filter(last_seen__gte=since, merged_into__isnull=True).only("pk", "key").iterator(
        chunk_size=5000
    ):
        group = "holdout" if in_holdout(shopper) else "personalised"
        membership[shopper.pk] = group
        groups[group].shoppers += 1
    totals = (
        Event.objects.filter(kind=EventKind.PURCHASE, created_at__gte=since)
        .values_list("shopper_id")
        .annotate(n=Count("pk"), total=Sum("value"))
    )
    rows = [(membership.get(shopper_id), count, float(total or Decimal("0"))) for shopper_id, count, total in totals]
    rows = [row for row in rows if row[0] is not None]
    cap = revenue_cap([row[2] for row in rows])
    for group, count, total in rows:
        _add_shopper(groups[group], count, total, cap)
    treated, held = groups["personalised"], groups["holdout"]
    results = Results(arms=[treated, held], control_percent=float(ps.HOLDOUT_PERCENT or 0))
    if not ps.HOLDOUT_PERCENT:
        results.missing = _(
            "The store-wide holdout is off, so there is nothing to compare with: set "
            "PERSONALIZE[\"HOLDOUT_PERCENT\"] (e.g. 10) and the impact appears as shoppers arrive."
        )
    elif held.shoppers < 2 or treated.shoppers < 2:
        results.missing = _(
            "The holdout (%(percent)s%% of shoppers) has %(n)d shoppers seen in the period: the impact appears "
            "once both groups have shoppers."
        ) % {"percent": ps.HOLDOUT_PERCENT, "n": held.shoppers}
    else:
        # Comparison against the holdout: reuse the campaign machinery with the holdout as control.
        held_as_control = ArmResult(**{**held.__dict__, "arm": CONTROL})
        results.comparisons.append(compare(treated, held_as_control, label=_("Personalisation"), against=HOLDOUT))
    return results, {"days": days, "since": since, "percent": ps.HOLDOUT_PERCENT}
