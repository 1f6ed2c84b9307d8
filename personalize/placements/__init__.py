"""Recommendation placements: where lists appear, and the one pipeline that fills them.

``recommend_for(request_or_shopper, placement, limit=...)`` is used by the template tags, the
API and the export command alike (docs/placements.md). Imports are lazy because this package's
models are loaded while ``personalize.models`` itself is being imported.
"""

from __future__ import annotations

from typing import Any

from personalize.placements.config import UnknownPlacement
from personalize.placements.config import get_placement as get
from personalize.placements.pipeline import recommend_for as run
from personalize.placements.result import FilteredItem, PlacementResult

__all__ = ["FilteredItem", "PlacementResult", "UnknownPlacement", "get_placement", "recommend_for"]


def recommend_for(request_or_shopper: Any, placement: str, *, limit: int, **kwargs: Any) -> PlacementResult:
    """The products ``placement`` shows this shopper (see :func:`pipeline.recommend_for`)."""
    return run(request_or_shopper, placement, limit=limit, **kwargs)


def get_placement(name: str) -> Any:
    return get(name)


def __getattr__(name: str) -> Any:
    if name == "UnknownPlacement":
        return UnknownPlacement
    raise AttributeError(name)
