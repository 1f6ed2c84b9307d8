"""The shopper's own history: what they viewed recently."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from personalize.adapters import get_adapter
from personalize.models import Event, EventKind, Shopper


def recently_viewed_keys(
    shopper: Shopper, limit: int, *, exclude: set[str] | None = None, profile: Any = None
) -> list[str]:
    """Distinct product keys the shopper viewed, newest first (one query).

    With the request's ``profile`` (a :class:`personalize.profiles.ShopperProfile`, already
    read for the page's other widgets) no query at all when it can tell
    (:meth:`~personalize.profiles.ShopperProfile.viewed_keys`).
    """
    if shopper is None or shopper.pk is None:
        return []
    if profile is not None and profile.shopper is not None and profile.shopper.pk == shopper.pk:
        keys = profile.viewed_keys(limit, exclude or ())
        if keys is not None:
            return keys
    qs = Event.objects.filter(shopper=shopper, kind=EventKind.VIEW)
    if exclude:
        qs = qs.exclude(product_key__in=exclude)
    rows = qs.values("product_key").annotate(last=Max("created_at")).order_by("-last")[:limit]
    return [row["product_key"] for row in rows]


def recently_viewed(shopper: Shopper, limit: int, *, exclude: set[str] | None = None) -> list[Any]:
    """Products the shopper viewed recently that can still be shown (two queries)."""
    adapter = get_adapter()
    # Over-fetch a little so that out-of-stock or deleted products do not shorten the list.
    keys = recently_viewed_keys(shopper, limit * 2, exclude=exclude)
    if not keys:
        return []
    queryset = adapter.get_queryset().filter(adapter.stock_filter())
    return adapter.get_products(keys, queryset=queryset)[:limit]
