"""Admin forms for offers and campaigns: bad input becomes a form error, never a 500."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.models import CONTROL, Campaign, CampaignContent, Offer


class KeyListField(forms.CharField):
    """Keys typed one per line or comma-separated, stored as a list of strings."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return "\n".join(str(v) for v in value)
        return value or ""

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, (list, tuple)):
            return [str(v).strip() for v in value if str(v).strip()]
        keys = [part.strip() for part in re.split(r"[\s,]+", value or "") if part.strip()]
        return list(dict.fromkeys(keys))


class OfferForm(forms.ModelForm):
    scope_keys = KeyListField(
        label=_("Category or product keys"),
        required=False,
        help_text=_("One per line or comma-separated: category keys or product ids, depending on the scope."),
    )

    class Meta:
        model = Offer
        fields = "__all__"

    def clean_scope_keys(self) -> list[str]:
        keys = self.cleaned_data.get("scope_keys") or []
        if self.cleaned_data.get("scope") == Offer.Scope.PRODUCTS and keys:
            adapter = get_adapter()
            bad = [k for k in keys if not adapter.is_valid_key(k)]
            if bad:
                raise ValidationError(_("Not product ids: %(keys)s.") % {"keys": ", ".join(bad[:5])})
            found = {adapter.product_key(p) for p in adapter.get_products(keys)}
            missing = [k for k in keys if k not in found]
            if missing:
                raise ValidationError(_("No such products: %(keys)s.") % {"keys": ", ".join(missing[:5])})
        return keys


class CampaignForm(forms.ModelForm):
    default_language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES)

    class Meta:
        model = Campaign
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_language"].choices = settings.LANGUAGES
        if not self.instance.pk:
            self.initial.setdefault("default_language", settings.LANGUAGE_CODE)


class CampaignContentForm(forms.ModelForm):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = CampaignContent
        fields = ["variant", "language", "headline", "text", "image", "image_alt", "cta_label", "link"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        # A new content row starts in the store's language, not the first in the list ("af").
        self.fields["language"].initial = settings.LANGUAGE_CODE

    def clean_variant(self) -> str:
        variant = self.cleaned_data["variant"]
        if variant == CONTROL:
            raise ValidationError(_("“control” is reserved for the control group."))
        return variant


class CampaignContentFormSet(BaseInlineFormSet):
    """At least one content; one per variant and language; each variant in the default language."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        seen: set[tuple[str, str]] = set()
        variants: set[str] = set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            key = (form.cleaned_data["variant"], form.cleaned_data["language"])
            if key in seen:
                raise ValidationError(_("Variant %(variant)s has two contents in %(language)s.") % {"variant": key[0], "language": key[1]})
            seen.add(key)
            variants.add(key[0])
        if not seen:
            raise ValidationError(_("Add the campaign's content (at least a headline)."))
        default = (self.instance.default_language or settings.LANGUAGE_CODE)
        missing = sorted(v for v in variants if (v, default) not in seen)
        if missing:
            raise ValidationError(
                _("Every variant needs content in the default language (%(language)s): missing for %(variants)s.")
                % {"language": default, "variants": ", ".join(missing)}
            )
