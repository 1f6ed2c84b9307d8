"""Admin for segments: rules inline, the live count and a sample on the change page, a
streaming CSV export of the matching shoppers, and "refresh now" for materialised segments."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.models import Segment, SegmentRule
from personalize.segments.forms import SegmentForm, SegmentRuleForm, SegmentRuleFormSet
from personalize.segments.materialise import iter_matching_shoppers, preview, refresh_segments
from personalize.segments.rules import describe_rule, rule_registry

# A spreadsheet runs a cell starting with these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("key", "user", "email", "country", "device", "language", "visits", "first_seen", "last_seen")


def csv_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def shopper_row(shopper: Any) -> list[str]:
    user = shopper.user if shopper.user_id else None
    return [
        csv_safe(value)
        for value in (
            shopper.key,
            user.get_username() if user is not None else "",
            shopper.get_email(),
            shopper.country,
            shopper.device,
            shopper.language,
            shopper.visits,
            shopper.first_seen.isoformat(),
            shopper.last_seen.isoformat(),
        )
    ]


def csv_rows(segment: Segment) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for shopper in iter_matching_shoppers(segment):
        yield writer.writerow(shopper_row(shopper))


def rule_types() -> list[dict[str, Any]]:
    """Every rule type with its parameters, for the help table under the rules."""
    return [
        {
            "kind": kind,
            "label": cls.label,
            "params": cls.help_text(),
            "doc": " ".join((cls.__doc__ or "").split("\n\n")[0].split()),
            "live_only": cls.live_only,
        }
        for kind, cls in rule_registry().items()
    ]


class SegmentRuleInline(admin.TabularInline):
    model = SegmentRule
    form = SegmentRuleForm
    formset = SegmentRuleFormSet
    extra = 1
    fields = ["position", "kind", "params", "negate"]
    ordering = ["position", "pk"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    inlines = [SegmentRuleInline]
    list_display = ["name", "slug", "mode", "match", "is_active", "rules_summary", "member_count", "last_refreshed_at"]
    list_filter = ["mode", "is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["last_refreshed_at", "member_count"]
    actions = ["refresh_selected"]
    change_form_template = "admin/personalize/segment/change_form.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("rules")

    @admin.display(description=_("rules"))
    def rules_summary(self, obj: Segment) -> str:
        joiner = gettext(" and ") if obj.match == Segment.Match.ALL else gettext(" or ")
        return joiner.join(describe_rule(rule.kind, rule.params, rule.negate) for rule in obj.rules.all()) or "—"

    # --- extra views -------------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/export.csv", self.admin_site.admin_view(self.export_csv), name="%s_%s_export" % info),
            path("<int:pk>/refresh/", self.admin_site.admin_view(self.refresh_view), name="%s_%s_refresh" % info),
            *super().get_urls(),
        ]

    def can_export(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        """Exporting shoppers needs the segment's and the shoppers' view permission."""
        return self.has_view_permission(request, obj) and request.user.has_perm("personalize.view_shopper")

    def export_csv(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        segment = get_object_or_404(Segment, pk=pk)
        if not self.can_export(request, segment):
            raise PermissionDenied
        response = StreamingHttpResponse(csv_rows(segment), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.slug}-{stamp}.csv"'
        return response

    def refresh_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        segment = get_object_or_404(Segment, pk=pk)
        if request.method != "POST":
            return HttpResponse(status=405)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        self._refresh(request, [segment])
        return HttpResponseRedirect(reverse("admin:personalize_segment_change", args=[segment.pk]))

    @admin.action(description=_("Refresh memberships now (materialised segments)"), permissions=["change"])
    def refresh_selected(self, request: HttpRequest, queryset: Any) -> None:
        self._refresh(request, list(queryset))

    def _refresh(self, request: HttpRequest, segments: list[Segment]) -> None:
        materialised = [s.slug for s in segments if s.is_materialised and s.is_active]
        if len(materialised) < len(segments):
            self.message_user(
                request, gettext("Only active materialised segments are refreshed; live ones are evaluated per request."), messages.WARNING
            )
        if not materialised:
            return
        for result in refresh_segments(materialised):
            if result.refreshed:
                self.message_user(
                    request,
                    gettext("%(slug)s: %(members)s members (%(added)s added, %(removed)s removed).")
                    % {"slug": result.slug, "members": result.members, "added": result.added, "removed": result.removed},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request, gettext("%(slug)s was not refreshed: another refresh is running or it failed.") % {"slug": result.slug}, messages.WARNING
                )

    # --- the change page ----------------------------------------------------------------
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        extra_context = dict(extra_context or {})
        extra_context["rule_types"] = rule_types()
        segment = self.get_object(request, object_id)
        if segment is not None and request.method == "GET":
            try:
                extra_context["preview"] = preview(segment)
            except Exception as exc:  # noqa: BLE001 - the page must open even if a rule is broken
                extra_context["preview_error"] = str(exc)
            extra_context["can_export"] = self.can_export(request, segment)
            extra_context["can_refresh"] = segment.is_materialised and self.has_change_permission(request, segment)
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        extra_context = dict(extra_context or {})
        extra_context["rule_types"] = rule_types()
        return super().add_view(request, form_url, extra_context)


__all__ = ["SegmentAdmin", "csv_safe"]
