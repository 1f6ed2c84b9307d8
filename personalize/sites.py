"""The store's absolute address: the base of links and images that leave the site (emails, exports)."""

from __future__ import annotations

from django.apps import apps

from personalize.conf import personalize_settings as ps


def site_url() -> str:
    """The absolute base of links and images: ``SITE_URL``, else the current Site (https)."""
    base = (ps.SITE_URL or "").rstrip("/")
    if base:
        return base
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site  # an optional app: importable only when installed

        return f"https://{Site.objects.get_current().domain}".rstrip("/")
    return ""


def absolute(url: str, base: str | None = None) -> str:
    """``url`` made absolute against :func:`site_url` (already absolute URLs are kept)."""
    if not url or url.startswith(("http://", "https://", "//")):
        return url or ""
    base = site_url() if base is None else base
    return f"{base}{url if url.startswith('/') else '/' + url}"
