"""Throttling the beacon: per shopper (signed cookie) or, without one, per client address.

Counts live in personalize's cache (timeouts and circuit breaker); while that cache is down they
fall back to a bounded in-process counter, so limits still hold (per process) and the endpoint
keeps answering. The address is the real client's behind ``NUM_PROXIES`` proxies.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from personalize.caching.breaker import throttle_cache
from personalize.conf import personalize_settings as ps
from personalize.identity import remembered
from personalize.identity.agent import client_ip


class BeaconRateThrottle(SimpleRateThrottle):
    """Rate from ``PERSONALIZE["API_THROTTLE_RATE"]`` (``None`` disables it)."""

    scope = "personalize_events"

    @property
    def cache(self) -> Any:  # DRF reads ``self.cache``; ours survives an outage
        return throttle_cache()

    def get_ident(self, request: Any) -> str:
        # Not DRF's: without NUM_PROXIES it trusts the whole X-Forwarded-For a client sends.
        return client_ip(request._request if hasattr(request, "_request") else request)

    def get_rate(self) -> str | None:
        # Read per request, not from DRF's DEFAULT_THROTTLE_RATES, so the store configures
        # personalize in one place and tests can override it.
        return ps.API_THROTTLE_RATE

    def allow_request(self, request: Any, view: Any) -> bool:
        # SimpleRateThrottle parses the rate in __init__; re-read it so a changed setting applies.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        # Per shopper, so many shoppers behind one NAT are not throttled together. The cookie is
        # signed: a client cannot make keys up, and requests without one (which is how new keys
        # are obtained) share their address's budget (``PERSONALIZE["NUM_PROXIES"]``).
        key = remembered.cookie_key(request._request if hasattr(request, "_request") else request)
        ident = f"shopper:{key}" if key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
