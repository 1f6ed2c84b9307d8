"""The consent banner's form target: works as a plain POST (redirect back) and with fetch (JSON)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from personalize.identity import consent as consent_state

CHOICES = {"accept": True, "decline": False}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return "/"


@never_cache
@require_POST
def consent(request: HttpRequest) -> HttpResponse:
    """Record "accept" or "decline" (CSRF-protected: no other site can consent for a visitor)."""
    choice = request.POST.get("choice", "")
    if choice not in CHOICES:
        message = _("Choose “accept” or “decline”.")
        if _wants_json(request):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    granted = CHOICES[choice]
    consent_state.set_consent(request, granted)
    message = _("You have accepted personalisation.") if granted else _("You have declined personalisation.")
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"granted": granted, "message": message})
    else:
        response = HttpResponseRedirect(_safe_next(request))
    # Also when PersonalizeMiddleware is missing (it would do the same on the way out).
    consent_state.apply_to_response(request, response)
    return response
