"""Small builders for test data (kept plain: no factory library needed)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import timezone

from tests.testshop.models import Category, Product

_seq = itertools.count(1)


def category(name: str | None = None) -> Category:
    return Category.objects.create(name=name or f"Category {next(_seq)}")


def product(**fields: Any) -> Product:
    n = next(_seq)
    fields.setdefault("name", f"Product {n}")
    fields.setdefault("price", Decimal("10.00") + n)
    if "category" not in fields:
        fields["category"] = category()
    return Product.objects.create(**fields)


def user(username: str | None = None, **fields: Any):
    n = next(_seq)
    fields.setdefault("email", f"user{n}@example.com")
    fields.setdefault("first_name", f"Ana{n}")
    return get_user_model().objects.create_user(username or f"user{n}", password="pw", **fields)


BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def request(path: str = "/", user_obj: Any = None, **meta: Any):
    """A request that went through the middleware's shopper setup."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.cache import SessionStore
    from django.utils.functional import SimpleLazyObject

    from personalize import identity

    meta.setdefault("HTTP_USER_AGENT", BROWSER_UA)
    req = RequestFactory().get(path, **meta)
    req.user = user_obj or AnonymousUser()
    req.session = SessionStore()
    req.shopper = SimpleLazyObject(lambda: identity.get_shopper(req))
    return req


# --- campaigns and offers -------------------------------------------------------------------
def offer(**fields: Any):
    from personalize.models import Offer

    fields.setdefault("name", f"Offer {next(_seq)}")
    fields.setdefault("value", Decimal("10"))
    if fields.get("code_mode", "shared") == "shared":
        fields.setdefault("code", f"CODE{next(_seq)}")
    return Offer.objects.create(**fields)


def campaign(placement: str = "home_banner", *, headline: str = "Hello", segments: Any = (), **fields: Any):
    """An active campaign, live now, with content "A" in English (more via ``contents``)."""
    from personalize.models import Campaign, CampaignContent

    contents = fields.pop("contents", None) or [{"variant": "A", "language": "en", "headline": headline}]
    fields.setdefault("name", f"Campaign {next(_seq)}")
    fields.setdefault("starts_at", timezone.now() - timedelta(hours=1))
    obj = Campaign.objects.create(placement=placement, **fields)
    for content in contents:
        content = dict(content)
        content.setdefault("language", "en")
        CampaignContent.objects.create(campaign=obj, **content)
    if segments:
        obj.segments.set(segments)
    return obj


def segment(slug: str, rules: Any = (), match: str = "all"):
    """A live segment with ``rules`` given as ``(kind, params)`` pairs."""
    from personalize.models import Segment, SegmentRule

    seg = Segment.objects.create(name=slug, slug=slug, match=match)
    for position, (kind, params) in enumerate(rules):
        SegmentRule.objects.create(segment=seg, kind=kind, params=params, position=position)
    return seg


def shopper_request(shopper: Any, path: str = "/", user_obj: Any = None):
    """A request whose shopper is ``shopper`` (as if its cookie came along)."""
    req = request(path, user_obj=user_obj)
    req._personalize_shopper = shopper
    return req


# --- lifecycle emails --------------------------------------------------------------------


def cart_shopper(
    products: list[Any],
    *,
    updated_at: Any,
    user_obj: Any = None,
    email: str = "",
    consent: bool = False,
    language: str = "",
    revision: int = 1,
    quantity: int = 1,
):
    """A saved shopper (an account's unless ``email`` is given) whose cart holds ``products``."""
    from personalize.models import Cart, Shopper

    if user_obj is None and not email:
        user_obj = user()
    shopper = Shopper.objects.create(user=user_obj, email=email, email_consent=consent)
    lines = [{"product": str(p.pk), "quantity": quantity, "price": str(p.price)} for p in products]
    Cart.objects.create(
        shopper=shopper,
        lines=lines,
        value=sum((p.price * quantity for p in products), Decimal("0")),
        item_count=quantity * len(products),
        language=language,
        revision=revision,
        updated_at=updated_at,
    )
    return shopper


def reset_campaign_caches() -> None:
    """Forget loaded campaigns: a test's rollback sends no signal, so the next test could see them."""
    from personalize.campaigns import specs

    specs.definitions.bump()
