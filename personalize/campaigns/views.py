"""The signed links of campaign content: the click redirect, the code reveal, the deferred "seen"."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from personalize import signing
from personalize.campaigns.impressions import record_impression
from personalize.campaigns.reveal import arm_of, record_click, reveal_code, spec_of
from personalize.campaigns.selection import Choice, ShopperState
from personalize.events.tracking import track
from personalize.experiments import CONTROL
from personalize.identity import ensure_shopper, get_shopper
from personalize.models import CampaignAssignment, validate_link

logger = logging.getLogger("personalize")


@never_cache
def campaign_click(request: HttpRequest, token: str) -> HttpResponse:
    """Count the click for the shopper's assignment, then go to the campaign's link.

    The click is also an event (``campaign_click``: campaign and arm), which the one
    attribution rule reads; a link opened by someone never assigned to the campaign counts nothing.
    A campaign with unique codes issues the shopper's code now (applied at checkout by itself).
    """
    try:
        campaign_id, arm, link = signing.unsign("campaign_click", token)
        validate_link(link)
    except (signing.BadSignature, ValidationError, ValueError, TypeError):
        return HttpResponseBadRequest(_("This link is not valid or has expired."))
    shopper = get_shopper(request)
    if shopper.pk is not None and record_click(shopper, campaign_id, arm):
        track(request, "campaign_click", context={"campaign": campaign_id, "arm": arm, "source": "link"})
        spec = spec_of(campaign_id)
        if spec is not None and spec.offer is not None and spec.offer.is_unique_codes:
            reveal_code(shopper, spec, session=getattr(request, "session", None))
    return HttpResponseRedirect(link)


@csrf_exempt  # fetch() from the banner; the signed token names the campaign, the cookie the shopper
@never_cache
@require_http_methods(["GET", "POST"])
def campaign_code(request: HttpRequest, token: str) -> HttpResponse:
    """Issue (or find) the shopper's unique code of a campaign's offer: the "get your code" link.

    POST (the banner's script) answers ``{"code": ...}``; GET (no script) goes back to the page,
    whose banner then shows the code (remembered in the session). Counted as a click on the
    campaign (``campaign_click`` with ``source: code``). Nothing for a bot, the control group or
    a campaign that ended.
    """
    try:
        campaign_id, arm = signing.unsign("campaign_code", token)
    except (signing.BadSignature, ValueError, TypeError):
        return HttpResponseBadRequest(_("This link is not valid or has expired."))
    shopper = ensure_shopper(request)
    spec = spec_of(campaign_id)
    code = ""
    if shopper is not None and spec is not None and arm != CONTROL and arm_of(shopper, spec) == arm:
        if record_click(shopper, campaign_id, arm):
            track(request, "campaign_click", context={"campaign": campaign_id, "arm": arm, "source": "code"})
        code = reveal_code(shopper, spec, session=getattr(request, "session", None))
    if request.method == "POST":
        return JsonResponse({"code": code}, status=200 if code else 404)
    back = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return HttpResponseRedirect(back if back and safe else "/")


@csrf_exempt  # navigator.sendBeacon cannot send a CSRF token; the signed token names the campaign
@never_cache
@require_POST
def campaign_seen(request: HttpRequest, token: str) -> HttpResponse:
    """The browser showed a deferred campaign (exit intent): count it for the cookie's shopper."""
    try:
        campaign_id, arm = signing.unsign("campaign_seen", token)
    except (signing.BadSignature, ValueError, TypeError):
        return HttpResponseBadRequest(_("This link is not valid or has expired."))
    shopper = ensure_shopper(request)
    if shopper is None:
        return HttpResponse(status=204)
    spec = spec_of(campaign_id)
    if spec is None:  # ended or paused meanwhile
        return HttpResponse(status=204)
    assignment = CampaignAssignment.objects.filter(campaign_id=campaign_id, shopper=shopper).first()
    if assignment is None and arm not in {CONTROL, *(key for key, _weight in spec.variants)}:
        return HttpResponse(status=204)  # an arm the campaign no longer has: nothing to count
    choice = Choice(
        spec=spec, arm=assignment.arm if assignment else arm, assignment=assignment, content=None, deadline=None
    )
    state = ShopperState(shopper=shopper, segments=frozenset(), language="", session=getattr(request, "session", None))
    record_impression(shopper, choice, state=state)
    return HttpResponse(status=204)
