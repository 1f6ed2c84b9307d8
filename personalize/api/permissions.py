"""Cross-site protection for endpoints a page calls without a CSRF token (the beacon)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from personalize.conf import personalize_settings as ps


def request_origin(request: Any) -> str:
    """``scheme://host[:port]`` the request came from: its Origin, else its Referer's."""
    origin = request.META.get("HTTP_ORIGIN", "")
    if origin:
        return origin.strip().lower()
    referer = request.META.get("HTTP_REFERER", "")
    parts = urlsplit(referer) if referer else None
    if parts is None or not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(origin: str, request: Any) -> bool:
    """The request's own host or one of ``TRUSTED_ORIGINS`` (``https://*.example.com`` too)."""
    if not origin or origin == "null":
        return False
    own = f"{request.scheme}://{request.get_host()}".lower()
    if origin == own:
        return True
    scheme, _sep, host = origin.partition("://")
    for trusted in ps.TRUSTED_ORIGINS:
        trusted = trusted.rstrip("/").lower()
        if origin == trusted:
            return True
        t_scheme, _sep, t_host = trusted.partition("://")
        if t_host.startswith("*.") and scheme == t_scheme and host.endswith(t_host[1:]):
            return True
    return False


class SameOriginPermission(BasePermission):
    """Reject writes from pages of other sites.

    ``navigator.sendBeacon`` cannot add a CSRF header, but browsers always send ``Origin`` on
    a POST (and a Referer unless the page forbids it), which another site cannot forge.
    """

    message = ""

    def has_permission(self, request: Any, view: Any) -> bool:
        origin = request_origin(request)
        if not origin:
            self.message = _("Origin or Referer header required.")
            return False
        if not origin_allowed(origin, request):
            self.message = _("Origin “%(origin)s” is not allowed to send events.") % {"origin": origin[:100]}
            return False
        return True


class OriginCheckedSessionAuthentication(BaseAuthentication):
    """Django's logged-in user, without DRF's CSRF token check.

    Only for views guarded by :class:`SameOriginPermission`, which stands in for the token.
    (With no authentication at all DRF would replace ``request.user`` by an anonymous user and
    a logged-in shopper's events would land on a browser profile.)
    """

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        user = getattr(request._request, "user", None)
        if user is None or not user.is_active:
            return None
        return (user, None)
