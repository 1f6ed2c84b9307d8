"""The segment rule inline as forms, not JSON: the marketer picks a rule type and fills in that
type's fields, rendered from the rule's own ``Params`` form.

Every rule type's fields are in the page, each set prefixed ``<inline prefix>-params-<kind>-``
so none clash; ``segment_rules.js`` shows the chosen type's set (without JavaScript the chosen
type's set is shown after a save, and a new row shows them all). Only the chosen type's form
is bound and validated, so its errors appear on its fields. What is stored is the rule's JSON
``params`` as before: ``build_rule`` validates it once more, so the engine is unchanged.

Widgets for marketers: choices as selects or checkboxes with their labels (and help per value
where the rule gives one), numbers as number boxes, days as the admin's duration widget
(``widgets.DurationInput``), products / categories / brands as select2 pickers searching the
store through the adapter (``CataloguePicker``, Django admin's autocomplete pattern), other
segments as a select.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import Any

from django import forms
from django.forms.utils import pretty_name
from django.conf import settings
from django.contrib.admin.widgets import get_select2_language
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.admin.widgets import DurationField, DurationInput
from personalize.models import Segment, SegmentRule
from personalize.segments.rules import (
    CATALOGUE_FACETS,
    CatalogueKeyField,
    DaysField,
    Rule,
    SegmentSlugField,
    build_rule,
    get_rule_class,
    rule_registry,
)

DAY_UNITS = (("days", _("days"), 86400), ("weeks", _("weeks"), 7 * 86400))
_ROLE = re.compile(r":[a-z]+:`~?\.?([^`]+)`")


def plain_text(text: Any) -> str:
    """A docstring or help text as plain words: RST roles and ````literals```` unwrapped,
    whitespace folded (HTML is escaped where it is rendered, so ``<name>`` stays visible)."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], str(text or ""))
    return " ".join(text.replace("``", "").split())


def rule_description(cls: type[Rule]) -> str:
    """The rule's ``description`` for the marketer, else its docstring's first paragraph."""
    if cls.description:
        return plain_text(cls.description)
    doc = (cls.__doc__ or "").strip()
    return plain_text(doc.split("\n\n")[0]) if doc and cls.__doc__ != Rule.__doc__ else ""


# --- widgets ------------------------------------------------------------------------------
class CataloguePicker(forms.Select):
    """A search-as-you-type select of the store's products, categories or brands.

    Django admin's ``AutocompleteSelect`` pattern (its vendored select2, a JSON view answering
    ``{"results": [{"id", "text"}], "pagination": {"more"}}``), but the view searches through the
    adapter (``search_catalogue``), since the store's product model is not ours to register. Only
    the selected key is an option, labelled with its name (``catalogue_labels``).
    """

    def __init__(self, facet: str | None = None, facet_field: str | None = None, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.facet, self.facet_field = facet, facet_field

    @property
    def media(self) -> forms.Media:
        extra = "" if settings.DEBUG else ".min"
        language = get_select2_language()
        i18n = (f"admin/js/vendor/select2/i18n/{language}.js",) if language else ()
        return forms.Media(
            js=(
                f"admin/js/vendor/jquery/jquery{extra}.js",
                f"admin/js/vendor/select2/select2.full{extra}.js",
                *i18n,
                "admin/js/jquery.init.js",
                "personalize/admin/segment_rules.js",
            ),
            css={"screen": (f"admin/css/vendor/select2/select2{extra}.css", "admin/css/autocomplete.css")},
        )

    def build_attrs(self, base_attrs: dict, extra_attrs: dict | None = None) -> dict:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.setdefault("class", "")
        attrs["class"] += " personalize-picker"
        attrs["data-url"] = reverse("admin:personalize_segment_catalogue")
        attrs["data-placeholder"] = gettext("Type to search…")
        attrs["data-allow-clear"] = "true"
        attrs["data-theme"] = "admin-autocomplete"
        attrs["lang"] = get_select2_language() or "en"
        if self.facet:
            attrs["data-facet"] = self.facet
        if self.facet_field:
            attrs["data-facet-from"] = self.facet_field
        return attrs

    def optgroups(self, name: str, value: list[Any], attrs: dict | None = None) -> list:
        selected = [str(v) for v in value if v not in (None, "")]
        labels: dict[str, str] = {}
        if selected and self.facet:
            try:
                labels = get_adapter().catalogue_labels(self.facet, selected)
            except Exception:  # noqa: BLE001 - the form still opens with the bare key
                labels = {}
        options = [self.create_option(name, "", "", False, 0)]
        options += [self.create_option(name, key, labels.get(key, key), True, i + 1) for i, key in enumerate(selected)]
        return [(None, options, 0)]


class DaysInput(DurationInput):
    """The duration widget for a whole number of days (as stored by a ``DaysField``)."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, units=DAY_UNITS)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, (int, str)) and str(value).strip().isdigit():
            value = timedelta(days=int(value))
        return super().decompress(value)


class DaysDurationField(DurationField):
    """A ``DaysField`` typed as "3 days" or "2 weeks"; cleans to the int of days it stores."""

    def __init__(self, *, min_days: int | None = None, max_days: int | None = None, **kwargs: Any) -> None:
        self.min_days = min_days
        kwargs["widget"] = DaysInput()
        super().__init__(max_value=timedelta(days=max_days) if max_days is not None else None, units=DAY_UNITS, **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:  # type: ignore[override]
        value = super().compress(data_list)
        if value is None:
            return None
        if self.min_days is not None and value.days < self.min_days:
            raise ValidationError(_("At least %(min)s days."), params={"min": self.min_days}, code="min_value")
        return value.days


def _bound(field: forms.Field, name: str) -> Any:
    for validator in field.validators:
        if getattr(validator, "code", None) == name:
            return validator.limit_value
    return None


def marketer_field(field: forms.Field) -> forms.Field:
    """The admin's version of one ``Params`` field (the same validation, a friendlier widget)."""
    if isinstance(field, DaysField):
        return DaysDurationField(
            label=field.label,
            required=field.required,
            help_text=field.help_text,
            initial=field.initial,
            min_days=_bound(field, "min_value"),
            max_days=_bound(field, "max_value"),
        )
    if isinstance(field, CatalogueKeyField):
        field.widget = CataloguePicker(facet=field.facet, facet_field=field.facet_field)
        return field
    if isinstance(field, SegmentSlugField):
        choices = [("", "---------"), *((slug, f"{n} ({slug})") for slug, n in Segment.objects.values_list("slug", "name"))]
        return forms.ChoiceField(label=field.label, required=field.required, help_text=field.help_text, choices=choices)
    if isinstance(field, forms.MultipleChoiceField):
        field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
        return field
    return field


@cache
def marketer_params_form(cls: type[Rule]) -> type[forms.Form]:
    """``cls.Params`` with marketer widgets (its own ``clean*`` methods still run)."""

    class MarketerParams(cls.Params):  # type: ignore[name-defined, misc]
        use_required_attribute = False  # the other rule types' fields are in the page, hidden

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for name, field in list(self.fields.items()):
                self.fields[name] = marketer_field(field)
                self.fields[name].label = capfirst(field.label or pretty_name(name))
                self.fields[name].widget.attrs["data-param"] = name
            self._set_facets()

        def _set_facets(self) -> None:
            """A picker whose facet comes from a sibling (``target``) labels its key by it."""
            for name, field in self.fields.items():
                widget = field.widget
                if isinstance(widget, CataloguePicker) and widget.facet_field:
                    facet = self.data.get(self.add_prefix(widget.facet_field)) if self.is_bound else None
                    facet = facet or (self.initial or {}).get(widget.facet_field) or self.fields[widget.facet_field].initial
                    widget.facet = facet if facet in CATALOGUE_FACETS else None

        def choice_help(self) -> dict[str, dict[str, str]]:
            helper = getattr(cls.Params, "choice_help", None)
            return helper() if callable(helper) else {}

    MarketerParams.__name__ = f"{cls.__name__}MarketerParams"
    return MarketerParams


def params_initial(cls: type[Rule], params: Any) -> dict[str, Any]:
    """Stored params as form initial values (unknown keys dropped)."""
    if not isinstance(params, dict):
        return {}
    return {key: value for key, value in params.items() if key in cls.Params.base_fields}


# --- the inline form -----------------------------------------------------------------------
class SegmentRuleForm(forms.ModelForm):
    """One rule: its type, negate, position and the chosen type's fields (see the module)."""

    kind = forms.ChoiceField(label=_("Rule type"), choices=())

    class Meta:
        model = SegmentRule
        fields = ["kind", "negate", "position"]

    def __init__(self, *args: Any, parent: Segment | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.fields["kind"].choices = [("", "---------"), *self.kind_choices()]
        self.fields["kind"].widget.attrs["class"] = "personalize-rule-kind"
        self._params_forms: dict[str, forms.Form] = {}

    @staticmethod
    def kind_choices() -> list[tuple[str, str]]:
        return [
            (kind, gettext("%(rule)s (per visit)") % {"rule": cls.label} if cls.live_only else str(cls.label))
            for kind, cls in rule_registry().items()
        ]

    @property
    def chosen_kind(self) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix("kind")) or "")
        return str(self.initial.get("kind") or self.instance.kind or "")

    def params_form(self, kind: str) -> forms.Form | None:
        """The (cached) params form of ``kind``: bound to the POST for the chosen kind."""
        if kind in self._params_forms:
            return self._params_forms[kind]
        cls = get_rule_class(kind)
        if cls is None:
            return None
        stored = self.instance.params if self.instance.pk is not None and self.instance.kind == kind else None
        initial = params_initial(cls, stored)
        prefix = self.add_prefix(f"params-{kind}")
        form_class = marketer_params_form(cls)
        if self.is_bound and self.chosen_kind == kind:
            form = form_class(data=self.data, prefix=prefix, initial=initial)
        else:
            form = form_class(prefix=prefix, initial=initial)
        self._params_forms[kind] = form
        return form

    def has_changed(self) -> bool:
        if super().has_changed():
            return True
        form = self.params_form(self.chosen_kind) if self.chosen_kind else None
        return bool(form is not None and form.is_bound and form.has_changed())

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        form = self.params_form(kind)
        if form is None:
            return data
        if not form.is_valid():
            raise ValidationError(_("Correct the rule's fields below."), code="params")
        try:
            rule = build_rule(kind, {k: v for k, v in form.cleaned_data.items() if v not in (None, "", [])})
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="params") from None
        params = type(rule).serialize_params(rule.params)
        if kind == "segment" and self.parent is not None and params.get("segment") == self.parent.slug:
            form.add_error("segment", gettext("A segment cannot include itself."))
            raise ValidationError(_("Correct the rule's fields below."), code="params")
        data["params"] = params
        self.instance.params = params
        return data

    def params_errors(self) -> list[str]:
        """The chosen type's field errors as text (for messages and tests)."""
        form = self.params_form(self.chosen_kind) if self.chosen_kind else None
        if form is None or not form.is_bound:
            return []
        return [f"{name}: {error}" for name, errors in form.errors.items() for error in errors]

    def render_params(self) -> SafeString:
        """Every rule type's fieldset (the chosen one shown), for the inline template."""
        chosen = self.chosen_kind
        blocks = []
        for kind, cls in rule_registry().items():
            form = self.params_form(kind)
            helps = form.choice_help() if hasattr(form, "choice_help") else {}
            fields = []
            for bound in form:
                per_value = helps.get(bound.name, {})
                choices = getattr(bound.field, "choices", ())
                fields.append(
                    {
                        "bound": bound,
                        "help": plain_text(bound.help_text),
                        "choice_help": [(label, per_value[value]) for value, label in choices if value in per_value],
                    }
                )
            blocks.append(
                {
                    "kind": kind,
                    "label": cls.label,
                    "doc": rule_description(cls),
                    "live_only": cls.live_only,
                    "form": form,
                    "fields": fields,
                    "hidden": bool(chosen) and kind != chosen,
                }
            )
        return render_to_string("admin/personalize/segment/rule_params.html", {"blocks": blocks, "chosen": chosen})

    @property
    def media(self) -> forms.Media:
        return super().media + CataloguePicker().media

