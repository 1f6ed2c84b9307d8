"""Exporting every shopper's current list as JSON ``{shopper key: [product keys, best first]}``.

Written incrementally while shoppers are read with ``iterator()``, so memory stays bounded
whatever the number of shoppers (for email tools, batch jobs and offline evaluation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from personalize.models import Shopper
from personalize.placements.config import get_placement
from personalize.placements.pipeline import recommend_for

logger = logging.getLogger("personalize")


def _placement_lister(placement: str) -> Callable[[Shopper, int], list[str]]:
    """The placement pipeline (filters, rules, diversity), as the widgets serve it."""
    get_placement(placement)  # raises UnknownPlacement before anything is written

    def listed(shopper: Shopper, limit: int) -> list[str]:
        return list(recommend_for(shopper, placement, limit=limit).keys)

    return listed


def export_recommendations(
    out: TextIO,
    *,
    placement: str = "for_you",
    limit: int = 10,
    seen_since: datetime | None = None,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the JSON object to ``out``; returns the number of shoppers written."""
    lister = _placement_lister(placement)
    shoppers = Shopper.objects.filter(merged_into__isnull=True).select_related("cart").order_by("pk")
    if seen_since is not None:
        shoppers = shoppers.filter(last_seen__gte=seen_since)
    out.write("{")
    count = 0
    for shopper in shoppers.iterator(chunk_size=chunk_size):
        try:
            keys = lister(shopper, limit)
        except Exception:  # one shopper's problem must not lose the whole export
            logger.exception("personalize: no list for shopper %s", shopper.pk)
            keys = []
        out.write(("," if count else "") + "\n" + json.dumps(str(shopper.key)) + ": " + json.dumps(keys))
        count += 1
        if progress is not None and count % 100 == 0:
            progress(count)
    out.write("\n}\n" if count else "}\n")
    if progress is not None:
        progress(count)
    return count

