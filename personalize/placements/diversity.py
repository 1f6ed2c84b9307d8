"""Diversity: at most N items per category / brand in one list (settings-driven)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from personalize.adapters import DefaultAdapter


def facet_key(adapter: DefaultAdapter, product: Any, facet: str) -> str:
    """A product's category or brand key, without a query (FK ids when there are FKs)."""
    if facet == "category":
        return adapter.category_key(product)
    if facet == "brand":
        return adapter.brand_key(product)
    getter = getattr(adapter, facet, None)
    return str(getter(product)) if callable(getter) else ""


def diversify(
    products: Iterable[Any],
    caps: dict[str, int],
    adapter: DefaultAdapter,
    *,
    limit: int,
    on_drop: Callable[[Any, str], None] | None = None,
    key_of: Callable[[Any, str], str] | None = None,
    counts: dict[tuple[str, str], int] | None = None,
) -> list[Any]:
    """The first ``limit`` products, best first, keeping at most ``caps[facet]`` per value.

    Products without a value for a facet (no brand) are not capped by it. ``key_of(item,
    facet)`` reads the value from something else than a product (a cached card); ``counts``
    carries the tally over when a list is diversified in several windows.
    """
    counts = {} if counts is None else counts
    kept: list[Any] = []
    for product in products:
        if len(kept) >= limit:
            break
        keys = [(facet, key_of(product, facet) if key_of else facet_key(adapter, product, facet)) for facet in caps]
        full = next(((f, v) for f, v in keys if v and counts.get((f, v), 0) >= caps[f]), None)
        if full is not None:
            if on_drop is not None:
                on_drop(product, full[0])
            continue
        for facet, value in keys:
            if value:
                counts[(facet, value)] = counts.get((facet, value), 0) + 1
        kept.append(product)
    return kept
