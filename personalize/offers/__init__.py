"""Offers across channels: codes issued by campaigns and emails (:mod:`~personalize.offers.codes`)
and the checkout API (:mod:`~personalize.offers.checkout`): ``best_offer`` then ``redeem``."""

from personalize.offers.checkout import (
    OfferDecision,
    OfferError,
    best_offer,
    offer_discount,
    redeem,
)

__all__ = ["OfferDecision", "OfferError", "best_offer", "offer_discount", "redeem"]
