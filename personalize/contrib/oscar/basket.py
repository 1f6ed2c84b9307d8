"""Keeping personalize's cart snapshot in step with Oscar's basket, and rebuilding the basket
from an email's restore link.

Oscar sends a signal when a product is added, not when a line is edited or removed, a basket is
merged at login or submitted. So the snapshot follows the basket's *rows*: every save or delete
of a basket line (and every voucher change) re-reads the basket and sets the snapshot to what
it holds (:func:`sync_basket`). The revision grows only when the contents change.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from oscar.core.loading import get_model

from personalize.contrib.oscar.models import BasketShopper
from personalize.events.cart import set_cart_lines
from personalize.identity.resolution import ensure_shopper, shopper_for
from personalize.models import Shopper, normalize_code
from personalize.offers.checkout import session_code

logger = logging.getLogger("personalize")

#: Basket states whose contents are the shopper's cart (a frozen basket is in checkout).
LIVE_STATUSES = ("Open", "Frozen")


def link_basket(request: Any, basket: Any) -> Shopper | None:
    """Remember that the request's shopper fills ``basket`` (a saved basket)."""
    if basket is None or not getattr(basket, "id", None):
        return None
    shopper = ensure_shopper(request)
    if shopper is None:  # a bot
        return None
    BasketShopper.objects.update_or_create(
        basket_id=basket.id, defaults={"shopper": shopper, "updated_at": timezone.now()}
    )
    return shopper


def shopper_for_basket(basket: Any) -> Shopper | None:
    """The owner's shopper for a customer's basket, else the browser that filled it."""
    if basket.owner_id:
        return shopper_for(basket.owner)
    link = BasketShopper.objects.select_related("shopper__merged_into").filter(basket_id=basket.id).first()
    if link is None:
        return None
    shopper = link.shopper
    return shopper.merged_into if shopper.merged_into_id else shopper


def basket_lines(basket: Any) -> list[dict[str, Any]]:
    """The basket's lines as snapshot lines (unit price as Oscar stored it when added)."""
    rows = basket.lines.order_by("pk").values_list("product_id", "quantity", "price_incl_tax", "price_excl_tax")
    lines = []
    for product_id, quantity, incl, excl in rows:
        if quantity <= 0:
            continue
        price = incl if incl is not None else excl
        lines.append({"product": str(product_id), "quantity": int(quantity), "price": str(price) if price is not None else None})
    return lines


def sync_basket(basket: Any, *, request: Any = None) -> None:
    """Set the basket's shopper's snapshot to the basket's contents; never raises."""
    try:
        if basket is None or not basket.id or basket.status not in LIVE_STATUSES:
            return
        shopper = shopper_for_basket(basket)
        if shopper is None:
            return
        with transaction.atomic():
            set_cart_lines(shopper, basket_lines(basket), request=request)
    except Exception:
        logger.exception("personalize: could not follow Oscar basket %s", getattr(basket, "id", None))


def sync_basket_id(basket_id: int | None) -> None:
    """:func:`sync_basket` for a basket known only by id (a line's save or delete)."""
    if not basket_id:
        return
    Basket = get_model("basket", "Basket")
    sync_basket(Basket._default_manager.filter(pk=basket_id).select_related("owner").first())


def add_bearer_code(basket: Any, code: str) -> None:
    """A code that came with a signed email link may be used in this basket by anyone."""
    code = normalize_code(code)
    link = BasketShopper.objects.filter(basket_id=basket.id).first()
    if link is not None and code and code not in link.bearer_codes:
        link.bearer_codes = [*link.bearer_codes, code][-20:]
        link.save(update_fields=["bearer_codes"])


def is_bearer_code(basket: Any, code: str) -> bool:
    link = BasketShopper.objects.filter(basket_id=basket.id).only("bearer_codes").first()
    return link is not None and normalize_code(code) in link.bearer_codes


def restore_basket(request: Any, lines: list[dict[str, Any]]) -> None:
    """Put an email's lines into the request's Oscar basket (a line already there keeps the
    larger quantity) and apply the email's code as a voucher when personalize mirrors one."""
    basket = request.basket
    for line in lines:
        product = line["product"]
        try:
            existing = basket.lines.filter(product=product).first() if basket.id else None
            wanted = int(line["quantity"])
            if existing is None:
                basket.add_product(product, wanted)
            elif existing.quantity < wanted:
                existing.quantity = wanted
                existing.save()
        except Exception:  # noqa: BLE001 - an unavailable product is skipped, the rest restored
            logger.info("personalize: product %s could not go back into the basket", line.get("key"), exc_info=True)
    if not basket.id:
        return
    link_basket(request, basket)
    code = session_code(request)
    if code:
        add_bearer_code(basket, code)
        apply_voucher(basket, code)
    sync_basket(basket, request=request)


def apply_voucher(basket: Any, code: str) -> bool:
    """Add the Oscar voucher mirroring personalize's ``code`` to ``basket`` (no-op if absent)."""
    Voucher = get_model("voucher", "Voucher")
    voucher = Voucher._default_manager.filter(code=normalize_code(code)).first()
    if voucher is None or not voucher.is_active():
        return False
    if not basket.vouchers.filter(pk=voucher.pk).exists():
        basket.vouchers.add(voucher)
    basket.reset_offer_applications()
    return True
