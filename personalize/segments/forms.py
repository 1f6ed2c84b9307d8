"""Admin forms: a segment and its inline rules, validated per rule type.

Bad input is a form error, never a 500: an unknown kind, a missing or malformed parameter,
a per-request rule in a materialised segment, and a segment including itself (directly or
through other segments).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.models import Segment, SegmentRule
from personalize.segments.graph import dependency_graph, find_cycle, live_only_dependencies
from personalize.segments.rules import build_rule, get_rule_class, kind_choices, segment_dependencies


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "match", "mode", "is_active"]


class ParamsField(forms.JSONField):
    """JSON object of parameters; empty means ``{}``."""

    def to_python(self, value: Any) -> Any:
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            return {}
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if value is None or value == {}:
            return ""  # an empty row reads better blank than "null"
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return super().prepare_value(value)


class SegmentRuleForm(forms.ModelForm):
    kind = forms.ChoiceField(label=_("rule"), choices=())
    params = ParamsField(
        label=_("parameters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 50}),
        help_text=_('JSON, e.g. {"min": 3} or {"countries": "DE, AT"}: see the rule types below.'),
    )

    class Meta:
        model = SegmentRule
        fields = ["kind", "params", "negate", "position"]

    def __init__(self, *args: Any, parent: Segment | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.fields["kind"].choices = [("", "---------"), *kind_choices()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, params = data.get("kind"), data.get("params")
        if not kind or "params" in self.errors:
            return data
        if kind == "segment" and self.parent is not None and isinstance(params, dict):
            if params.get("segment") and params["segment"] == self.parent.slug:
                self.add_error("params", gettext("A segment cannot include itself."))
                return data
        try:
            rule = build_rule(kind, params)
        except ValidationError as exc:
            self.add_error("params", exc)
            return data
        data["params"] = type(rule).serialize_params(rule.params)
        return data


class SegmentRuleFormSet(BaseInlineFormSet):
    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        kwargs["parent"] = self.instance
        return kwargs

    def live_forms(self) -> list[forms.Form]:
        return [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data") and form.cleaned_data.get("kind") and not form.cleaned_data.get("DELETE")
        ]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return

        segment = self.instance
        forms_ = self.live_forms()
        materialised = segment.mode == Segment.Mode.MATERIALISED
        if materialised:
            for form in forms_:
                cls = get_rule_class(form.cleaned_data["kind"])
                if cls is not None and cls.live_only:
                    form.add_error(
                        "kind",
                        gettext("“%(rule)s” depends on the request; use it in a live segment.") % {"rule": cls.label},
                    )
            if any(form.errors for form in forms_):
                return
        referenced = segment_dependencies((f.cleaned_data["kind"], f.cleaned_data.get("params")) for f in forms_)
        if not referenced:
            return
        aliases = []
        if segment.pk is not None:
            stored = Segment.objects.filter(pk=segment.pk).values_list("slug", flat=True).first()
            if stored:
                aliases.append(stored)
        cycle = find_cycle(segment.slug, referenced, dependency_graph(exclude_pk=segment.pk), aliases)
        if cycle:
            raise ValidationError(
                gettext("A segment cannot include itself: %(path)s.") % {"path": " → ".join(cycle)}, code="cycle"
            )
        if materialised:
            offending = live_only_dependencies(referenced, exclude_pk=segment.pk)
            if offending:
                raise ValidationError(
                    gettext(
                        "A materialised segment cannot include live segments with per-request rules: %(slugs)s."
                    )
                    % {"slugs": ", ".join(sorted(offending))},
                    code="live_only",
                )
