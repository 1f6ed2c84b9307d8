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

OFF_PARAM = "widgets"
OFF_VALUE = "off"

register = template.Library()
_real = import_module(get_installed_libraries()["personalize"]).register
register.filters.update(_real.filters)


def widgets_off(context: Any) -> bool:
    request = context.get("request")
    return request is not None and request.GET.get(OFF_PARAM) == OFF_VALUE


class SwitchableNode(template.Node):
    """The real tag's node, or nothing when the request asks for the page without widgets."""

    def __init__(self, node: template.Node) -> None:
        self.node = node

    def render(self, context: Any) -> str:
        return "" if widgets_off(context) else self.node.render(context)


def _switchable(compile_function: Any) -> Any:
    def compile_tag(parser: Any, token: Any) -> SwitchableNode:
        return SwitchableNode(compile_function(parser, token))

    return compile_tag


for _name, _compile in _real.tags.items():
    register.tags[_name] = _switchable(_compile)
