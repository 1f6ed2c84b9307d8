"""Access and portability (GDPR art. 15, 20): one JSON document of everything held about a person.

The document is built from :data:`personalize.privacy.holdings.HOLDINGS`, so a model listed
there for erasure is exported too. Rows are written field by field (foreign keys as ids),
grouped by model label, with a format version.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model
from django.utils import timezone

from personalize.privacy.holdings import HOLDINGS
from personalize.privacy.people import Person, find_person

FORMAT = "django-personalize/personal-data/1"
# Rows per query while exporting (a long-time shopper may have many thousands of events).
CHUNK = 2000
# Fields that are internal plumbing, not information about the person.
SKIPPED_FIELDS = {"merged_into", "revision"}


def row_dict(row: Model) -> dict[str, Any]:
    """A row's concrete fields: foreign keys as ids, values as stored."""
    data: dict[str, Any] = {}
    for model_field in row._meta.concrete_fields:
        if model_field.name in SKIPPED_FIELDS:
            continue
        value = getattr(row, model_field.attname)
        if hasattr(value, "name") and hasattr(value, "storage"):  # a FieldFile
            value = value.name or ""
        data[model_field.attname] = value
    return data


def export_person(person: Person) -> dict[str, Any]:
    """The document for an already found person (see :func:`find_person`)."""
    data: dict[str, list[dict[str, Any]]] = {}
    for holding in HOLDINGS:
        rows = holding.rows(person.shopper_ids, person.emails).order_by("pk")
        data[holding.label] = [row_dict(row) for row in rows.iterator(chunk_size=CHUNK)]
    return {
        "format": FORMAT,
        "created_at": timezone.now(),
        "subject": {"emails": sorted(person.emails), "profiles": len(person.shopper_ids)},
        "data": data,
    }


def export_data(*, user: Any = None, email: str = "", shopper: Any = None) -> dict[str, Any]:
    """Everything held about the person named by ``user``, ``email`` and/or ``shopper``."""
    return export_person(find_person(user=user, email=email, shopper=shopper))


def to_json(document: dict[str, Any], *, indent: int | None = 2) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, indent=indent, ensure_ascii=False)
