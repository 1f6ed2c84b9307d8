"""The signed click redirect of campaign links."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from personalize import signing
from personalize.campaigns.impressions import record_impression
from personalize.campaigns.selection import Choice, ShopperState
from personalize.campaigns.specs import load_all_campaigns
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
    """
    try:
        campaign_id, arm, link = signing.unsign("campaign_click", token)
        validate_link(link)
    except (signing.BadSignature, ValidationError, ValueError, TypeError):
        return HttpResponseBadRequest(_("This link is not valid or has expired."))
    shopper = get_shopper(request)
    if shopper.pk is not None:
        counted = CampaignAssignment.objects.filter(campaign_id=campaign_id, shopper=shopper, arm=arm).update(
            clicks=F("clicks") + 1
        )
        if counted:
            track(request, "campaign_click", context={"campaign": campaign_id, "arm": arm, "source": "link"})
    return HttpResponseRedirect(link)


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
    spec = next((s for specs in load_all_campaigns().values() for s in specs if s.id == campaign_id), None)
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
