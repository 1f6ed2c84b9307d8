"""``{% personalize_consent %}``: the consent banner (merged into ``{% load personalize %}``).

Asks only while no choice is made (and no DNT/GPC signal says no), so it never nags; the
same form with ``always=True`` lets a person change their mind on a privacy page.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from personalize.conf import personalize_settings as ps
from personalize.identity import consent as consent_state

register = template.Library()

TEMPLATE = "personalize/consent/banner.html"


@register.simple_tag(takes_context=True)
def personalize_consent(context: Any, always: bool = False) -> SafeString:
    """The banner while no choice is made; ``always=True``: the choice, for a privacy page."""
    request = context.get("request")
    if request is None or not (always or consent_state.needs_asking(request)):
        return mark_safe("")
    try:
        action = reverse("personalize:consent")
    except NoReverseMatch:  # personalize.urls not included: personalize.W081 says so
        return mark_safe("")
    return mark_safe(
        render_to_string(
            TEMPLATE,
            {
                "action": action,
                "next": request.get_full_path(),
                "policy_url": ps.CONSENT_POLICY_URL,
                "current": consent_state.explicit_choice(request),
                "inline": bool(always),
                "language": get_language() or "",
            },
            request=request,
        )
    )
