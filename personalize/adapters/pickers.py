"""The adapter's catalogue for the admin's pickers (autocomplete) and the names in rule summaries.

A mixin of :class:`personalize.adapters.DefaultAdapter`: it searches and names products,
categories and brands through the adapter's own product queryset and lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


class CataloguePickers:
    """Search and label the store's products, categories and brands (keys in, names out)."""

    # --- the catalogue for pickers (admin autocomplete) and names in rule summaries -------
    brand_label_fields = ("name", "title", "slug")

    def search_catalogue(self, facet: str, term: str, *, limit: int = 20) -> list[tuple[str, str]]:
        """``(key, name)`` of products, categories or brands (``facet``) matching what a
        marketer types, for the admin's pickers; a key typed in full matches too."""
        searches = {"product": self.search_products, "category": self.search_categories, "brand": self.search_brands}
        return searches[facet](term, limit=limit)

    def catalogue_labels(self, facet: str, keys: Iterable[str]) -> dict[str, str]:
        """``{key: name}`` for keys of ``facet`` (unknown keys left out), in one query."""
        lookups = {"product": self.product_labels, "category": self.category_labels, "brand": self.brand_labels}
        keys = [str(key) for key in keys if str(key)]
        return lookups[facet](keys) if keys else {}

    def search_products(self, term: str, *, limit: int = 20) -> list[tuple[str, str]]:
        """Products (hidden ones too: a rule may name one) whose title contains ``term``."""
        model = self.get_product_model()
        concrete = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)}
        title = next((name for name in self.title_fields if name in concrete), None)
        term = term.strip()
        q = models.Q(**{f"{title}__icontains": term}) if title and term else models.Q()
        if term and self.is_valid_key(term):
            q |= models.Q(pk=self.to_python_key(term))
        queryset = self.pickable_products().filter(q).order_by(title or "pk")[:limit]
        return [(self.product_key(p), self.title(p)) for p in queryset]

    def pickable_products(self) -> models.QuerySet:
        """Products a marketer may name in a rule: hidden ones too, but only those events are
        recorded on (override to leave out variants when :meth:`canonical` maps them away)."""
        return self.get_product_model()._default_manager.all()

    def product_labels(self, keys: Iterable[str]) -> dict[str, str]:
        manager = self.get_product_model()._default_manager
        return {self.product_key(p): self.title(p) for p in self.get_products(keys, queryset=manager.all())}

    def search_categories(self, term: str, *, limit: int = 20) -> list[tuple[str, str]]:
        return self._search_facet(self.category_fields, self.category_label_fields, term, limit)

    def category_labels(self, keys: Iterable[str]) -> dict[str, str]:
        return self._facet_labels(self.category_fields, keys)

    def search_brands(self, term: str, *, limit: int = 20) -> list[tuple[str, str]]:
        return self._search_facet(self.brand_fields, self.brand_label_fields, term, limit)

    def brand_labels(self, keys: Iterable[str]) -> dict[str, str]:
        return self._facet_labels(self.brand_fields, keys)

    def brand_filter(self, key: str) -> models.Q:
        """Products of brand ``key`` (its FK id, or the text of a plain brand field)."""
        field = self._facet_field(self.brand_fields)
        if field is None:
            return models.Q(pk__in=[])
        lookup = field.attname if getattr(field, "many_to_one", False) else field.name
        try:
            value = getattr(field, "target_field", field).to_python(key)
        except (ValidationError, ValueError, TypeError):
            return models.Q(pk__in=[])
        return models.Q(**{lookup: value})

    def _facet_field(self, names: Iterable[str]) -> Any:
        """The product model's first field among ``names`` (a relation or a plain field)."""
        model = self.get_product_model()
        for name in names:
            try:
                return model._meta.get_field(name)
            except Exception:  # noqa: BLE001 - FieldDoesNotExist
                continue
        return None

    def _search_facet(self, names: Iterable[str], label_fields: Iterable[str], term: str, limit: int) -> list[tuple[str, str]]:
        field = self._facet_field(names)
        if field is None:
            return []
        term = term.strip()
        related = field.related_model if field.is_relation else None
        if related is None:  # plain text on the product: the distinct values are the keys
            values = self.get_product_model()._default_manager.exclude(**{field.name: ""})
            if term:
                values = values.filter(**{f"{field.name}__icontains": term})
            found = values.order_by(field.name).values_list(field.name, flat=True).distinct()[:limit]
            return [(str(value), str(value)) for value in found if value is not None]
        concrete = {f.name for f in related._meta.get_fields() if getattr(f, "concrete", False)}
        searchable = [name for name in label_fields if name in concrete]
        q = models.Q()
        if term:
            for name in searchable:
                q |= models.Q(**{f"{name}__icontains": term})
            try:
                q |= models.Q(pk=related._meta.pk.to_python(term))
            except (ValidationError, ValueError, TypeError):
                pass
        queryset = related._default_manager.filter(q).order_by(*(searchable[:1] or ["pk"]))[:limit]
        return [(str(obj.pk), str(obj)) for obj in queryset]

    def _facet_labels(self, names: Iterable[str], keys: Iterable[str]) -> dict[str, str]:
        field = self._facet_field(names)
        keys = [str(key) for key in keys]
        if field is None or not keys:
            return {}
        related = field.related_model if field.is_relation else None
        if related is None:  # the text is the key and the name; known if a product has it
            manager = self.get_product_model()._default_manager
            return {str(v): str(v) for v in manager.filter(**{f"{field.name}__in": keys}).values_list(field.name, flat=True).distinct()}
        pks = []
        for key in keys:
            try:
                pks.append(related._meta.pk.to_python(key))
            except (ValidationError, ValueError, TypeError):
                continue
        return {str(obj.pk): str(obj) for obj in related._default_manager.filter(pk__in=pks)} if pks else {}
