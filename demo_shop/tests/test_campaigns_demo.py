"""Campaigns on the demo shop, end to end: the demo's campaigns, the offer at its checkout."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from demo_shop.catalog.models import Brand, Category, Product
from demo_shop.orders.models import Order
from personalize import attribution
from personalize.campaigns import specs
from personalize.models import Campaign, OfferCode, Redemption
from tests import factories
from tests.factories import BROWSER_UA

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_settings(settings, tmp_path):
    settings.ROOT_URLCONF = "demo_shop.urls"
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRODUCT_MODEL": "catalog.Product", "FREE_SHIPPING_THRESHOLD": "50.00"}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LOGIN_URL = "accounts:login"
    settings.SHOP_FREE_SHIPPING_OVER = "50.00"
    settings.SHOP_SHIPPING_FEE = "4.95"
    cache.clear()
    specs.definitions.clear()
    call_command("load_demo_campaigns", stdout=open("/dev/null", "w"))
    # No control groups here: every browser must see the campaigns (arms are tested elsewhere).
    Campaign.objects.update(control_percent=0)
    specs.invalidate()
    yield settings
    factories.reset_campaign_caches()


def product(price: str, **fields) -> Product:
    n = Product.objects.count() + 1
    category = Category.objects.get_or_create(slug="things", defaults={"name": "Things"})[0]
    brand = Brand.objects.get_or_create(slug="acme", defaults={"name": "Acme"})[0]
    return Product.objects.create(
        category=category, brand=brand, title=f"Thing {n}", slug=f"thing-{n}", price=Decimal(price), stock=50, **fields
    )


def browser() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER_UA)


def campaign_block(html: str) -> str:
    match = re.search(r'<(aside|dialog) class="personalize-(campaign|exit-intent).*?</(aside|dialog)>', html, re.S)
    return match.group(0) if match else ""


def checkout(client: Client) -> Order:
    data = {"email": "new@example.com", "name": "New", "address": "1 Street", "card_number": "4242424242424242"}
    response = client.post("/checkout/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    return Order.objects.order_by("-pk").first()


def test_the_command_is_idempotent():
    call_command("load_demo_campaigns", stdout=open("/dev/null", "w"))
    assert Campaign.objects.count() == 5
    assert sorted(Campaign.objects.values_list("placement", flat=True)) == [
        "cart",
        "exit_intent",
        "home_banner",
        "home_banner",
        "product_page",
    ]


def test_first_visitor_sees_the_offer_and_gets_the_discount_at_checkout():
    item = product("40.00")
    client = browser()
    home = client.get("/").content.decode()
    banner = campaign_block(home)
    assert "10%" in banner and "data-personalize-reveal" in banner
    assert not OfferCode.objects.exists()  # issued when revealed or used, not when shown
    client.post(f"/cart/add/{item.pk}/", {"quantity": 1})
    order = checkout(client)
    code = OfferCode.objects.get().code  # issued at checkout, where it applied by itself
    assert order.discount == Decimal("4.00") and order.discount_code == code
    assert Redemption.objects.get().order_ref == order.number
    assert OfferCode.objects.get().used_at is not None
    credit = attribution.credit_for_order(order.number)  # the one rule: the redeemed code's campaign
    assert credit.channel == "offer" and credit.campaign_id == Campaign.objects.get(name="First visit: 10% off").pk


def test_a_used_single_use_code_is_refused_with_a_message():
    item = product("40.00")
    client = browser()
    client.get("/")
    client.post(f"/cart/add/{item.pk}/", {"quantity": 1})
    checkout(client)
    code = OfferCode.objects.get().code
    other = browser()
    other.post(f"/cart/add/{item.pk}/", {"quantity": 1})
    response = other.post(
        "/checkout/",
        {"email": "x@example.com", "name": "X", "address": "2 Street", "card_number": "4242424242424242", "discount_code": code},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "We do not know the code" in html or "already been used" in html  # foreign reads as unknown


def test_an_unknown_code_is_said_once_at_checkout():
    item = product("40.00")
    client = browser()
    client.post(f"/cart/add/{item.pk}/", {"quantity": 1})
    response = client.post(
        "/checkout/",
        {"email": "x@example.com", "name": "X", "address": "2 Street", "card_number": "4242424242424242", "discount_code": "NOPE42"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.count("NOPE42”") == 1, html.count("NOPE42")


def test_cart_just_under_free_shipping_gets_the_nudge_and_a_cart_gets_the_exit_intent_offer():
    item = product("42.00")
    client = browser()
    client.post(f"/cart/add/{item.pk}/", {"quantity": 1})
    cart = client.get("/cart/").content.decode()
    assert "Only 8.00 away from free shipping" in cart
    exit_intent = re.search(r"<dialog.*?</dialog>", cart, re.S)
    assert exit_intent and "5 off" in exit_intent.group(0)


def test_product_viewed_three_times_shows_a_timed_offer():
    item = product("30.00")
    client = browser()
    pages = [client.get(item.get_absolute_url()).content.decode() for _ in range(3)]
    assert "Still thinking" not in pages[0] + pages[1]
    assert "Still thinking" in pages[2] and "data-personalize-countdown" in pages[2]


def test_returning_customer_is_greeted_by_name():
    from django.contrib.auth import get_user_model

    from personalize.models import Shopper

    user = get_user_model().objects.create_user("ana", password="pw", first_name="Ana")
    Shopper.objects.create(user=user, visits=3)
    client = browser()
    client.force_login(user)
    home = client.get("/").content.decode()
    assert "Welcome back, Ana!" in home
    assert "Ana, here is what is new" in campaign_block(home)


def test_demo_campaign_copy_exists_in_every_shop_language(settings):
    from demo_shop import settings as demo_settings
    from personalize.models import CampaignContent

    languages = {code for code, _name in demo_settings.LANGUAGES}
    assert {"en", "id", "sr", "sr-latn", "pl", "pt", "tr", "nl"} <= languages
    settings.LANGUAGES = demo_settings.LANGUAGES
    call_command("load_demo_campaigns", stdout=open("/dev/null", "w"))
    for campaign in Campaign.objects.all():
        have = set(CampaignContent.objects.filter(campaign=campaign).values_list("language", flat=True))
        assert have == languages, (campaign.name, languages - have)
    latin = CampaignContent.objects.filter(language="sr-latn").values_list("headline", flat=True)
    assert latin and not any(re.search("[\u0400-\u04ff]", h) for h in latin)
