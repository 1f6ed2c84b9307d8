"""Helpers for the few statements written as SQL beside the ORM (where compiling the query cost
more than running it): values read back as the ORM would convert them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models


def db_converter(model: type[models.Model], name: str, connection: Any) -> Callable[[Any], Any]:
    """What turns the database's value of ``model.name`` into Python (the backend's and the
    field's converters, as the ORM applies them to a row)."""
    field = model._meta.get_field(name)
    col = field.get_col(model._meta.db_table)
    steps = connection.ops.get_db_converters(col) + field.get_db_converters(connection)

    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, col, connection)
        return value

    return convert
