"""A predictable recommender for tests of stores and of personalize's own serving layer."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from personalize.adapters import get_adapter
from personalize.recommenders.base import BaseRecommender, Recommendation

if TYPE_CHECKING:
    from personalize.profiles import ShopperProfile


class DeterministicRecommender(BaseRecommender):
    """Returns a fixed list, so a test knows exactly what serving received.

    OPTIONS:
      ``ITEMS``: product keys, best first. When absent, every product of the adapter's
      queryset ordered by primary key (one query per call: fine in tests, not for serving).
      ``CATEGORIES``: ``{product key: category key}`` used by ``category=`` (when absent,
      the category is read from the products, one query).
      ``SIMILAR``: ``{product key: [keys]}`` for :meth:`similar` (default: ``ITEMS`` minus the product).
      ``VERSION``: what :attr:`model_version` reports (default ``"test"``).
    """

    @property
    def model_version(self) -> str:
        return str(self.option("VERSION", "test"))

    def _items(self) -> list[str]:
        items = self.option("ITEMS")
        if items is not None:
            return [str(key) for key in items]

        adapter = get_adapter()
        return [adapter.product_key(p) for p in adapter.get_queryset().order_by("pk")]

    def _in_category(self, keys: list[str], category: str) -> list[str]:
        mapping = self.option("CATEGORIES")
        if mapping is None:
            adapter = get_adapter()
            mapping = {adapter.product_key(p): adapter.category_key(p) for p in adapter.get_products(keys)}
        return [key for key in keys if str(mapping.get(key, "")) == str(category)]

    def _ranked(self, keys: list[str], limit: int, exclude: Collection[str], reason: str) -> list[Recommendation]:
        excluded = {str(key) for key in exclude}
        kept = [key for key in keys if key not in excluded][: max(0, limit)]
        return [Recommendation(key, float(len(kept) - rank), reason) for rank, key in enumerate(kept)]

    def recommend(
        self,
        profile: ShopperProfile,
        *,
        limit: int,
        exclude: Collection[str] = (),
        category: str | None = None,
    ) -> list[Recommendation]:
        keys = self._items()
        if category:
            keys = self._in_category(keys, category)
        return self._ranked(keys, limit, exclude, "test recommendation")

    def similar(self, product_key: str, *, limit: int, exclude: Collection[str] = ()) -> list[Recommendation]:
        table = self.option("SIMILAR") or {}
        keys = [str(k) for k in table[product_key]] if product_key in table else self._items()
        return self._ranked([k for k in keys if k != str(product_key)], limit, exclude, "test similar")
