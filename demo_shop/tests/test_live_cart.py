"""An offer "on your cart" is judged by the store's live cart (the adapter's cart_item_count), not
by the snapshot personalize was last sent: a cart the session lost shows no "€5 off your cart"."""

from __future__ import annotations

import re

import pytest

from demo_shop.orders.adapter import DemoAdapter
from demo_shop.orders.cart import SESSION_KEY
from demo_shop.tests.test_campaigns_demo import browser, demo_settings, product  # noqa: F401 - demo_settings is a fixture
from personalize.adapters import _adapter_cache
from personalize.models import Cart

pytestmark = pytest.mark.django_db


def exit_offer(html: str) -> str:
    match = re.search(r"<dialog.*?</dialog>", html, re.S)
    return match.group(0) if match else ""


def lose_the_session_cart(client) -> None:
    """The shop's cart empties without telling personalize (a session that expired, a login)."""
    session = client.session
    session[SESSION_KEY] = {}
    session.save()


@pytest.fixture
def demo_adapter(demo_settings):  # noqa: F811
    demo_settings.PERSONALIZE = {**demo_settings.PERSONALIZE, "ADAPTER": "demo_shop.orders.adapter.DemoAdapter"}
    yield
    _adapter_cache.pop(DemoAdapter, None)


def test_a_lost_session_cart_gets_no_cart_offer_though_the_snapshot_has_items(demo_adapter):
    client = browser()
    client.post(f"/cart/add/{product('20.00').pk}/", {"quantity": 1})
    assert "5 off" in exit_offer(client.get("/cart/").content.decode())
    lose_the_session_cart(client)
    assert Cart.objects.get().item_count == 1  # the snapshot still says one item
    assert "5 off" not in exit_offer(client.get("/cart/").content.decode())


def test_without_a_live_cart_the_adapter_falls_back_to_the_snapshot():
    client = browser()
    client.post(f"/cart/add/{product('20.00').pk}/", {"quantity": 1})
    lose_the_session_cart(client)
    # The default adapter cannot see the store's cart: the snapshot decides (stale here).
    assert "5 off" in exit_offer(client.get("/cart/").content.decode())
