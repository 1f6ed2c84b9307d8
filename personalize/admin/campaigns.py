"""Admin for offers and campaigns: results per variant with a chart, and the holdout's impact."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from personalize.admin.periods import REPORT_PERIODS, report_days
from personalize.campaigns.forms import (
    CampaignContentForm,
    CampaignContentFormSet,
    CampaignForm,
    OfferForm,
)
from personalize.campaigns.stats import campaign_results, holdout_results
from personalize.conf import personalize_settings as ps
from personalize.models import Campaign, CampaignContent, CampaignVariant, Offer, OfferCode, Redemption


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    form = OfferForm
    list_display = ("name", "summary", "code_mode", "code", "min_cart_value", "is_active", "valid_until", "issued", "used")
    list_filter = ("is_active", "code_mode", "discount_type", "scope")
    search_fields = ("name", "code")
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (gettext_lazy("Discount"), {"fields": ("discount_type", "value", "free_shipping", "min_cart_value")}),
        (gettext_lazy("Scope"), {"fields": ("scope", "scope_keys")}),
        (gettext_lazy("Code"), {"fields": ("code_mode", "code", "code_prefix", "code_valid_days", "uses_per_shopper")}),
        (gettext_lazy("Validity"), {"fields": ("valid_from", "valid_until")}),
    )

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .annotate(
                issued_count=Count("codes", distinct=True),
                used_count=Count("redemptions", distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("offer"))
    def summary(self, obj: Offer) -> str:
        return obj.describe()

    @admin.display(description=gettext_lazy("codes issued"), ordering="issued_count")
    def issued(self, obj: Offer) -> int:
        return obj.issued_count

    @admin.display(description=gettext_lazy("redemptions"), ordering="used_count")
    def used(self, obj: Offer) -> int:
        return obj.used_count


@admin.register(OfferCode)
class OfferCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "offer", "shopper", "source", "created_at", "expires_at", "used_at", "order_ref")
    list_filter = ("offer", ("used_at", admin.EmptyFieldListFilter))
    search_fields = ("code", "order_ref")
    list_select_related = ("offer", "shopper")
    readonly_fields = [f.name for f in OfferCode._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # codes are issued to shoppers, never typed in


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    list_display = ("order_ref", "offer", "code", "discount", "free_shipping", "campaign", "shopper", "created_at")
    list_filter = ("offer", "campaign")
    search_fields = ("order_ref", "code")
    list_select_related = ("offer", "campaign", "shopper")
    readonly_fields = [f.name for f in Redemption._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class CampaignContentInline(admin.StackedInline):
    model = CampaignContent
    form = CampaignContentForm
    formset = CampaignContentFormSet
    extra = 0
    min_num = 1
    verbose_name = gettext_lazy("content (per variant and language)")
    verbose_name_plural = gettext_lazy("content (per variant and language)")


class CampaignVariantInline(admin.TabularInline):
    model = CampaignVariant
    extra = 0
    verbose_name_plural = gettext_lazy("variant weights (a variant without a weight here counts 1)")


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    inlines = [CampaignContentInline, CampaignVariantInline]
    list_display = ("name", "placement", "state", "priority", "starts_at", "ends_at", "offer", "control_percent", "shoppers")
    list_filter = ("is_active", "placement")
    search_fields = ("name",)
    filter_horizontal = ("segments",)
    list_select_related = ("offer",)
    actions = ["activate", "pause"]
    change_form_template = "admin/personalize/campaign/change_form.html"
    change_list_template = "admin/personalize/campaign/change_list.html"
    fieldsets = (
        (None, {"fields": ("name", "placement", "is_active", "priority", "default_language")}),
        (gettext_lazy("Who"), {"fields": ("segments", "min_product_views")}),
        (gettext_lazy("When"), {"fields": ("starts_at", "ends_at", "personal_minutes", "show_countdown")}),
        (gettext_lazy("How often"), {"fields": ("frequency_cap", "frequency_hours")}),
        (gettext_lazy("Offer and test"), {"fields": ("offer", "control_percent")}),
    )

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(shopper_count=Count("assignments"))

    @admin.display(description=gettext_lazy("state"))
    def state(self, obj: Campaign) -> str:
        now = timezone.now()
        if not obj.is_active:
            return _("paused")
        if obj.starts_at > now:
            return _("scheduled")
        if obj.ends_at and obj.ends_at <= now:
            return _("ended")
        return _("live")

    @admin.display(description=gettext_lazy("shoppers reached"), ordering="shopper_count")
    def shoppers(self, obj: Campaign) -> int:
        return obj.shopper_count

    @admin.action(description=gettext_lazy("Activate the selected campaigns"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset) -> None:
        for campaign in queryset:  # save() so the campaigns cache is invalidated
            campaign.is_active = True
            campaign.save(update_fields=["is_active", "updated_at"])

    @admin.action(description=gettext_lazy("Pause the selected campaigns"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset) -> None:
        for campaign in queryset:
            campaign.is_active = False
            campaign.save(update_fields=["is_active", "updated_at"])

    def get_urls(self) -> list:
        urls = [
            path("impact/", self.admin_site.admin_view(self.impact_view), name="personalize_campaign_impact"),
        ]
        return urls + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        extra_context = dict(extra_context or {})
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            extra_context.update(results_context(campaign))
        return super().change_view(request, object_id, form_url, extra_context)

    def impact_view(self, request: HttpRequest) -> HttpResponse:
        """The store-wide holdout against everyone else: what personalisation earns."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = report_days(request)
        results, meta = holdout_results(days)
        comparison = results.comparisons[0]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Personalisation impact"),
            "results": results,
            "comparison": comparison,
            "rows": [
                dict(arm_row(a), label=_("Personalised") if a.arm == "personalised" else _("Holdout")) for a in results.arms
            ],
            "lift": lift_row(comparison),
            "impact_lifts": [dict(lift_row(comparison), arm=_("Personalisation"))],
            "baseline_label": _("Compared with the holdout"),
            "chart": impact_chart(results, comparison),
            "meta": meta,
            "periods": REPORT_PERIODS,
            "holdout_percent": ps.HOLDOUT_PERCENT,
        }
        return TemplateResponse(request, "admin/personalize/campaign/impact.html", context)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def arm_row(arm) -> dict[str, Any]:
    return {
        "arm": arm.arm,
        "shoppers": arm.shoppers,
        "impressions": arm.impressions,
        "clicks": arm.clicks,
        "click_rate": arm.click_rate * 100,
        "converters": arm.converters,
        "conversions": arm.conversions,
        "conversion_rate": arm.conversion_rate * 100,
        "revenue": arm.revenue,
        "revenue_per_shopper": arm.revenue_per_shopper,
    }


def lift_row(comparison) -> dict[str, Any]:
    interval = comparison.revenue_lift_interval
    return {
        "arm": comparison.arm,
        "revenue_diff": comparison.revenue.diff,
        "revenue_low": _finite(comparison.revenue.low),
        "revenue_high": _finite(comparison.revenue.high),
        "revenue_p": comparison.revenue.p_value,
        "revenue_lift": None if comparison.revenue_lift is None else comparison.revenue_lift * 100,
        "revenue_lift_low": None if interval is None or not math.isfinite(interval[0]) else interval[0] * 100,
        "revenue_lift_high": None if interval is None or not math.isfinite(interval[1]) else interval[1] * 100,
        "conversion_diff": comparison.conversion.diff * 100,
        "conversion_low": None if not math.isfinite(comparison.conversion.low) else comparison.conversion.low * 100,
        "conversion_high": None if not math.isfinite(comparison.conversion.high) else comparison.conversion.high * 100,
        "conversion_p": comparison.conversion.p_value,
        "verdict": comparison.verdict,
        "verdict_code": comparison.verdict_code,
    }


def results_context(campaign: Campaign) -> dict[str, Any]:
    """Table rows, lifts and chart data for a campaign's change page."""
    results = campaign_results(campaign)
    labels = [_("control") if a.is_control else _("Variant %(key)s") % {"key": a.arm} for a in results.arms]
    lifts = [lift_row(c) for c in results.comparisons]
    chart = {
        "labels": labels,
        "datasets": {
            "revenue_per_shopper": [round(a.revenue_per_shopper, 2) for a in results.arms],
            "conversion_rate": [round(a.conversion_rate * 100, 2) for a in results.arms],
        },
        "lift": {
            "labels": [_("Variant %(key)s") % {"key": c["arm"]} for c in lifts],
            "ranges": [
                [round(c["revenue_low"], 2), round(c["revenue_high"], 2)] if c["revenue_low"] is not None else None
                for c in lifts
            ],
            "points": [round(c["revenue_diff"], 2) for c in lifts],
        },
        "text": {
            "revenue": _("Revenue per shopper"),
            "conversion": _("Conversion rate (%)"),
            "lift": _("Extra revenue per shopper vs control (confidence interval)"),
        },
    }
    return {
        "campaign_results": results,
        "result_rows": [dict(arm_row(a), label=label) for a, label in zip(results.arms, labels)],
        "result_lifts": lifts,
        "result_chart": chart,
        "impact_url": reverse("admin:personalize_campaign_impact"),
    }


def impact_chart(results, comparison) -> dict[str, Any]:
    held = next(a for a in results.arms if a.arm == "holdout")
    treated = next(a for a in results.arms if a.arm == "personalised")
    return {
        "labels": [_("Personalised"), _("Holdout")],
        "datasets": {
            "revenue_per_shopper": [round(treated.revenue_per_shopper, 2), round(held.revenue_per_shopper, 2)],
            "conversion_rate": [round(treated.conversion_rate * 100, 2), round(held.conversion_rate * 100, 2)],
        },
        "lift": {
            "labels": [_("Personalisation")],
            "ranges": [
                [round(comparison.revenue.low, 2), round(comparison.revenue.high, 2)]
                if math.isfinite(comparison.revenue.low)
                else None
            ],
            "points": [round(comparison.revenue.diff, 2)],
        },
        "text": {
            "revenue": _("Revenue per shopper"),
            "conversion": _("Conversion rate (%)"),
            "lift": _("Extra revenue per shopper vs holdout (confidence interval)"),
        },
    }

