"""Building a lifecycle email: its context (products, total, links, offer) and its two bodies.

Templates (overridable by the store): ``personalize/emails/<template>.html`` and ``.txt``;
a language-specific copy ``personalize/emails/<lang>/<template>.html`` wins when present.
Everything the marketer or the catalogue provides is auto-escaped (no ``mark_safe``).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import select_template
from django.utils import translation

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.emails import links
from personalize.placements import recommend_for
from personalize.widgets.items import item_for

logger = logging.getLogger("personalize")


class StepTemplateError(Exception):
    """The step's template could not be rendered: the step is marked broken."""


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None


def products_by_key(keys: list[str]) -> dict[str, Any]:
    """The products behind an email's lines, by key, in one adapter query (missing ones absent)."""
    adapter = get_adapter()
    return {adapter.product_key(p): p for p in adapter.get_products(keys)} if keys else {}


def product_facts(product: Any, base: str) -> dict[str, Any]:
    """The item of :func:`~personalize.widgets.items.item_for` with absolute links, price a Decimal."""
    item = item_for(product, base_url=base, placement="email")
    item["price"] = _decimal(item["price"])
    return item


def product_lines(
    raw_lines: list[dict[str, Any]],
    products_by_key: dict[str, Any],
    base: str,
    cache: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> tuple[list[dict], list[str]]:
    """Cart lines with product facts; keys whose product is gone are returned separately.

    ``cache`` keeps each product's facts per language for a run (titles may be translated).
    """
    language = translation.get_language() or ""
    lines, missing = [], []
    for raw in raw_lines:
        key = str(raw.get("product"))
        product = products_by_key.get(key)
        if product is None:
            missing.append(key)
            continue
        facts = cache.get((key, language)) if cache is not None else None
        if facts is None:
            facts = product_facts(product, base)
            if cache is not None:
                cache[(key, language)] = facts
        quantity = int(raw.get("quantity") or 1)
        price = _decimal(raw.get("price"))
        if price is None:
            price = facts["price"]
        lines.append(
            {
                "key": key,
                "title": facts["title"],
                "url": facts["url"],
                "image": facts["image"],
                "quantity": quantity,
                "price": price,
                "total": (price * quantity) if price is not None else None,
            }
        )
    return lines, missing


def recommendations(shopper: Any, exclude: set[str], base: str, limit: int) -> list[dict[str, Any]]:
    """A few "you may also like" products; none when the recommender is absent or fails."""
    if limit <= 0:
        return []
    try:
        result = recommend_for(shopper, "for_you", limit=limit + len(exclude))
    except Exception:  # a failing recommender never blocks an email
        logger.warning("personalize: no recommendations for a lifecycle email", exc_info=True)
        return []
    items = []
    for product in list(result)[: limit + len(exclude)]:
        if not hasattr(product, "_meta"):
            continue
        item = product_facts(product, base)
        if item["key"] in exclude:
            continue
        items.append(item)
        if len(items) >= limit:
            break
    return items


def template_names(template: str, language: str, ext: str) -> list[str]:
    names = []
    language = (language or "").lower()
    for code in dict.fromkeys([language, language.split("-")[0]]):
        if code:
            names.append(f"personalize/emails/{code}/{template}.{ext}")
    names.append(f"personalize/emails/{template}.{ext}")
    return names


def subject_line(step: Any, language: str, first_name: str) -> str:
    """The step's subject in ``language`` with ``{first_name}`` filled, on one line."""
    subject = step.subject_for(language).replace("{first_name}", first_name or "")
    return " ".join(subject.split())[:255]


def first_name_of(shopper: Any) -> str:
    return get_adapter().user_first_name(shopper.user) if shopper.user_id and shopper.user is not None else ""


def render_email(step: Any, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of ``step`` in ``language``; ``StepTemplateError`` on any failure."""
    try:
        with translation.override(language or None):
            subject = subject_line(step, language, context.get("first_name") or "")
            html = select_template(template_names(step.template, language, "html")).render(context)
            text = select_template(template_names(step.template, language, "txt")).render(context)
    except Exception as exc:
        raise StepTemplateError(f"{exc.__class__.__name__}: {exc}") from exc
    return subject, text, html


def build_context(
    *,
    send: Any,
    shopper: Any,
    lines: list[dict[str, Any]],
    missing: list[str],
    base: str,
    offer: Any = None,
    offer_code: str = "",
    recommended: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    total = sum((line["total"] for line in lines if line["total"] is not None), Decimal("0"))
    first_name = first_name_of(shopper)
    return {
        "shopper": shopper,
        "first_name": first_name,
        "flow": send.flow,
        "step": send.step,
        "lines": lines,
        "missing_count": len(missing),
        "total": total,
        "recommendations": recommended or [],
        "offer": offer,
        "offer_code": offer_code,
        "offer_description": offer.describe() if offer is not None and hasattr(offer, "describe") else "",
        "restore_url": links.restore_url(send.pk, base),
        "unsubscribe_url": links.unsubscribe_url(send.pk, base),
        "site_url": base,
    }


def build_message(
    subject: str, text: str, html: str, to: str, unsubscribe_url: str, connection: Any = None
) -> EmailMultiAlternatives:
    """The email with RFC 8058 one-click unsubscribe headers."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=ps.EMAIL_FROM or settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message
