"""What personalize knows about one shopper, loaded in one query for a request.

Recommenders build a shopper's representation from it (items and features touched, so new
and anonymous shoppers are scored without a retrain); placements use it to leave out what is
in the cart or already bought.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Case, F, JSONField, When

from personalize.caching import shoppers as shopper_state
from personalize.conf import personalize_settings as ps
from personalize.models import Cart, Event, EventKind, Shopper, purchase_lines

# How much each kind of interaction says about taste (used as weights by recommenders).
KIND_WEIGHTS = {
    EventKind.VIEW: 1.0,
    EventKind.REC_CLICK: 1.5,
    EventKind.ADD_TO_CART: 3.0,
    EventKind.PURCHASE: 5.0,
}


@dataclass
class ShopperProfile:
    shopper: Shopper | None
    # (product key, kind, time), newest first, at most PROFILE_EVENTS of them
    interactions: list[tuple[str, str, datetime]] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    cart_keys: set[str] = field(default_factory=set)
    purchased_keys: set[str] = field(default_factory=set)
    # shopper features for hybrid models: country, device, segment slugs...
    features: dict[str, str] = field(default_factory=dict)
    # When the history was cut at PROFILE_EVENTS: the time of the oldest event loaded (what
    # the profile says about any window starting after it is complete); None when it is all.
    truncated_at: datetime | None = None

    @property
    def is_new(self) -> bool:
        return not self.interactions and not self.searches

    def weighted_items(self) -> dict[str, float]:
        """Product key -> summed interaction weight (what the shopper showed interest in)."""
        weights: dict[str, float] = {}
        for key, kind, _when in self.interactions:
            weights[key] = weights.get(key, 0.0) + KIND_WEIGHTS.get(kind, 0.5)
        return weights

    def views_since(self, product_key: str, since: datetime) -> int | None:
        """Views of ``product_key`` since ``since``; ``None`` when the profile cannot tell (its
        history was cut after ``since``: ask the database)."""
        if self.truncated_at is not None and self.truncated_at >= since:
            return None
        return sum(1 for key, kind, when in self.interactions if kind == EventKind.VIEW and key == product_key and when >= since)

    def recent_keys(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        seen: dict[str, None] = {}
        for key, kind, _when in self.interactions:
            if kinds is None or kind in kinds:
                seen.setdefault(key, None)
        return list(seen)


PROFILE_KINDS = (EventKind.VIEW, EventKind.REC_CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE, EventKind.SEARCH)


def load_profile(shopper: Shopper | None, *, extra_features: dict[str, str] | None = None) -> ShopperProfile:
    """The shopper's recent interactions, cart and purchases: one events query + the cart
    (a second events query for a shopper with more than ``PROFILE_EVENTS`` events, so no
    purchase is ever forgotten)."""
    profile = ShopperProfile(shopper=shopper)
    if shopper is None or shopper.pk is None:
        profile.features = _features(shopper, extra_features)
        return profile
    # Only a purchase's context (its lines) is read: decoding the JSON of every view cost a
    # third of the query on a full profile.
    lines = Case(When(kind=EventKind.PURCHASE, then=F("context")), default=None, output_field=JSONField())
    rows = (
        Event.objects.filter(shopper=shopper, kind__in=PROFILE_KINDS)
        .order_by("-created_at")
        .annotate(purchase_context=lines)
        .values_list("product_key", "kind", "query", "purchase_context", "created_at")[: ps.PROFILE_EVENTS]
    )
    loaded = 0
    oldest = None
    for key, kind, query, context, when in rows:
        loaded, oldest = loaded + 1, when
        if kind == EventKind.SEARCH:
            profile.searches.append(query)
            continue
        if kind == EventKind.PURCHASE:
            for line in purchase_lines(context):
                profile.purchased_keys.add(line["product"])
                profile.interactions.append((line["product"], kind, when))
            continue
        if key:
            profile.interactions.append((key, kind, when))
    if loaded >= ps.PROFILE_EVENTS and oldest is not None:
        profile.truncated_at = oldest
        # A long history: what was bought before the newest PROFILE_EVENTS events is still
        # never recommended again (one more query, only for these shoppers).
        profile.purchased_keys |= older_purchases(shopper, before=oldest)
    cart = _cart(shopper)
    profile.cart_keys = set(cart.product_keys()) if cart is not None else set()
    profile.features = _features(shopper, extra_features)
    return profile


def cached_profile(
    shopper: Shopper | None, *, extra_features: Callable[[], dict[str, str]] | None = None, stamp: Any = None
) -> ShopperProfile:
    """:func:`load_profile` through the shopper's state token (:mod:`personalize.caching.shoppers`):
    no query while nothing the profile reads has changed (an event of a profile kind, the cart,
    a merge, an import or an erasure gives the shopper a new token).

    ``extra_features`` (segment memberships) is called only when the profile is loaded and is
    cached with it, valid while ``stamp`` (the segments' generation) is unchanged; the
    shopper's own fields (country, device, account) are read from ``shopper`` every time.
    """
    if shopper is None or shopper.pk is None:
        return load_profile(shopper, extra_features=extra_features() if extra_features else None)

    def load() -> tuple[Any, ...]:
        extra = extra_features() if extra_features else {}
        loaded = load_profile(shopper, extra_features=extra)
        return (tuple(loaded.interactions), tuple(loaded.searches), frozenset(loaded.cart_keys),
                frozenset(loaded.purchased_keys), dict(extra), loaded.truncated_at)

    # "t": entries carry truncated_at (an entry cached without it is another stamp: reloaded).
    interactions, searches, cart, purchased, extra, truncated_at = shopper_state.cached(
        "profile", shopper.pk, (stamp, ps.PROFILE_EVENTS, "t"), load
    )
    return ShopperProfile(
        shopper=shopper, interactions=list(interactions), searches=list(searches), cart_keys=set(cart),
        purchased_keys=set(purchased), features=_features(shopper, extra), truncated_at=truncated_at,
    )


def older_purchases(shopper: Shopper, *, before: datetime) -> set[str]:
    """Product keys the shopper bought up to ``before`` (inclusive: events at the same
    instant as the profile's oldest may have been cut off by the limit)."""
    contexts = Event.objects.filter(shopper=shopper, kind=EventKind.PURCHASE, created_at__lte=before).values_list(
        "context", flat=True
    )
    return {line["product"] for context in contexts.iterator(chunk_size=2000) for line in purchase_lines(context)}


def _cart(shopper: Shopper) -> Cart | None:
    """The cart, from the shopper's cache when ``select_related("cart")`` loaded it."""
    try:
        return shopper.cart
    except Cart.DoesNotExist:
        return None


def shopper_features(
    *, country: str = "", device: str = "", known: bool | None = None, segments: Iterable[str] = ()
) -> dict[str, str]:
    """The shopper features the hybrid model sees: the ONE encoding used by training and serving
    (a difference between the two would be a training/serving skew)."""
    feats: dict[str, str] = {}
    if country:
        feats["country"] = country
    if device:
        feats["device"] = device
    if known is not None:
        feats["known"] = "1" if known else "0"
    feats.update(segment_features(segments))
    return feats


def segment_features(slugs: Iterable[str]) -> dict[str, str]:
    """Segment memberships as a shopper feature (``{}`` for none)."""
    slugs = sorted(slugs)
    return {"segments": ",".join(slugs)} if slugs else {}


def _features(shopper: Shopper | None, extra: dict[str, str] | None) -> dict[str, str]:
    feats = (
        shopper_features(country=shopper.country, device=shopper.device, known=bool(shopper.user_id))
        if shopper is not None
        else {}
    )
    feats.update(extra or {})
    return feats
