"""Deployment checks of how shoppers are identified (``manage.py check --deploy``).

``personalize.W101`` proxied without ``NUM_PROXIES``, ``W102`` the shopper cookie travels over
plain HTTP, ``W103`` links in emails would point at ``http://`` or localhost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

from personalize.conf import personalize_settings as ps

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "testserver"}


@register(Tags.security, deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list:
    warnings = []
    proxied = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or getattr(settings, "USE_X_FORWARDED_HOST", False))
    if proxied and ps.NUM_PROXIES is None:
        warnings.append(
            Warning(
                "The site runs behind a proxy (SECURE_PROXY_SSL_HEADER or USE_X_FORWARDED_HOST) but "
                'PERSONALIZE["NUM_PROXIES"] is not set: throttles and per-address limits see the proxy\'s '
                "address, so every visitor shares one budget.",
                hint='Set PERSONALIZE["NUM_PROXIES"] to the number of proxies that append to X-Forwarded-For (usually 1).',
                id="personalize.W101",
            )
        )
    if not ps.COOKIE_SECURE:
        warnings.append(
            Warning(
                'PERSONALIZE["COOKIE_SECURE"] is False: the shopper cookie is also sent over plain HTTP, '
                "where anyone on the network can read it and browse as that shopper.",
                hint='Serve the site over HTTPS and set PERSONALIZE["COOKIE_SECURE"] = True.',
                id="personalize.W102",
            )
        )
    site = ps.SITE_URL or ""
    parts = urlsplit(site)
    if site and not settings.DEBUG and (parts.scheme != "https" or (parts.hostname or "") in LOCAL_HOSTS):
        warnings.append(
            Warning(
                f'PERSONALIZE["SITE_URL"] is {site!r} with DEBUG off: restore and unsubscribe links in emails '
                "would go over plain HTTP or to a machine the customer cannot reach.",
                hint='Set PERSONALIZE["SITE_URL"] to the shop\'s public https:// address.',
                id="personalize.W103",
            )
        )
    return warnings
