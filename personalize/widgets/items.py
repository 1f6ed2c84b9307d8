"""The one place a product becomes an item for a template, the API or an email.

:func:`item_for` starts from the adapter's :meth:`~personalize.adapters.DefaultAdapter.serialize`
and adds what the caller has: the list it came from (placement, model version, variant, the
reason, a link carrying the signed click), and absolute URLs for emails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

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


# Where a built item keeps its identity (see ItemList.identity); templates cannot read it.
IDENTITY = "_identity"


class ItemList(Sequence[dict[str, Any]]):
    """Items of cached cards, each built (signed click link and all) when first read.

    :meth:`identity` names what item ``i`` holds beyond its card, the catalogue generation and
    the language (cards are cached under those three), without building it: a list's items
    whose HTML is held (``{% personalize_items %}``) are never built.
    """

    def __init__(self, cards: list[dict[str, Any]], products: list[Any] | None = None, *, result: Any = None,
                 placement: str = "") -> None:
        self._cards, self._products = cards, products
        self._result, self._placement = result, placement
        self._built: list[dict[str, Any] | None] = [None] * len(cards)

    def __len__(self) -> int:
        return len(self._cards)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self._built[index]
        if item is None:
            card = self._cards[index]
            product = self._products[index] if self._products is not None else None
            item = item_for_card(card, product, result=self._result, placement=self._placement)
            item[IDENTITY] = self.identity(index)
            self._built[index] = item
        return item

    def identity(self, index: int, *, reason: bool = True) -> tuple[Any, ...]:
        """``reason=False``: for HTML that does not show the item's reason (a product's
        "similar to ..." differs on every page it is listed on)."""
        key, result = self._cards[index]["id"], self._result
        if result is None:
            return (key, self._placement)
        why = result.reasons.get(key, "") if reason else None
        return (key, result.placement, result.model_version, result.variant, why, "signed")

    def __repr__(self) -> str:
        return f"<ItemList of {len(self)}>"


def card_items(keys: list[str], *, placement: str = "") -> ItemList:
    """Items for products named by key, from their cached cards (one cache read), in order."""
    found = cards_for(keys)
    return ItemList([found[key] for key in keys if key in found], placement=placement)


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


def placement_items(result: Any) -> Sequence[dict[str, Any]]:
    """Items for a :class:`~personalize.placements.PlacementResult`, with signed click links
    (from its cached cards when the pipeline made them: an :class:`ItemList`)."""
    if result.cards and len(result.cards) == len(result.items):
        return ItemList(list(result.cards), list(result.items), result=result)
    return [item_for(product, result=result) for product in result.items]
