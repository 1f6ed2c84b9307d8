"""Admin for offers and campaigns: results per variant with a chart, and the holdout's impact."""

from __future__ import annotations

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

from personalize.admin.dashboard import dashboard_context
from personalize.admin.periods import REPORT_PERIODS, report_days
from personalize.admin.results import impact_context, results_context
from personalize.admin.translations import store_languages
from personalize.admin.widgets import money
from personalize.attribution import CHANNELS, credits
from personalize.campaigns.forms import (
    CampaignContentForm,
    CampaignContentFormSet,
    CampaignForm,
    OfferForm,
)
from personalize.models import Campaign, CampaignContent, CampaignVariant, Event, EventKind, Offer, OfferCode, Redemption


def order_credits(refs: list[str]) -> dict[str, Any]:
    """order_ref -> credit for these orders (the one attribution rule)."""
    purchases = Event.objects.filter(kind=EventKind.PURCHASE, order_ref__in=[r for r in refs if r])
    return {c.order_ref: c for c in credits(purchases).values()}


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    form = OfferForm
    list_display = ("name", "summary", "code_mode", "code", "min_cart", "is_active", "valid_until", "issued", "used")
    list_filter = ("is_active", "code_mode", "discount_type", "scope")
    search_fields = ("name", "code")
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (gettext_lazy("Discount"), {"fields": ("discount_type", "value", "free_shipping", "min_cart_value")}),
        (gettext_lazy("Scope"), {"fields": ("scope", "scope_keys")}),
        (gettext_lazy("Code"), {"fields": ("code_mode", "code", "code_prefix", "code_valid_days", "uses_per_shopper", "first_order_only")}),
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

    @admin.display(description=gettext_lazy("minimum cart value"), ordering="min_cart_value")
    def min_cart(self, obj: Offer) -> str:
        return money(obj.min_cart_value) if obj.min_cart_value else "—"

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
    list_display = ("order_ref", "offer", "code", "discount_text", "free_shipping", "campaign", "credited_to", "shopper", "created_at")
    list_filter = ("offer", "campaign")
    search_fields = ("order_ref", "code")
    list_select_related = ("offer", "campaign", "shopper")
    readonly_fields = [f.name for f in Redemption._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        """Credit the page's orders in one go (the one attribution rule, a few queries per page)."""
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            page = list(changelist.result_list)
            found = order_credits([r.order_ref for r in page])
            names = dict(Campaign.objects.filter(pk__in={c.campaign_id for c in found.values() if c.campaign_id}).values_list("pk", "name"))
            for redemption in page:
                redemption._credit = found.get(redemption.order_ref) or False
                redemption._campaign_names = names
        return response

    @admin.display(description=gettext_lazy("discount"), ordering="discount")
    def discount_text(self, obj: Redemption) -> str:
        return money(obj.discount)

    @admin.display(description=gettext_lazy("order credited to"))
    def credited_to(self, obj: Redemption) -> str:
        credit = getattr(obj, "_credit", None)
        if credit is None:  # outside the changelist (one row): ask for this order alone
            credit = order_credits([obj.order_ref]).get(obj.order_ref) or False
        if not credit:
            return _("no purchase event for this order")
        label = str(CHANNELS[credit.channel])
        if credit.campaign_id:
            names = getattr(obj, "_campaign_names", None) or dict(Campaign.objects.filter(pk=credit.campaign_id).values_list("pk", "name"))
            return f"{names.get(credit.campaign_id, '#%s' % credit.campaign_id)} ({label})"
        return label


def missing_languages(campaign: Campaign | None) -> list[str]:
    """The store's languages (default first) the campaign has no content in yet."""
    have = set() if campaign is None or campaign.pk is None else {c.lower() for c in campaign.contents.values_list("language", flat=True)}
    return [code for code, _name in store_languages() if code not in have]


class CampaignContentInline(admin.StackedInline):
    """One content form per store language the campaign lacks, each with its language chosen
    (the default language first and required on a new campaign); forms left untouched are not
    saved, so the marketer fills in the languages they write."""

    model = CampaignContent
    form = CampaignContentForm
    formset = CampaignContentFormSet
    min_num = 1
    verbose_name = gettext_lazy("content (per variant and language)")
    verbose_name_plural = gettext_lazy("content (per variant and language)")

    class Media:
        js = ("personalize/admin/content_labels.js",)  # heads new forms "A · Nederlands", not "#2"

    def get_extra(self, request: HttpRequest, obj: Campaign | None = None, **kwargs: Any) -> int:
        missing = len(missing_languages(obj))
        return max(missing - 1, 0) if obj is None or obj.pk is None else missing  # a new campaign's first form is the min_num one


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

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, CampaignContentInline):
            # The same initial languages on GET and POST: an untouched form then has not changed.
            kwargs["initial"] = [{"language": code} for code in missing_languages(obj)]
        return kwargs

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
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="personalize_campaign_dashboard"),
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
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Personalisation impact"),
            "periods": REPORT_PERIODS,
            "dashboard_url": reverse("admin:personalize_campaign_dashboard"),
            **impact_context(report_days(request)),
        }
        return TemplateResponse(request, "admin/personalize/campaign/impact.html", context)

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """"Is personalisation paying off?" (``admin/dashboard.py``)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **dashboard_context(request)}
        return TemplateResponse(request, "admin/personalize/dashboard/index.html", context)
