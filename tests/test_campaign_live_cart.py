"""Cart-aimed offers read the store's live cart through the adapter (``cart_item_count``); the
snapshot personalize was last sent counts only when the adapter cannot tell, or fails."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template

from personalize.adapters import DefaultAdapter, _adapter_cache
from personalize.models import Cart, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


class SessionCartAdapter(DefaultAdapter):
    """A store whose cart lives in the session (``{"cart": n}``); ``"broken"`` raises."""

    def cart_item_count(self, request: Any) -> int | None:
        if request.session.get("cart") == "broken":
            raise RuntimeError("the store's cart service is down")
        return request.session.get("cart")


@pytest.fixture
def live_adapter(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ADAPTER": f"{__name__}.SessionCartAdapter"}
    yield
    _adapter_cache.pop(SessionCartAdapter, None)
    factories.reset_campaign_caches()


def render(shopper: Shopper, session_cart: Any) -> str:
    request = factories.shopper_request(shopper)
    if session_cart is not None:
        request.session["cart"] = session_cart
    return Template('{% load personalize %}{% personalized_content "cart" %}').render(Context({"request": request}))


def cart_campaign_and_shopper(snapshot_items: int) -> Shopper:
    factories.campaign("cart", headline="5 off your cart", offer=factories.offer(code="CART5", discount_type="amount", value=5))
    shopper = Shopper.objects.create()
    lines = [{"product": "1", "quantity": snapshot_items, "price": "9.00"}] if snapshot_items else []
    Cart.objects.create(shopper=shopper, lines=lines, item_count=snapshot_items, value=Decimal("9.00") * snapshot_items)
    return shopper


def test_an_empty_live_cart_hides_the_offer_though_the_snapshot_has_items(live_adapter):
    shopper = cart_campaign_and_shopper(snapshot_items=2)
    assert "5 off your cart" not in render(shopper, 0)


def test_a_full_live_cart_shows_the_offer_though_the_snapshot_is_empty(live_adapter):
    shopper = cart_campaign_and_shopper(snapshot_items=0)
    assert "5 off your cart" in render(shopper, 3)


def test_the_snapshot_decides_when_the_adapter_cannot_tell_or_fails(live_adapter, caplog):
    full = cart_campaign_and_shopper(snapshot_items=1)
    assert "5 off your cart" in render(full, None)  # cart_item_count() -> None
    assert "5 off your cart" in render(full, "broken")
    assert "cart_item_count failed" in caplog.text
    empty = Shopper.objects.create()
    assert "5 off your cart" not in render(empty, None)


def test_the_default_adapter_reads_no_live_cart():
    assert DefaultAdapter().cart_item_count(factories.request()) is None
