"""Receivers for Oscar's signals and model changes, connected in ``OscarConfig.ready``.

Oscar sends its signals with ``.send()``: an exception in a receiver reaches the shopper as a
500 (on add-to-basket, at checkout). Every receiver here is wrapped by :func:`never_raises`,
so an error is logged and the request goes on. The one deliberate exception is the voucher
redemption, which runs inside Oscar's order transaction and stops an order whose code can no
longer be used (Oscar turns ``UnableToPlaceOrder`` into a message at checkout).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save
from oscar.apps.basket.signals import basket_addition, voucher_addition
from oscar.apps.catalogue.signals import product_viewed
from oscar.apps.order.signals import order_placed
from oscar.apps.search.signals import user_search
from oscar.core.loading import get_model

from personalize.adapters import get_adapter
from personalize.contrib.oscar import basket as baskets
from personalize.contrib.oscar import vouchers
from personalize.contrib.oscar.adapter import forget_category_tree
from personalize.events.tracking import track, track_for
from personalize.identity.resolution import shopper_for
from personalize.models import Event, EventKind, Offer, OfferCode, Shopper
from personalize.offers.checkout import OfferError, resolve_code, session_code

logger = logging.getLogger("personalize")


def never_raises(func: Callable[..., None]) -> Callable[..., None]:
    """Log a receiver's error instead of letting Oscar's ``.send()`` turn it into a 500."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            logger.exception("personalize: Oscar receiver %s failed", func.__name__)

    return wrapper


def _canonical(product: Any) -> Any:
    return get_adapter().canonical(product)


# --- what the shopper does ----------------------------------------------------------------
@never_raises
def on_product_viewed(sender: Any, product: Any, user: Any = None, request: Any = None, **kwargs: Any) -> None:
    if request is not None:
        track(request, EventKind.VIEW, _canonical(product))


@never_raises
def on_basket_addition(sender: Any, product: Any, user: Any = None, request: Any = None, **kwargs: Any) -> None:
    if request is None:
        return
    try:
        quantity = max(1, int(request.POST.get("quantity", 1)))
    except (TypeError, ValueError):
        quantity = 1
    basket = request.basket
    baskets.link_basket(request, basket)
    track(request, EventKind.ADD_TO_CART, _canonical(product), quantity=quantity, value=get_adapter().price(product))
    # The event moved the snapshot by the added quantity; the basket is the truth (variants,
    # quantities capped by Oscar, lines merged).
    baskets.sync_basket(basket, request=request)


@never_raises
def on_user_search(sender: Any, query: str = "", **kwargs: Any) -> None:
    """Record the search once the results are known (the signal is sent before searching),
    with their count, which search suggestions use to leave out queries that find nothing."""
    request = getattr(sender, "request", None)
    query = (query or "").strip()
    if request is None or not query or not hasattr(sender, "render_to_response"):
        return
    render = sender.render_to_response

    def render_and_track(context: dict[str, Any], **response_kwargs: Any) -> Any:
        response = render(context, **response_kwargs)
        try:
            paginator = context.get("paginator")
            count = paginator.count if paginator is not None else len(context.get("object_list") or [])
        except Exception:  # noqa: BLE001 - the search is still worth recording without a count
            count = None
        extra = {"results": count} if count is not None else {}
        track(request, EventKind.SEARCH, query=query, context=extra)
        return response

    sender.render_to_response = render_and_track


@never_raises
def on_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """After personalize's login merge (connected before this one): the account's basket is
    the account's cart; Oscar merges the browser's basket into it on the next request."""
    Basket = get_model("basket", "Basket")
    basket = Basket.open.filter(owner=user).first()
    if basket is not None:
        baskets.sync_basket(basket, request=request)


# --- the basket's rows ----------------------------------------------------------------------
@never_raises
def on_line_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    baskets.sync_basket_id(instance.basket_id)


@never_raises
def on_basket_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if not created:
        baskets.sync_basket(instance)


@never_raises
def on_basket_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    baskets.BasketShopper.objects.filter(basket_id=instance.pk).delete()


@never_raises
def on_vouchers_changed(sender: Any, instance: Any, action: str = "", **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear") and hasattr(instance, "lines"):
        baskets.sync_basket(instance)


@never_raises
def on_voucher_addition(sender: Any, basket: Any, voucher: Any, **kwargs: Any) -> None:
    """Say why a personalize code does not apply (Oscar only says the basket does not
    qualify) and let a code from the session's email link be used by whoever followed it."""
    request = getattr(sender, "request", None)
    if request is None or not vouchers.is_mirrored(voucher):
        return
    baskets.link_basket(request, basket)
    if session_code(request) == voucher.code:
        baskets.add_bearer_code(basket, voucher.code)
    shopper = baskets.shopper_for_basket(basket)
    try:
        resolve_code(voucher.code, shopper, bearer=baskets.is_bearer_code(basket, voucher.code))
    except OfferError as exc:
        messages.error(request, exc.message, fail_silently=True)


# --- orders ---------------------------------------------------------------------------------
def order_shopper(order: Any) -> Shopper | None:
    """Who placed ``order``: the browser that filled its basket, else the account, else the
    guest's email (a shopper is made for it)."""
    if order.basket_id:
        basket = get_model("basket", "Basket")._default_manager.filter(pk=order.basket_id).first()
        if basket is not None:
            found = baskets.shopper_for_basket(basket)
            if found is not None:
                return found
    if order.user_id:
        return shopper_for(order.user)
    email = getattr(order, "guest_email", "") or ""
    return shopper_for(email) if email else None


def order_lines(order: Any) -> list[dict[str, Any]]:
    lines = []
    for line in order.lines.select_related("product__parent"):
        if line.product is None:  # the product was deleted since
            continue
        product = _canonical(line.product)
        unit = line.unit_price_incl_tax if line.unit_price_incl_tax is not None else line.unit_price_excl_tax
        lines.append({"product": product, "quantity": line.quantity, "price": unit})
    return lines


@never_raises
def on_order_placed(sender: Any, order: Any, user: Any = None, **kwargs: Any) -> None:
    """The purchase, through the request-less API: orders placed by payment callbacks or staff
    count too. Recorded once per order number."""
    if Event.objects.filter(kind=EventKind.PURCHASE, order_ref=str(order.number)).exists():
        return
    shopper = order_shopper(order)
    if shopper is None:
        return
    email = getattr(order, "guest_email", "") or ""
    if email and not shopper.email:
        Shopper.objects.filter(pk=shopper.pk).update(email=email)
    track_for(
        shopper,
        EventKind.PURCHASE,
        lines=order_lines(order),
        value=Decimal(order.total_incl_tax),
        order_ref=str(order.number),
        context={"currency": order.currency},
    )


def on_voucher_applied(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """Oscar records a voucher's use inside the order's transaction: redeem the code then."""
    if not created or not vouchers.is_mirrored(instance.voucher):
        return
    vouchers.redeem_voucher_use(instance.voucher, instance.order, order_shopper(instance.order))


# --- keeping vouchers in step with personalize's offers and codes ---------------------------
@never_raises
def on_offer_saved(sender: Any, instance: Offer, **kwargs: Any) -> None:
    vouchers.mirror_offer(instance)


@never_raises
def on_offer_deleted(sender: Any, instance: Offer, **kwargs: Any) -> None:
    vouchers.forget_offer(instance)


@never_raises
def on_code_saved(sender: Any, instance: OfferCode, created: bool = False, **kwargs: Any) -> None:
    if created:
        vouchers.mirror_code(instance)


@never_raises
def on_code_deleted(sender: Any, instance: OfferCode, **kwargs: Any) -> None:
    vouchers.forget_code(instance)


@never_raises
def on_category_changed(sender: Any, **kwargs: Any) -> None:
    forget_category_tree()


def connect() -> None:
    """Connect every receiver (``OscarConfig.ready``); idempotent through dispatch uids."""
    Line = get_model("basket", "Line")
    Basket = get_model("basket", "Basket")
    Category = get_model("catalogue", "Category")
    VoucherApplication = get_model("voucher", "VoucherApplication")
    uid = "personalize.contrib.oscar."
    product_viewed.connect(on_product_viewed, dispatch_uid=uid + "product_viewed")
    basket_addition.connect(on_basket_addition, dispatch_uid=uid + "basket_addition")
    voucher_addition.connect(on_voucher_addition, dispatch_uid=uid + "voucher_addition")
    user_search.connect(on_user_search, dispatch_uid=uid + "user_search")
    order_placed.connect(on_order_placed, dispatch_uid=uid + "order_placed")
    user_logged_in.connect(on_login, dispatch_uid=uid + "login")
    post_save.connect(on_line_changed, sender=Line, dispatch_uid=uid + "line_saved")
    post_delete.connect(on_line_changed, sender=Line, dispatch_uid=uid + "line_deleted")
    post_save.connect(on_basket_saved, sender=Basket, dispatch_uid=uid + "basket_saved")
    post_delete.connect(on_basket_deleted, sender=Basket, dispatch_uid=uid + "basket_deleted")
    m2m_changed.connect(on_vouchers_changed, sender=Basket.vouchers.through, dispatch_uid=uid + "vouchers")
    post_save.connect(on_voucher_applied, sender=VoucherApplication, dispatch_uid=uid + "voucher_applied")
    post_save.connect(on_offer_saved, sender=Offer, dispatch_uid=uid + "offer_saved")
    post_delete.connect(on_offer_deleted, sender=Offer, dispatch_uid=uid + "offer_deleted")
    post_save.connect(on_code_saved, sender=OfferCode, dispatch_uid=uid + "code_saved")
    post_delete.connect(on_code_deleted, sender=OfferCode, dispatch_uid=uid + "code_deleted")
    post_save.connect(on_category_changed, sender=Category, dispatch_uid=uid + "category_saved")
    post_delete.connect(on_category_changed, sender=Category, dispatch_uid=uid + "category_deleted")
