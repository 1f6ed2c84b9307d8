"""``{% personalize_item item %}``: one list item's HTML, rendered once per process and reused.

A shopper's own lists (recently viewed, "for you") change with every view, so their HTML is
rendered on every page; their items do not. The shipped ``_items.html`` renders each item
through ``personalize/widgets/_item.html`` with this tag, which holds the HTML per item (every
field the template shows, the language and the catalogue generation in its key) for at most as
long as its signed click link is reused, like a whole list's HTML (``WIDGET_HTML_CACHE``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from personalize.caching import local
from personalize.conf import personalize_settings as ps
from personalize.placements.cards import catalogue
from personalize.placements.clicks import signed_reuse_seconds

ITEM_TEMPLATE = "personalize/widgets/_item.html"

register = template.Library()


def _item_key(item: dict[str, Any], generation: str) -> str:
    fields = {name: value for name, value in item.items() if name != "product"}
    raw = json.dumps([ITEM_TEMPLATE, fields, get_language() or "", generation], sort_keys=True, default=str)
    return "personalize:item-html:" + hashlib.sha256(raw.encode()).hexdigest()


@register.simple_tag(takes_context=True)
def personalize_item(context: Any, item: Any) -> SafeString:
    """The HTML of one item of a list (``personalize/widgets/_item.html``)."""
    generation = catalogue.version() if ps.WIDGET_HTML_CACHE and isinstance(item, dict) else None
    key = _item_key(item, generation) if generation is not None else None
    if key is not None:
        hit, html = local.held(key)
        if hit:
            return mark_safe(html)
    # As ``{% include %}`` renders: the page's engine, a new layer over the list's context.
    html = context.template.engine.get_template(ITEM_TEMPLATE).render(context.new({"item": item}))
    if key is not None:
        local.hold(key, str(html), seconds=signed_reuse_seconds(), versioned=True)
    return mark_safe(html)
