"""The demo shop as a shopper uses it: product pages, recently viewed, cart, checkout, accounts,
outbox, and the demo data command.

The suite's store is ``tests.testshop``; these tests switch personalize to the demo's
``catalog.Product`` and the demo's URLs for their own duration only.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from demo_shop.catalog.models import Brand, Category, Product
from demo_shop.orders.discounts import Discount
from demo_shop.orders.models import Order
from demo_shop.outbox.models import OutboxMessage
from personalize.models import Cart, Event, Shopper
from tests.factories import BROWSER_UA

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_settings(settings, tmp_path):
    settings.ROOT_URLCONF = "demo_shop.urls"
    # The suite's other personalize settings stay; only the store changes.
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRODUCT_MODEL": "catalog.Product"}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LOGIN_URL = "accounts:login"
    settings.LOGIN_REDIRECT_URL = "catalog:home"
    settings.SHOP_FREE_SHIPPING_OVER = "50.00"
    settings.SHOP_SHIPPING_FEE = "4.95"
    return settings


@pytest.fixture
def shopper_client(client):
    client.defaults["HTTP_USER_AGENT"] = BROWSER_UA
    return client


_seq = iter(range(1, 10_000))


def make_product(category: Category | None = None, **fields) -> Product:
    n = next(_seq)
    if category is None:
        category = Category.objects.create(slug=f"cat-{n}", name=f"Category {n}")
    fields.setdefault("title", f"Product {n}")
    fields.setdefault("slug", f"product-{n}")
    fields.setdefault("price", Decimal("20.00"))
    fields.setdefault("stock", 10)
    fields.setdefault("brand", Brand.objects.get_or_create(slug="acme", defaults={"name": "Acme"})[0])
    return Product.objects.create(category=category, **fields)


def widget_ids(html: str, name: str) -> set[str]:
    """The product ids inside the ``data-personalize-widget="<name>"`` section of a page."""
    marker = f'data-personalize-widget="{name}"'
    if marker not in html:
        return set()
    section = html.split(marker, 1)[1].split("</section>", 1)[0]
    return set(re.findall(r'data-product-id="([^"]+)"', section))


def snapshot(client) -> Cart | None:
    shopper = Shopper.objects.order_by("-pk").first()
    return Cart.objects.filter(shopper=shopper).first() if shopper else None


# --- product pages and recently viewed ---------------------------------------------------------
def test_product_page_tracks_a_view(shopper_client):
    product = make_product(title="Aperix Z4 Mirrorless Camera")
    response = shopper_client.get(product.get_absolute_url())
    assert response.status_code == 200
    assert "Aperix Z4 Mirrorless Camera" in response.content.decode()
    event = Event.objects.get(kind="view")
    assert event.product_key == str(product.pk)
    assert response.cookies.get("personalize_id") is not None


def test_inactive_product_is_not_found_and_not_tracked(shopper_client):
    product = make_product(is_active=False)
    assert shopper_client.get(product.get_absolute_url()).status_code == 404
    assert not Event.objects.exists()


def test_three_viewed_products_show_on_home_and_survive_login(shopper_client):
    products = [make_product() for _ in range(3)]
    for product in products:
        shopper_client.get(product.get_absolute_url())
    expected = {str(p.pk) for p in products}
    home = shopper_client.get("/").content.decode()
    assert widget_ids(home, "recently_viewed") == expected

    get_user_model().objects.create_user("dana", "dana@example.com", "pw-dana-123")
    response = shopper_client.post(reverse("accounts:login"), {"username": "dana", "password": "pw-dana-123"})
    assert response.status_code == 302
    home = shopper_client.get("/").content.decode()
    assert "Hi, dana" in home
    assert widget_ids(home, "recently_viewed") == expected


def test_product_page_lists_other_viewed_products_but_not_itself(shopper_client):
    first, second = make_product(), make_product()
    shopper_client.get(first.get_absolute_url())
    page = shopper_client.get(second.get_absolute_url()).content.decode()
    assert widget_ids(page, "recently_viewed") == {str(first.pk)}


def test_signup_logs_in_and_keeps_the_history(shopper_client):
    product = make_product()
    shopper_client.get(product.get_absolute_url())
    response = shopper_client.post(
        reverse("accounts:signup"),
        {"username": "erin", "first_name": "Erin", "email": "erin@example.com", "password1": "a-long-pass-42", "password2": "a-long-pass-42"},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="erin")
    assert Shopper.objects.get(user=user).events.filter(kind="view", product_key=str(product.pk)).exists()
    assert widget_ids(shopper_client.get("/").content.decode(), "recently_viewed") == {str(product.pk)}


# --- search and categories ----------------------------------------------------------------------
def test_search_finds_products_and_tracks_the_query(shopper_client):
    camera = make_product(title="Lumora Nova Compact Camera", tags="camera, travel")
    make_product(title="Kenya AA Coffee Beans", tags="coffee")
    page = shopper_client.get(reverse("catalog:search"), {"q": "compact  camera"}).content.decode()
    assert camera.title in page and "Kenya AA" not in page
    event = Event.objects.get(kind="search")
    assert event.query == "compact camera"
    assert event.context["results"] == 1


def test_category_page_lists_only_its_products(shopper_client):
    product = make_product()
    other = make_product()
    page = shopper_client.get(product.category.get_absolute_url()).content.decode()
    assert product.title in page and other.title not in page
    assert Event.objects.filter(kind="category_view", context__category=str(product.category_id)).exists()


# --- cart -------------------------------------------------------------------------------------
def test_cart_changes_update_the_personalize_snapshot(shopper_client):
    a = make_product(price=Decimal("12.50"))
    b = make_product(price=Decimal("30.00"))
    shopper_client.post(reverse("orders:cart-add", args=[a.pk]), {"quantity": 2})
    shopper_client.post(reverse("orders:cart-add", args=[b.pk]))
    cart = snapshot(shopper_client)
    assert sorted((l["product"], l["quantity"], l["price"]) for l in cart.lines) == sorted(
        [(str(a.pk), 2, "12.50"), (str(b.pk), 1, "30.00")]
    )
    assert cart.value == Decimal("55.00")

    shopper_client.post(reverse("orders:cart-update", args=[a.pk]), {"quantity": 1})
    shopper_client.post(reverse("orders:cart-remove", args=[b.pk]))
    cart.refresh_from_db()
    assert [(l["product"], l["quantity"]) for l in cart.lines] == [(str(a.pk), 1)]
    kinds = Counter(Event.objects.values_list("kind", flat=True))
    assert kinds["add_to_cart"] == 2 and kinds["remove_from_cart"] == 2

    lines = shopper_client.get(reverse("orders:cart")).context["lines"]
    assert [(line.product, line.quantity) for line in lines] == [(a, 1)]


def test_restore_hook_refills_the_session_cart_and_the_snapshot():
    from demo_shop.orders.cart import SESSION_KEY, restore_cart_hook
    from tests.factories import request as make_request

    a, b, gone = make_product(stock=5), make_product(stock=1), make_product(is_active=False)
    request = make_request("/")
    restore_cart_hook(request, [{"product": a, "quantity": 2}, {"product": b, "quantity": 3}, {"product": gone, "quantity": 1}])
    assert request.session[SESSION_KEY] == {str(a.pk): 2, str(b.pk): 1}
    cart = Cart.objects.get(shopper=request.shopper)
    assert sorted((l["product"], l["quantity"]) for l in cart.lines) == sorted([(str(a.pk), 2), (str(b.pk), 1)])


def test_cart_never_holds_more_than_the_stock_and_refuses_sold_out(shopper_client):
    scarce = make_product(stock=2)
    sold_out = make_product(stock=0)
    shopper_client.post(reverse("orders:cart-add", args=[scarce.pk]), {"quantity": 5})
    shopper_client.post(reverse("orders:cart-add", args=[sold_out.pk]))
    cart = snapshot(shopper_client)
    assert [(l["product"], l["quantity"]) for l in cart.lines] == [(str(scarce.pk), 2)]


def test_cart_rejects_get_and_unknown_products(shopper_client):
    product = make_product()
    assert shopper_client.get(reverse("orders:cart-add", args=[product.pk])).status_code == 405
    assert shopper_client.post(reverse("orders:cart-add", args=[999_999])).status_code == 404


# --- checkout ---------------------------------------------------------------------------------
def checkout_data(**overrides) -> dict:
    data = {
        "email": "guest@example.com",
        "email_consent": "on",
        "name": "Guest Shopper",
        "address": "1 Demo Street",
        "card_number": "4242 4242 4242 4242",
        "discount_code": "",
    }
    data.update(overrides)
    return data


def test_checkout_records_the_order_and_the_purchase(shopper_client):
    a = make_product(price=Decimal("40.00"), stock=5)
    b = make_product(price=Decimal("5.00"), stock=5)
    shopper_client.post(reverse("orders:cart-add", args=[a.pk]))
    shopper_client.post(reverse("orders:cart-add", args=[b.pk]), {"quantity": 2})
    response = shopper_client.post(reverse("orders:checkout"), checkout_data())
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    assert (order.subtotal, order.shipping, order.total) == (Decimal("50.00"), Decimal("0.00"), Decimal("50.00"))
    assert sorted((l.product_id, l.quantity) for l in order.lines.all()) == sorted([(a.pk, 1), (b.pk, 2)])

    purchase = Event.objects.get(kind="purchase")
    assert purchase.order_ref == order.number
    assert purchase.value == Decimal("50.00")
    assert sorted((l["product"], l["quantity"]) for l in purchase.context["lines"]) == sorted([(str(a.pk), 1), (str(b.pk), 2)])

    a.refresh_from_db()
    assert a.stock == 4
    assert snapshot(shopper_client).lines == []
    shopper = purchase.shopper
    assert (shopper.email, shopper.email_consent) == ("guest@example.com", True)
    confirmation = shopper_client.get(order.get_absolute_url())
    assert confirmation.status_code == 200 and order.number in confirmation.content.decode()
    assert shopper_client.get(reverse("orders:cart")).context["lines"] == []


def test_shipping_is_charged_below_the_free_shipping_threshold(shopper_client):
    product = make_product(price=Decimal("20.00"))
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]))
    shopper_client.post(reverse("orders:checkout"), checkout_data())
    order = Order.objects.get()
    assert (order.shipping, order.total) == (Decimal("4.95"), Decimal("24.95"))


def test_declined_card_places_no_order_but_keeps_the_email_for_the_abandoned_cart(shopper_client):
    product = make_product(stock=3)
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]))
    response = shopper_client.post(reverse("orders:checkout"), checkout_data(card_number="4000 0000 0000 0002"))
    assert response.status_code == 200
    assert "declined" in response.content.decode()
    assert not Order.objects.exists() and not Event.objects.filter(kind="purchase").exists()
    product.refresh_from_db()
    assert product.stock == 3
    cart = snapshot(shopper_client)
    assert [line["product"] for line in cart.lines] == [str(product.pk)]
    assert (cart.shopper.email, cart.shopper.email_consent) == ("guest@example.com", True)


def test_checkout_applies_the_discount_hook(shopper_client, monkeypatch):
    monkeypatch.setattr(
        "demo_shop.orders.checkout.apply_discount",
        lambda request, lines, code="": Discount(amount=Decimal("7.50"), label="Welcome offer", code=code),
    )
    product = make_product(price=Decimal("60.00"))
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]))
    page = shopper_client.get(reverse("orders:checkout")).content.decode()
    assert "Welcome offer" in page
    shopper_client.post(reverse("orders:checkout"), checkout_data(discount_code="HELLO10"))
    order = Order.objects.get()
    assert (order.discount, order.discount_label, order.discount_code, order.total) == (
        Decimal("7.50"), "Welcome offer", "HELLO10", Decimal("52.50"),
    )
    assert Event.objects.get(kind="purchase").value == Decimal("52.50")


def test_a_guest_cannot_open_someone_elses_order(shopper_client):
    product = make_product()
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]))
    shopper_client.post(reverse("orders:checkout"), checkout_data())
    order = Order.objects.get()
    stranger = Client(HTTP_USER_AGENT=BROWSER_UA)
    assert stranger.get(order.get_absolute_url()).status_code == 404


def test_account_page_lists_the_orders(shopper_client):
    user = get_user_model().objects.create_user("fay", "fay@example.com", "pw-fay-123", first_name="Fay")
    shopper_client.force_login(user)
    product = make_product(title="Crema Dual Espresso Machine", price=Decimal("300.00"))
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]))
    shopper_client.get(reverse("orders:checkout"))
    shopper_client.post(reverse("orders:checkout"), checkout_data(email="fay@example.com"))
    order = Order.objects.get(user=user)
    page = shopper_client.get(reverse("accounts:account")).content.decode()
    assert order.number in page and "Crema Dual Espresso Machine" in page


# --- outbox -----------------------------------------------------------------------------------
def test_outbox_backend_stores_html_mail_and_the_page_shows_it(shopper_client, settings):
    settings.EMAIL_BACKEND = "demo_shop.outbox.backends.OutboxEmailBackend"
    settings.DEBUG = True
    message = mail.EmailMultiAlternatives(
        "Your cart misses you", "Plain body", "shop@demo.example", ["ana@example.com"],
        headers={"List-Unsubscribe": "<https://shop.example/u/abc>"},
    )
    message.attach_alternative('<p>Hello <b>Ana</b> <a href="https://shop.example/r/x?a=1&amp;b=2">Back</a></p>', "text/html")
    assert message.send() == 1
    stored = OutboxMessage.objects.get()
    assert stored.recipients == ["ana@example.com"]
    assert stored.body_text == "Plain body" and "<b>Ana</b>" in stored.body_html
    assert stored.headers["List-Unsubscribe"] == "<https://shop.example/u/abc>"

    assert "Your cart misses you" in shopper_client.get(reverse("outbox:list"), {"q": "ana@"}).content.decode()
    assert "Your cart misses you" not in shopper_client.get(reverse("outbox:list"), {"q": "bob"}).content.decode()
    detail = shopper_client.get(stored.get_absolute_url())
    assert detail.context["links"] == ["https://shop.example/r/x?a=1&b=2"]
    html = shopper_client.get(reverse("outbox:html", args=[stored.pk]))
    assert "<b>Ana</b>" in html.content.decode()
    assert html["Content-Security-Policy"].startswith("sandbox")


def test_outbox_is_staff_only_without_debug(shopper_client, settings):
    settings.DEBUG = False
    assert shopper_client.get(reverse("outbox:list")).status_code == 403


# --- demo data ----------------------------------------------------------------------------------
def test_load_demo_data_builds_a_consistent_shop(settings):
    call_command("load_demo_data", products=60, shoppers=120, seed=3, stdout=_Null())
    products = {p.pk: p for p in Product.objects.select_related("category")}
    assert len(products) == 60
    assert Category.objects.count() == 8
    assert any(p.stock == 0 for p in products.values()) or len(products) < 100
    assert all(p.image and p.image.storage.exists(p.image.name) for p in products.values())

    # Every event names a real product; purchases match their orders.
    keys = set(Event.objects.exclude(product_key="").values_list("product_key", flat=True))
    assert keys <= {str(pk) for pk in products}
    purchases = Event.objects.filter(kind="purchase")
    assert purchases.count() == Order.objects.count() > 0
    orders = {o.number: o for o in Order.objects.prefetch_related("lines")}
    for event in purchases:
        order = orders[event.order_ref]
        assert event.value == order.total
        assert sorted((l["product"], l["quantity"]) for l in event.context["lines"]) == sorted(
            (str(line.product_id), line.quantity) for line in order.lines.all()
        )

    # Consistent tastes, not uniform noise: most of a shopper's views are in two categories.
    views = Counter()
    for shopper_id, key in Event.objects.filter(kind="view").values_list("shopper_id", "product_key"):
        views[(shopper_id, products[int(key)].category_id)] += 1
    per_shopper: dict[int, list[int]] = {}
    for (shopper_id, _cat), n in views.items():
        per_shopper.setdefault(shopper_id, []).append(n)
    shares = [sum(sorted(c, reverse=True)[:2]) / sum(c) for c in per_shopper.values() if sum(c) >= 8]
    assert shares and sum(shares) / len(shares) > 0.7

    # Visits come from somewhere: referrers and UTM parameters on landing events.
    assert Event.objects.filter(context__utm_source="newsletter").exists()
    assert Event.objects.filter(context__referrer="www.google.com").exists()

    # Demo accounts, the admin, an open cart for the lifecycle emails demo.
    User = get_user_model()
    for name in ("alice", "bob", "carol"):
        assert User.objects.get(username=name).check_password("demo")
    assert User.objects.get(username="admin").is_superuser
    bob_cart = Cart.objects.get(shopper__user__username="bob")
    assert bob_cart.lines and bob_cart.value > 0
    open_carts = Cart.objects.exclude(lines=[])
    assert all(cart.value == sum(Decimal(l["price"]) * l["quantity"] for l in cart.lines) for cart in open_carts)


def test_load_demo_data_is_deterministic_and_if_empty_is_a_no_op():
    call_command("load_demo_data", products=30, shoppers=40, seed=11, no_images=True, stdout=_Null())
    first = (list(Product.objects.order_by("title").values_list("title", "price", "stock")), Event.objects.count())
    call_command("load_demo_data", products=30, shoppers=40, seed=11, if_empty=True, stdout=_Null())
    assert Event.objects.count() == first[1]
    with pytest.raises(CommandError, match="--reset"):
        call_command("load_demo_data", products=30, shoppers=40, seed=11, stdout=_Null())
    call_command("load_demo_data", products=30, shoppers=40, seed=11, reset=True, no_images=True, stdout=_Null())
    second = (list(Product.objects.order_by("title").values_list("title", "price", "stock")), Event.objects.count())
    assert first == second


def test_load_demo_data_rejects_bad_sizes():
    with pytest.raises(CommandError, match="--products"):
        call_command("load_demo_data", products=0, stdout=_Null())


class _Null:
    def write(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass


def test_admin_lists_the_shop_models(admin_client):
    product = make_product()
    for name in ("catalog_product", "catalog_category", "catalog_brand", "orders_order", "outbox_outboxmessage"):
        response = admin_client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200, name
    assert admin_client.get(reverse("admin:catalog_product_change", args=[product.pk])).status_code == 200


def test_checkout_refuses_when_the_stock_ran_out_meanwhile(shopper_client):
    product = make_product(stock=2)
    shopper_client.post(reverse("orders:cart-add", args=[product.pk]), {"quantity": 2})
    Product.objects.filter(pk=product.pk).update(stock=1)  # someone else bought one
    response = shopper_client.post(reverse("orders:checkout"), checkout_data())
    assert response.status_code == 200 and "left" in response.content.decode()
    assert not Order.objects.exists()
    product.refresh_from_db()
    assert product.stock == 1


def test_signup_asks_for_marketing_consent_unticked(shopper_client):
    form = shopper_client.get(reverse("accounts:signup")).content.decode()
    assert 'name="email_consent"' in form and "checked" not in form.split('name="email_consent"')[1].split(">")[0]
    for username, extra in (("fay", {}), ("gus", {"email_consent": "on"})):
        shopper_client.post(
            reverse("accounts:signup"),
            {"username": username, "first_name": username, "email": f"{username}@example.com",
             "password1": "a-long-pass-42", "password2": "a-long-pass-42", **extra},
        )
        shopper_client.post(reverse("accounts:logout"))
    consents = dict(Shopper.objects.filter(user__username__in=["fay", "gus"]).values_list("user__username", "email_consent"))
    assert consents.get("gus") is True and consents.get("fay", False) is False


def test_demo_pages_show_the_consent_banner_when_consent_is_required(client, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": True}
    html = client.get("/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0").content.decode()
    assert "data-personalize-consent" in html and "/personalize/privacy/" in html
