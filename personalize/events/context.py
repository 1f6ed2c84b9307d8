"""Where a visit came from: referrer domain and UTM parameters, stored on its events."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def request_context(request: HttpRequest | None) -> dict[str, Any]:
    """Referrer domain and UTM parameters of the request (the visit's source)."""
    if request is None:
        return {}
    context: dict[str, Any] = {}
    referrer = request.META.get("HTTP_REFERER", "")
    if referrer:
        host = urlsplit(referrer).hostname or ""
        if host and host != request.get_host().split(":")[0]:
            context["referrer"] = host[:255]
    for key in UTM_KEYS:
        value = request.GET.get(key)
        if value:
            context[key] = value[:100]
    return context
