"""What discount a checkout applies, and using it once: the store-facing offers API.

``best_offer(request, cart_lines, code=...)`` looks at the code the shopper typed (or the one an
email link left in the session), the unique codes issued to the shopper, and the offers of
campaigns the shopper saw, and returns the best :class:`OfferDecision` with the reason. A seen
campaign's unique code that was never clicked or revealed is issued here, when it wins (codes
are issued when used, not when shown).
``redeem(request, decision, order_ref)`` then uses it, inside the transaction that creates the
order: a single-use code is claimed by a conditional ``UPDATE ... WHERE used_at IS NULL``, so of
two concurrent checkouts exactly one wins and the other gets :class:`OfferError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from personalize import exposures
from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.events import TrackingError, clean_lines
from personalize.holdout import in_holdout
from personalize.identity import ensure_shopper, get_shopper
from personalize.identity.consent import account_shopper
from personalize.models import (
    CONTROL,
    Campaign,
    CampaignAssignment,
    Offer,
    OfferCode,
    Placement,
    Redemption,
    Shopper,
    canonical_email,
    normalize_code,
)
from personalize.offers.attempts import count_failed_attempt, too_many_attempts
from personalize.offers.codes import forget_codes, issue_code
from personalize.offers.customers import (
    check_first_order,
    check_uses,
    customer_emails,
)
from personalize.offers.errors import OfferError
from personalize.pricing import format_price

__all__ = ["OfferDecision", "OfferError", "best_offer", "redeem", "offer_discount"]

ZERO = Decimal("0")
CENT = Decimal("0.01")


@dataclass
class OfferDecision:
    """What a checkout should apply, and why."""

    discount: Decimal = ZERO
    free_shipping: bool = False
    code: str = ""
    reason: str = ""
    campaign: Campaign | None = None
    offer: Offer | None = None
    # The message for a typed code that could not be used (the decision may still apply
    # another offer the shopper has).
    error: str = ""
    code_id: int | None = field(default=None, repr=False)

    @property
    def applies(self) -> bool:
        return self.offer is not None and (self.discount > 0 or self.free_shipping)


@dataclass
class _Candidate:
    offer: Offer
    code: str = ""
    campaign: Campaign | None = None
    code_id: int | None = None
    # A unique-code campaign the shopper saw but whose code was never issued: issued if it wins.
    pending: bool = False
    expires_at: Any = None


def _money(value: Decimal) -> str:
    return format_price(value)


def offer_discount(offer: Offer, lines: list[dict[str, Any]]) -> tuple[Decimal, str]:
    """The discount ``offer`` gives on cleaned cart ``lines``; ``OfferError`` if it gives none.

    Percent is capped at 100; an amount never exceeds the eligible subtotal; the minimum cart
    value is checked on the whole cart; the scope limits which lines the discount applies to.
    """
    subtotal = sum((Decimal(line["price"] or 0) * line["quantity"] for line in lines), ZERO)
    if subtotal < offer.min_cart_value:
        raise OfferError(_("Spend at least %(amount)s to use this offer.") % {"amount": _money(offer.min_cart_value)})
    eligible = _eligible_subtotal(offer, lines)
    if eligible <= 0:
        raise OfferError(_("None of the items in your cart are part of this offer."))
    if offer.discount_type == Offer.DiscountType.PERCENT:
        percent = min(max(offer.value, ZERO), Decimal("100"))
        discount = (eligible * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    elif offer.discount_type == Offer.DiscountType.AMOUNT:
        discount = min(max(offer.value, ZERO), eligible).quantize(CENT)
    else:
        discount = ZERO
    return discount, offer.describe()


def _eligible_subtotal(offer: Offer, lines: list[dict[str, Any]]) -> Decimal:
    keys = eligible_keys(offer, lines)
    chosen = [line for line in lines if str(line["product"]) in keys]
    return sum((Decimal(line["price"] or 0) * line["quantity"] for line in chosen), ZERO)


def eligible_keys(offer: Offer, lines: list[dict[str, Any]]) -> set[str]:
    """Keys of the cart lines the offer's scope covers. A category scope names categories by
    key, slug or name (resolved by the adapter, as segment rules do) and covers their
    subcategories (the adapter's ``category_keys`` include a product's ancestors)."""
    keys = {str(line["product"]) for line in lines}
    if offer.scope == Offer.Scope.ALL:
        return keys
    scope = {str(k) for k in offer.scope_keys or []}
    if offer.scope == Offer.Scope.PRODUCTS:
        return keys & scope
    adapter = get_adapter()
    categories = {adapter.resolve_category(value) or value for value in scope}
    products = adapter.get_products(sorted(keys))
    return {adapter.product_key(p) for p in products if categories.intersection(adapter.category_keys(p))}


def _owned_by(code: OfferCode, shopper: Shopper | None) -> bool:
    if shopper is None or shopper.pk is None:
        return False
    if code.shopper_id == shopper.pk:
        return True
    # A code emailed to the anonymous browser still belongs to it after login merged it.
    return code.shopper.merged_into_id == shopper.pk


def resolve_code(raw: str, shopper: Shopper | None, now=None, *, bearer: bool = False, email: str = "") -> _Candidate:
    """The offer behind a typed code; ``OfferError`` with a clear message if it cannot be used.

    ``bearer``: the code came with a signed email link (the session), so whoever followed the
    link may use it, on any device; a typed unique code must belong to the shopper.
    ``email``: the checkout's address, when known (a shared code's uses count per address too).
    """
    now = now or timezone.now()
    code = normalize_code(raw)
    if not code:
        raise OfferError(_("Enter a code."))
    issued = OfferCode.objects.select_related("offer", "shopper").filter(code=code).first()
    if issued is not None:
        if not bearer and not _owned_by(issued, shopper):
            # The same words as for a code that does not exist: a guesser learns nothing.
            raise OfferError(_("We do not know the code “%(code)s”.") % {"code": code[:48]})
        if issued.used_at is not None:
            raise OfferError(_("This code has already been used."))
        if issued.is_expired(now):
            raise OfferError(
                _("This code expired on %(date)s.") % {"date": date_format(timezone.localtime(issued.expires_at), "DATETIME_FORMAT")}
            )
        _check_offer_valid(issued.offer, now)
        return _Candidate(offer=issued.offer, code=issued.code, code_id=issued.pk, campaign=campaign_of(issued.source))
    offer = Offer.objects.filter(code=code, code_mode=Offer.CodeMode.SHARED).first()
    if offer is None:
        raise OfferError(_("We do not know the code “%(code)s”.") % {"code": code[:48]})
    _check_offer_valid(offer, now)
    check_uses(offer, shopper, email)
    return _Candidate(offer=offer, code=offer.code)


def _check_offer_valid(offer: Offer, now) -> None:
    if not offer.is_active:
        raise OfferError(_("This offer is no longer available."))
    if offer.valid_from and now < offer.valid_from:
        raise OfferError(_("This offer starts on %(date)s.") % {"date": date_format(timezone.localtime(offer.valid_from), "DATETIME_FORMAT")})
    if offer.valid_until and now >= offer.valid_until:
        raise OfferError(_("This offer ended on %(date)s.") % {"date": date_format(timezone.localtime(offer.valid_until), "DATETIME_FORMAT")})


def campaign_of(source: str) -> Campaign | None:
    """The campaign that issued a code (its source is ``campaign:<pk>``), else ``None``."""
    if source.startswith("campaign:") and source[9:].isdigit():
        return Campaign.objects.filter(pk=int(source[9:])).first()
    return None


def _shown(campaign: Campaign, shopper: Shopper) -> bool:
    """Whether the shopper has seen the campaign that issued a code.

    Deferred placements (the exit-intent pop-up) are counted only when they open; a code of one
    (issued before codes waited for their reveal, or revealed in it) applies by itself only
    once it was seen. Typing the code still works.
    """
    if campaign.placement != Placement.EXIT_INTENT:
        return True
    # A click or a code revealed in the pop-up is seen too (its impression may still be in a
    # worker's exposure buffer).
    return CampaignAssignment.objects.filter(
        Q(shopper=shopper) | Q(shopper__merged_into=shopper), Q(impressions__gt=0) | Q(clicks__gt=0), campaign=campaign
    ).exclude(arm=CONTROL).exists()


def _automatic_candidates(shopper: Shopper, now, email: str = "") -> list[_Candidate]:
    """Unique codes issued to the shopper and shared-code offers of campaigns they saw."""
    candidates = []
    codes = (
        OfferCode.objects.select_related("offer")
        .filter(Q(shopper=shopper) | Q(shopper__merged_into=shopper), used_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    for issued in codes:
        if issued.offer.is_valid_at(now):
            campaign = campaign_of(issued.source)
            if campaign is not None and not _shown(campaign, shopper):
                continue  # an exit-intent pop-up rendered with its code but never opened
            candidates.append(
                _Candidate(offer=issued.offer, code=issued.code, code_id=issued.pk, campaign=campaign)
            )
    if in_holdout(shopper):
        return candidates  # the holdout saw no campaign: nothing else applies by itself
    since = now - timedelta(hours=ps.ATTRIBUTION_WINDOW_HOURS)
    seen = (
        CampaignAssignment.objects.select_related("campaign__offer")
        .filter(shopper=shopper, impressions__gt=0, last_seen__gte=since, campaign__offer__isnull=False)
        .exclude(arm=CONTROL)
    )
    held = _held_offers(shopper, {a.campaign.offer_id for a in seen if a.campaign.offer.is_unique_codes})
    for assignment in seen:
        campaign = assignment.campaign
        offer = campaign.offer
        deadline = None
        if campaign.personal_minutes:
            deadline = assignment.first_seen + timedelta(minutes=campaign.personal_minutes)
            if now >= deadline:
                continue  # the shopper's time-limited offer has run out
        if not offer.is_valid_at(now) or offer.pk in held:
            continue  # ended, or its unique code was issued (a candidate above, or used)
        try:
            check_uses(offer, shopper, email)
        except OfferError:
            continue
        if offer.is_unique_codes:
            candidates.append(_Candidate(offer=offer, campaign=campaign, pending=True, expires_at=deadline))
        else:
            candidates.append(_Candidate(offer=offer, code=offer.code, campaign=campaign))
    return candidates


def _held_offers(shopper: Shopper, offer_ids: set[int]) -> set[int]:
    """Which of these unique-code offers the shopper already has a code of (used or not)."""
    if not offer_ids:
        return set()
    return set(
        OfferCode.objects.filter(Q(shopper=shopper) | Q(shopper__merged_into=shopper), offer_id__in=offer_ids)
        .values_list("offer_id", flat=True)
    )


def _issue_pending(candidate: _Candidate, decision: OfferDecision, shopper: Shopper, request: Any) -> None:
    """The winning offer is a seen campaign's unique code not issued yet: issue it now (its use)."""
    code = issue_code(
        candidate.offer, shopper, source=candidate.campaign.source if candidate.campaign else "",
        expires_at=candidate.expires_at, session=getattr(request, "session", None),
    )
    decision.code = code
    decision.code_id = OfferCode.objects.filter(code=code).values_list("pk", flat=True).first()


def _decide(candidate: _Candidate, lines: list[dict[str, Any]], shipping: Decimal) -> tuple[Decimal, OfferDecision]:
    discount, description = offer_discount(candidate.offer, lines)
    reason = description
    if candidate.campaign is not None:
        reason = _("%(offer)s (%(campaign)s)") % {"offer": description, "campaign": candidate.campaign.name}
    decision = OfferDecision(
        discount=discount,
        free_shipping=candidate.offer.free_shipping,
        code=candidate.code,
        reason=reason,
        campaign=candidate.campaign,
        offer=candidate.offer,
        code_id=candidate.code_id,
    )
    worth = discount + (shipping if candidate.offer.free_shipping else ZERO)
    return worth, decision


def best_offer(
    request: Any, cart_lines: Any, *, code: str | None = None, shipping: Decimal | str | int = 0, email: str = ""
) -> OfferDecision:
    """The discount the checkout should apply to ``cart_lines`` and why.

    ``code``: what the shopper typed (else a code an email link left in the session is tried
    quietly). ``shipping``: the shipping cost, so free shipping can be weighed against money
    off. ``email``: the checkout's address when the store has it (else the profile's): a
    shared code used once per customer is refused to a new browser with the same address.
    The decision's ``error`` explains a typed code that cannot be used.
    """
    try:
        lines = clean_lines(cart_lines)
    except TrackingError as exc:
        return OfferDecision(reason=_("The cart could not be read."), error=exc.message)
    shipping = Decimal(str(shipping or 0))
    shopper = get_shopper(request) if request is not None else None
    # A code issued to the account is its own even where personalisation has no consent.
    owner = shopper if shopper is None or shopper.pk is not None else account_shopper(request) or shopper
    now = timezone.now()
    typed = (code or "").strip()
    session = getattr(request, "session", None)
    from_session = "" if typed or session is None else str(session.get(_session_code_key(), "") or "")
    error = ""
    candidates: list[_Candidate] = []
    for raw, loud in ((typed, True), (from_session, False)):
        if not raw:
            continue
        if loud and too_many_attempts(request, owner):
            error = _("Too many codes tried. Please wait an hour, or contact us.")
            continue
        try:
            candidates.append(resolve_code(raw, owner, now, bearer=not loud, email=email))
        except OfferError as exc:
            if loud:
                error = exc.message
                count_failed_attempt(request, owner)
    if shopper is not None and shopper.pk is not None:
        exposures.flush()  # this process's banner exposures: what the shopper saw is read below
        candidates.extend(_automatic_candidates(shopper, now, email))
    best: tuple[Decimal, OfferDecision] | None = None
    winner: _Candidate | None = None
    seen: set[tuple[int, str]] = set()
    for candidate in candidates:
        if (candidate.offer.pk, candidate.code) in seen:
            continue
        seen.add((candidate.offer.pk, candidate.code))
        try:
            check_first_order(candidate.offer, shopper)
            worth, decision = _decide(candidate, lines, shipping)
        except OfferError as exc:
            if typed and normalize_code(typed) == candidate.code:
                error = exc.message
            continue
        if best is None or worth > best[0]:
            best, winner = (worth, decision), candidate
    if best is None:
        return OfferDecision(reason=_("No offer applies to this cart."), error=error)
    decision = best[1]
    if winner is not None and winner.pending and decision.applies:
        _issue_pending(winner, decision, shopper, request)
    if error and normalize_code(typed) != decision.code:
        decision.error = error
    return decision


def _session_code_key() -> str:
    """Where an email's restore link leaves its code."""
    return ps.EMAIL_OFFER_SESSION_KEY


def session_code(request: Any) -> str:
    """The code an email's restore link left in the request's session ("" when none)."""
    session = getattr(request, "session", None)
    return normalize_code(str(session.get(_session_code_key(), "") or "")) if session is not None else ""


def redeem(
    request: Any, decision: OfferDecision, order_ref: str, *, shopper: Shopper | None = None, email: str = ""
) -> Redemption | None:
    """Use the decision's offer for ``order_ref``; call it inside the order's transaction.

    ``shopper``: who placed the order when there is no request (a payment callback, Oscar's
    order signals); else the request's shopper. ``email``: the order's address (else the
    profile's), recorded so a shared code's uses count per address and account, not per cookie.

    A single-use code is claimed with a conditional UPDATE (one concurrent checkout wins, the
    other gets :class:`OfferError`). Redeeming the same offer again for the same order returns
    the existing redemption.
    """
    if not decision.applies:
        return None
    order_ref = str(order_ref)[:64]
    if not order_ref:
        raise ValueError("redeem() needs the order reference.")
    offer = decision.offer
    if shopper is None and request is not None:
        shopper = ensure_shopper(request) or account_shopper(request)
    now = timezone.now()
    emails = customer_emails(shopper, email)
    known = shopper is not None and shopper.pk is not None
    address = canonical_email(email) or (canonical_email(shopper.get_email()) if known else "")
    with transaction.atomic():
        existing = Redemption.objects.filter(offer=offer, order_ref=order_ref).first()
        if existing is not None:
            return existing
        # Checked again here: the shopper may have logged in (and brought past orders) since.
        check_first_order(offer, shopper, order_ref=order_ref)
        if decision.code_id is not None:
            claimed = (
                OfferCode.objects.filter(pk=decision.code_id, used_at__isnull=True)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .update(used_at=now, order_ref=order_ref)
            )
            if not claimed:
                issued = OfferCode.objects.filter(pk=decision.code_id).first()
                if issued is not None and issued.used_at is None:
                    raise OfferError(_("This code has expired."))
                raise OfferError(_("This code has already been used."))
            # A banner must not show the used code again (it is remembered in the session).
            forget_codes(getattr(request, "session", None), [offer.pk])
        elif offer.uses_per_shopper and (shopper is not None or emails):
            # Serialise the uses of a shared code: lock the offer row, then count this
            # customer's (browser, account, address) committed uses.
            Offer.objects.select_for_update().filter(pk=offer.pk).first()
            check_uses(offer, shopper, email)
        try:
            with transaction.atomic():
                return Redemption.objects.create(
                    offer=offer,
                    code=decision.code,
                    shopper=shopper,
                    order_ref=order_ref,
                    email=address,
                    discount=decision.discount,
                    free_shipping=decision.free_shipping,
                    campaign=decision.campaign,
                    created_at=now,
                )
        except IntegrityError:
            # The same order redeemed concurrently (a double-submitted form).
            return Redemption.objects.get(offer=offer, order_ref=order_ref)
