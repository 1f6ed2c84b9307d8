"""What a request says about its browser: bot or person, device class, country.

The User-Agent is parsed once per request (cached on it) and answers both the bot filter and
the device feature.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Any

from crawlerdetect import CrawlerDetect
from django.http import HttpRequest
from user_agents import parse
from user_agents.parsers import UserAgent

from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")

# What crawlerdetect's maintained list (updated with the package) leaves to us: headless
# browsers and uptime probes that look like browsers. The store adds its own in BOT_PATTERNS.
BOT_MARKERS = (
    "bot", "crawl", "spider", "slurp", "headless", "lighthouse", "monitor", "uptime", "preview",
    "scanner", "checker", "validator", "fetcher", "httpclient", "http client", "url control",
)  # fmt: skip
# One detector per process: its patterns compile once and its answers are memoised per agent.
CRAWLERS = CrawlerDetect()


def user_agent(request: HttpRequest) -> UserAgent | None:
    """The request's parsed User-Agent (``None`` without one), parsed once per request."""
    if not hasattr(request, "_personalize_agent"):
        agent = request.META.get("HTTP_USER_AGENT", "")
        request._personalize_agent = parse(agent) if agent else None
    return request._personalize_agent


def is_bot(request: HttpRequest) -> bool:
    """No User-Agent, a known crawler, HTTP library or link previewer (crawlerdetect's list),
    a bot by user-agents' parser, or one of our and the store's markers (``BOT_PATTERNS``)."""
    if not ps.IGNORE_BOTS:
        return False
    cached = getattr(request, "_personalize_bot", None)
    if cached is None:
        cached = request._personalize_bot = agent_is_bot(request.META.get("HTTP_USER_AGENT", ""))
    return cached


def agent_is_bot(agent: str) -> bool:
    """Whether a User-Agent string is automated (see :func:`is_bot`)."""
    agent = (agent or "").strip()[:1000]
    return not agent or _automated(agent, tuple(ps.BOT_PATTERNS))


@functools.lru_cache(maxsize=4096)
def _automated(agent: str, extra: tuple[str, ...]) -> bool:
    # Memoised per agent: a store sees a few thousand distinct strings, and parsing costs ~0.1 ms.
    if CRAWLERS.is_crawler(agent) or parse(agent).is_bot:
        return True
    lowered = agent.lower()
    return any(marker in lowered for marker in (*BOT_MARKERS, *extra))


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``NUM_PROXIES`` proxies the address
    the outermost of them saw (the n-th from the right of ``X-Forwarded-For``). Entries a
    client wrote itself (further left) are never used, so rotating them changes nothing."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = ps.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(proxies, len(hops))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return remote


def client_network(request: HttpRequest) -> str:
    """The client's network (IPv4 /24, IPv6 /64): the unit per-address caps count, since one
    person easily holds many addresses of one network."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


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
