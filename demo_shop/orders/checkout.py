"""Placing an order: totals, discount, stock, payment, and the purchase event."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import personalize
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from demo_shop.catalog.models import Product
from demo_shop.orders.cart import CartLine, SessionCart
from demo_shop.orders.discounts import Discount, apply_discount, redeem_discount
from demo_shop.orders.models import Order, OrderLine
from demo_shop.orders.payments import PaymentDeclined, charge

CENT = Decimal("0.01")


class CheckoutError(Exception):
    pass


@dataclass
class Totals:
    subtotal: Decimal
    discount: Discount
    shipping: Decimal
    total: Decimal

    @property
    def free_shipping_over(self) -> Decimal:
        return free_shipping_threshold()

    @property
    def missing_for_free_shipping(self) -> Decimal:
        return max(Decimal("0.00"), self.free_shipping_over - self.subtotal) if self.shipping else Decimal("0.00")


def free_shipping_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "SHOP_FREE_SHIPPING_OVER", "50.00")))


def shipping_fee() -> Decimal:
    return Decimal(str(getattr(settings, "SHOP_SHIPPING_FEE", "4.95")))


def compute_totals(request: HttpRequest, lines: list[CartLine], code: str = "") -> Totals:
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    discount = apply_discount(request, lines, code)
    amount = min(max(discount.amount, Decimal("0.00")), subtotal).quantize(CENT)
    discount.amount = amount
    shipping = Decimal("0.00")
    if lines and not discount.free_shipping and subtotal < free_shipping_threshold():
        shipping = shipping_fee()
    return Totals(subtotal=subtotal, discount=discount, shipping=shipping, total=subtotal - amount + shipping)


def remember_email(request: HttpRequest, email: str, consent: bool) -> None:
    """Keep the checkout email on the shopper's profile (abandoned-cart emails need it)."""
    shopper = personalize.get_shopper(request)
    if shopper is None or shopper.pk is None:
        return
    fields = []
    if email and shopper.email != email:
        shopper.email = email
        fields.append("email")
    if shopper.email_consent != consent:
        shopper.email_consent = consent
        fields.append("email_consent")
    if fields:
        shopper.save(update_fields=fields)


def place_order(request: HttpRequest, cart: SessionCart, data: dict) -> Order:
    """Charge and record the order; raises :class:`CheckoutError` with a message for the shopper."""
    lines = cart.lines()
    if not lines:
        raise CheckoutError(_("Your cart is empty."))
    totals = compute_totals(request, lines, data.get("discount_code", ""))
    if totals.discount.error:
        raise CheckoutError(totals.discount.error)
    with transaction.atomic():
        # Lock the products so two checkouts cannot both take the last item.
        locked = Product.objects.select_for_update().in_bulk([line.product.pk for line in lines])
        for line in lines:
            if locked[line.product.pk].stock < line.quantity:
                raise CheckoutError(_("Sorry, only %(n)s of “%(title)s” left.") % {"n": locked[line.product.pk].stock, "title": line.product.title})
        user = request.user if request.user.is_authenticated else None
        order = Order.objects.create(
            user=user,
            email=data["email"],
            name=data.get("name", ""),
            address=data.get("address", ""),
            subtotal=totals.subtotal,
            discount=totals.discount.amount,
            discount_label=totals.discount.label[:200],
            discount_code=totals.discount.code[:64],
            shipping=totals.shipping,
            total=totals.total,
            language=getattr(request, "LANGUAGE_CODE", "")[:16],
            created_at=timezone.now(),
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product=line.product, title=line.product.title, unit_price=line.unit_price, quantity=line.quantity)
            for line in lines
        )
        for line in lines:
            # Conditional decrement: correct even where SELECT ... FOR UPDATE is a no-op (SQLite).
            taken = Product.objects.filter(pk=line.product.pk, stock__gte=line.quantity).update(
                stock=F("stock") - line.quantity
            )
            if not taken:
                raise CheckoutError(_("Sorry, “%(title)s” just sold out.") % {"title": line.product.title})
        if totals.discount:
            problem = redeem_discount(request, totals.discount, order)
            if problem:
                raise CheckoutError(problem)
        try:
            charge(data["card_number"], totals.total)
        except PaymentDeclined as exc:
            raise CheckoutError(str(exc)) from None
    personalize.track(
        request,
        "purchase",
        lines=cart.personalize_lines(),
        value=order.total,
        order_ref=order.number,
        context={"discount": str(order.discount), "discount_code": order.discount_code} if order.discount else {},
    )
    cart.clear()
    remember_order(request, order)
    return order


def remember_order(request: HttpRequest, order: Order) -> None:
    """Let a guest see their own confirmation page (and nobody else's)."""
    numbers = request.session.get("demo_orders", [])
    request.session["demo_orders"] = [*numbers[-9:], order.number]
