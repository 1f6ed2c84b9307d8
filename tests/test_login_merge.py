"""Login merge of cart snapshots: the account's cart survives a browser without one; otherwise
the two are united and the revision never goes backwards (lifecycle flows restart cleanly)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from personalize.identity import merge_shoppers
from personalize.models import Cart, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def cart(shopper, lines, *, revision, updated_at):
    return Cart.objects.create(
        shopper=shopper,
        lines=[{"product": str(p.pk), "quantity": q, "price": str(p.price)} for p, q in lines],
        item_count=sum(q for _p, q in lines),
        value=sum((p.price * q for p, q in lines), Decimal("0")),
        revision=revision,
        updated_at=updated_at,
    )


def quantities(shopper) -> dict[str, int]:
    return {line["product"]: line["quantity"] for line in Cart.objects.get(shopper=shopper).lines}


def test_a_browser_without_a_cart_keeps_the_accounts_cart_and_revision():
    account, browser = Shopper.objects.create(user=factories.user()), Shopper.objects.create()
    kept = factories.product()
    cart(account, [(kept, 2)], revision=7, updated_at=timezone.now() - timedelta(days=2))
    cart(browser, [], revision=1, updated_at=timezone.now())
    merge_shoppers(browser, account)
    assert quantities(account) == {str(kept.pk): 2}
    assert Cart.objects.get(shopper=account).revision == 7
    assert not Cart.objects.filter(shopper=browser).exists()


def test_two_carts_are_united_with_the_newer_quantity_and_a_revision_past_both():
    account, browser = Shopper.objects.create(user=factories.user()), Shopper.objects.create()
    a, b, c = factories.product(), factories.product(), factories.product()
    cart(account, [(a, 1), (b, 1)], revision=9, updated_at=timezone.now() - timedelta(days=1))
    cart(browser, [(b, 3), (c, 1)], revision=2, updated_at=timezone.now())
    merge_shoppers(browser, account)
    merged = Cart.objects.get(shopper=account)
    assert quantities(account) == {str(a.pk): 1, str(b.pk): 3, str(c.pk): 1}
    assert merged.revision == 10  # past 9 and 2: never the browser's 2
    assert merged.item_count == 5 and merged.value == a.price + 3 * b.price + c.price


def test_an_account_without_a_cart_takes_the_browsers_with_a_revision_that_does_not_repeat():
    account, browser = Shopper.objects.create(user=factories.user()), Shopper.objects.create()
    product = factories.product()
    cart(browser, [(product, 1)], revision=4, updated_at=timezone.now())
    merge_shoppers(browser, account)
    assert quantities(account) == {str(product.pk): 1}
    assert Cart.objects.get(shopper=account).revision == 5


def test_the_same_contents_keep_the_revision():
    account, browser = Shopper.objects.create(user=factories.user()), Shopper.objects.create()
    product = factories.product()
    cart(account, [(product, 1)], revision=3, updated_at=timezone.now() - timedelta(hours=1))
    cart(browser, [(product, 1)], revision=6, updated_at=timezone.now())
    merge_shoppers(browser, account)
    assert Cart.objects.get(shopper=account).revision == 6  # max of both: nothing changed, nothing restarts
