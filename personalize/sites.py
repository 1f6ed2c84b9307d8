"""The store's absolute address: the base of links and images that leave the site (emails, exports)."""

from __future__ import annotations

from django.apps import apps
from django.http import HttpRequest

from personalize.conf import personalize_settings as ps


def site_url(request: HttpRequest | None = None) -> str:
    """The absolute base of links and images: ``SITE_URL``; else the request's own scheme and
    host; else ``SITE_SCHEME`` and the current Site's domain (Celery sends emails without a
    request, so set one of the two for plain-http stores)."""
    base = (ps.SITE_URL or "").rstrip("/")
    if base:
        return base
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site  # an optional app: importable only when installed

        scheme = str(ps.SITE_SCHEME or "https").removesuffix("://")
        return f"{scheme}://{Site.objects.get_current().domain}".rstrip("/")
    return ""


def absolute(url: str, base: str | None = None) -> str:
    """``url`` made absolute against :func:`site_url` (already absolute URLs are kept)."""
    if not url or url.startswith(("http://", "https://", "//")):
        return url or ""
    base = site_url() if base is None else base
    return f"{base}{url if url.startswith('/') else '/' + url}"
