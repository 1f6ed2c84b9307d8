"""``{% if_segment "slug" %}...{% else %}...{% endif_segment %}``: content for a segment.

Several slugs mean "in any of them". The tag never breaks a page: without a request in the
context, or if evaluating segments fails, the ``else`` branch renders.
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token

from personalize.segments.evaluation import segments_for

logger = logging.getLogger("personalize")

register = template.Library()


class IfSegmentNode(template.Node):
    def __init__(self, slugs: list[FilterExpression], nodelist_true: NodeList, nodelist_false: NodeList) -> None:
        self.slugs = slugs
        self.nodelist_true = nodelist_true
        self.nodelist_false = nodelist_false

    def __repr__(self) -> str:
        return f"<IfSegmentNode {self.slugs!r}>"

    def matches(self, context: Any) -> bool:
        request = context.get("request")
        if request is None:
            return False
        try:
            wanted = {str(slug.resolve(context)) for slug in self.slugs}
            return bool(wanted & segments_for(request))
        except Exception:
            logger.exception("personalize: if_segment failed; rendering the else branch")
            return False

    def render(self, context: Any) -> str:
        branch = self.nodelist_true if self.matches(context) else self.nodelist_false
        return branch.render(context)


@register.tag("if_segment")
def do_if_segment(parser: Parser, token: Token) -> IfSegmentNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(f"'{bits[0]}' needs at least one segment slug.")
    slugs = [parser.compile_filter(bit) for bit in bits[1:]]
    nodelist_true = parser.parse(("else", "endif_segment"))
    token = parser.next_token()
    if token.contents == "else":
        nodelist_false = parser.parse(("endif_segment",))
        parser.delete_first_token()
    else:
        nodelist_false = NodeList()
    return IfSegmentNode(slugs, nodelist_true, nodelist_false)
