"""Gives every request a lazy ``request.shopper`` and sets the shopper cookie when one was made."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject

from personalize import identity
from personalize.identity import consent, remembered
from personalize.placements.clicks import handle_click
from personalize.widgets.render import PERSONAL_FLAG

logger = logging.getLogger("personalize")


class PersonalizeMiddleware:
    """Place after ``AuthenticationMiddleware`` (and ``LocaleMiddleware`` when used)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.shopper = SimpleLazyObject(lambda: identity.get_shopper(request))
        # A signed recommendation-click parameter: recorded, then redirected to the clean URL.
        response = handle_click(request) or self.get_response(request)
        self.update_cookie(request, response)
        if getattr(request, PERSONAL_FLAG, False):
            # A widget rendered this shopper's own list inline: no shared cache (Django's cache
            # middleware, a CDN, a proxy) may hand this response to anybody else.
            patch_cache_control(response, private=True)
            patch_vary_headers(response, ("Cookie",))
        try:
            consent.apply_to_response(request, response)
        except Exception:  # personalisation never breaks a page
            logger.exception("personalize: could not write the consent cookie")
        return response

    def update_cookie(self, request: HttpRequest, response: HttpResponse) -> None:
        shopper = getattr(request, "_personalize_shopper", None)
        try:
            if shopper is not None and (shopper.pk is not None or identity.is_deferred(shopper)):
                if getattr(request, "_personalize_set_cookie", False):
                    identity.set_cookie(response, shopper.key)
                else:
                    identity.touch(shopper)
                    if getattr(request, remembered.REMEMBER_FLAG, False):  # the beacon's, after touch
                        remembered.remember(request, shopper)
        except Exception:  # personalisation never breaks a page
            logger.exception("personalize: could not update the shopper cookie")
