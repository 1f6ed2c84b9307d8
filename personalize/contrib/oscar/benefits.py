"""Oscar offer proxies that ask personalize: the condition and benefit behind every voucher
that mirrors a personalize code (see vouchers.py and docs/oscar.md, "Offers bridge").

Oscar decides *when* (a voucher in the basket, its dates and usage); personalize decides *what*:
the code's owner, expiry and uses per shopper, the minimum cart value, the scope (categories
with their subcategories, products) and the amount, with the same rules as ``best_offer()``.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from oscar.core.loading import get_classes, get_model

from personalize.contrib.oscar.basket import is_bearer_code, shopper_for_basket
from personalize.models import Offer
from personalize.offers.checkout import OfferError, eligible_keys, offer_discount, resolve_code

logger = logging.getLogger("personalize")

Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")
BasketDiscount, SHIPPING_DISCOUNT, ZERO_DISCOUNT = get_classes(
    "offer.results", ["BasketDiscount", "SHIPPING_DISCOUNT", "ZERO_DISCOUNT"]
)
(unit_price,) = get_classes("offer.utils", ["unit_price"])

#: Slug prefix of the Oscar ConditionalOffers that mirror personalize offers.
SLUG_PREFIX = "personalize-offer-"


def personalize_offer_id(conditional_offer: Any) -> int | None:
    """The personalize ``Offer`` pk behind an Oscar ConditionalOffer, from its slug."""
    slug = getattr(conditional_offer, "slug", "") or ""
    if not slug.startswith(SLUG_PREFIX):
        return None
    head = slug[len(SLUG_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _lines(conditional_offer: Any, basket: Any) -> list[tuple[Any, dict[str, Any]]]:
    """(Oscar line, personalize line) for every discountable line with a price."""
    pairs = []
    for line in basket.all_lines():
        if not line.stockrecord_id or not line.product.is_discountable:
            continue
        price = unit_price(conditional_offer, line)
        quantity = line.quantity_without_offer_discount(conditional_offer)
        if not price or quantity <= 0:
            continue
        pairs.append((line, {"product": str(line.product_id), "quantity": quantity, "price": str(price)}))
    return pairs


def evaluate(conditional_offer: Any, basket: Any) -> tuple[Offer, list[tuple[Any, dict[str, Any]]], Decimal]:
    """The personalize offer, the lines and the discount for this basket; ``OfferError`` (with
    the shopper's message) when the voucher's code cannot be used here."""
    voucher = conditional_offer.get_voucher()
    if voucher is None:
        raise OfferError("A personalize offer applies through its voucher only.")
    shopper = shopper_for_basket(basket) if basket.id else None
    candidate = resolve_code(voucher.code, shopper, bearer=bool(basket.id) and is_bearer_code(basket, voucher.code))
    expected = personalize_offer_id(conditional_offer)
    if expected is not None and candidate.offer.pk != expected:
        raise OfferError("This voucher belongs to another offer.")
    pairs = _lines(conditional_offer, basket)
    discount, _description = offer_discount(candidate.offer, [line for _oscar, line in pairs])
    return candidate.offer, pairs, discount


class PersonalizeCondition(Condition):
    """Satisfied when personalize would accept the voucher's code for this basket."""

    class Meta:
        proxy = True
        verbose_name = "personalize code condition"

    @property
    def name(self) -> str:
        return "The basket qualifies for the personalize offer behind the code"

    @property
    def description(self) -> str:
        return self.name

    def is_satisfied(self, offer: Any, basket: Any) -> bool:
        try:
            evaluate(offer, basket)
        except OfferError:
            return False
        except Exception:  # a store's page must not fail because an offer could not be checked
            logger.exception("personalize: could not check the offer of voucher %s", offer.get_voucher())
            return False
        return True

    def get_upsell_message(self, offer: Any, basket: Any) -> str | None:
        try:
            evaluate(offer, basket)
        except OfferError as exc:
            return exc.message
        except Exception:  # noqa: BLE001 - logged by is_satisfied
            return None
        return None


class PersonalizeBenefit(Benefit):
    """Money off as personalize computes it, spread over the lines in the offer's scope."""

    class Meta:
        proxy = True
        verbose_name = "personalize discount"

    @property
    def name(self) -> str:
        return "personalize discount"

    @property
    def description(self) -> str:
        return self.name

    def apply(self, basket: Any, condition: Any, offer: Any, **kwargs: Any) -> Any:
        try:
            personalize_offer, pairs, discount = evaluate(offer, basket)
        except OfferError:
            return ZERO_DISCOUNT
        except Exception:
            logger.exception("personalize: could not apply the offer of voucher %s", offer.get_voucher())
            return ZERO_DISCOUNT
        if discount <= 0:
            return ZERO_DISCOUNT
        keys = eligible_keys(personalize_offer, [line for _oscar, line in pairs])
        chosen = [(oscar_line, line) for oscar_line, line in pairs if line["product"] in keys]
        total = sum((Decimal(line["price"]) * line["quantity"] for _o, line in chosen), Decimal("0"))
        applied = Decimal("0.00")
        for index, (oscar_line, line) in enumerate(chosen):
            if index == len(chosen) - 1:
                share = discount - applied  # the last line takes the rounding remainder
            else:
                share = self.round(Decimal(line["price"]) * line["quantity"] / total * discount, basket.currency)
            oscar_line.discount(share, line["quantity"], incl_tax=settings.OSCAR_OFFERS_INCL_TAX, offer=offer)
            applied += share
        condition.consume_items(offer, basket, [oscar_line for oscar_line, _line in chosen])
        return BasketDiscount(discount)


class PersonalizeFreeShipping(Benefit):
    """Free shipping when personalize accepts the code (an offer with ``free_shipping``)."""

    class Meta:
        proxy = True
        verbose_name = "personalize free shipping"

    @property
    def name(self) -> str:
        return "personalize free shipping"

    @property
    def description(self) -> str:
        return self.name

    def apply(self, basket: Any, condition: Any, offer: Any, **kwargs: Any) -> Any:
        return SHIPPING_DISCOUNT

    def shipping_discount(self, charge: Decimal, currency: str | None = None) -> Decimal:
        return charge
