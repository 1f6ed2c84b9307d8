"""What personalize knows about one shopper (:mod:`.core`), and that knowledge kept current in
the shared cache for pages, the API and exports (:mod:`.live`)."""

from personalize.models import PROFILE_KINDS
from personalize.profiles.core import (
    KIND_WEIGHTS,
    ShopperProfile,
    load_profile,
    older_purchases,
    segment_features,
    shopper_features,
)
from personalize.profiles.live import cached_profile, events_stored, request_profile
from personalize.profiles.rows import ProfileRow

__all__ = [
    "KIND_WEIGHTS",
    "PROFILE_KINDS",
    "ProfileRow",
    "ShopperProfile",
    "cached_profile",
    "events_stored",
    "load_profile",
    "older_purchases",
    "request_profile",
    "segment_features",
    "shopper_features",
]
