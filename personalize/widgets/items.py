"""The one place a product becomes an item for a template, the API or an email.

:func:`item_for` starts from the adapter's :meth:`~personalize.adapters.DefaultAdapter.serialize`
and adds what the caller has: the list it came from (placement, model version, variant, the
reason, a link carrying the signed click), and absolute URLs for emails.
"""

from __future__ import annotations

from typing import Any

from personalize.adapters import get_adapter
from personalize.placements.cards import cards_for, lazy_product
from personalize.placements.clicks import sign_click, tracked_url
from personalize.sites import absolute


def item_for(
    product: Any, *, result: Any = None, placement: str = "", model_version: str = "", base_url: str | None = None
) -> dict[str, Any]:
    """A template-ready item for ``product``.

    ``result`` (a :class:`~personalize.placements.PlacementResult`) adds the variant, the reason
    and a ``url`` that records the click server-side (``plain_url`` keeps the product's own);
    ``base_url`` makes ``url`` and ``image`` absolute (emails).
    """
    return _finish(get_adapter().serialize(product), product, result=result, placement=placement,
                   model_version=model_version, base_url=base_url)


def item_for_card(
    card: dict[str, Any], product: Any = None, *, result: Any = None, placement: str = ""
) -> dict[str, Any]:
    """The same item from a cached card (:mod:`personalize.placements.cards`): no row loaded;
    ``item.product`` loads the product only if a template reads it."""
    item = {k: v for k, v in card.items() if k != "facets"}
    product = product if product is not None else lazy_product(card["id"])
    return _finish(item, product, result=result, placement=placement)


def card_items(keys: list[str], *, placement: str = "") -> list[dict[str, Any]]:
    """Items for products named by key, from their cached cards (one cache read), in order."""
    found = cards_for(keys)
    return [item_for_card(found[key], placement=placement) for key in keys if key in found]


def _finish(
    item: dict[str, Any], product: Any, *, result: Any = None, placement: str = "", model_version: str = "",
    base_url: str | None = None,
) -> dict[str, Any]:
    item["product"] = product
    item["key"] = item["id"]
    item["placement"] = result.placement if result is not None else placement
    item["model_version"] = result.model_version if result is not None else model_version
    if base_url is not None:
        item["url"] = absolute(item["url"], base_url)
        item["image"] = absolute(item["image"], base_url)
    if result is not None:
        item["variant"] = result.variant
        item["reason"] = result.reasons.get(item["id"], "")
        item["plain_url"] = item["url"]
        item["click_signed"] = True  # the beacon leaves these clicks to the server
        token = sign_click(
            placement=result.placement, model_version=result.model_version, variant=result.variant, product_key=item["id"]
        )
        item["url"] = item["tracked_url"] = tracked_url(item["url"] or "", token)
    return item


def product_items(products: list[Any], *, placement: str = "", model_version: str = "") -> list[dict[str, Any]]:
    """Items for a plain list of products (recently viewed, a store's own list)."""
    return [item_for(product, placement=placement, model_version=model_version) for product in products]


def placement_items(result: Any) -> list[dict[str, Any]]:
    """Items for a :class:`~personalize.placements.PlacementResult`, with signed click links
    (from its cached cards when the pipeline made them)."""
    if result.cards and len(result.cards) == len(result.items):
        return [item_for_card(card, product, result=result) for card, product in zip(result.cards, result.items)]
    return [item_for(product, result=result) for product in result.items]
