"""What personalisation did in the demo's history: holdout, recommendations, a campaign with a control.

The history simulator (``demo_data.Simulator``) asks :class:`PersonalisationSim` at the start of
each session what the shopper was shown, and at each purchase which code was redeemed. The
effects are the ones a store hopes for, so the admin's results have something real to measure:

* shoppers in the store-wide holdout (``HOLDOUT_PERCENT``, sticky per shopper key, as on the
  live site) see neutral lists and no campaign; they click recommendations rarely and buy at
  the base rate;
* everyone else sees personal lists ("for you" on every visit, "similar" on product pages) from
  model version ``demo-1`` (older weeks) or the better ``demo-2`` (the last four weeks); a click
  puts a relevant item in front of the shopper and makes a cart (and a purchase) likelier;
* the "First visit: 10% off" campaign splits first visits by its own sticky hash (the same
  ``arm_for`` the shop uses): the control sees nothing, the variants see the banner with a
  unique code, which makes buying in the next 14 days likelier, and is redeemed when they do.

Rows the shop would have written (assignments, codes, redemptions, campaign click events) are
collected here and written by :meth:`flush` once the chunk's shoppers have ids.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from personalize.campaigns.specs import ARM_SALT
from personalize.experiments import CONTROL, assign
from personalize.holdout import in_holdout
from personalize.models import Campaign, CampaignAssignment, Event, OfferCode, Redemption, Shopper
from personalize.events import build_event

FIRST_VISIT = "First visit: 10% off"
# How long before "now" personalisation (and the campaign) ran in the simulated store.
WEEKS = 8
MODEL_SWITCH_DAYS = 28
# Click-through rates of a recommendation list (per list shown), and the effects of a click.
CTR = {"demo-1": 0.10, "demo-2": 0.16, "holdout": 0.03}
CLICK_CART_BOOST = 1.7
PERSONAL_BUY_BOOST = 1.6
CODE_BUY_BOOST = 4.0
CODE_CART_BOOST = 2.0
CAMPAIGN_CTR = 0.18


@dataclass
class Effect:
    """What one session's personalisation changes in the shopper's behaviour."""

    cart_boost: float = 1.0
    buy_boost: float = 1.0
    clicked: Any = None  # the recommended Item the shopper clicked (viewed next)


@dataclass
class _Code:
    code: OfferCode
    campaign_id: int
    expires: datetime


class PersonalisationSim:
    def __init__(self, rng: random.Random, now: datetime, items: list[Any]) -> None:
        self.rng = rng
        self.now = now
        self.started = now - timedelta(weeks=WEEKS)
        self.items = [i for i in items if i.product.stock > 0]
        self.campaign = (
            Campaign.objects.filter(name=FIRST_VISIT).select_related("offer").prefetch_related("variants").first()
        )
        self.variants: tuple[tuple[str, int], ...] = ()
        if self.campaign is not None:
            keys = sorted(set(self.campaign.contents.values_list("variant", flat=True)))
            weights = {v.key: v.weight for v in self.campaign.variants.all()}
            self.variants = tuple((k, weights.get(k, 1)) for k in keys) or (("A", 1),)
            if self.campaign.starts_at > self.started:
                Campaign.objects.filter(pk=self.campaign.pk).update(starts_at=self.started)
        self.assignments: list[CampaignAssignment] = []
        self.codes: dict[int, _Code] = {}  # id(shopper) -> the unused code shown to them
        self.redemptions: list[tuple[Redemption, OfferCode]] = []
        self.pending_codes: list[OfferCode] = []
        self.impressions = 0

    # --- per session -------------------------------------------------------------------------
    def session(self, shopper: Shopper, favourites: list[Any], t: datetime, first: bool, add) -> tuple[Effect, datetime]:
        """Lists (and the campaign) shown at the start of a session; returns the effect and the time."""
        effect = Effect()
        if t < self.started:
            return effect, t
        holdout = in_holdout(shopper)
        t = self._recommendations(shopper, favourites, t, holdout, effect, add)
        if not holdout:
            effect.buy_boost *= PERSONAL_BUY_BOOST
            if first and self.campaign is not None:
                t = self._first_visit(shopper, t, add)
            code = self.codes.get(id(shopper))
            if code is not None and t < code.expires:
                effect.buy_boost *= CODE_BUY_BOOST
                effect.cart_boost *= CODE_CART_BOOST
        return effect, t

    def _recommendations(self, shopper, favourites, t, holdout: bool, effect: Effect, add) -> datetime:
        version = "holdout" if holdout else ("demo-2" if t >= self.now - timedelta(days=MODEL_SWITCH_DAYS) else "demo-1")
        pool = favourites if (favourites and not holdout) else self.items
        if not pool:
            return t
        shown = self.rng.sample(pool, k=min(4, len(pool)))
        context = {"placement": "for_you", "variant": "holdout" if holdout else "default"}
        if not holdout:
            context["model_version"] = version
        for item in shown:
            add(build_event(shopper, "impression", product=item.product, context=dict(context, source="beacon"), created_at=t))
        self.impressions += len(shown)
        if self.rng.random() < CTR[version]:
            clicked = shown[0]
            t += timedelta(seconds=self.rng.randint(5, 40))
            add(build_event(shopper, "rec_click", product=clicked.product, context=dict(context, source="link"), created_at=t))
            effect.clicked = clicked
            effect.cart_boost *= CLICK_CART_BOOST
        return t + timedelta(seconds=self.rng.randint(5, 30))

    def _first_visit(self, shopper: Shopper, t: datetime, add) -> datetime:
        campaign = self.campaign
        arm = assign(shopper.key, f"{ARM_SALT}:{campaign.pk}", self.variants, campaign.control_percent / 100)
        shown = arm != CONTROL
        clicked = shown and self.rng.random() < CAMPAIGN_CTR
        self.assignments.append(
            CampaignAssignment(
                campaign=campaign, shopper=shopper, arm=arm, first_seen=t, last_seen=t, impressions=int(shown),
                clicks=int(clicked), window_start=t, window_impressions=int(shown),
            )
        )
        if not shown:
            return t
        if campaign.offer is not None and campaign.offer.is_unique_codes:
            days = campaign.offer.code_valid_days or 14
            code = OfferCode(
                offer=campaign.offer, code=self._code(campaign.offer.code_prefix), shopper=shopper,
                source=f"campaign:{campaign.pk}", created_at=t, expires_at=t + timedelta(days=days),
            )
            self.pending_codes.append(code)
            self.codes[id(shopper)] = _Code(code, campaign.pk, code.expires_at)
        if clicked:
            t += timedelta(seconds=self.rng.randint(3, 20))
            add(build_event(shopper, "campaign_click", context={"campaign": campaign.pk, "arm": arm, "source": "link"}, created_at=t))
        return t

    def _code(self, prefix: str) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return f"{prefix or 'DEMO'}-{''.join(self.rng.choice(alphabet) for _ in range(8))}"

    # --- at checkout -------------------------------------------------------------------------
    def discount(self, shopper: Shopper, number: str, subtotal: Decimal, t: datetime) -> tuple[Decimal, str, str]:
        """(discount, label, code) of the shopper's code for this order; the code is then used."""
        held = self.codes.get(id(shopper))
        if held is None or t >= held.expires or self.campaign is None or self.campaign.offer is None:
            return Decimal("0"), "", ""
        offer = self.campaign.offer
        if subtotal < offer.min_cart_value:
            return Decimal("0"), "", ""
        amount = (subtotal * offer.value / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        held.code.used_at, held.code.order_ref = t, number
        redemption = Redemption(
            offer=offer, code=held.code.code, shopper=shopper, order_ref=number, discount=amount,
            campaign_id=held.campaign_id, created_at=t,
        )
        self.redemptions.append((redemption, held.code))
        del self.codes[id(shopper)]
        return amount, offer.describe(), held.code.code

    # --- writing ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Write the chunk's assignments, codes and redemptions (their shoppers now have ids)."""
        for row in self.assignments:
            row.shopper_id = row.shopper.pk
        CampaignAssignment.objects.bulk_create(self.assignments, batch_size=1000)
        for code in self.pending_codes:
            code.shopper_id = code.shopper.pk
        OfferCode.objects.bulk_create(self.pending_codes, batch_size=1000)
        for redemption, _code in self.redemptions:
            redemption.shopper_id = redemption.shopper.pk
        Redemption.objects.bulk_create([r for r, _c in self.redemptions], batch_size=1000)
        self.assignments, self.pending_codes, self.redemptions = [], [], []
        # Codes issued in this chunk and not used stay in self.codes only for this chunk's shoppers.
        self.codes.clear()

    def summary(self) -> dict[str, int]:
        return {
            "impressions": self.impressions,
            "assignments": CampaignAssignment.objects.count(),
            "redemptions": Redemption.objects.count(),
            "holdout_events": Event.objects.filter(context__variant="holdout").count(),
        }
