"""Admin of lifecycle emails: flows with their steps, every send, unsubscribes, and the report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from personalize.admin.periods import REPORT_PERIODS, report_days
from personalize.admin.translations import TranslationsField, keep_hidden, store_languages
from personalize.admin.widgets import duration_formfield, money
from personalize.conf import personalize_settings as ps
from personalize.emails import reporting
from personalize.models import EmailSend, Flow, Step, Unsubscribe


class StepForm(forms.ModelForm):
    """A step's subject in the default language, and one box per other store language."""

    class Meta:
        model = Step
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("subject_translations")
        if isinstance(field, TranslationsField) and self.instance.subject:
            # An empty box sends the default subject through the catalogue: show what that gives.
            for (code, _name), widget in zip(field.languages, field.widget.widgets):
                widget.attrs["placeholder"] = self.instance.subject_for(code)

    def clean_subject_translations(self) -> dict[str, str]:
        edited = self.cleaned_data.get("subject_translations") or {}
        return keep_hidden(self.fields["subject_translations"], edited, self.instance.subject_translations)


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0
    fields = (
        ("position", "delay", "active"),
        "subject",
        "subject_translations",
        ("template", "offer"),
        ("is_broken", "error"),
    )
    readonly_fields = ("error",)
    raw_id_fields = ("offer",)
    ordering = ("position",)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "delay":  # "1 hour" / "3 days", not Django's "1 00:00:00"
            return duration_formfield(db_field)
        default = settings.LANGUAGE_CODE.lower()
        if db_field.name == "subject_translations":  # one box per store language, not JSON
            return TranslationsField(
                exclude=(default,),
                max_length=Step._meta.get_field("subject").max_length,
                label=_("Subject in other languages"),
                help_text=_("Leave a language empty to send the default subject (translated by the shipped catalogue when it has it)."),
            )
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and field.help_text:  # the admin renders help as HTML: keep "<name>" visible
            field.help_text = escape(field.help_text)
        if db_field.name == "subject":
            name = dict(store_languages()).get(default, default)
            field.label = _("Subject (%(language)s, the default language)") % {"language": name}
        return field


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "active", "step_count", "broken_steps", "report_link")
    list_filter = ("kind", "active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [StepInline]
    change_list_template = "admin/personalize/flow/change_list.html"
    actions = ["clear_broken"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description=_("steps"))
    def step_count(self, obj: Flow) -> int:
        return len(obj.steps.all())

    @admin.display(description=_("broken steps"))
    def broken_steps(self, obj: Flow) -> str:
        broken = [str(step.position) for step in obj.steps.all() if step.is_broken]
        if not broken:
            return "—"
        return format_html('<strong style="color:#ba2121">{}</strong>', ", ".join(broken))

    @admin.display(description=_("report"))
    def report_link(self, obj: Flow) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:personalize_flow_report"), _("Report"))

    @admin.action(description=_("Clear the broken flag of the selected flows' steps (after fixing the template)"))
    def clear_broken(self, request: HttpRequest, queryset: Any) -> None:
        count = Step.objects.filter(flow__in=queryset, is_broken=True).update(is_broken=False, error="")
        self.message_user(request, ngettext("%(n)d step cleared.", "%(n)d steps cleared.", count) % {"n": count}, messages.SUCCESS)

    def get_urls(self) -> list:
        return [path("report/", self.admin_site.admin_view(self.report_view), name="personalize_flow_report"), *super().get_urls()]

    def report_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_view_permission(request) and request.user.has_perm("personalize.view_emailsend")):
            raise PermissionDenied
        days = report_days(request)
        since = timezone.now() - timezone.timedelta(days=days)
        found = reporting.email_credits(since)  # once for the table and the chart
        rows = reporting.step_table(since, found)
        totals = {key: sum(row[key] for row in rows) for key in ("sent", "clicked", "orders", "revenue", "failed")}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Lifecycle emails: recovery report"),
            "days": days,
            "periods": REPORT_PERIODS,
            "rows": rows,
            "totals": totals,
            "series": {**reporting.daily_series(days, found=found), "money_format": str(ps.PRICE_FORMAT)},
            "attribution_hours": ps.ATTRIBUTION_WINDOW_HOURS,
            "sends_url": reverse("admin:personalize_emailsend_changelist"),
        }
        return TemplateResponse(request, "admin/personalize/email_report.html", context)


@admin.register(EmailSend)
class EmailSendAdmin(admin.ModelAdmin):
    list_display = ("created_at", "flow", "step_position", "email", "status", "attempts", "sent_at", "clicked_at", "order_ref", "order_value_text")
    list_filter = ("status", "flow", ("clicked_at", admin.EmptyFieldListFilter), ("order_ref", admin.EmptyFieldListFilter))
    search_fields = ("email", "order_ref", "offer_code", "shopper__key")
    date_hierarchy = "created_at"
    list_select_related = ("flow", "step")
    raw_id_fields = ("shopper",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.display(description=_("recovered revenue"), ordering="order_value")
    def order_value_text(self, obj: EmailSend) -> str:
        return money(obj.order_value)

    @admin.display(description=_("step"), ordering="step__position")
    def step_position(self, obj: EmailSend) -> int:
        return obj.step.position

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a record of what happened; never edited


@admin.register(Unsubscribe)
class UnsubscribeAdmin(admin.ModelAdmin):
    list_display = ("email", "shopper", "source", "unsubscribed_at")
    search_fields = ("email", "shopper__key")
    list_filter = ("source",)
    raw_id_fields = ("shopper",)
    date_hierarchy = "unsubscribed_at"
