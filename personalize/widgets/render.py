"""Rendering widgets so that a failure never breaks the store's page.

Every widget tag goes through :func:`render_widget`: it builds the item list, renders the
store-overridable template ``personalize/widgets/<name>.html`` and, on any error, logs it and
renders nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps

logger = logging.getLogger("personalize")


def clamp_limit(limit: Any, default: int) -> int:
    try:
        value = int(limit)
    except (TypeError, ValueError):
        return default
    return max(1, min(value, ps.WIDGET_MAX_LIMIT))


def current_product_key(context: Any) -> str:
    """The key of the product the page shows (``product`` or ``object`` in the context)."""
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
) -> SafeString:
    """Render ``personalize/widgets/<name>.html`` with what ``build()`` returns; "" on error."""
    request = context.get("request") if hasattr(context, "get") else None
    mark_personal(request)
    try:
        data = build()
        data.setdefault("widget", name)
        data.setdefault("request", request)
        return mark_safe(render_to_string(template or f"personalize/widgets/{name}.html", data, request=request))
    except Exception:
        logger.exception("personalize: widget %r failed; rendering nothing", name)
        return mark_safe("")
