"""``{% load personalize %}`` for bench/page_cost.py: every tag renders nothing on ``?widgets=off``.

bench/page_settings.py maps the ``personalize`` template library to this module, so the demo
shop serves the same page (same view, same ``track()``, same middleware, same templates) with
and without its personalize widgets from one server: the baseline of the page-cost bench.
Filters are the real ones; without the parameter every tag is the real one too.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django import template
from django.template.backends.django import get_installed_libraries

from personalize.widgets.fragments import WIDGETS, personalize_fragment

OFF_PARAM = "widgets"
OFF_VALUE = "off"
FRAGMENTS_VALUE = "fragments"

register = template.Library()
_real = import_module(get_installed_libraries()["personalize"]).register
register.filters.update(_real.filters)


def mode(context: Any) -> str:
    request = context.get("request")
    return request.GET.get(OFF_PARAM, "") if request is not None else ""


def widgets_off(context: Any) -> bool:
    return mode(context) == OFF_VALUE


class SwitchableNode(template.Node):
    """The real tag's node, nothing without widgets, or its fragment placeholder."""

    def __init__(self, name: str, node: template.Node) -> None:
        self.name, self.node = name, node

    def render(self, context: Any) -> str:
        current = mode(context)
        if current == OFF_VALUE:
            return ""
        if current == FRAGMENTS_VALUE:
            return self.fragment(context)
        return self.node.render(context)

    def fragment(self, context: Any) -> str:
        if self.name not in WIDGETS or not hasattr(self.node, "get_resolved_arguments"):
            return ""  # per-shopper content has no cache-safe form: not on a CDN page
        args, kwargs = self.node.get_resolved_arguments(context)
        if getattr(self.node, "takes_context", False):
            args = args[1:]
        product = args[0] if args else kwargs.pop("product", None)
        return personalize_fragment(context, self.name, product, **kwargs)


def _switchable(name: str, compile_function: Any) -> Any:
    def compile_tag(parser: Any, token: Any) -> SwitchableNode:
        return SwitchableNode(name, compile_function(parser, token))

    return compile_tag


# Parts of a widget's own template, not widgets: the real ones (like the filters).
PARTS = {"personalize_item", "personalize_items"}

for _name, _compile in _real.tags.items():
    register.tags[_name] = _compile if _name in PARTS else _switchable(_name, _compile)
