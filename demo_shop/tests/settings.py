"""Settings of the demo shop's own tests: the library's test settings with the demo store installed.

The library's suite (tests/) runs against tests.testshop only; these tests exercise the demo
shop (its catalogue, cart, checkout, outbox and demo data) through the same services.
"""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "demo_shop.catalog", "demo_shop.orders", "demo_shop.accounts", "demo_shop.outbox"]  # noqa: F405
ROOT_URLCONF = "demo_shop.urls"
PERSONALIZE = {**PERSONALIZE, "PRODUCT_MODEL": "catalog.Product"}  # noqa: F405
