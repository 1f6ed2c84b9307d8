"""Admin for placements: business rules with a preview, and recommendation performance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalize.adapters import get_adapter
from personalize.admin.periods import REPORT_PERIODS, report_days
from personalize.admin.readonly import ReadOnlyMixin
from personalize.conf import personalize_settings as ps
from personalize.models import PlacementRule, RecommendationReport
from personalize.placements.attribution import performance, variant_summaries
from personalize.placements.config import get_placement
from personalize.placements.forms import PlacementRuleForm, PreviewForm
from personalize.placements.lookups import describe
from personalize.placements.pipeline import recommend_for


@admin.register(PlacementRule)
class PlacementRuleAdmin(admin.ModelAdmin):
    form = PlacementRuleForm
    list_display = ("name", "placement_label", "include_text", "exclude_text", "active", "updated_at")
    list_filter = ("active", "placement")
    search_fields = ("name",)
    change_list_template = "admin/personalize/placementrule/change_list.html"

    @admin.display(description=gettext_lazy("placement"), ordering="placement")
    def placement_label(self, obj: PlacementRule) -> str:
        return obj.placement or _("every placement")

    @admin.display(description=gettext_lazy("only products matching"))
    def include_text(self, obj: PlacementRule) -> str:
        return describe(get_adapter().get_product_model(), obj.include) or "-"

    @admin.display(description=gettext_lazy("never products matching"))
    def exclude_text(self, obj: PlacementRule) -> str:
        return describe(get_adapter().get_product_model(), obj.exclude) or "-"

    def get_urls(self) -> list:
        urls = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="personalize_placementrule_preview",
            )
        ]
        return urls + super().get_urls()

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """What one shopper would get on a placement: scores, reasons, and what was left out."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        result = products = None
        rules: list[PlacementRule] = []
        hook = None
        if form.is_valid():
            result, products = self.run_preview(form.cleaned_data)
            name = form.cleaned_data["placement"]
            rules = list(PlacementRule.objects.filter(active=True, placement__in=("", name)))
            hook = get_placement(name).rules
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Preview a placement"),
            "form": form,
            "result": result,
            "products": products,
            "rules": rules,
            "rules_hook": hook,
        }
        return TemplateResponse(request, "admin/personalize/placement_preview.html", context)

    def run_preview(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        result = recommend_for(
            data["shopper"],
            data["placement"],
            limit=data["limit"],
            product=data["product"] or None,
            category=data["category"] or None,
            explain=True,
        )
        adapter = get_adapter()
        # Titles for the filtered candidates too (whatever their stock or visibility).
        keys = [f.key for f in result.filtered]
        every = adapter.get_product_model()._default_manager.all()
        titles = {adapter.product_key(p): adapter.title(p) for p in adapter.get_products(keys, queryset=every)}
        titles.update({adapter.product_key(p): adapter.title(p) for p in result.items})
        return result, {
            "shown": [
                {"key": key, "title": titles.get(key, key), "score": result.scores.get(key), "reason": result.reasons.get(key)}
                for key in result.keys
            ],
            "filtered": [
                {"key": f.key, "title": titles.get(f.key, f.key), "score": f.score, "reason": f.reason, "why": f.why}
                for f in result.filtered
            ],
        }


@admin.register(RecommendationReport)
class RecommendationReportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Impressions, clicks, CTR, attributed orders and revenue per placement / model / variant."""

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = report_days(request)
        rows = performance(timezone.now() - timedelta(days=days))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Recommendation performance"),
            "rows": rows,
            "variants": variant_summaries(rows),
            "days": days,
            "periods": REPORT_PERIODS,
            "attribution_hours": _attribution_hours(),
            "preview_url": reverse("admin:personalize_placementrule_preview"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/personalize/recommendation_report.html", context)


def _attribution_hours() -> int:
    return ps.ATTRIBUTION_WINDOW_HOURS
