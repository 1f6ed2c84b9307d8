from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from personalize.conf import personalize_settings

from demo_shop.catalog.models import Product
from demo_shop.orders.cart import SessionCart
from demo_shop.orders.checkout import CheckoutError, compute_totals, place_order, remember_email
from demo_shop.orders.forms import CheckoutForm, QuantityForm
from demo_shop.orders.models import Order


def _back(request: HttpRequest, default: str = "orders:cart") -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(default)


def cart_detail(request: HttpRequest) -> HttpResponse:
    cart = SessionCart(request)
    lines = cart.lines()
    totals = compute_totals(request, lines)
    return render(request, "orders/cart.html", {"cart": cart, "lines": lines, "totals": totals})


@require_POST
def cart_add(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product.objects.active(), pk=product_id)
    form = QuantityForm(request.POST or {"quantity": 1})
    quantity = form.cleaned_data["quantity"] if form.is_valid() else 1
    if not product.in_stock:
        messages.error(request, _("Sorry, “%(title)s” is out of stock.") % {"title": product.title})
        return _back(request, product.get_absolute_url())
    cart = SessionCart(request)
    before = cart.quantity_of(product)
    after = cart.add(product, max(quantity, 1))
    if after > before:
        messages.success(request, _("Added “%(title)s” to your cart.") % {"title": product.title})
    else:
        messages.warning(request, _("You already have all we have of “%(title)s”.") % {"title": product.title})
    return _back(request)


@require_POST
def cart_update(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    form = QuantityForm(request.POST)
    if form.is_valid():
        SessionCart(request).set(product, form.cleaned_data["quantity"])
    else:
        messages.error(request, _("Enter a quantity between 0 and 99."))
    return redirect("orders:cart")


@require_POST
def cart_remove(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    SessionCart(request).remove(product)
    messages.info(request, _("Removed “%(title)s” from your cart.") % {"title": product.title})
    return redirect("orders:cart")


def checkout(request: HttpRequest) -> HttpResponse:
    cart = SessionCart(request)
    if not cart.lines():
        messages.info(request, _("Your cart is empty."))
        return redirect("orders:cart")
    user = request.user if request.user.is_authenticated else None
    shopper = request.shopper
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            # Keep the email before paying: a declined card is exactly an abandoned cart.
            remember_email(request, data["email"], data["email_consent"])
            try:
                order = place_order(request, cart, data)
            except CheckoutError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Thank you! Your order %(number)s is confirmed.") % {"number": order.number})
                return redirect(order.get_absolute_url())
    else:
        initial = {}
        if user is not None:
            initial = {"email": user.email, "name": user.get_full_name()}
        elif getattr(shopper, "email", ""):
            initial = {"email": shopper.email}
        initial["email_consent"] = bool(getattr(shopper, "email_consent", False))
        # A code a lifecycle email's restore link brought along.
        initial["discount_code"] = request.session.get(personalize_settings.EMAIL_OFFER_SESSION_KEY, "")
        form = CheckoutForm(initial=initial)
    code = form.data.get("discount_code", "") if form.is_bound else form.initial.get("discount_code", "")
    totals = compute_totals(request, cart.lines(), code)
    return render(request, "orders/checkout.html", {"form": form, "cart": cart, "lines": cart.lines(), "totals": totals})


def confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order.objects.prefetch_related("lines__product"), number=number)
    own = (request.user.is_authenticated and order.user_id == request.user.pk) or number in request.session.get("demo_orders", [])
    if not own:
        raise Http404
    return render(request, "orders/confirmation.html", {"order": order})
