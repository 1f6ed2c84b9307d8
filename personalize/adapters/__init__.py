"""The one place personalize learns about the host shop.

A store names its product model in ``PERSONALIZE["PRODUCT_MODEL"]``; the default adapter reads
common field names (``title``/``name``, ``price``, ``image``, ``category``, ``brand``, ``stock``...).
A store with other names subclasses :class:`DefaultAdapter`, overrides a few methods and names
its class in ``PERSONALIZE["ADAPTER"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models

from personalize.adapters.pickers import CataloguePickers
from personalize.batching import chunked
from personalize.conf import import_path, personalize_settings


class DefaultAdapter(CataloguePickers):
    """Maps the store's product model and users to what personalize needs."""

    title_fields = ("title", "name")
    price_fields = ("price", "price_incl_tax", "unit_price")
    image_fields = ("image", "image_url", "thumbnail", "primary_image")
    category_fields = ("category", "categories")
    brand_fields = ("brand", "manufacturer", "vendor")
    stock_fields = ("stock", "num_in_stock", "stock_quantity", "quantity", "in_stock", "is_available")
    active_fields = ("is_active", "is_public", "active", "published")
    tags_fields = ("tags",)

    # --- the product model --------------------------------------------------------------
    def get_product_model(self) -> type[models.Model]:
        label = personalize_settings.PRODUCT_MODEL
        if not label:
            raise ImproperlyConfigured('Set PERSONALIZE["PRODUCT_MODEL"] to "app_label.ModelName".')
        try:
            return apps.get_model(label, require_ready=False)
        except (LookupError, ValueError) as exc:
            raise ImproperlyConfigured(f'PERSONALIZE["PRODUCT_MODEL"] = {label!r}: {exc}') from exc

    def get_queryset(self) -> models.QuerySet:
        """Products that may be shown at all (override to hide drafts, other sites...)."""
        model = self.get_product_model()
        qs = model._default_manager.all()
        field_names = {f.name for f in model._meta.get_fields()}
        for name in self.active_fields:
            if name in field_names:
                return qs.filter(**{name: True})
        return qs

    def optimize_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        """Join the category and brand when they are foreign keys, so that serializing a list
        of products costs no query per product (override to add your own relations)."""
        model = queryset.model
        related = []
        for name in (*self.category_fields, *self.brand_fields):
            try:
                field = model._meta.get_field(name)
            except Exception:  # noqa: BLE001 - FieldDoesNotExist and reverse relations alike
                continue
            if getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False):
                related.append(name)
        if related and queryset.query.select_related is not True:
            queryset = queryset.select_related(*related)
        return queryset

    def product_key(self, product: models.Model) -> str:
        return str(product.pk)

    def to_python_key(self, key: Any) -> Any:
        """The store's primary-key value for ``key``; ``ValidationError`` if malformed."""
        pk_field = self.get_product_model()._meta.pk
        value = pk_field.to_python(key)
        if value is None or value == "":
            raise ValidationError("empty product id")
        return value

    def is_valid_key(self, key: Any) -> bool:
        try:
            self.to_python_key(key)
        except (ValidationError, ValueError, TypeError):
            return False
        return True

    def get_products(self, keys: Iterable[str], *, queryset: models.QuerySet | None = None) -> list[models.Model]:
        """Products for ``keys`` in the same order, in one query; unknown keys are dropped."""
        keys = [str(k) for k in keys]
        parsed = {}
        for key in keys:
            try:
                parsed[key] = self.to_python_key(key)
            except (ValidationError, ValueError, TypeError):
                continue
        if not parsed:
            return []
        qs = queryset if queryset is not None else self.get_queryset()
        found = {self.product_key(p): p for p in self.optimize_queryset(qs).filter(pk__in=set(parsed.values()))}
        return [found[k] for k in keys if k in found]

    def canonical(self, product: models.Model) -> models.Model:
        """The product a shopper browses to, which events are recorded on (a store with
        variants returns the variant's parent)."""
        return product

    def prepare_products(self, products: Iterable[models.Model], *, request: Any = None) -> None:
        """Called once with a list of products before they are serialised: compute facts that
        depend on the request (prices per customer group) for all of them at once and keep
        them on the instances. The default has nothing to prepare."""

    def get_product(self, key: Any) -> models.Model | None:
        products = self.get_products([str(key)])
        return products[0] if products else None

    def resolve_keys(self, keys: Iterable[str]) -> dict[str, str]:
        """``{given key: canonical key}`` for the keys that name a product in the store at all
        (hidden ones too), in one query that loads no rows. Validates incoming events and
        normalises spellings ("0A1B..." and "0a1b..." are one UUID). Override together with
        :meth:`product_key` if your keys are not ``str(pk)``."""
        parsed = {}
        for key in {str(k) for k in keys}:
            try:
                parsed[key] = self.to_python_key(key)
            except (ValidationError, ValueError, TypeError):
                continue
        if not parsed:
            return {}
        manager = self.get_product_model()._default_manager
        found: set[str] = set()
        for pks in chunked(list(set(parsed.values()))):
            found.update(str(pk) for pk in manager.filter(pk__in=pks).values_list("pk", flat=True))
        return {key: str(value) for key, value in parsed.items() if str(value) in found}

    # --- product facts ------------------------------------------------------------------
    def _first_attr(self, product: models.Model, names: Iterable[str]) -> Any:
        for name in names:
            if hasattr(product, name):
                value = getattr(product, name)
                return value() if callable(value) and not isinstance(value, models.Manager) else value
        return None

    def title(self, product: models.Model) -> str:
        value = self._first_attr(product, self.title_fields)
        return str(value) if value is not None else str(product)

    def url(self, product: models.Model) -> str:
        getter = getattr(product, "get_absolute_url", None)
        return getter() if callable(getter) else ""

    def price(self, product: models.Model) -> Decimal | None:
        value = self._first_attr(product, self.price_fields)
        if value is None:
            return None
        try:
            return Decimal(str(value))
        except (InvalidOperation, ValueError):
            return None

    def image_url(self, product: models.Model) -> str:
        value = self._first_attr(product, self.image_fields)
        if not value:
            return ""
        return getattr(value, "url", None) or str(value)

    def _label(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, models.Manager):
            first = value.all().first()
            return str(first) if first is not None else ""
        return str(value)

    def category(self, product: models.Model) -> str:
        return self._label(self._first_attr(product, self.category_fields))

    @staticmethod
    def _fk_key(product: models.Model, fields: Iterable[str]) -> str | None:
        """The id of the first of ``fields`` that is a foreign key ("" when empty), else ``None``."""
        for name in fields:
            attname = f"{name}_id"
            if hasattr(product, attname):
                value = getattr(product, attname)
                return "" if value is None else str(value)
        return None

    def category_key(self, product: models.Model) -> str:
        """A stable key for the product's category (its FK id when there is one)."""
        key = self._fk_key(product, self.category_fields)
        return self.category(product) if key is None else key

    def category_keys(self, product: models.Model) -> list[str]:
        """Every category key the product counts as in: its own and, in a category tree, their
        ancestors, so a segment rule or an offer on a parent category covers its children."""
        key = self.category_key(product)
        return [key] if key else []

    def category_filter(self, key: str) -> models.Q:
        """Products in category ``key`` (with a category tree: and in its subcategories)."""
        lookup = self.category_lookup()
        if not lookup:
            return models.Q(pk__in=[])
        field = self.get_product_model()._meta.get_field(lookup.removesuffix("_id"))
        try:
            value = getattr(field, "target_field", field).to_python(key)
        except (ValidationError, ValueError, TypeError):
            return models.Q(pk__in=[])
        return models.Q(**{lookup: value})

    def category_lookup(self) -> str | None:
        """The ORM path to filter products by category key (``category`` → ``category_id``)."""
        model = self.get_product_model()
        for name in self.category_fields:
            try:
                field = model._meta.get_field(name)
            except Exception:
                continue
            return field.attname if getattr(field, "many_to_one", False) else name
        return None

    category_label_fields = ("slug", "name", "title")

    def resolve_category(self, value: str) -> str | None:
        """The category key for what a marketer typed: the category's id, slug or name."""
        lookup = self.category_lookup()
        if not lookup or not str(value).strip():
            return None
        value = str(value).strip()
        field = self.get_product_model()._meta.get_field(lookup.removesuffix("_id"))
        related = field.related_model if field.is_relation else None
        if related is None:  # a plain text field: the value is the key
            exists = self.get_product_model()._default_manager.filter(**{lookup: value}).exists()
            return value if exists else None
        manager = related._default_manager
        try:
            pk = related._meta.pk.to_python(value)
            if manager.filter(pk=pk).exists():
                return str(pk)
        except (ValidationError, ValueError, TypeError):
            pass
        names = {f.name for f in related._meta.get_fields()}
        for name in self.category_label_fields:
            if name in names:
                found = manager.filter(**{f"{name}__iexact": value}).values_list("pk", flat=True).first()
                if found is not None:
                    return str(found)
        return None

    def brand(self, product: models.Model) -> str:
        return self._label(self._first_attr(product, self.brand_fields))

    def brand_key(self, product: models.Model) -> str:
        """A stable key for the product's brand (its FK id when there is one), without a query."""
        key = self._fk_key(product, self.brand_fields)
        return self.brand(product) if key is None else key

    def in_stock(self, product: models.Model) -> bool:
        for name in self.stock_fields:
            if hasattr(product, name):
                value = getattr(product, name)
                if callable(value):
                    value = value()
                if isinstance(value, bool):
                    return value
                if value is None:
                    return True
                return value > 0
        return True

    def stock_filter(self) -> models.Q:
        """An ORM filter for "in stock" (so lists can be filtered in SQL)."""
        model = self.get_product_model()
        names = {f.name: f for f in model._meta.get_fields() if getattr(f, "concrete", False)}
        for name in self.stock_fields:
            field = names.get(name)
            if field is None:
                continue
            if isinstance(field, models.BooleanField):
                return models.Q(**{name: True})
            return models.Q(**{f"{name}__gt": 0}) | models.Q(**{f"{name}__isnull": True})
        return models.Q()

    def tags(self, product: models.Model) -> list[str]:
        value = self._first_attr(product, self.tags_fields)
        if not value:
            return []
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        if isinstance(value, models.Manager):
            return [str(t) for t in value.all()]
        return [str(t) for t in value]

    def features(self, product: models.Model) -> dict[str, str]:
        """Categorical features for the hybrid recommender; override to add your own."""
        feats = {"category": self.category_key(product), "brand": self.brand(product)}
        price = self.price(product)
        if price is not None:
            feats["price_band"] = self.price_band(price)
        for tag in self.tags(product):
            feats[f"tag:{tag}"] = "1"
        return {k: v for k, v in feats.items() if v}

    def price_band(self, price: Decimal) -> str:
        bands = (10, 25, 50, 100, 250, 500, 1000)
        for upper in bands:
            if price < upper:
                return f"<{upper}"
        return f">={bands[-1]}"

    def serialize(self, product: models.Model) -> dict[str, Any]:
        """The fields the API and emails show for a product."""
        price = self.price(product)
        return {
            "id": self.product_key(product),
            "title": self.title(product),
            "url": self.url(product),
            "price": str(price) if price is not None else None,
            "image": self.image_url(product),
            "category": self.category(product),
            "brand": self.brand(product),
            "in_stock": self.in_stock(product),
        }

    # --- shoppers -----------------------------------------------------------------------
    def user_email(self, user: Any) -> str:
        field = getattr(user, "EMAIL_FIELD", "email")
        return getattr(user, field, "") or ""

    def user_email_consent(self, user: Any) -> bool:
        """Whether the store's own sign-up gave consent to marketing email (read only when
        ``EMAIL_SIGNUP_CONSENT_COUNTS`` is on). Default: every active account; override to read
        the store's own opt-in field."""
        return bool(getattr(user, "is_active", True))

    def user_first_name(self, user: Any) -> str:
        return getattr(user, "first_name", "") or ""

    def user_language(self, user: Any) -> str:
        return getattr(user, "language", "") or ""

    def user_timezone(self, user: Any) -> str:
        """The user's IANA time zone name ("" to use the store's), for email quiet hours."""
        return getattr(user, "timezone", "") or getattr(user, "time_zone", "") or ""

    # --- the store's cart ---------------------------------------------------------------
    def cart_item_count(self, request: Any) -> int | None:
        """How many items the store's own cart holds for this request, now (``None``: unknown).

        Offers "on your cart" are shown only while it holds something. ``None`` (the default)
        makes personalize use the snapshot the store last sent (``update_cart``), which is stale
        when the store's cart changes without telling it (a session that ended, a login that
        swapped carts); override to read the live cart (Oscar's adapter reads ``request.basket``).
        """
        return None

    # --- lifecycle emails ---------------------------------------------------------------
    def restore_cart(self, request: Any, lines: list[dict[str, Any]]) -> None:
        """Rebuild the store's cart from an email's restore link.

        ``lines`` are ``{"product": <instance>, "key": str, "quantity": int, "price": str}`` for
        products that still exist; personalize's own cart snapshot is already set from them (by
        the restore view). The default calls ``PERSONALIZE["EMAIL_RESTORE_CART_HOOK"]`` (a dotted
        path to ``hook(request, lines)``) so the store fills its own cart; override to do it here.
        """
        hook = personalize_settings.EMAIL_RESTORE_CART_HOOK
        if hook:
            import_path(hook, "EMAIL_RESTORE_CART_HOOK")(request, lines)


_adapter_cache: dict[type, DefaultAdapter] = {}


def get_adapter() -> DefaultAdapter:
    """The configured adapter instance (one per adapter class)."""
    cls = personalize_settings.ADAPTER
    if cls not in _adapter_cache:
        _adapter_cache[cls] = cls()
    return _adapter_cache[cls]
