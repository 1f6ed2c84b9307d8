"""Who the customer at a checkout is, for an offer's limits: past orders (first-order offers) and
uses of a shared code, counted per browser, account and canonical address alike.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from personalize.models import (
    Event,
    EventKind,
    Offer,
    Redemption,
    Shopper,
    canonical_email,
)
from personalize.offers.errors import OfferError


def has_ordered(shopper: Shopper | None, *, exclude_ref: str = "") -> bool:
    """Whether the shopper (or any profile of their account) bought before, other than ``exclude_ref``."""
    if shopper is None or shopper.pk is None:
        return False
    mine = Q(shopper=shopper) | Q(shopper__merged_into=shopper)
    if shopper.user_id:
        mine |= Q(shopper__user_id=shopper.user_id)
    purchases = Event.objects.filter(mine, kind=EventKind.PURCHASE)
    if exclude_ref:
        purchases = purchases.exclude(order_ref=exclude_ref)
    return purchases.exists()


def check_first_order(offer: Offer, shopper: Shopper | None, *, order_ref: str = "") -> None:
    """A first-order offer is refused to a customer with past orders (seen while anonymous, then logged in)."""
    if offer.first_order_only and has_ordered(shopper, exclude_ref=order_ref):
        raise OfferError(_("This offer is for a first order only."))


def customer_emails(shopper: Shopper | None, email: str = "") -> set[str]:
    """The canonical addresses of a checkout: the one typed and the profile's (guest or account)."""
    found = {canonical_email(email)}
    if shopper is not None and shopper.pk is not None:
        found |= {canonical_email(shopper.email), canonical_email(shopper.get_email())}
    found.discard("")
    return found


def customer_filter(shopper: Shopper | None, emails: set[str]) -> Q | None:
    """Redemptions of this customer: by the browser, the profiles merged with it or the one it
    was merged into, the account's profiles, and any made with one of ``emails``. ``None``
    when nobody is known."""
    mine = Q(email__in=sorted(emails)) if emails else None
    if shopper is not None and shopper.pk is not None:
        ids = {shopper.pk} | ({shopper.merged_into_id} if shopper.merged_into_id else set())
        who = Q(shopper_id__in=ids) | Q(shopper__merged_into_id__in=ids)
        if shopper.user_id:
            who |= Q(shopper__user_id=shopper.user_id) | Q(shopper__merged_into__user_id=shopper.user_id)
        mine = who if mine is None else mine | who
    return mine


def check_uses(offer: Offer, shopper: Shopper | None, email: str = "") -> None:
    """A shared code's ``uses_per_shopper`` counts per customer: browser, account (with the
    profiles merged into it) and address alike, so neither fresh cookies nor a second account
    with the same address get it again."""
    if not offer.uses_per_shopper:
        return
    mine = customer_filter(shopper, customer_emails(shopper, email))
    if mine is None:
        return
    used = Redemption.objects.filter(mine, offer=offer).count()
    if used >= offer.uses_per_shopper:
        raise OfferError(_("You have already used this code."))
