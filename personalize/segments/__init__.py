"""Segments: which groups a shopper belongs to, live per request or materialised in bulk.

The public functions of the capability; the work is in :mod:`~personalize.segments.evaluation`.
"""

from __future__ import annotations

from typing import Any

from personalize.profiles import segment_features as profile_segment_features
from personalize.segments.evaluation import segments_for as _segments_for
from personalize.segments.evaluation import shopper_segments as _shopper_segments

__all__ = ["segments_for", "shopper_segments", "segment_features", "in_segment"]


def segments_for(request: Any) -> frozenset[str]:
    """Slugs of the active segments the request's shopper is in (live and materialised).

    Cached in the session for ``SEGMENT_CACHE_SECONDS``; never raises (logs, returns the
    materialised memberships or an empty set).
    """
    return _segments_for(request)


def shopper_segments(shopper: Any) -> frozenset[str]:
    """Slugs of the active materialised segments the shopper is a member of (no request needed)."""
    return _shopper_segments(shopper)


def segment_features(shopper: Any) -> dict[str, str]:
    """``{"segments": "slug-a,slug-b"}`` for ``load_profile(shopper, extra_features=...)``: the
    materialised memberships as shopper features, the way recommender training encodes them."""
    return profile_segment_features(shopper_segments(shopper))


def in_segment(request: Any, slug: str) -> bool:
    """Whether the request's shopper is in the segment ``slug``."""
    return slug in segments_for(request)
