"""The offers bridge: every personalize code is also an Oscar voucher.

Why vouchers: Oscar's basket and checkout already know how to take a typed code, show it,
discount the lines, carry the discount into the order and record its use, and a store's staff
already see vouchers in the dashboard. A personalize code therefore gets a mirrored
``Voucher`` (shared code: multi-use; unique code: single-use) whose offers use the proxies in
benefits.py, so the amount and the rules stay personalize's. The order's voucher use is the
moment the code is redeemed in personalize, inside the order's transaction: exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from oscar.core.loading import get_class, get_model

from personalize.contrib.oscar.benefits import (
    SLUG_PREFIX,
    PersonalizeBenefit,
    PersonalizeCondition,
    PersonalizeFreeShipping,
    personalize_offer_id,
)
from personalize.models import Offer, OfferCode, Shopper, normalize_code
from personalize.offers.checkout import OfferDecision, OfferError, campaign_of, redeem

logger = logging.getLogger("personalize")

UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")

#: A personalize offer without an end date mirrors to a voucher valid this long.
OPEN_ENDED = timedelta(days=365 * 50)


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _offer_models() -> tuple[Any, Any, Any, Any]:
    return (
        get_model("offer", "ConditionalOffer"),
        get_model("offer", "Condition"),
        get_model("offer", "Benefit"),
        get_model("voucher", "Voucher"),
    )


def _mirror_one(offer: Offer, suffix: str, benefit_class: type, label: str) -> Any:
    ConditionalOffer, Condition, Benefit, _Voucher = _offer_models()
    slug = f"{SLUG_PREFIX}{offer.pk}{suffix}"
    mirrored = ConditionalOffer._default_manager.filter(slug=slug).select_related("condition", "benefit").first()
    if mirrored is None:
        mirrored = ConditionalOffer(
            slug=slug,
            offer_type=ConditionalOffer.VOUCHER,
            condition=Condition._default_manager.create(proxy_class=_path(PersonalizeCondition)),
            benefit=Benefit._default_manager.create(proxy_class=_path(benefit_class)),
        )
    mirrored.name = f"{offer.name[:80]}{label} (personalize #{offer.pk})"
    mirrored.description = offer.describe()
    mirrored.max_basket_applications = 1
    mirrored.start_datetime = offer.valid_from
    mirrored.end_datetime = offer.valid_until
    mirrored.status = ConditionalOffer.OPEN if offer.is_active else ConditionalOffer.SUSPENDED
    mirrored.save()
    return mirrored


def mirror_offer(offer: Offer) -> list[Any]:
    """The Oscar offers for a personalize offer (money off, free shipping), created or updated;
    the shared code's voucher with them."""
    ConditionalOffer, _Condition, _Benefit, Voucher = _offer_models()
    wanted = []
    if offer.discount_type != Offer.DiscountType.NONE:
        wanted.append(_mirror_one(offer, "", PersonalizeBenefit, ""))
    else:
        ConditionalOffer._default_manager.filter(slug=f"{SLUG_PREFIX}{offer.pk}").delete()
    if offer.free_shipping:
        wanted.append(_mirror_one(offer, "-shipping", PersonalizeFreeShipping, ", free shipping"))
    else:
        ConditionalOffer._default_manager.filter(slug=f"{SLUG_PREFIX}{offer.pk}-shipping").delete()
    # A shared code that changed leaves its old voucher behind: remove it (unique codes stay).
    unique = set(OfferCode.objects.filter(offer=offer).values_list("code", flat=True))
    Voucher._default_manager.filter(offers__slug__startswith=f"{SLUG_PREFIX}{offer.pk}").exclude(
        code__in=unique | {offer.code}
    ).delete()
    if offer.code_mode == Offer.CodeMode.SHARED and offer.code:
        start = offer.valid_from or offer.created_at
        _mirror_voucher(offer, offer.code, Voucher.MULTI_USE, start, offer.valid_until, wanted)
    else:
        for code in OfferCode.objects.filter(offer=offer, used_at__isnull=True):
            mirror_code(code, offers=wanted)
    return wanted


def _mirror_voucher(offer: Offer, code: str, usage: str, start, end, offers: list[Any]) -> Any:
    Voucher = get_model("voucher", "Voucher")
    code = normalize_code(code)
    voucher = Voucher._default_manager.filter(code=code).first() or Voucher(code=code)
    voucher.name = f"{code} (personalize)"
    voucher.usage = usage
    voucher.start_datetime = min(start or timezone.now(), timezone.now())
    voucher.end_datetime = end or (voucher.start_datetime + OPEN_ENDED)
    voucher.save()
    voucher.offers.set(offers)
    return voucher


def mirror_code(code: OfferCode, *, offers: list[Any] | None = None) -> Any:
    """The single-use Oscar voucher of a unique personalize code."""
    Voucher = get_model("voucher", "Voucher")
    if offers is None:
        ConditionalOffer = get_model("offer", "ConditionalOffer")
        offers = list(ConditionalOffer._default_manager.filter(slug__startswith=f"{SLUG_PREFIX}{code.offer_id}"))
        offers = [o for o in offers if personalize_offer_id(o) == code.offer_id]
        if not offers:
            offers = mirror_offer(code.offer)
    end = min((d for d in (code.expires_at, code.offer.valid_until) if d), default=None)
    return _mirror_voucher(code.offer, code.code, Voucher.SINGLE_USE, code.created_at, end, offers)


def forget_offer(offer: Offer) -> None:
    ConditionalOffer, _Condition, _Benefit, Voucher = _offer_models()
    mirrored = ConditionalOffer._default_manager.filter(slug__startswith=f"{SLUG_PREFIX}{offer.pk}")
    mirrored = [o for o in mirrored if personalize_offer_id(o) == offer.pk]
    Voucher._default_manager.filter(offers__in=mirrored).delete()
    for item in mirrored:
        condition, benefit = item.condition, item.benefit
        item.delete()
        condition.delete()
        benefit.delete()


def forget_code(code: OfferCode) -> None:
    get_model("voucher", "Voucher")._default_manager.filter(code=normalize_code(code.code)).delete()


def sync_all() -> int:
    """Mirror every personalize offer and open code (for codes made before the app was added)."""
    count = 0
    for offer in Offer.objects.all():
        with transaction.atomic():
            mirror_offer(offer)
        count += 1
    return count


# --- redemption ---------------------------------------------------------------------------
def is_mirrored(voucher: Any) -> bool:
    return voucher.offers.filter(slug__startswith=SLUG_PREFIX).exists()


def decision_for(voucher: Any, order: Any) -> OfferDecision | None:
    """What personalize redeems for a mirrored voucher used in ``order`` (the discount Oscar
    actually gave, from the order's discount rows)."""
    code = normalize_code(voucher.code)
    issued = OfferCode.objects.select_related("offer").filter(code=code).first()
    offer = issued.offer if issued is not None else Offer.objects.filter(code=code).first()
    if offer is None:
        return None
    given = order.discounts.filter(voucher_id=voucher.pk)
    discount = sum((row.amount for row in given if row.category != "Shipping"), Decimal("0.00"))
    free_shipping = any(row.category == "Shipping" for row in given) or offer.free_shipping
    return OfferDecision(
        discount=discount,
        free_shipping=free_shipping,
        code=code,
        reason=offer.describe(),
        campaign=campaign_of(issued.source) if issued is not None else None,
        offer=offer,
        code_id=issued.pk if issued is not None else None,
    )


def redeem_voucher_use(voucher: Any, order: Any, shopper: Shopper | None) -> None:
    """Redeem a mirrored code for ``order``; inside Oscar's order transaction, so a code that
    can no longer be used stops the order (Oscar shows the message at checkout)."""
    decision = decision_for(voucher, order)
    if decision is None or not decision.applies:
        return
    # The order's address (the account's, or the guest's): a shared code's uses count per
    # address and account, not per browser.
    email = getattr(order, "email", "") or getattr(order, "guest_email", "") or ""
    try:
        redeem(None, decision, str(order.number), shopper=shopper, email=str(email))
    except OfferError as exc:
        raise UnableToPlaceOrder(exc.message) from exc
