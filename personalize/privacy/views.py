"""The shopper's own privacy page: download their data, erase it, change their choices.

A logged-in shopper acts on everything held about their account (all merged profiles, guest
profiles with their address); a visitor without an account acts on this browser's profile,
which the signed cookie proves is theirs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from personalize import exposures
from personalize.emails.subscriptions import may_email, set_email_consent
from personalize.identity.resolution import get_shopper, read_cookie_key
from personalize.models import ErasureRecord, Shopper
from personalize.privacy.erasure import count_person, erase_person
from personalize.privacy.exporting import export_person, to_json
from personalize.privacy.people import Person, find_person

TEMPLATE = "personalize/privacy/page.html"


def _user(request: HttpRequest) -> Any | None:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def person_of(request: HttpRequest) -> Person | None:
    """The requester's person: the account's, else the cookie's profile; ``None``: nothing held."""
    user = _user(request)
    if user is not None:
        return find_person(user=user)
    key = read_cookie_key(request)
    shopper = Shopper.objects.filter(key=key, user__isnull=True).first() if key else None
    return find_person(shopper=shopper) if shopper is not None else None


def _note(request: HttpRequest, text: str) -> None:
    try:
        messages.success(request, text)
    except messages.MessageFailure:  # the store has no messages framework
        pass


@never_cache
@require_http_methods(["GET", "HEAD"])
def page(request: HttpRequest) -> HttpResponse:
    person = person_of(request)
    counts = count_person(person) if person is not None else {}
    shopper = get_shopper(request) if _user(request) is not None else None
    context = {
        "has_data": bool(counts),
        "events": counts.get("personalize.Event", 0),
        "profiles": len(person.shopper_ids) if person else 0,
        "is_account": _user(request) is not None,
        "email_consent": bool(shopper is not None and shopper.pk and may_email(shopper)),
        "erased": request.GET.get("erased") == "1",
    }
    return render(request, TEMPLATE, context)


@never_cache
@require_POST
def download(request: HttpRequest) -> HttpResponse:
    """The JSON document (POST with the CSRF token: a link on another site cannot start it)."""
    person = person_of(request) or Person()
    response = HttpResponse(to_json(export_person(person)), content_type="application/json; charset=utf-8")
    filename = f"personal-data-{timezone.now():%Y%m%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
@require_POST
def erase(request: HttpRequest) -> HttpResponse:
    if request.POST.get("confirm") != "yes":
        _note(request, _("Tick the box to confirm the erasure."))
        return HttpResponseRedirect(reverse("personalize:privacy"))
    key = read_cookie_key(request)
    if key is not None and _user(request) is None:
        exposures.forget(key)  # a first visit's row still waiting in a worker's buffer goes too
    person = person_of(request)
    if person is not None:
        erase_person(person, source=ErasureRecord.Source.SELF_SERVICE, suppress=request.POST.get("suppress") == "on")
    if hasattr(request, "_personalize_shopper"):
        del request._personalize_shopper
    _note(request, _("Your personal data in this shop's personalisation has been erased."))
    return HttpResponseRedirect(reverse("personalize:privacy") + "?erased=1")


@never_cache
@require_POST
def email_choice(request: HttpRequest) -> HttpResponse:
    """An account holder opts in or out of reminder and offer emails."""
    if _user(request) is not None:
        set_email_consent(request, request.POST.get("email_consent") == "on")
        _note(request, _("Your email choice has been saved."))
    return HttpResponseRedirect(reverse("personalize:privacy"))
