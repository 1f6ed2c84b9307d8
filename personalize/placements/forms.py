"""Admin forms: placement rules validated against the product model, and the preview."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalize.adapters import get_adapter
from personalize.models import PlacementRule, Shopper
from personalize.placements.config import get_placement, placement_choices
from personalize.placements.lookups import OPERATORS, Row, from_rows, product_paths, to_rows
from personalize.placements.rules import validate_lookups

BLANK_ROWS = 2  # empty rows offered below a rule's own


class RuleRowsWidget(forms.Widget):
    """Rows of field / condition / value; posts ``<name>-rows`` and ``<name>-<i>-path|operator|value``.

    A post that carries the lookups as JSON under ``<name>`` itself (a script, an older form)
    is read as that JSON.
    """

    template_name = "admin/personalize/placementrule/rule_rows.html"
    paths: list[tuple[str, str]] = []

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rows = value if isinstance(value, list) else to_rows(value if isinstance(value, dict) else _loads(value))
        paths = list(self.paths)
        known = {path for path, _label in paths}
        paths += [(row.path, row.path) for row in rows if row.path and row.path not in known]  # kept as written
        context["widget"].update(
            rows=[*rows, *[Row("", "", "")] * BLANK_ROWS], paths=paths, operators=list(OPERATORS.items())
        )
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        try:
            count = min(int(data.get(f"{name}-rows", "")), 100)
        except ValueError:
            return data.get(name)
        return [
            Row(data.get(f"{name}-{i}-path", ""), data.get(f"{name}-{i}-operator", ""), data.get(f"{name}-{i}-value", ""))
            for i in range(count)
        ]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-rows" not in data and name not in data


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else {}
    except ValueError:
        return value


class RuleRowsField(forms.Field):
    """A placement rule's lookups, edited as rows and cleaned to the stored dict."""

    widget = RuleRowsWidget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, required=False, **kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, list):
            for row in value:
                if row.path and row.operator not in OPERATORS:
                    raise ValidationError(_("Choose a condition for “%(field)s”.") % {"field": row.path}, code="operator")
                if row.path and not row.value.strip():
                    raise ValidationError(_("Enter a value for “%(field)s”.") % {"field": row.path}, code="value")
            return from_rows(get_adapter().get_product_model(), value)
        value = _loads(value)
        return {} if value in (None, "") else value

    def prepare_value(self, value: Any) -> Any:
        return _loads(value)


class PlacementRuleForm(forms.ModelForm):
    placement = forms.ChoiceField(label=capfirst(gettext_lazy("placement")), required=False)
    include = RuleRowsField(
        label=capfirst(gettext_lazy("only products matching")),
        help_text=gettext_lazy("Every row must hold. “Is one of” takes values separated by commas; yes/no fields take yes or no."),
    )
    exclude = RuleRowsField(
        label=capfirst(gettext_lazy("never products matching")),
        help_text=gettext_lazy("A product matching any row is left out."),
    )

    class Meta:
        model = PlacementRule
        fields = ("name", "placement", "include", "exclude", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("Every placement"))] + placement_choices()
        current = self.instance.placement if self.instance and self.instance.pk else ""
        if current and current not in dict(choices):  # a placement since removed from settings
            choices.append((current, current))
        self.fields["placement"].choices = choices
        paths = product_paths(get_adapter().get_product_model())
        for name in ("include", "exclude"):
            self.fields[name].widget.paths = paths

    def clean_include(self) -> dict[str, Any]:
        value = self.cleaned_data.get("include") or {}
        validate_lookups(value, field="include")
        return value

    def clean_exclude(self) -> dict[str, Any]:
        value = self.cleaned_data.get("exclude") or {}
        validate_lookups(value, field="exclude")
        return value


class PreviewForm(forms.Form):
    shopper = forms.CharField(
        label=gettext_lazy("shopper"),
        max_length=150,
        help_text=gettext_lazy("Shopper key, or the username or email of an account."),
    )
    placement = forms.ChoiceField(label=gettext_lazy("placement"))
    product = forms.CharField(
        label=gettext_lazy("product"), required=False, max_length=64,
        help_text=gettext_lazy("The product on the page (needed by similar / bought together)."),
    )
    category = forms.CharField(label=gettext_lazy("category key"), required=False, max_length=64)
    limit = forms.IntegerField(label=gettext_lazy("limit"), min_value=1, max_value=50, initial=8)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["placement"].choices = placement_choices()

    def clean_shopper(self) -> Shopper:
        raw = self.cleaned_data["shopper"].strip()
        shopper = None
        try:
            shopper = Shopper.objects.select_related("cart").filter(key=uuid.UUID(raw)).first()
        except ValueError:
            user_model = get_user_model()
            lookup = Q(**{user_model.USERNAME_FIELD: raw})
            if "@" in raw:
                lookup |= Q(**{f"{user_model.get_email_field_name()}__iexact": raw})
            users = user_model._default_manager.filter(lookup).values("pk")[:2]
            shopper = Shopper.objects.select_related("cart").filter(user__in=users).first()
            if shopper is None and "@" in raw:
                shopper = Shopper.objects.select_related("cart").filter(email__iexact=raw).first()
        if shopper is None:
            raise ValidationError(_("No shopper with that key, username or email."))
        while shopper.merged_into_id:
            shopper = Shopper.objects.select_related("cart").get(pk=shopper.merged_into_id)
        return shopper

    def clean_product(self) -> str:
        key = self.cleaned_data["product"].strip()
        if key and not get_adapter().is_valid_key(key):
            raise ValidationError(_("“%(id)s” is not a valid product id.") % {"id": key})
        return key

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        name = data.get("placement")
        if name and get_placement(name).needs_product and not data.get("product"):
            self.add_error("product", _("This placement needs a product."))
        return data
