"""``{% recently_viewed limit=8 %}`` (merged into ``{% load personalize %}``) and its fragment form.

The shopper's recently viewed products, without the one on the current page. The views come
from the request's profile, shared with the page's other widgets (one events query); one
keys-only stock check, then cached cards: no product rows on a warm page.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import SafeString

from personalize.conf import personalize_settings as ps
from personalize.history import recently_viewed_keys
from personalize.placements.cards import available_keys
from personalize.placements.pipeline import profile_of
from personalize.widgets.items import card_items
from personalize.widgets.render import HTML_KEY, clamp_limit, current_product_key, render_widget


def render_recently_viewed(
    context: Any, *, limit: Any = None, title: str | None = None, template: str | None = None,
    errors: list[BaseException] | None = None,
) -> SafeString:
    """The widget for the request in ``context`` ("" when nothing was viewed)."""
    def build() -> dict[str, Any]:
        request = context["request"]
        count = clamp_limit(limit, ps.RECENTLY_VIEWED_LIMIT)
        current = current_product_key(context)
        # Over-fetch a little so that out-of-stock or deleted products do not shorten the list.
        shopper, profile = profile_of(request)
        keys = recently_viewed_keys(shopper, count * 2, exclude={current} if current else None, profile=profile)
        shown = available_keys(keys, Q())[:count]
        return {
            "items": SimpleLazyObject(lambda: card_items(shown, placement="recently_viewed")),
            HTML_KEY: ["recently_viewed", shown, title],
            "title": title,
        }

    return render_widget("recently_viewed", context, build, template=template, errors=errors)
