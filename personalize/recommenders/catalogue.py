"""What the recommenders need to know about the catalogue, read through the adapter in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import models

from personalize.adapters import DefaultAdapter, get_adapter
from personalize.batching import chunked


@dataclass
class ProductFacts:
    key: str
    title: str
    category: str  # category key
    category_label: str
    features: dict[str, str] = field(default_factory=dict)
    # Every category the product counts as in (its own and, in a tree, their ancestors).
    categories: tuple[str, ...] = ()


def _related_paths(adapter: DefaultAdapter) -> tuple[list[str], list[str]]:
    """Forward FKs to join and many-to-many/reverse relations to prefetch (avoids N+1)."""
    model = adapter.get_product_model()
    joins, prefetch = [], []
    names = set(adapter.category_fields) | set(adapter.brand_fields) | set(adapter.tags_fields)
    for name in names:
        try:
            fld = model._meta.get_field(name)
        except Exception:
            continue
        if getattr(fld, "many_to_one", False) or getattr(fld, "one_to_one", False):
            joins.append(name)
        elif getattr(fld, "many_to_many", False) or getattr(fld, "one_to_many", False):
            prefetch.append(name)
    return joins, prefetch


def iter_products(keys: Iterable[str] | None = None, *, chunk_size: int = 2000) -> Iterator[ProductFacts]:
    """Facts for every product the adapter shows (or only ``keys``), in a few queries."""
    adapter = get_adapter()
    qs: models.QuerySet = adapter.get_queryset()
    joins, prefetch = _related_paths(adapter)
    if joins:
        qs = qs.select_related(*joins)
    if prefetch:
        qs = qs.prefetch_related(*prefetch)
    if keys is not None:
        parsed = []
        for key in keys:
            if adapter.is_valid_key(key):
                parsed.append(adapter.to_python_key(key))
        batches = list(chunked(parsed))
        querysets = [qs.filter(pk__in=batch) for batch in batches]
    else:
        querysets = [qs.order_by("pk")]
    for queryset in querysets:
        for product in queryset.iterator(chunk_size=chunk_size):
            yield ProductFacts(
                key=adapter.product_key(product),
                title=adapter.title(product),
                category=adapter.category_key(product),
                category_label=adapter.category(product),
                features=adapter.features(product),
                categories=tuple(adapter.category_keys(product)),
            )
