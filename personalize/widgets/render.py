"""Rendering widgets so that a failure never breaks the store's page.

Every widget tag goes through :func:`render_widget`: it builds the item list, renders the
store-overridable template ``personalize/widgets/<name>.html`` and, on any error, logs it and
renders nothing.

Lists that are the same for many shoppers (a product's "similar", trending, a new visitor's
"for you") are rendered once: a build may return :data:`HTML_KEY` naming everything its HTML
depends on (the shown products in order, placement, model version, variant, title, the
template); the HTML is then held in the process (:data:`personalize.caching.rendered`) for
``LOCAL_VERSIONED_SECONDS`` (at most as long as its signed click links are reused) with the
language and the catalogue generation added to the key, so
per-shopper exclusions (cart, purchases, the page's earlier widgets) still apply: they change
the shown products, hence the key. ``WIDGET_HTML_CACHE`` off renders every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from personalize.adapters import get_adapter
from personalize.caching import rendered
from personalize.conf import personalize_settings as ps
from personalize.placements.cards import catalogue
from personalize.placements.clicks import signed_reuse_seconds

# What a build returns (and is not passed to the template) to have its HTML reused: a list of
# JSON-serialisable parts naming everything the HTML depends on.
HTML_KEY = "_html_key"

logger = logging.getLogger("personalize")


def clamp_limit(limit: Any, default: int) -> int:
    try:
        value = int(limit)
    except (TypeError, ValueError):
        return default
    return max(1, min(value, ps.WIDGET_MAX_LIMIT))


# A context entry naming the page's product by key (the fragment endpoint has no object).
PRODUCT_KEY = "personalize_product_key"


def current_product_key(context: Any) -> str:
    """The key of the product the page shows (``product`` or ``object`` in the context)."""
    if hasattr(context, "get") and context.get(PRODUCT_KEY):
        return str(context.get(PRODUCT_KEY))
    adapter = get_adapter()
    model = adapter.get_product_model()
    for name in ("product", "object"):
        obj = context.get(name) if hasattr(context, "get") else None
        if isinstance(obj, model):
            return adapter.product_key(obj)
    return ""


# Set on a request whose response shows a widget rendered inline for its shopper; the
# middleware then marks the response ``Cache-Control: private`` and ``Vary: Cookie``.
PERSONAL_FLAG = "_personalize_personal"


def mark_personal(request: Any) -> None:
    """The response to ``request`` carries personal content (never served from a shared cache)."""
    request = getattr(request, "_request", request)  # a DRF request
    if request is not None:
        try:
            setattr(request, PERSONAL_FLAG, True)
        except AttributeError:
            pass


def render_widget(
    name: str,
    context: Any,
    build: Callable[[], dict[str, Any]],
    *,
    template: str | None = None,
    errors: list[BaseException] | None = None,
) -> SafeString:
    """Render ``personalize/widgets/<name>.html`` with what ``build()`` returns; "" on error
    (the error is also appended to ``errors`` when given: the fragment endpoint then keeps the
    neutral list)."""
    request = context.get("request") if hasattr(context, "get") else None
    mark_personal(request)
    try:
        data = build()
        parts = data.pop(HTML_KEY, None)
        cache_key, generation = None, None
        if parts is not None and ps.WIDGET_HTML_CACHE:
            generation = catalogue.version()
            cache_key = _html_cache_key(name, template, parts, generation)
        if cache_key is not None:
            hit, html = rendered.held(cache_key)
            if hit:
                return mark_safe(html)
        data.setdefault("widget", name)
        data.setdefault("request", request)
        html = render_to_string(template or f"personalize/widgets/{name}.html", data, request=request)
        if cache_key is not None:
            # The key names every version the HTML depends on; its signed click links bound it.
            rendered.hold(cache_key, str(html), seconds=signed_reuse_seconds(), versioned=generation is not None)
        return mark_safe(html)
    except Exception as exc:
        logger.exception("personalize: widget %r failed; rendering nothing", name)
        if errors is not None:
            errors.append(exc)
        return mark_safe("")


def _html_cache_key(name: str, template: Any, parts: list[Any], generation: str | None) -> str:
    raw = json.dumps([name, template, parts, get_language() or "", generation or "-"], default=str)
    return "personalize:html:" + hashlib.sha256(raw.encode()).hexdigest()
