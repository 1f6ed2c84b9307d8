"""A shopper's whole journey through a real django-oscar store with personalize configured only
by settings (tests/oscar_project): browse, basket, search, login, checkout with codes."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from oscar.core.loading import get_model

import personalize
from personalize.emails import sending
from personalize.models import Cart, Event, EventKind, Offer, OfferCode, Redemption, Shopper
from personalize.offers.codes import issue_code
from tests.oscar.shop import add_to_basket, checkout, login

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
Basket = get_model("basket", "Basket")


def browser_shopper() -> Shopper:
    return Shopper.objects.filter(user__isnull=True, merged_into__isnull=True).latest("pk")


def cart_of(shopper: Shopper) -> dict[str, int]:
    cart = Cart.objects.get(shopper=shopper)
    return {line["product"]: line["quantity"] for line in cart.lines}


def test_product_page_records_a_view(shop, shopper_client):
    product = shop.products[0]
    assert shopper_client.get(product.get_absolute_url()).status_code == 200
    event = Event.objects.get(kind=EventKind.VIEW)
    assert event.product_key == str(product.pk)


def test_adding_to_the_basket_records_the_quantity_and_oscars_price(shop, shopper_client):
    product = shop.products[1]
    response = add_to_basket(shopper_client, product, quantity=3)
    assert response.status_code == 302
    event = Event.objects.get(kind=EventKind.ADD_TO_CART)
    assert (event.product_key, event.quantity) == (str(product.pk), 3)
    cart = Cart.objects.get(shopper=event.shopper)
    assert cart.lines == [{"product": str(product.pk), "quantity": 3, "price": "11.00"}]


def test_a_variant_goes_into_the_snapshot_and_its_parent_into_the_events(shop, shopper_client):
    child = shop.children[1]
    add_to_basket(shopper_client, child, quantity=1)
    event = Event.objects.get(kind=EventKind.ADD_TO_CART)
    assert event.product_key == str(shop.parent.pk)
    assert cart_of(event.shopper) == {str(child.pk): 1}


def test_snapshot_follows_lines_edited_and_removed_in_oscars_basket(shop, shopper_client):
    first, second = shop.products[0], shop.products[1]
    add_to_basket(shopper_client, first, 1)
    add_to_basket(shopper_client, second, 2)
    shopper = browser_shopper()
    revision = Cart.objects.get(shopper=shopper).revision
    basket = Basket.objects.get()
    lines = list(basket.lines.order_by("pk"))
    # Oscar's basket page: one formset, quantity edited on the first line, the second deleted.
    form = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "form-0-id": lines[0].pk,
        "form-0-quantity": "4",
        "form-1-id": lines[1].pk,
        "form-1-quantity": "2",
        "form-1-DELETE": "on",
    }
    response = shopper_client.post("/basket/", form)
    assert response.status_code == 302
    assert cart_of(shopper) == {str(first.pk): 4}
    assert Cart.objects.get(shopper=shopper).revision > revision


def test_search_records_the_query_with_its_result_count(shop, shopper_client):
    assert shopper_client.get("/search/", {"q": "Product"}).status_code == 200
    assert shopper_client.get("/search/", {"q": "nothing-like-this"}).status_code == 200
    found = {e.query: e.context.get("results") for e in Event.objects.filter(kind=EventKind.SEARCH)}
    assert found["nothing-like-this"] == 0
    assert found["Product"] >= 1


def test_login_keeps_the_account_cart_and_adds_the_browsers(shop, shopper_client, other_device):
    # The account already has a basket (another device, earlier).
    login(other_device)
    add_to_basket(other_device, shop.products[2], 1)
    account = Shopper.objects.get(user=shop.customer)
    before = Cart.objects.get(shopper=account).revision
    # Anonymous on this device: one product.
    add_to_basket(shopper_client, shop.products[3], 2)
    assert login(shopper_client).status_code == 302
    shopper_client.get("/basket/")  # Oscar merges the cookie basket into the account's here
    account.refresh_from_db()
    assert cart_of(account) == {str(shop.products[2].pk): 1, str(shop.products[3].pk): 2}
    assert Cart.objects.get(shopper=account).revision > before


def test_a_browser_without_a_cart_keeps_the_accounts_cart_at_login(shop, shopper_client, other_device):
    login(other_device)
    add_to_basket(other_device, shop.products[4], 1)
    account = Shopper.objects.get(user=shop.customer)
    before = Cart.objects.get(shopper=account)
    shopper_client.get(shop.products[5].get_absolute_url())  # a browser with history, no cart
    login(shopper_client)
    shopper_client.get("/basket/")
    after = Cart.objects.get(shopper=account)
    assert cart_of(account) == {str(shop.products[4].pk): 1}
    assert after.revision >= before.revision


def _basket_total(client) -> Decimal:
    response = client.get("/basket/")
    return response.context["basket"].total_incl_tax


def test_a_campaign_code_reduces_the_oscar_order_total_and_is_redeemed_once(shop, shopper_client):
    hoodie, kitchen_item = shop.products[0], shop.products[1]  # 10.00 (hoodies), 11.00 (kitchen)
    Offer.objects.create(
        name="Kitchen week", discount_type=Offer.DiscountType.PERCENT, value=Decimal("10"),
        scope=Offer.Scope.CATEGORIES, scope_keys=["kitchen"], code="KITCHEN10",
    )
    add_to_basket(shopper_client, hoodie, 1)
    add_to_basket(shopper_client, kitchen_item, 2)
    assert _basket_total(shopper_client) == Decimal("32.00")
    response = shopper_client.post("/basket/vouchers/add/", {"code": "kitchen10"}, follow=True)
    assert "KITCHEN10" in response.content.decode()
    assert _basket_total(shopper_client) == Decimal("29.80")  # 10% of the kitchen lines (22.00)
    response = checkout(shopper_client, guest_email="guest@example.com")
    assert response.status_code == 302, response.content[:3000]
    order = Order.objects.get()
    assert order.total_incl_tax == Decimal("29.80")
    redemption = Redemption.objects.get()
    assert (redemption.code, redemption.order_ref, redemption.discount) == ("KITCHEN10", order.number, Decimal("2.20"))
    purchase = Event.objects.get(kind=EventKind.PURCHASE)
    assert purchase.order_ref == order.number and purchase.value == Decimal("29.80")
    assert Cart.objects.get(shopper=purchase.shopper).lines == []


def test_a_once_per_shopper_code_is_once_per_guest_email_not_per_browser(shop, shopper_client, other_device):
    Offer.objects.create(name="Once", discount_type=Offer.DiscountType.AMOUNT, value=Decimal("2"), code="ONCE2", uses_per_shopper=1)
    add_to_basket(shopper_client, shop.products[0], 1)
    shopper_client.post("/basket/vouchers/add/", {"code": "ONCE2"})
    assert checkout(shopper_client, guest_email="Same.Guest@example.com").status_code == 302
    # A fresh browser with the same address (written otherwise): Oscar takes the voucher in the
    # basket (nobody known yet), personalize refuses it when the order is placed.
    add_to_basket(other_device, shop.products[1], 1)
    other_device.post("/basket/vouchers/add/", {"code": "ONCE2"})
    refused = checkout(other_device, guest_email="same.guest+again@EXAMPLE.com")
    assert refused.status_code != 302 and "already used this code" in refused.content.decode()
    assert Order.objects.count() == 1
    assert list(Redemption.objects.values_list("code", "email")) == [("ONCE2", "same.guest@example.com")]


def test_a_parent_category_in_an_offer_covers_its_subcategories(shop, shopper_client):
    Offer.objects.create(
        name="Clothing", discount_type=Offer.DiscountType.AMOUNT, value=Decimal("5"),
        scope=Offer.Scope.CATEGORIES, scope_keys=["clothing"], code="CLOTHES5",
    )
    add_to_basket(shopper_client, shop.products[0], 1)  # in Hoodies, a child of Clothing
    shopper_client.post("/basket/vouchers/add/", {"code": "CLOTHES5"})
    assert _basket_total(shopper_client) == Decimal("5.00")


def test_someone_elses_unique_code_is_refused_with_personalizes_reason(shop, shopper_client):
    offer = Offer.objects.create(
        name="Just for you", discount_type=Offer.DiscountType.PERCENT, value=Decimal("20"),
        code_mode=Offer.CodeMode.UNIQUE, code_prefix="YOU",
    )
    owner = Shopper.objects.create()
    code = issue_code(offer, owner, source="test")
    add_to_basket(shopper_client, shop.products[0], 1)
    response = shopper_client.post("/basket/vouchers/add/", {"code": code}, follow=True)
    assert "We do not know the code" in response.content.decode()  # as for an unknown one
    assert _basket_total(shopper_client) == Decimal("10.00")


def _abandon_and_collect_emails(shop, shopper_client) -> list:
    login(shopper_client)
    add_to_basket(shopper_client, shop.products[2], 1)  # 12.00
    add_to_basket(shopper_client, shop.products[3], 1)  # 13.00
    personalize.set_email_consent(Shopper.objects.get(user=shop.customer), True)  # opted in to emails
    # The cart was left at ten in the morning (outside the emails' quiet hours).
    left = (timezone.now() - timedelta(days=5)).replace(hour=10, minute=0, second=0, microsecond=0)
    Cart.objects.filter(shopper__user=shop.customer).update(updated_at=left)
    for hours in (2, 27, 75):  # a day apart: one email a day at most (EMAIL_CAP_*)
        sending.send_due(left + timedelta(hours=hours))
    return list(mail.outbox)


def test_abandoned_basket_email_restores_oscars_basket_and_its_code_reduces_the_order(shop, shopper_client, other_device):
    messages = _abandon_and_collect_emails(shop, shopper_client)
    assert len(messages) == 3
    last = messages[-1]
    assert last.from_email == "shop@oscar.example"  # OSCAR_FROM_EMAIL, not webmaster@localhost
    body = last.alternatives[0][0] if last.alternatives else last.body
    link = re.search(r'href="(http://testserver/personalize/emails/[^"]+)"', body).group(1)
    code = OfferCode.objects.get(shopper__user=shop.customer).code
    assert code in body
    # Another device, not signed in: the link rebuilds Oscar's basket and applies the code.
    client = other_device
    response = client.get(link.removeprefix("http://testserver"))
    assert response.status_code == 302 and response["Location"].endswith("/basket/")
    basket_page = client.get("/basket/")
    basket = basket_page.context["basket"]
    assert sorted(line.product_id for line in basket.all_lines()) == sorted([shop.products[2].pk, shop.products[3].pk])
    assert basket.total_incl_tax == Decimal("22.50")  # 25.00 less the email's 10%
    assert checkout(client, guest_email="alice.phone@example.com").status_code == 302
    order = Order.objects.get()
    assert order.total_incl_tax == Decimal("22.50")
    issued = OfferCode.objects.get(code=code)
    assert issued.used_at is not None and issued.order_ref == order.number
    assert Redemption.objects.filter(code=code).count() == 1
    assert Event.objects.filter(kind=EventKind.PURCHASE, order_ref=order.number).count() == 1


def test_a_used_unique_code_cannot_be_used_for_a_second_order(shop, shopper_client):
    offer = Offer.objects.create(
        name="Once", discount_type=Offer.DiscountType.AMOUNT, value=Decimal("3"), code_mode=Offer.CodeMode.UNIQUE,
    )
    add_to_basket(shopper_client, shop.products[0], 1)
    code = issue_code(offer, browser_shopper(), source="test")
    shopper_client.post("/basket/vouchers/add/", {"code": code})
    assert _basket_total(shopper_client) == Decimal("7.00")
    assert checkout(shopper_client, guest_email="once@example.com").status_code == 302
    add_to_basket(shopper_client, shop.products[0], 1)
    response = shopper_client.post("/basket/vouchers/add/", {"code": code}, follow=True)
    assert _basket_total(shopper_client) == Decimal("10.00")
    assert Redemption.objects.filter(code=code).count() == 1
    assert response.status_code == 200
