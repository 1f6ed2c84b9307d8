"""Privacy in the admin: export and erase a person from the shopper list, the erasure log, and
the suppression list (searchable by address, which is hashed the same way).

Erasure here goes through :func:`personalize.privacy.erasure.erase_person`, like the command and
the shopper's own page: every profile of the person (merged ones, guest profiles with their
address), an :class:`~personalize.models.ErasureRecord`, rebuilt lists.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from personalize.admin.readonly import ReadOnlyMixin
from personalize.emails import suppression
from personalize.models import EmailSuppression, ErasureRecord, Shopper
from personalize.privacy.erasure import count_person, erase_person
from personalize.privacy.exporting import export_person, to_json
from personalize.privacy.people import Person, find_person

CONFIRM_TEMPLATE = "admin/personalize/privacy/erase_confirm.html"


def person_of_shoppers(shoppers: QuerySet) -> Person:
    """The people behind the selected profiles, as one (their profiles, accounts, addresses)."""
    person = Person()
    for shopper in shoppers:
        found = find_person(shopper=shopper)
        person.shopper_ids |= found.shopper_ids
        person.emails |= found.emails
        person.user_ids |= found.user_ids
    return person


@admin.action(description=_("Export personal data (JSON)"), permissions=["view"])
def export_personal_data(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    document = export_person(person_of_shoppers(queryset))
    response = HttpResponse(to_json(document), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{timezone.now():%Y%m%d-%H%M}.json"'
    return response


@admin.action(description=_("Erase personal data (all profiles of these people)"), permissions=["delete"])
def erase_personal_data(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    person = person_of_shoppers(queryset)
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": _("Erase personal data"),
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "profiles": len(person.shopper_ids),
            "counts": sorted((label.split(".")[-1], n) for label, n in count_person(person).items()),
            "action_name": "erase_personal_data",
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)
    result = erase_person(
        person,
        source=ErasureRecord.Source.ADMIN,
        actor=request.user.get_username(),
        suppress=request.POST.get("suppress") == "on",
    )
    modeladmin.message_user(
        request,
        ngettext("Erased %(count)d profile (%(rows)d rows).", "Erased %(count)d profiles (%(rows)d rows).", result.profiles)
        % {"count": result.profiles, "rows": result.total},
        messages.SUCCESS,
    )
    return None


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The accountability log: that an erasure happened, never whose."""

    list_display = ("created_at", "source", "actor", "profiles", "total", "suppressed")
    list_filter = ("source", "suppressed", ("created_at", admin.DateFieldListFilter))
    fields = ("created_at", "source", "actor", "profiles", "counts", "suppressed")
    readonly_fields = fields

    @admin.display(description=_("rows"))
    def total(self, obj: ErasureRecord) -> int:
        return obj.total


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Suppressed addresses: only hashes are stored; search by typing the address."""

    list_display = ("short_digest", "created_at")
    search_fields = ("digest",)
    search_help_text = _("Type the full email address to see whether it is suppressed.")
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(digest__in=suppression.digests(search_term)), False

    @admin.display(description=_("address hash"))
    def short_digest(self, obj: EmailSuppression) -> str:
        return f"{obj.digest[:16]}…"

    @admin.action(description=_("Lift the suppression (the person asked to hear from us again)"), permissions=["delete"])
    def lift(self, request: HttpRequest, queryset: QuerySet) -> None:
        count, _rows = queryset.delete()
        self.message_user(request, ngettext("%(count)d address lifted.", "%(count)d addresses lifted.", count) % {"count": count})


def erase_shoppers(request: HttpRequest, shoppers: QuerySet | list[Shopper]) -> None:
    """The shopper admin's delete: an erasure (with its record), not a bare cascade."""
    ids = [shopper.pk for shopper in shoppers]
    person = person_of_shoppers(Shopper.objects.filter(pk__in=ids))
    erase_person(person, source=ErasureRecord.Source.ADMIN, actor=request.user.get_username())
