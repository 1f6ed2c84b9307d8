"""Helpers shared by the placement tests (deterministic recommenders, shoppers, events)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.template import Context, Template

from personalize.conf import personalize_settings as ps
from personalize.models import Event, Shopper
from personalize.events import build_event, save_events, set_cart_lines
from tests import factories

DETERMINISTIC = "personalize.recommenders.testing.DeterministicRecommender"
ALIASES = ("default", "popular", "bought_together", "also_viewed")
ITEM_IDS = re.compile(r'data-product-id="([^"]+)"')


def keys(products: list[Any]) -> list[str]:
    return [str(p.pk) for p in products]


def configure(settings: Any, *, items: list[Any] | None = None, popular: list[Any] | None = None, **extra: Any) -> None:
    """Every recommender alias a DeterministicRecommender: ``items`` for all of them unless
    ``popular`` gives the popular alias its own list; ``extra`` goes into PERSONALIZE."""
    recommenders = {}
    for alias in ALIASES:
        chosen = popular if alias == "popular" and popular is not None else items
        options = {"ITEMS": keys(chosen)} if chosen is not None else {}
        recommenders[alias] = {"BACKEND": DETERMINISTIC, "OPTIONS": options}
    settings.PERSONALIZE = {**settings.PERSONALIZE, "RECOMMENDERS": recommenders, **extra}


def bought(shopper: Shopper, *products: Any, value: str | None = None, when: Any = None) -> Event:
    lines = [{"product": str(p.pk), "quantity": 1, "price": str(p.price)} for p in products]
    event = build_event(shopper, "purchase", lines=lines, value=value, order_ref=f"o-{shopper.pk}", created_at=when)
    return save_events([event])[0]


def in_cart(shopper: Shopper, *products: Any) -> None:
    set_cart_lines(shopper, [{"product": str(p.pk), "quantity": 1, "price": str(p.price)} for p in products])


def cookie_for(shopper: Shopper) -> str:
    response = HttpResponse()
    response.set_signed_cookie(ps.COOKIE_NAME, str(shopper.key), salt=ps.COOKIE_SALT)
    return response.cookies[ps.COOKIE_NAME].value


def shopper_request(shopper: Shopper | None = None, path: str = "/"):
    req = factories.request(path)
    if shopper is not None:
        req.COOKIES[ps.COOKIE_NAME] = cookie_for(shopper)
    return req


def render(template: str, shopper: Shopper | None = None, request: Any = None, **context: Any) -> str:
    req = request or shopper_request(shopper)
    return Template("{% load personalize %}" + template).render(Context({"request": req, **context}))


def ids(html: str | bytes) -> list[str]:
    if isinstance(html, bytes):
        html = html.decode()
    return ITEM_IDS.findall(html)


def products(n: int, **fields: Any) -> list[Any]:
    return [factories.product(**fields) for _ in range(n)]


def money(value: str) -> Decimal:
    return Decimal(value)
