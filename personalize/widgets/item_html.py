"""``{% personalize_items items %}`` and ``{% personalize_item item %}``: list items' HTML,
rendered once per process and reused.

A shopper's own lists (recently viewed, "for you") change with every view, so their HTML is
rendered on every page; their items do not. The shipped ``_items.html`` renders its items
through ``personalize/widgets/_item.html`` with ``personalize_items``, which holds the HTML per
item for at most as long as its signed click link is reused, like a whole list's HTML
(``WIDGET_HTML_CACHE``). The key is the item's card key and list (placement, model version,
variant, reason) with the language and the catalogue generation (cards are cached under those:
see :class:`~personalize.widgets.items.ItemList`), so a held item is not even built; an item
of another origin is keyed by every field it has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from personalize.caching import rendered
from personalize.conf import personalize_settings as ps
from personalize.placements.cards import catalogue
from personalize.placements.clicks import signed_reuse_seconds
from personalize.widgets.items import IDENTITY, ItemList

ITEM_TEMPLATE = "personalize/widgets/_item.html"
ITEM_SEPARATOR = "\n  "  # between items, as the shipped ``_items.html`` lays them out

register = template.Library()


def _item_key(item: dict[str, Any], generation: str) -> Hashable:
    identity = item.get(IDENTITY)
    if identity is not None:  # an ItemList's item: its card's key names every field (see ItemList)
        return _identity_key(identity, generation, get_language() or "")
    fields = {name: value for name, value in item.items() if name != "product"}
    raw = json.dumps([ITEM_TEMPLATE, fields, get_language() or "", generation], sort_keys=True, default=str)
    return "personalize:item-html:" + hashlib.sha256(raw.encode()).hexdigest()


def _identity_key(identity: tuple[Any, ...], generation: str, language: str) -> Hashable:
    return ("personalize:item-html", ITEM_TEMPLATE, language, generation, identity)


def _held_or_rendered(context: Any, key: Hashable, item: Callable[[], Any]) -> str:
    """The HTML held under ``key``, or ``item()``'s rendered now and held."""
    hit, html = rendered.held(key)
    if not hit:
        html = _render(context, item())
        rendered.hold(key, html, seconds=signed_reuse_seconds(), versioned=True)
    return html


def _render(context: Any, item: Any) -> str:
    # As ``{% include %}`` renders: the page's engine, a new layer over the list's context.
    return str(context.template.engine.get_template(ITEM_TEMPLATE).render(context.new({"item": item})))


_reads_reason: dict[str, bool] = {}  # item template source -> may it show the reason


def _may_show_reason(context: Any) -> bool:
    """Whether the item template may show ``item.reason`` (it names it, or includes or extends
    another template): if not, an item's HTML is the same on every list that shows it."""
    source = getattr(context.template.engine.get_template(ITEM_TEMPLATE), "source", "") or ""
    known = _reads_reason.get(source)
    if known is None:
        known = _reads_reason[source] = not source or any(word in source for word in ("reason", "include", "extends"))
    return known


def _generation() -> str | None:
    return catalogue.version() if ps.WIDGET_HTML_CACHE else None


@register.simple_tag(takes_context=True)
def personalize_item(context: Any, item: Any) -> SafeString:
    """The HTML of one item of a list (``personalize/widgets/_item.html``)."""
    generation = _generation() if isinstance(item, dict) else None
    if generation is None:
        return mark_safe(_render(context, item))
    return mark_safe(_held_or_rendered(context, _item_key(item, generation), lambda: item))


@register.simple_tag(takes_context=True)
def personalize_items(context: Any, items: Any) -> SafeString:
    """Every item's HTML in order, each as :func:`personalize_item` renders it; the items of an
    :class:`~personalize.widgets.items.ItemList` whose HTML is held are not even built."""
    if not isinstance(items, ItemList):
        return mark_safe("".join(ITEM_SEPARATOR + personalize_item(context, item) for item in items or ()))
    generation = _generation()
    if generation is None:
        return mark_safe("".join(ITEM_SEPARATOR + _render(context, item) for item in items))
    language, parts = get_language() or "", []
    reason = _may_show_reason(context)
    for index in range(len(items)):
        key = _identity_key(items.identity(index, reason=reason), generation, language)
        parts.append(ITEM_SEPARATOR + _held_or_rendered(context, key, lambda index=index: items[index]))
    return mark_safe("".join(parts))
