"""Admin form widgets for marketers: durations as "3 days", money in the store's format.

``DurationField`` replaces Django's ``1 00:00:00`` text box with a number and a unit
(minutes, hours, days); stored values stay ``timedelta``. ``money`` writes an amount the way
the store does (``PRICE_FORMAT`` with grouping: "€225,638.94").
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from personalize.pricing import format_price

UNITS = (("minutes", _("minutes"), 60), ("hours", _("hours"), 3600), ("days", _("days"), 86400))


def split_duration(value: timedelta | None, units: tuple = UNITS) -> tuple[int | None, str]:
    """``timedelta(days=3)`` -> ``(3, "days")``: the largest unit that divides it exactly."""
    if value is None:
        return None, units[min(1, len(units) - 1)][0]
    seconds = int(value.total_seconds())
    for name, _label, size in reversed(units):
        if seconds % size == 0:
            return seconds // size, name
    return round(seconds / units[0][2]), units[0][0]


def describe_duration(value: timedelta | None) -> str:
    """"1 hour", "3 days", "90 minutes" (for lists and read-only fields)."""
    amount, unit = split_duration(value)
    if amount is None:
        return ""
    words = {
        "minutes": ngettext("%(n)d minute", "%(n)d minutes", amount),
        "hours": ngettext("%(n)d hour", "%(n)d hours", amount),
        "days": ngettext("%(n)d day", "%(n)d days", amount),
    }
    return words[unit] % {"n": amount}


class DurationInput(forms.MultiWidget):
    """A number box and a unit select (``units``: ``(name, label, seconds)``, smallest first)."""

    template_name = "django/forms/widgets/multiwidget.html"

    def __init__(self, attrs: dict[str, Any] | None = None, units: tuple = UNITS) -> None:
        self.units = units
        widgets = (
            forms.NumberInput(attrs={"min": 0, "step": 1, "style": "width:6em", **(attrs or {})}),
            forms.Select(choices=[(name, label) for name, label, _s in units]),
        )
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, timedelta):
            return list(split_duration(value, self.units))
        return [None, split_duration(None, self.units)[1]]


class DurationField(forms.MultiValueField):
    """A ``timedelta`` typed as a whole number of minutes, hours or days."""

    widget = DurationInput

    def __init__(self, *, max_value: timedelta | None = None, units: tuple = UNITS, **kwargs: Any) -> None:
        self.max_value = max_value
        self.unit_seconds = {name: seconds for name, _label, seconds in units}
        fields = (
            forms.IntegerField(min_value=0),
            forms.ChoiceField(choices=[(name, label) for name, label, _s in units]),
        )
        kwargs.pop("max_length", None)
        kwargs.pop("empty_value", None)
        kwargs.setdefault("widget", DurationInput(units=units))
        super().__init__(fields, require_all_fields=True, **kwargs)

    def compress(self, data_list: list[Any]) -> timedelta | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        value = timedelta(seconds=int(data_list[0]) * self.unit_seconds[data_list[1]])
        if self.max_value is not None and value > self.max_value:
            raise ValidationError(_("At most %(max)s."), params={"max": describe_duration(self.max_value)}, code="max_value")
        return value


def duration_formfield(db_field: Any, **kwargs: Any) -> DurationField:
    """``formfield_overrides`` helper: ``{models.DurationField: {"form_class": ...}}`` cannot
    pass the model field's label/help, so admins call this from ``formfield_for_dbfield``."""
    return DurationField(
        label=db_field.verbose_name.capitalize() if db_field.verbose_name else None,
        help_text=db_field.help_text,
        required=not db_field.blank,
        initial=db_field.default if isinstance(db_field.default, timedelta) else None,
        **kwargs,
    )


def money(value: Any) -> str:
    """An amount in the store's currency format with grouping; "" for None."""
    if value is None or value == "":
        return ""
    try:
        Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format_price(value)


def number(value: Any, digits: int = 0) -> str:
    """A count or rate with the active language's grouping ("12,345")."""
    if value is None:
        return "—"
    return number_format(value, digits, force_grouping=True)
