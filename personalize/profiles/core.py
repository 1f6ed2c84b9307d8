"""What personalize knows about one shopper, loaded in one query.

Recommenders build a shopper's representation from it (items and features touched, so new
and anonymous shoppers are scored without a retrain); placements use it to leave out what is
in the cart or already bought. Pages read it through :mod:`personalize.profiles.live` (cached,
kept current incrementally); :func:`load_profile` reads it from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from personalize.conf import personalize_settings as ps
from personalize.models import Cart, Event, EventKind, Shopper, purchase_lines
from personalize.profiles.rows import ROW_WHEN, ProfileRow, profile_rows

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
    # Distinct viewed products, newest first, over the whole history (at most a bounded number:
    # ``viewed_more`` says whether there may be more); ``None``: only what ``interactions`` holds.
    viewed: tuple[str, ...] | None = None
    viewed_more: bool = False
    # Views per product since ``view_counts_since`` over the whole history (a cut-off history's
    # cached state counts them: :mod:`personalize.profiles.live`); ``None``: not counted.
    view_counts: dict[str, int] | None = None
    view_counts_since: datetime | None = None
    view_counts_more: bool = False  # products not in ``view_counts`` may have views (ask the database)

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
        history was cut after ``since`` and its counts do not start within
        ``PROFILE_CACHE_SECONDS`` before it: ask the database)."""
        if self.truncated_at is not None and self.truncated_at >= since:
            counted, start = self.view_counts, self.view_counts_since
            if counted is None or start is None or start > since or (since - start).total_seconds() > ps.PROFILE_CACHE_SECONDS:
                return None
            if product_key not in counted and self.view_counts_more:
                return None
            return counted.get(product_key, 0)
        return sum(1 for key, kind, when in self.interactions if kind == EventKind.VIEW and key == product_key and when >= since)

    def viewed_keys(self, limit: int, exclude: Iterable[str] = ()) -> list[str] | None:
        """The ``limit`` most recently viewed distinct products, newest first, without
        ``exclude``; ``None`` when the profile cannot tell (ask the database)."""
        excluded = set(exclude)
        if self.viewed is not None:
            keys = [key for key in self.viewed if key not in excluded]
            if len(keys) >= limit or not self.viewed_more:
                return keys[:limit]
        keys = [key for key in self.recent_keys((EventKind.VIEW,)) if key not in excluded]
        # A product viewed before a cut-off history cannot be more recent than those in it.
        if self.truncated_at is None or len(keys) >= limit:
            return keys[:limit]
        return None

    def recent_keys(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        seen: dict[str, None] = {}
        for key, kind, _when in self.interactions:
            if kinds is None or kind in kinds:
                seen.setdefault(key, None)
        return list(seen)


def apply_rows(profile: ShopperProfile, rows: Iterable[ProfileRow]) -> None:
    """Add ``rows`` (newest first) to the profile's interactions, searches and purchases."""
    for _pk, key, kind, query, lines, when in rows:
        if kind == EventKind.SEARCH:
            profile.searches.append(query)
        elif kind == EventKind.PURCHASE:
            profile.purchased_keys.update(lines)
            profile.interactions.extend((line, kind, when) for line in lines)
        elif key:
            profile.interactions.append((key, kind, when))


def load_profile(shopper: Shopper | None, *, extra_features: dict[str, str] | None = None) -> ShopperProfile:
    """The shopper's recent interactions, cart and purchases from the database: one events
    query + the cart (a second events query for a shopper with more than ``PROFILE_EVENTS``
    events, so no purchase is ever forgotten)."""
    profile = ShopperProfile(shopper=shopper)
    if shopper is None or shopper.pk is None:
        profile.features = profile_features(shopper, extra_features)
        return profile
    rows = profile_rows(shopper, limit=ps.PROFILE_EVENTS)
    apply_rows(profile, rows)
    if len(rows) >= ps.PROFILE_EVENTS:
        profile.truncated_at = rows[-1][ROW_WHEN]
        # A long history: what was bought before the newest PROFILE_EVENTS events is still
        # never recommended again (one more query, only for these shoppers).
        profile.purchased_keys |= older_purchases(shopper, before=rows[-1][ROW_WHEN])
    profile.cart_keys = cart_keys(shopper)
    profile.features = profile_features(shopper, extra_features)
    return profile


def older_purchases(shopper: Shopper, *, before: datetime) -> set[str]:
    """Product keys the shopper bought up to ``before`` (inclusive: events at the same
    instant as the profile's oldest may have been cut off by the limit)."""
    contexts = Event.objects.filter(shopper=shopper, kind=EventKind.PURCHASE, created_at__lte=before).values_list(
        "context", flat=True
    )
    return {line["product"] for context in contexts.iterator(chunk_size=2000) for line in purchase_lines(context)}


def cart_keys(shopper: Shopper) -> set[str]:
    """What is in the cart (from the shopper's cache when ``select_related("cart")`` loaded it)."""
    try:
        cart = shopper.cart
    except Cart.DoesNotExist:
        return set()
    return set(cart.product_keys()) if cart is not None else set()


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


def profile_features(shopper: Shopper | None, extra: dict[str, str] | None) -> dict[str, str]:
    feats = (
        shopper_features(country=shopper.country, device=shopper.device, known=bool(shopper.user_id))
        if shopper is not None
        else {}
    )
    feats.update(extra or {})
    return feats
