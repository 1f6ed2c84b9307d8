"""The adapter for a django-oscar store: chosen by default when ``personalize.contrib.oscar`` is
installed (docs/oscar.md).

Oscar keeps a product's price and stock on stock records behind a per-request *strategy*, its
images behind ``primary_image()`` and its categories in a tree. :meth:`OscarAdapter.prepare_products`
asks the strategy once per product (prices can depend on the user) and caches the answer on the
instance, and :meth:`OscarAdapter.optimize_queryset` prefetches everything the answers read, so
a widget of any size costs the same few queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import Coalesce
from oscar.core.loading import get_class, get_model
from oscar.core.thumbnails import get_thumbnailer

from personalize.adapters import DefaultAdapter
from personalize.caching import VersionedMemo
from personalize.contrib.oscar.basket import restore_basket

logger = logging.getLogger("personalize")

Selector = get_class("partner.strategy", "Selector")

# Cached on a product instance by prepare_products(): the strategy's answer for this request.
INFO_ATTR = "_personalize_purchase_info"


def _load_tree() -> dict[str, int]:
    Category = get_model("catalogue", "Category")
    return dict(Category._default_manager.values_list("path", "pk"))


#: ``{materialised path: pk}`` of every category: one query per process, reloaded when a
#: category is saved or deleted (receivers.py bumps it) and at least every 5 minutes.
category_tree_memo = VersionedMemo("oscar-category-tree", loader=_load_tree, ttl=lambda: 300)


def category_tree() -> dict[str, int]:
    return category_tree_memo.get()


def forget_category_tree() -> None:
    category_tree_memo.bump()


class OscarAdapter(DefaultAdapter):
    """Maps Oscar's catalogue, partner strategy and images to what personalize needs.

    Keys are product pks. Lists show browsable products (public, no child variants); carts and
    orders may name a child variant, which :meth:`get_products` still resolves. Events about a
    variant are recorded on its parent (:meth:`canonical`), so recommendations learn about the
    product a shopper can browse to.
    """

    #: Thumbnail geometry of widget and email images (Oscar's product-card size).
    thumbnail_size = "x155"
    category_label_fields = ("slug", "name")

    # --- the product model --------------------------------------------------------------
    def get_product_model(self) -> type[models.Model]:
        return get_model("catalogue", "Product")

    def get_queryset(self) -> models.QuerySet:
        """Browsable products: public and not a child variant (Oscar's own listings)."""
        return self.get_product_model()._default_manager.browsable()

    def optimize_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        """Everything serialising a product reads, prefetched: a constant number of queries
        for any number of products (stock records, images, browsable categories, public
        children with their stock records, the parent with its images and categories)."""
        Category = get_model("catalogue", "Category")
        Product = self.get_product_model()
        children = Product._default_manager.public().prefetch_related("stockrecords")
        return queryset.select_related("product_class", "parent", "parent__product_class").prefetch_related(
            "stockrecords",
            "images",
            "parent__images",
            Prefetch("categories", queryset=Category.objects.browsable(), to_attr="_prefetched_browsable_categories"),
            Prefetch(
                "parent__categories", queryset=Category.objects.browsable(), to_attr="_prefetched_browsable_categories"
            ),
            Prefetch("children", queryset=children, to_attr="_prefetched_public_children"),
        )

    def get_products(self, keys: Iterable[str], *, queryset: models.QuerySet | None = None) -> list[models.Model]:
        # Cart lines and orders name child variants, which get_queryset() leaves out.
        if queryset is None:
            queryset = self.get_product_model()._default_manager.public()
        return super().get_products(keys, queryset=queryset)

    def pickable_products(self) -> models.QuerySet:
        """No child variants: events are recorded on the parent (:meth:`canonical`)."""
        return self.get_product_model()._default_manager.exclude(structure="child")

    def canonical(self, product: models.Model) -> models.Model:
        """The product a shopper browses to: a child variant's parent, else the product."""
        if getattr(product, "structure", "") == "child" and product.parent_id:
            return product.parent
        return product

    # --- per-request prices and stock ---------------------------------------------------
    def strategy(self, request: Any = None) -> Any:
        """The request's strategy (Oscar's BasketMiddleware sets it), else the default one."""
        found = getattr(request, "strategy", None) if request is not None else None
        if found is not None:
            return found
        user = getattr(request, "user", None) if request is not None else None
        return Selector().strategy(request=request, user=user)

    def prepare_products(self, products: Iterable[models.Model], *, request: Any = None) -> None:
        """Ask the strategy once per product for this request (prices may depend on the user)."""
        strategy = self.strategy(request)
        for product in products:
            setattr(product, INFO_ATTR, self._fetch(strategy, product))

    def _fetch(self, strategy: Any, product: models.Model) -> Any:
        try:
            if product.is_parent:
                return strategy.fetch_for_parent(product)
            return strategy.fetch_for_product(product)
        except Exception:  # a broken stock record must not break a widget
            logger.exception("personalize: Oscar's strategy failed for product %s", product.pk)
            return None

    def purchase_info(self, product: models.Model) -> Any:
        info = getattr(product, INFO_ATTR, None)
        if info is None:
            info = self._fetch(self.strategy(), product)
            setattr(product, INFO_ATTR, info)
        return info

    def price(self, product: models.Model) -> Decimal | None:
        info = self.purchase_info(product)
        price = getattr(info, "price", None)
        if price is None or not price.exists:
            return None
        value = price.incl_tax if price.is_tax_known else price.excl_tax
        return Decimal(value) if value is not None else None

    def currency(self, product: models.Model) -> str:
        info = self.purchase_info(product)
        return getattr(getattr(info, "price", None), "currency", "") or settings.OSCAR_DEFAULT_CURRENCY

    def in_stock(self, product: models.Model) -> bool:
        info = self.purchase_info(product)
        availability = getattr(info, "availability", None)
        return bool(availability is not None and availability.is_available_to_buy)

    def stock_filter(self) -> Q:
        """Products with a stock record that can be sold (stock not tracked, or stock above
        allocations), or a parent with such a child: the SQL form of Oscar's default
        ``StockRequired`` availability (the strategy still decides for each product shown)."""
        StockRecord = get_model("partner", "StockRecord")
        sellable = StockRecord.objects.annotate(net=F("num_in_stock") - Coalesce("num_allocated", 0)).filter(
            Q(net__gt=0) | Q(product__product_class__track_stock=False) | Q(product__parent__product_class__track_stock=False)
        )
        own = Exists(sellable.filter(product=OuterRef("pk")))
        child = Exists(sellable.filter(product__parent=OuterRef("pk"), product__is_public=True))
        return Q(own) | Q(child)

    # --- product facts ------------------------------------------------------------------
    def title(self, product: models.Model) -> str:
        return product.get_title() or str(product)

    def url(self, product: models.Model) -> str:
        return product.get_absolute_url()

    def image_url(self, product: models.Model) -> str:
        """An Oscar thumbnail (sorl or easy-thumbnails, ``OSCAR_THUMBNAILER``) of the primary
        image, the original when thumbnailing fails, Oscar's "missing image" when none."""
        image = product.primary_image()
        if isinstance(image, dict):  # Oscar's stand-in for a product without images
            source = product.get_missing_image().name
        else:
            source = image.original
        try:
            thumbnail = get_thumbnailer().generate_thumbnail(source, size=self.thumbnail_size, upscale=False)
            if thumbnail is not None and getattr(thumbnail, "url", ""):
                return thumbnail.url
        except Exception:  # noqa: BLE001 - a thumbnail backend error falls back to the original
            logger.warning("personalize: no thumbnail for product %s", product.pk, exc_info=True)
        if isinstance(image, dict):
            return settings.MEDIA_URL + str(source)
        return getattr(source, "url", "") or ""

    def categories(self, product: models.Model) -> list[Any]:
        """Browsable categories (a variant has its parent's); prefetched by optimize_queryset."""
        return list(product.get_categories())

    def category(self, product: models.Model) -> str:
        found = self.categories(product)
        return found[0].name if found else ""

    def category_key(self, product: models.Model) -> str:
        found = self.categories(product)
        return str(found[0].pk) if found else ""

    def category_keys(self, product: models.Model) -> list[str]:
        """The product's categories and all their ancestors: a parent covers its children."""
        tree = category_tree()
        keys: list[str] = []
        for category in self.categories(product):
            steplen = category.steplen
            for depth in range(1, len(category.path) // steplen + 1):
                pk = tree.get(category.path[: depth * steplen])
                if pk is not None and str(pk) not in keys:
                    keys.append(str(pk))
        return keys

    def category_lookup(self) -> str:
        return "categories"

    def category_filter(self, key: str) -> Q:
        """Products in the category ``key`` or any of its descendants (a variant counts via its
        parent)."""
        Category = get_model("catalogue", "Category")
        try:
            category = Category._default_manager.get(pk=int(key))
        except (Category.DoesNotExist, TypeError, ValueError):
            return Q(pk__in=[])
        subtree = Category._default_manager.filter(path__startswith=category.path).values("pk")
        ProductCategory = get_model("catalogue", "ProductCategory")
        linked = ProductCategory._default_manager.filter(category__in=subtree)
        return Q(Exists(linked.filter(product=OuterRef("pk")))) | Q(Exists(linked.filter(product=OuterRef("parent"))))

    def brand(self, product: models.Model) -> str:
        return ""

    def features(self, product: models.Model) -> dict[str, str]:
        feats = super().features(product)
        product_class = product.get_product_class()
        if product_class is not None:
            feats["product_class"] = product_class.slug
        return feats

    def serialize(self, product: models.Model) -> dict[str, Any]:
        data = super().serialize(product)
        data["currency"] = self.currency(product)
        return data

    # --- shoppers -----------------------------------------------------------------------
    def user_first_name(self, user: Any) -> str:
        return getattr(user, "first_name", "") or ""

    # --- the store's cart ---------------------------------------------------------------
    def cart_item_count(self, request: Any) -> int | None:
        """Items in Oscar's basket for this request (its basket middleware sets ``request.basket``)."""
        basket = getattr(request, "basket", None)
        if basket is None:
            return None
        return int(basket.num_items) if basket.id else 0

    # --- lifecycle emails ---------------------------------------------------------------
    def restore_cart(self, request: Any, lines: list[dict[str, Any]]) -> None:
        """Rebuild Oscar's basket (``request.basket``) from an email's restore link."""
        restore_basket(request, lines)

