"""Admin forms: a segment, and the checks across its inline rules.

Bad input is a form error, never a 500: a per-request rule in a materialised segment, and a
segment including itself (directly or through other segments). One rule's own form (its type
and typed parameters) is ``personalize.admin.rule_forms.SegmentRuleForm``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext

from personalize.models import Segment
from personalize.segments.graph import dependency_graph, find_cycle, live_only_dependencies
from personalize.segments.rules import get_rule_class, segment_dependencies


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "match", "mode", "is_active"]


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
