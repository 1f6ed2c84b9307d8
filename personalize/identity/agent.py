"""What a request says about its browser: bot or person, device class, country.

The User-Agent is parsed once per request (cached on it) and answers both the bot filter and
the device feature.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.http import HttpRequest
from user_agents import parse
from user_agents.parsers import UserAgent

from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")

BOT_MARKERS = ("bot", "crawl", "spider", "slurp", "headless", "python-requests", "curl/", "wget/", "monitor")


def user_agent(request: HttpRequest) -> UserAgent | None:
    """The request's parsed User-Agent (``None`` without one), parsed once per request."""
    if not hasattr(request, "_personalize_agent"):
        agent = request.META.get("HTTP_USER_AGENT", "")
        request._personalize_agent = parse(agent) if agent else None
    return request._personalize_agent


def is_bot(request: HttpRequest) -> bool:
    if not ps.IGNORE_BOTS:
        return False
    ua = user_agent(request)
    if ua is None or ua.is_bot:
        return True
    agent = ua.ua_string.lower()
    return any(marker in agent for marker in BOT_MARKERS)


@functools.lru_cache(maxsize=2)
def geoip_reader(path: str) -> Any:
    """One GeoIP2 reader per database file and process (opening it costs milliseconds)."""
    from django.contrib.gis.geoip2 import GeoIP2  # optional: needs the geoip2 package

    return GeoIP2(path)


def detect_country(request: HttpRequest) -> str:
    """Country code from the configured CDN header, else GeoIP2 when configured."""
    header = ps.COUNTRY_HEADER
    value = request.META.get(header, "") if header else ""
    if value and len(value) == 2 and value.isalpha() and value.upper() not in ("XX", "T1"):
        return value.upper()
    if ps.GEOIP_PATH:
        try:
            ip = request.META.get("REMOTE_ADDR", "")
            return (geoip_reader(ps.GEOIP_PATH).country_code(ip) or "")[:2]
        except Exception:  # noqa: BLE001 - GeoIP is best effort
            logger.debug("GeoIP lookup failed", exc_info=True)
    return ""


def detect_device(request: HttpRequest) -> str:
    """``mobile``, ``tablet``, ``desktop`` or ``bot`` from the User-Agent (user-agents library)."""
    ua = user_agent(request)
    if ua is None:
        return ""
    if ua.is_bot:
        return "bot"
    if ua.is_tablet:
        return "tablet"
    if ua.is_mobile:
        return "mobile"
    return "desktop"
