"""What the pipeline returns (plain data, no database access)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FilteredItem:
    """A candidate the pipeline left out, and why (shown in the admin preview)."""

    key: str
    score: float
    reason: str
    why: str


@dataclass
class PlacementResult:
    """A placement's list for one shopper, best first."""

    placement: str
    items: list[Any] = field(default_factory=list)  # the store's product objects
    # What a widget shows of each item (placements.cards: the adapter's fields, cached).
    cards: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    model_version: str = ""
    variant: str = ""
    reasons: dict[str, str] = field(default_factory=dict)  # product key -> why it is shown
    scores: dict[str, float] = field(default_factory=dict)
    holdout: bool = False
    # Only filled with ``explain=True`` (the admin preview): candidates left out, and why.
    filtered: list[FilteredItem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
