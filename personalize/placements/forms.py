"""Admin forms: placement rules validated against the product model, and the preview."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalize.adapters import get_adapter
from personalize.models import PlacementRule, Shopper
from personalize.placements.config import get_placement, placement_choices
from personalize.placements.rules import validate_lookups


class PlacementRuleForm(forms.ModelForm):
    placement = forms.ChoiceField(label=gettext_lazy("placement"), required=False)

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
