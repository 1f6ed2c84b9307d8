"""What personalize knows about one shopper, loaded in one query for a request.

Recommenders build a shopper's representation from it (items and features touched, so new
and anonymous shoppers are scored without a retrain); placements use it to leave out what is
in the cart or already bought.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from personalize.conf import personalize_settings as ps
from personalize.models import Cart, Event, EventKind, Shopper

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

    @property
    def is_new(self) -> bool:
        return not self.interactions and not self.searches

    def weighted_items(self) -> dict[str, float]:
        """Product key -> summed interaction weight (what the shopper showed interest in)."""
        weights: dict[str, float] = {}
        for key, kind, _when in self.interactions:
            weights[key] = weights.get(key, 0.0) + KIND_WEIGHTS.get(kind, 0.5)
        return weights

    def recent_keys(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        seen: dict[str, None] = {}
        for key, kind, _when in self.interactions:
            if kinds is None or kind in kinds:
                seen.setdefault(key, None)
        return list(seen)


PROFILE_KINDS = (EventKind.VIEW, EventKind.REC_CLICK, EventKind.ADD_TO_CART, EventKind.PURCHASE, EventKind.SEARCH)


def load_profile(shopper: Shopper | None, *, extra_features: dict[str, str] | None = None) -> ShopperProfile:
    """The shopper's recent interactions, cart and purchases: one events query + the cart."""
    profile = ShopperProfile(shopper=shopper)
    if shopper is None or shopper.pk is None:
        profile.features = _features(shopper, extra_features)
        return profile
    rows = (
        Event.objects.filter(shopper=shopper, kind__in=PROFILE_KINDS)
        .order_by("-created_at")
        .values_list("product_key", "kind", "query", "context", "created_at")[: ps.PROFILE_EVENTS]
    )
    for key, kind, query, context, when in rows:
        if kind == EventKind.SEARCH:
            profile.searches.append(query)
            continue
        if kind == EventKind.PURCHASE:
            for line in (context or {}).get("lines", []):
                profile.purchased_keys.add(str(line["product"]))
                profile.interactions.append((str(line["product"]), kind, when))
            continue
        if key:
            profile.interactions.append((key, kind, when))
    cart = _cart(shopper)
    profile.cart_keys = set(cart.product_keys()) if cart is not None else set()
    profile.features = _features(shopper, extra_features)
    return profile


def _cart(shopper: Shopper) -> Cart | None:
    """The cart, from the shopper's cache when ``select_related("cart")`` loaded it."""
    try:
        return shopper.cart
    except Cart.DoesNotExist:
        return None


def _features(shopper: Shopper | None, extra: dict[str, str] | None) -> dict[str, str]:
    feats: dict[str, str] = {}
    if shopper is not None:
        if shopper.country:
            feats["country"] = shopper.country
        if shopper.device:
            feats["device"] = shopper.device
        feats["known"] = "1" if shopper.user_id else "0"
    feats.update(extra or {})
    return feats
