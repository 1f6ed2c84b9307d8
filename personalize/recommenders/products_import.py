"""Importing a catalogue (CSV or JSON) into the store's own product model, through the adapter.

Each row names a product by ``key`` (the adapter's product key, the same ids events are
imported with) and sets fields by name: the model's own field names, or the adapter's roles
(``title``, ``price``, ``category``, ``brand``, ``stock``, ``tags``, ``image``, ``active``),
which go to the first matching field the adapter knows. A foreign key (category, brand) takes
the related object's primary key or its slug/name/title (created with that name when missing);
a many-to-many field takes several values separated by ``|``. Every product is validated with
``full_clean`` before it is saved.

A store whose products need more (variants, stock records, Oscar's product classes) gives its
adapter an ``import_product(row: dict[str, str]) -> product`` method: it is called for every
row instead (raise ``ValidationError`` or ``ValueError`` to reject a row).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models, transaction

from personalize.adapters import DefaultAdapter, get_adapter

#: Adapter roles a column may name instead of a field.
ROLES = ("title", "price", "category", "brand", "stock", "tags", "image", "active")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, why)


def read_rows(name: str, data: bytes) -> list[dict[str, str]]:
    """Rows of a ``.json`` (a list of objects, or ``{"products": [...]}``) or CSV file."""
    text = data.decode("utf-8-sig")
    if name.lower().endswith(".json"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from exc
        rows = parsed.get("products") if isinstance(parsed, dict) else parsed
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ValueError('JSON must be a list of product objects (or {"products": [...]}).')
        return [{str(k): "" if v is None else str(v) for k, v in row.items()} for row in rows]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "key" not in reader.fieldnames:
        raise ValueError("the CSV needs a header row with a 'key' column.")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _field_for(adapter: DefaultAdapter, model: type[models.Model], column: str) -> models.Field | None:
    names = {f.name: f for f in model._meta.get_fields() if getattr(f, "concrete", False) or f.many_to_many}
    if column in names:
        return names[column]
    if column in ROLES:
        for candidate in getattr(adapter, f"{column}_fields", ()):
            if candidate in names:
                return names[candidate]
    return None


def _related(fld: models.Field, value: str) -> models.Model:
    related = fld.related_model
    manager = related._default_manager
    if value.isdigit():
        found = manager.filter(pk=int(value)).first()
        if found is not None:
            return found
    labels = [f.name for f in related._meta.get_fields() if f.name in ("slug", "name", "title")]
    for label in labels:
        found = manager.filter(**{label: value}).first()
        if found is not None:
            return found
    if not labels:
        raise ValueError(f"no {related._meta.verbose_name} {value!r}")
    creatable = "name" if "name" in labels else labels[-1]
    obj = related(**{creatable: value})
    if "slug" in labels and creatable != "slug":
        obj.slug = value.lower().replace(" ", "-")[:50]
    obj.full_clean()
    obj.save()
    return obj


def _to_value(fld: models.Field, value: str) -> Any:
    if isinstance(fld, models.BooleanField):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    if value == "" and fld.null:
        return None
    return fld.to_python(value)


def import_product(adapter: DefaultAdapter, row: dict[str, str]) -> tuple[models.Model, bool]:
    """Create or update the product ``row`` names; returns (product, created)."""
    model = adapter.get_product_model()
    key = (row.get("key") or "").strip()
    if not key or not adapter.is_valid_key(key):
        raise ValueError(f"invalid product key {key!r}")
    pk = adapter.to_python_key(key)
    try:
        product, created = model._default_manager.get(pk=pk), False
    except ObjectDoesNotExist:
        product, created = model(pk=pk), True
    many: list[tuple[models.Field, list[models.Model]]] = []
    given: set[str] = set()
    for column, value in row.items():
        if column == "key":
            continue
        fld = _field_for(adapter, model, column)
        if fld is None:
            raise ValueError(f"unknown column {column!r} (no such field on {model._meta.label})")
        given.add(fld.name)
        if fld.many_to_many:
            many.append((fld, [_related(fld, v.strip()) for v in value.split("|") if v.strip()]))
        elif fld.is_relation:
            setattr(product, fld.name, _related(fld, value) if value else None)
        else:
            try:
                setattr(product, fld.attname, _to_value(fld, value))
            except ValidationError as exc:
                raise ValueError(f"{column}: {' '.join(exc.messages)}") from exc
    # The model's own defaults are not the file's to validate (a float default on a
    # DecimalField fails full_clean); what the row sets and what has no default is.
    untouched = [f.name for f in model._meta.concrete_fields if f.name not in given and f.has_default()]
    product.full_clean(exclude=untouched, validate_unique=False)
    product.save()
    for fld, objects in many:
        getattr(product, fld.name).set(objects)
    return product, created


def import_products(rows: list[dict[str, str]], *, strict: bool = False, dry_run: bool = False) -> ImportReport:
    """Import every row; a bad row is reported and skipped (``strict``: nothing is saved)."""
    adapter = get_adapter()
    hook = getattr(adapter, "import_product", None)
    report = ImportReport()
    with transaction.atomic():
        for number, row in enumerate(rows, start=1):
            try:
                with transaction.atomic():
                    if hook is not None:
                        before = adapter.get_product(row.get("key", ""))
                        hook(row)
                        created = before is None
                    else:
                        _product, created = import_product(adapter, row)
            except (ValidationError, ValueError, TypeError) as exc:
                why = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()) if hasattr(exc, "message_dict") else str(exc)
                report.errors.append((number, why))
                continue
            report.created += int(created)
            report.updated += int(not created)
        if dry_run or (strict and report.errors):
            transaction.set_rollback(True)
    return report
