"""Product cards: what a widget shows of a product, cached, so a warm widget loads no rows.

A card is the adapter's :meth:`~personalize.adapters.DefaultAdapter.serialize` (title, URL,
price, image, category, brand, stock as the adapter reports them) plus the facet keys the
diversity cap reads. Cards live in the shared cache per product, language and catalogue
generation, read for a whole list in one ``get_many`` (through the in-process layer); a card
that is missing costs one query for the missing rows only.

Freshness: saving or deleting a product (``post_save``/``post_delete`` of the adapter's model,
connected in ``apps.ready``) bumps the catalogue generation, so every card and every filtered
list is rebuilt; every process sees it within ``LOCAL_CACHE_SECONDS``. A store that changes
products behind the ORM's signals (``queryset.update()``, an import) calls :func:`invalidate`;
without it a card lives at most ``CATALOGUE_CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language

from personalize.adapters import DefaultAdapter, get_adapter
from personalize.caching import VersionedMemo, cache, local
from personalize.caching.local import LocalLayer
from personalize.conf import personalize_settings as ps
from personalize.placements.diversity import diversify, facet_key
from personalize.placements.visible import visible_keys

FACETS = ("category", "brand")

# Only its generation is used: the one version number of "the catalogue as cards show it".
catalogue = VersionedMemo("catalogue", loader=lambda: None, ttl=lambda: ps.CATALOGUE_CACHE_SECONDS)
# Per product and business rules: whether it could be shown, as a stock check found it (this
# process only, LOCAL_CACHE_SECONDS). A layer of its own: a large catalogue's answers must not
# push the generations and cards out of the shared one.
in_stock = LocalLayer(cache, max_entries=20000)


def card_of(product: Any, adapter: DefaultAdapter | None = None) -> dict[str, Any]:
    """The card of one product object (plain data: safe to cache and share)."""
    adapter = adapter or get_adapter()
    card = adapter.serialize(product)
    card["facets"] = {facet: facet_key(adapter, product, facet) for facet in FACETS}
    return card


def _key(generation: str | None, language: str, product_key: str) -> str:
    return f"personalize:card:{generation or '-'}:{language}:{product_key}"


def cards_for(keys: Iterable[str], *, adapter: DefaultAdapter | None = None) -> dict[str, dict[str, Any]]:
    """``{key: card}`` for the keys naming visible products (one cache read; rows only for
    the cards that are missing). Hidden or unknown keys are left out."""
    adapter = adapter or get_adapter()
    keys = [str(k) for k in keys]
    if not keys:
        return {}
    generation = catalogue.version()
    language = get_language() or ""
    by_cache_key = {_key(generation, language, k): k for k in keys}
    versioned = generation is not None  # without a generation (cache down) the usual bound
    found = local.get_many(by_cache_key, versioned=versioned)
    cards = {by_cache_key[ck]: card for ck, card in found.items() if card is not None}
    missing = [k for k in keys if k not in cards and _key(generation, language, k) not in found]
    if missing:
        built = {adapter.product_key(p): card_of(p, adapter) for p in adapter.get_products(missing)}
        # A key that names no visible product is remembered as None: no query for it next time.
        local.set_many(
            {_key(generation, language, k): built.get(k) for k in missing}, ps.CATALOGUE_CACHE_SECONDS, versioned=versioned
        )
        cards.update(built)
    return cards


def lazy_product(key: str) -> Any:
    """The product object behind a card, loaded only if a template reads it (one query)."""
    return SimpleLazyObject(lambda: get_adapter().get_product(key))


def invalidate() -> None:
    """Rebuild cards and stock checks: after products changed behind the ORM's signals.

    Also what the ``post_save``/``post_delete`` receiver of the product model calls. Every card
    is rebuilt (one generation for the whole catalogue: a list's stock check reads it too, and
    a rebuild costs one query per list for the rows shown).
    """
    catalogue.bump()


def available_keys(keys: list[str], rules: models.Q, *, adapter: DefaultAdapter | None = None) -> list[str]:
    """``keys`` (in order) that are visible, in stock and pass ``rules``, on live data.

    One keys-only query (no rows built), remembered in this process per catalogue generation
    until the end of the current ``LOCAL_CACHE_SECONDS`` window: the same list for everyone
    asking about the same candidates (a product's "similar", trending) costs the query once,
    and a list made of products some list already asked about in the window (a shopper's
    recently viewed, which changes with every view) costs none: the answer is remembered per
    product too.
    """
    adapter = adapter or get_adapter()
    if not keys:
        return []
    generation = catalogue.version() or "-"
    condition = str(rules)
    digest = hashlib.sha256(repr((keys, condition)).encode()).hexdigest()
    memo_key = f"personalize:available:{generation}:{digest}"
    hit, value = local.held(memo_key)
    if hit:
        return list(value)
    prefix = f"personalize:in-stock:{generation}:{hashlib.sha256(condition.encode()).hexdigest()[:24]}:"
    known = in_stock.held_many([prefix + key for key in keys])
    unknown = [key for key in dict.fromkeys(keys) if prefix + key not in known]
    # Answers end together at the end of the current LOCAL_CACHE_SECONDS window: the lists of
    # a window then cost a query only until their products were all asked about once (answers
    # expiring one by one cost a query on most pages).
    until = in_stock.window_end()
    if unknown:
        found = visible_keys(unknown, rules, adapter, condition=condition, window=until)
        answers = {prefix + key: key in found for key in unknown}
        in_stock.hold_many(answers, until=until)
        known.update(answers)
    value = tuple(key for key in keys if known[prefix + key])
    local.hold(memo_key, value, until=until)
    return list(value)


def card_facet(card: dict[str, Any], facet: str) -> str:
    return card.get("facets", {}).get(facet) or ""


def shown_cards(
    keys: list[str],
    caps: dict[str, int],
    *,
    limit: int,
    on_drop: Callable[[dict[str, Any], str], None] | None = None,
    adapter: DefaultAdapter | None = None,
) -> list[dict[str, Any]]:
    """The cards of the first ``limit`` of ``keys`` that the diversity cap keeps.

    Cards are read for a window a little larger than ``limit`` (one cache read), more only
    when the cap dropped too many."""
    shown: list[dict[str, Any]] = []
    counts: dict[tuple[str, str], int] = {}
    start, window = 0, max(limit * 2, limit + 4)
    while start < len(keys) and len(shown) < limit:
        chunk = keys[start : start + window]
        cards = cards_for(chunk, adapter=adapter)
        picked = diversify(
            [cards[k] for k in chunk if k in cards], caps, adapter or get_adapter(), limit=limit - len(shown),
            on_drop=on_drop, key_of=card_facet, counts=counts,
        )
        shown.extend(picked)
        start += window
        window *= 2
    return shown
