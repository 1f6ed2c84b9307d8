"""Placement rules as rows a marketer fills in ("category › name", "is one of", "Gift cards"),
and back to the ORM lookups they are stored as (``{"category__name__in": ["Gift cards"]}``).

The rows are only an editor: what is stored and applied stays the lookups dict, so a rule
written in code or by an older release reads back as rows (a path the field list does not
offer is kept as it is), and saving it unchanged stores the same dict.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

# Lookup suffix -> how the marketer reads it; "" is the plain "equals".
OPERATORS: dict[str, Any] = {
    "": _("is"),
    "in": _("is one of"),
    "icontains": _("contains"),
    "gte": _("is at least"),
    "lte": _("is at most"),
    "gt": _("is more than"),
    "lt": _("is less than"),
}
# Text fields of a related model that a marketer knows it by.
NAMED_BY = ("name", "title", "slug", "code")
TRUE_WORDS = {"yes", "true", "1", "on"}
FALSE_WORDS = {"no", "false", "0", "off"}


class Row(NamedTuple):
    path: str
    operator: str
    value: str


def _plain_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.get_fields() if getattr(f, "concrete", False) and not f.is_relation]


def product_paths(model: type[models.Model]) -> list[tuple[str, str]]:
    """``(lookup path, label)`` for the product model's own fields and its relations' names."""
    paths = [(f.name, capfirst(f.verbose_name)) for f in _plain_fields(model) if not isinstance(f, (models.FileField, models.BinaryField))]
    for relation in model._meta.get_fields():
        if not relation.is_relation or relation.auto_created or relation.related_model is None:
            continue
        label = capfirst(relation.verbose_name)
        for target in _plain_fields(relation.related_model):
            if target.name in NAMED_BY:
                paths.append((f"{relation.name}__{target.name}", f"{label} › {target.verbose_name}"))
    return paths


def to_rows(lookups: dict[str, Any] | None) -> list[Row]:
    """The stored lookups as rows, in their order."""
    rows = []
    for key, value in (lookups or {}).items():
        path, _sep, suffix = key.rpartition("__")
        if not path or suffix not in OPERATORS:
            path, suffix = key, ""
        if isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = "" if value is None else str(value)
        rows.append(Row(path, suffix, text))
    return rows


def _field_at(model: type[models.Model], path: str) -> models.Field | None:
    field = None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return field


def _value(model: type[models.Model], path: str, operator: str, text: str) -> Any:
    if operator == "in":
        return [part.strip() for part in text.split(",") if part.strip()]
    field = _field_at(model, path)
    if isinstance(field, models.BooleanField) and text.lower() in TRUE_WORDS | FALSE_WORDS:
        return text.lower() in TRUE_WORDS
    return text


def from_rows(model: type[models.Model], rows: list[Row]) -> dict[str, Any]:
    """The lookups dict for filled-in rows (rows without a field are skipped)."""
    lookups: dict[str, Any] = {}
    for row in rows:
        if not row.path:
            continue
        key = f"{row.path}__{row.operator}" if row.operator else row.path
        lookups[key] = _value(model, row.path, row.operator, row.value.strip())
    return lookups


def describe(model: type[models.Model], lookups: dict[str, Any] | None) -> str:
    """One line for the change list: ``Category › name is one of Gift cards; Margin is at least 0.2``."""
    labels = dict(product_paths(model))
    return "; ".join(
        f"{labels.get(row.path, row.path)} {OPERATORS[row.operator]} {row.value}".strip() for row in to_rows(lookups)
    )
