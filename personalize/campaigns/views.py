"""The signed click redirect of campaign links."""

from __future__ import annotations

import logging

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from personalize.campaigns.models import CampaignAssignment, validate_link
from personalize.campaigns.tags import CLICK_SALT
from personalize.conf import personalize_settings as ps
from personalize.identity import get_shopper

logger = logging.getLogger("personalize")


@never_cache
def campaign_click(request: HttpRequest, token: str) -> HttpResponse:
    """Count the click for the shopper's assignment, then go to the campaign's link."""
    try:
        campaign_id, arm, link = signing.loads(
            token, salt=CLICK_SALT, max_age=ps.CAMPAIGN_CLICK_MAX_AGE_DAYS * 86400
        )
        validate_link(link)
    except (signing.BadSignature, ValidationError, ValueError, TypeError):
        return HttpResponseBadRequest(_("This link is not valid or has expired."))
    shopper = get_shopper(request)
    if shopper.pk is not None:
        CampaignAssignment.objects.filter(campaign_id=campaign_id, shopper=shopper, arm=arm).update(
            clicks=F("clicks") + 1
        )
    return HttpResponseRedirect(link)
