"""Small builders for test data (kept plain: no factory library needed)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.test import RequestFactory

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
