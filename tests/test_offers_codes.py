"""Issuing offer codes: shared codes, unique per-shopper codes, reuse and expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from personalize.models import Offer, OfferCode
from personalize.offers.codes import ALPHABET, issue_code, new_code
from personalize.models import Shopper

pytestmark = pytest.mark.django_db


def test_shared_code_is_the_same_for_everyone():
    offer = Offer.objects.create(name="Ten", value=Decimal("10"), code=" welcome10 ")
    assert offer.code == "WELCOME10"
    a, b = Shopper.objects.create(), Shopper.objects.create()
    assert issue_code(offer, a) == issue_code(offer, b) == "WELCOME10"
    assert not OfferCode.objects.exists()


def test_unique_codes_differ_per_shopper_and_are_reused_until_used():
    offer = Offer.objects.create(name="U", value=Decimal("5"), code_mode="unique", code_prefix="vip", code_valid_days=7)
    a, b = Shopper.objects.create(), Shopper.objects.create()
    code_a = issue_code(offer, a)
    assert code_a.startswith("VIP-")
    assert issue_code(offer, a) == code_a  # shown twice, still one code
    code_b = issue_code(offer, b)
    assert code_b != code_a
    row = OfferCode.objects.get(code=code_a)
    assert row.shopper == a
    assert timedelta(days=6, hours=23) < row.expires_at - timezone.now() <= timedelta(days=7)
    row.used_at = timezone.now()
    row.save()
    assert issue_code(offer, a) != code_a  # a used code is never handed out again


def test_unique_code_never_outlives_the_offer():
    end = timezone.now() + timedelta(days=2)
    offer = Offer.objects.create(name="U", value=Decimal("5"), code_mode="unique", code_valid_days=30, valid_until=end)
    code = issue_code(offer, Shopper.objects.create())
    assert OfferCode.objects.get(code=code).expires_at == end


def test_unique_code_needs_a_saved_shopper():
    offer = Offer.objects.create(name="U", value=Decimal("5"), code_mode="unique")
    with pytest.raises(ValueError):
        issue_code(offer, Shopper())


def test_generated_codes_avoid_ambiguous_characters():
    for _ in range(50):
        body = new_code().replace("-", "")
        assert len(body) == 8 and set(body) <= set(ALPHABET)
