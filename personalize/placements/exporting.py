"""Exporting every shopper's current list as JSON ``{shopper key: [product keys, best first]}``.

Shoppers are keyed by their cookie key (``key="cookie"``), by the id a store or a data
scientist imported them with (``key="external"``, ``Shopper.external_key``: the ids of
``personalize_import_events``) or by primary key (``key="id"``); ``shoppers`` limits the
export to those keys.

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


#: Longer shopper lists are matched while streaming (databases cap the parameters of a query).
MAX_IN_LIST = 900
#: Shopper field each ``key`` choice writes (and ``shoppers`` matches).
KEY_FIELDS = {"cookie": "key", "external": "external_key", "id": "pk"}


def export_recommendations(
    out: TextIO,
    *,
    placement: str = "for_you",
    limit: int = 10,
    seen_since: datetime | None = None,
    key: str = "cookie",
    shoppers: list[str] | None = None,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the JSON object to ``out``; returns the number of shoppers written.

    With ``key="external"`` shoppers without an external key are left out."""
    if key not in KEY_FIELDS:
        raise ValueError(f"key must be one of {', '.join(KEY_FIELDS)}, not {key!r}")
    field = KEY_FIELDS[key]
    lister = _placement_lister(placement)
    queryset = Shopper.objects.filter(merged_into__isnull=True).select_related("cart").order_by("pk")
    if seen_since is not None:
        queryset = queryset.filter(last_seen__gte=seen_since)
    if key == "external":
        queryset = queryset.exclude(external_key="")
    wanted: set[str] | None = None
    if shoppers is not None:
        wanted = {k for k in shoppers if k.isdigit()} if key == "id" else set(shoppers)
        if len(wanted) <= MAX_IN_LIST:
            queryset = queryset.filter(**{f"{field}__in": sorted(wanted)})
    out.write("{")
    count = 0
    for shopper in queryset.iterator(chunk_size=chunk_size):
        if wanted is not None and str(getattr(shopper, field)) not in wanted:
            continue  # a list too long for one IN clause is matched here
        try:
            keys = lister(shopper, limit)
        except Exception:  # one shopper's problem must not lose the whole export
            logger.exception("personalize: no list for shopper %s", shopper.pk)
            keys = []
        out.write(("," if count else "") + "\n" + json.dumps(str(getattr(shopper, field))) + ": " + json.dumps(keys))
        count += 1
        if progress is not None and count % 100 == 0:
            progress(count)
    out.write("\n}\n" if count else "}\n")
    if progress is not None:
        progress(count)
    return count

