"""Admin for segments: rules inline as typed forms (``rule_forms``), a live count and sample
that follow the unsaved rules, a catalogue search for the rules' product / category / brand
pickers, a streaming CSV export of the matching shoppers, and "refresh now" for materialised
segments."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from personalize.adapters import get_adapter
from personalize.admin.rule_forms import SegmentRuleForm
from personalize.models import Segment, SegmentRule
from personalize.segments.forms import SegmentForm, SegmentRuleFormSet
from personalize.segments.materialise import refresh_segments
from personalize.segments.preview import iter_matching_shoppers, preview
from personalize.segments.rules import CATALOGUE_FACETS, describe_rule

logger = logging.getLogger("personalize")

# The preview (on the change page and live as the rules change) evaluates per-shopper rules
# for at most this long, then says "at least N"; it lists this many shoppers.
PREVIEW_SECONDS = 2.0
PREVIEW_SAMPLE = 10
# Catalogue search (pickers): results per page, and the deepest page served.
SEARCH_PAGE_SIZE = 20
SEARCH_MAX_PAGE = 20

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


class SegmentRuleInline(admin.StackedInline):
    model = SegmentRule
    form = SegmentRuleForm
    formset = SegmentRuleFormSet
    template = "admin/personalize/segment/rule_inline.html"
    extra = 1
    fields = [("kind", "negate", "position")]
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
            path("preview/", self.admin_site.admin_view(self.preview_view), name="%s_%s_preview" % info),
            path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="%s_%s_preview_change" % info),
            path("catalogue/", self.admin_site.admin_view(self.catalogue_view), name="%s_%s_catalogue" % info),
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

    # --- the rule forms' helpers: catalogue search and live preview ----------------------
    def can_edit_rules(self, request: HttpRequest, obj: Segment | None = None) -> bool:
        return self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request)

    def catalogue_view(self, request: HttpRequest) -> JsonResponse:
        """Products, categories or brands matching ``term``, searched through the adapter, in
        the shape Django admin's select2 autocomplete reads (``results``, ``pagination``)."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        facet = request.GET.get("facet", "")
        if facet not in CATALOGUE_FACETS:
            return JsonResponse({"error": gettext("Unknown catalogue “%(facet)s”.") % {"facet": facet[:40]}}, status=400)
        try:
            page = int(request.GET.get("page") or 1)
        except ValueError:
            page = 0
        if not 1 <= page <= SEARCH_MAX_PAGE:
            return JsonResponse({"error": gettext("The page must be a number from 1 to %(max)s.") % {"max": SEARCH_MAX_PAGE}}, status=400)
        term = request.GET.get("term", "")[:100]
        try:
            found = get_adapter().search_catalogue(facet, term, limit=page * SEARCH_PAGE_SIZE + 1)
        except Exception:  # noqa: BLE001 - the store's adapter failing must not break the form
            logger.exception("personalize: catalogue search for %s failed", facet)
            found = []
        rows = found[(page - 1) * SEARCH_PAGE_SIZE : page * SEARCH_PAGE_SIZE]
        return JsonResponse(
            {
                "results": [{"id": key, "text": label} for key, label in rows],
                "pagination": {"more": len(found) > page * SEARCH_PAGE_SIZE},
            }
        )

    def preview_view(self, request: HttpRequest, pk: int | None = None) -> JsonResponse:
        """Who matches the rules as they are in the (unsaved) change form: the POSTed form is
        validated by the admin's own forms and evaluated by ``segments.preview.preview``."""
        obj = get_object_or_404(Segment, pk=pk) if pk is not None else None
        if request.method != "POST":
            return JsonResponse({"error": gettext("Send the change form with POST.")}, status=405)
        if not self.can_edit_rules(request, obj):
            raise PermissionDenied
        form = self.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
        form.is_valid()  # the rules can be previewed before the name is typed
        segment = form.instance
        for name in ("match", "mode"):
            if name in form.errors:
                return self._preview_answer(request, segment, message=gettext("Choose how the rules combine."), status=400)
        segment.slug = segment.slug or "__preview__"
        formsets, _inlines = self._create_formsets(request, segment, change=obj is not None)
        problems: list[str] = []
        rules: list[SegmentRule] = []
        for formset in formsets:
            if not formset.is_valid():
                problems += [str(e) for e in formset.non_form_errors()]
                for rule_form in formset.forms:
                    problems += [" ".join(m) for m in rule_form.errors.values()] + rule_form.params_errors()
                continue
            live = sorted(formset.live_forms(), key=lambda f: (f.cleaned_data.get("position") or 0))
            rules += [f.instance for f in live]
        if problems:
            message = gettext("Complete the rules to see who matches: %(problems)s") % {"problems": "; ".join(dict.fromkeys(problems))}
            return self._preview_answer(request, segment, message=message, status=400)
        if not rules:
            return self._preview_answer(request, segment, message=gettext("No rules yet: a segment without rules matches nobody."))
        try:
            result = preview(segment, rules=rules, sample_size=PREVIEW_SAMPLE, seconds=PREVIEW_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a store's rule failing is reported, not a 500
            logger.exception("personalize: segment preview failed")
            return self._preview_answer(request, segment, error=str(exc))
        return self._preview_answer(request, segment, result=result)

    def _preview_answer(
        self, request: HttpRequest, segment: Segment, *, result: Any = None, message: str = "", error: str = "", status: int = 200
    ) -> JsonResponse:
        context = {
            "preview": result,
            "preview_message": message,
            "preview_error": error,
            "unsaved": True,
            "original": segment,
            "can_view_shoppers": request.user.has_perm("personalize.view_shopper"),
        }
        html = render_to_string("admin/personalize/segment/preview.html", context, request=request)
        body = {"html": html, "count": result.count if result is not None else None, "partial": bool(result and result.partial)}
        if message or error:
            body["error"] = message or error
        return JsonResponse(body, status=status)

    # --- the change page ----------------------------------------------------------------
    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        extra_context = dict(extra_context or {})
        segment = self.get_object(request, object_id)
        extra_context["can_view_shoppers"] = request.user.has_perm("personalize.view_shopper")
        if segment is not None and request.method == "GET":
            try:
                extra_context["preview"] = preview(segment, sample_size=PREVIEW_SAMPLE, seconds=PREVIEW_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the page must open even if a rule is broken
                extra_context["preview_error"] = str(exc)
            extra_context["can_export"] = self.can_export(request, segment)
            extra_context["can_refresh"] = segment.is_materialised and self.has_change_permission(request, segment)
        return super().change_view(request, object_id, form_url, extra_context)


__all__ = ["SegmentAdmin", "csv_safe"]
