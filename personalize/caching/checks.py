"""Cache checks: ``personalize.W100`` the cache personalize uses may hang a request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

from personalize.caching.breaker import has_timeouts, timeout_options
from personalize.conf import personalize_settings as ps


@register()
def check_cache_timeouts(app_configs: Any = None, **kwargs: Any) -> list:
    """A networked cache without connect/read timeouts hangs every request that touches it when
    it stops answering. personalize adds its own where it knows the backend; Django's own uses
    (sessions, a store's code) do not get them."""
    warnings = []
    for alias, params in sorted(getattr(settings, "CACHES", {}).items()):
        if has_timeouts(params):
            continue
        backend = params.get("BACKEND", "")
        known = timeout_options(backend, {}, 0.25, 0.25) is not None
        what = (
            "personalize adds its own timeouts, but the store's other uses (sessions, its own code) would hang"
            if known and alias == ps.CACHE_ALIAS
            else "personalize cannot add timeouts to this backend" if alias == ps.CACHE_ALIAS else "calls to it can hang"
        )
        warnings.append(
            Warning(
                f"CACHES[{alias!r}] ({backend.rsplit('.', 1)[-1]}) sets no connect/read timeouts: {what} "
                "when the cache accepts connections but stops answering.",
                hint="Redis: OPTIONS {'socket_connect_timeout': 0.25, 'socket_timeout': 0.25}; "
                "django-redis: SOCKET_CONNECT_TIMEOUT / SOCKET_TIMEOUT; pymemcache: connect_timeout / timeout "
                "(docs/resilience.md).",
                id="personalize.W100",
            )
        )
    return warnings
