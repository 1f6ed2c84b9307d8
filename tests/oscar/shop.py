"""Building a small Oscar store for the tests with Oscar's own factories and models."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_product_image, create_stockrecord
from PIL import Image

Category = get_model("catalogue", "Category")
ProductCategory = get_model("catalogue", "ProductCategory")
Country = get_model("address", "Country")

PASSWORD = "secret-pass-123"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def png(name: str, color: str = "red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 400), color).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@dataclass
class Shop:
    clothing: Any
    hoodies: Any
    kitchen: Any
    products: list[Any] = field(default_factory=list)
    out_of_stock: Any = None
    parent: Any = None
    children: list[Any] = field(default_factory=list)
    customer: Any = None

    def product(self, title: str) -> Any:
        return next(p for p in self.products if p.title == title)


def _categorise(product: Any, category: Any) -> None:
    ProductCategory.objects.create(product=product, category=category)


def build_shop(count: int = 10) -> Shop:
    clothing = Category.add_root(name="Clothing", slug="clothing")
    hoodies = clothing.add_child(name="Hoodies", slug="hoodies")
    kitchen = Category.add_root(name="Kitchen", slug="kitchen")
    shop = Shop(clothing=clothing, hoodies=hoodies, kitchen=kitchen)
    for index in range(count):
        category = hoodies if index % 2 == 0 else kitchen
        product = create_product(
            title=f"Product {index}", price=Decimal("10.00") + index, num_in_stock=10, product_class="Things"
        )
        create_product_image(product=product, original=png(f"p{index}.png"))
        _categorise(product, category)
        shop.products.append(product)
    shop.out_of_stock = create_product(title="Sold out hoodie", price=Decimal("30.00"), num_in_stock=0, product_class="Things")
    _categorise(shop.out_of_stock, hoodies)
    shop.parent = create_product(title="Zip Hoodie", structure="parent", product_class="Things")
    _categorise(shop.parent, hoodies)
    create_product_image(product=shop.parent, original=png("zip.png", "blue"))
    for size, price in (("S", "40.00"), ("L", "45.00")):
        child = create_product(title=f"Zip Hoodie {size}", parent=shop.parent, product_class="Things")
        create_stockrecord(child, price=Decimal(price), num_in_stock=5)
        shop.children.append(child)
    shop.customer = get_user_model().objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD, first_name="Alice"
    )
    Country.objects.get_or_create(
        iso_3166_1_a2="GB", defaults={"name": "United Kingdom", "printable_name": "United Kingdom", "is_shipping_country": True}
    )
    return shop


ADDRESS = {
    "first_name": "Alice",
    "last_name": "Shopper",
    "line1": "1 High Street",
    "line4": "London",
    "postcode": "N1 9GU",
    "country": "GB",
    "phone_number": "",
}


def add_to_basket(client: Any, product: Any, quantity: int = 1) -> Any:
    return client.post(f"/basket/add/{product.pk}/", {"quantity": quantity})


def login(client: Any, email: str = "alice@example.com", password: str = PASSWORD) -> Any:
    return client.post(
        "/accounts/login/", {"login-username": email, "login-password": password, "login_submit": "1"}
    )


def checkout(client: Any, *, guest_email: str | None = None) -> Any:
    """Oscar's checkout from the basket to the thank-you page; returns the placement response."""
    if guest_email:
        response = client.post("/checkout/", {"username": guest_email, "options": "anonymous"})
        assert response.status_code == 302, response.content[:500]
    response = client.post("/checkout/shipping-address/", ADDRESS)
    assert response.status_code == 302, response.content[:2000]
    client.get("/checkout/shipping-method/")
    client.get("/checkout/payment-method/")
    response = client.post("/checkout/preview/", {"action": "place_order"})
    return response
