"""A shared code "once per shopper" is once per customer: address and account, not cookie (issue 12).

Before, the same email got a once-per-shopper code 5 times out of 5 with fresh cookies.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from personalize.identity.merge import merge_shoppers
from personalize.models import Offer, Redemption, Shopper, canonical_email
from personalize.offers import OfferError, best_offer, redeem
from personalize.privacy.erasure import erase
from tests import factories

pytestmark = pytest.mark.django_db


def cart(product) -> list[dict]:
    return [{"product": str(product.pk), "quantity": 1, "price": str(product.price)}]


def checkout(shopper: Shopper, product, code: str, order_ref: str, *, email: str = "", user=None) -> str:
    """What a store's checkout does: decide, then redeem; "won" or the shopper's message."""
    request = factories.shopper_request(shopper, user_obj=user)
    decision = best_offer(request, cart(product), code=code, email=email)
    if not decision.applies:
        return decision.error
    try:
        redeem(request, decision, order_ref, email=email)
    except OfferError as exc:
        return exc.message
    return "won"


@pytest.fixture
def shared():
    return factories.offer(code="ONCE10", uses_per_shopper=1), factories.product(price=Decimal("50.00"))


def test_canonical_email():
    assert canonical_email("  Jane.Doe+promo@GoogleMail.com ") == "janedoe@gmail.com"
    assert canonical_email("j.doe@gmail.com") == "jdoe@gmail.com"
    assert canonical_email("Ana.Lee+x@Example.COM") == "ana.lee@example.com"  # dots count elsewhere
    assert canonical_email("+only@example.com") == "+only@example.com"
    assert canonical_email("not an address") == "not an address"
    assert canonical_email("") == ""


@pytest.mark.parametrize("via", ["typed email", "profile email"])
def test_the_same_email_with_fresh_cookies_gets_the_code_once(shared, via):
    offer, product = shared
    outcomes = []
    for attempt in range(5):
        if via == "typed email":
            browser = Shopper.objects.create()
            outcomes.append(checkout(browser, product, "ONCE10", f"O-{attempt}", email="buyer@example.com"))
        else:  # the store keeps the checkout's address on the profile (demo shop: remember_email)
            browser = Shopper.objects.create(email="buyer@example.com")
            outcomes.append(checkout(browser, product, "ONCE10", f"O-{attempt}"))
    assert outcomes == ["won"] + ["You have already used this code."] * 4
    assert Redemption.objects.filter(offer=offer).count() == 1
    assert Redemption.objects.get().email == "buyer@example.com"


def test_address_variants_are_one_customer(shared):
    _offer, product = shared
    assert checkout(Shopper.objects.create(), product, "ONCE10", "O-1", email="Jane.Doe+a@gmail.com") == "won"
    for n, variant in enumerate([" JANEDOE@GMAIL.COM", "jane.doe+b@googlemail.com", "j.a.n.e.d.o.e@gmail.com"]):
        assert checkout(Shopper.objects.create(), product, "ONCE10", f"O-{n + 2}", email=variant) == "You have already used this code."
    assert checkout(Shopper.objects.create(), product, "ONCE10", "O-9", email="someone.else@gmail.com") == "won"


def test_redeem_refuses_a_decision_made_before_the_address_was_known(shared):
    _offer, product = shared
    assert checkout(Shopper.objects.create(), product, "ONCE10", "O-1", email="buyer@example.com") == "won"
    browser = Shopper.objects.create()
    decision = best_offer(factories.shopper_request(browser), cart(product), code="ONCE10")
    assert decision.applies  # the cart page: nobody known yet
    with pytest.raises(OfferError, match="already used"):
        redeem(factories.shopper_request(browser), decision, "O-2", email="Buyer@Example.com")


def test_an_account_gets_it_once_on_every_device_and_with_a_second_account_of_its_address(shared):
    _offer, product = shared
    alice = factories.user("alice-once", email="alice@example.com")
    account = Shopper.objects.create(user=alice)
    assert checkout(account, product, "ONCE10", "O-1", user=alice) == "won"
    # Her phone: an anonymous browser, merged into the account on login.
    phone = merge_shoppers(Shopper.objects.create(), account)
    assert checkout(phone, product, "ONCE10", "O-2", user=alice) == "You have already used this code."
    # A second account with the same address (any case).
    bob = factories.user("alice-again", email="ALICE@example.com")
    assert checkout(Shopper.objects.create(user=bob), product, "ONCE10", "O-3", user=bob) == "You have already used this code."


def test_a_use_while_anonymous_counts_for_the_account_after_login(shared):
    _offer, product = shared
    carol = factories.user("carol-once", email="carol@example.com")
    laptop = Shopper.objects.create()
    assert checkout(laptop, product, "ONCE10", "O-1") == "won"  # no address given
    account = merge_shoppers(laptop, Shopper.objects.create(user=carol))
    tablet = Shopper.objects.create(user=None)
    tablet.merged_into = account
    tablet.save()
    assert checkout(account, product, "ONCE10", "O-2", user=carol) == "You have already used this code."
    assert checkout(tablet, product, "ONCE10", "O-3") == "You have already used this code."


def test_uses_per_shopper_counts_across_cookies_and_zero_is_unlimited(shared):
    offer, product = shared
    Offer.objects.filter(pk=offer.pk).update(uses_per_shopper=2)
    outcomes = [checkout(Shopper.objects.create(), product, "ONCE10", f"O-{i}", email="two@example.com") for i in range(3)]
    assert outcomes == ["won", "won", "You have already used this code."]
    Offer.objects.filter(pk=offer.pk).update(uses_per_shopper=0)
    assert checkout(Shopper.objects.create(), product, "ONCE10", "O-9", email="two@example.com") == "won"


def test_a_seen_campaign_offer_does_not_apply_by_itself_to_a_used_address():
    from personalize.models import CampaignAssignment

    offer = factories.offer(code="SEEN10", uses_per_shopper=1)
    campaign = factories.campaign(offer=offer)
    product = factories.product(price=Decimal("40.00"))
    assert checkout(Shopper.objects.create(), product, "SEEN10", "O-1", email="seen@example.com") == "won"
    fresh = Shopper.objects.create(email="seen@example.com")
    CampaignAssignment.objects.create(campaign=campaign, shopper=fresh, arm="A", impressions=1)
    assert not best_offer(factories.shopper_request(fresh), cart(product)).applies
    other = Shopper.objects.create(email="new@example.com")
    CampaignAssignment.objects.create(campaign=campaign, shopper=other, arm="A", impressions=1)
    assert best_offer(factories.shopper_request(other), cart(product)).offer == offer


def test_erasure_by_address_clears_the_redemption_address(shared):
    _offer, product = shared
    assert checkout(Shopper.objects.create(), product, "ONCE10", "O-1", email="J.Doe+x@gmail.com") == "won"
    erase(email="j.doe+x@gmail.com")
    row = Redemption.objects.get()
    assert (row.email, row.shopper_id, row.order_ref) == ("", None, "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_of_one_address_from_five_cookies_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks)")
    factories.offer(code="RACE10", uses_per_shopper=1)
    product = factories.product(price=Decimal("50.00"))
    browsers = [Shopper.objects.create() for _ in range(5)]
    decisions = [best_offer(factories.shopper_request(b), cart(product), code="RACE10", email="race@example.com") for b in browsers]
    assert all(d.applies for d in decisions)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def place(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                redeem(factories.shopper_request(browsers[index]), decisions[index], f"R-{index}", email="race@example.com")
                # hold the order's transaction open a moment so the checkouts really overlap
                Shopper.objects.filter(pk=browsers[index].pk).select_for_update().get()
            outcomes.append("won")
        except OfferError as exc:
            outcomes.append(exc.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["You have already used this code."] * 4 + ["won"]
    assert Redemption.objects.count() == 1
