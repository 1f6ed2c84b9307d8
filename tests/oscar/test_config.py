"""Configuration alone: Oscar defaults for personalize's settings, the dashboard links, the
checks, and a broken adapter or receiver never turning a shopper's page into a 500."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from personalize.adapters import get_adapter
from personalize.conf import personalize_settings as ps
from personalize.contrib.oscar.adapter import OscarAdapter
from tests.oscar.shop import add_to_basket, checkout

pytestmark = pytest.mark.django_db


class BrokenAdapter(OscarAdapter):
    """Every product fact fails, as a half-migrated catalogue or a typo in an override would."""

    def serialize(self, product):
        raise RuntimeError("broken adapter")

    def price(self, product):
        raise RuntimeError("broken adapter")

    def get_products(self, keys, *, queryset=None):
        raise RuntimeError("broken adapter")

    def product_key(self, product):
        raise RuntimeError("broken adapter")


def test_oscar_defaults_for_personalize_settings(settings):
    assert ps.ADAPTER is OscarAdapter
    assert str(ps.CART_URL) == "/basket/"
    assert ps.EMAIL_FROM == settings.OSCAR_FROM_EMAIL
    assert ps.PRODUCT_MODEL == "catalogue.Product"


def test_the_store_setting_still_wins(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CART_URL": "/my-basket/", "EMAIL_FROM": "team@shop.example"}
    assert ps.CART_URL == "/my-basket/" and ps.EMAIL_FROM == "team@shop.example"


def test_no_warnings_from_the_checks_on_a_configured_store(shop):
    ids = {m.id for m in checks.run_checks(include_deployment_checks=False) if m.id and m.id.startswith("personalize.")}
    assert not ids & {"personalize.W090", "personalize.W091", "personalize.W006", "personalize.E001"}, ids


def test_contrib_after_the_core_app_is_reported(settings):
    apps = [a for a in settings.INSTALLED_APPS if a != "personalize.contrib.oscar"]
    apps.append("personalize.contrib.oscar")
    with override_settings(INSTALLED_APPS=apps):
        from personalize.contrib.oscar.checks import check_oscar

        assert "personalize.W090" in {w.id for w in check_oscar()}


def test_dashboard_links_to_personalize_admin(shop, admin_client):
    html = admin_client.get("/dashboard/").content.decode()
    assert "/admin/personalize/campaign/" in html
    assert "/admin/personalize/segment/" in html


def test_dashboard_hides_the_links_from_staff_without_permission(shop, client, django_user_model):
    staff = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="dashboard_access"))
    client.force_login(staff)
    html = client.get("/dashboard/").content.decode()
    assert "/admin/personalize/campaign/" not in html


def test_a_broken_adapter_never_gives_a_500(shop, shopper_client, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ADAPTER": "tests.oscar.test_config.BrokenAdapter"}
    assert isinstance(get_adapter(), BrokenAdapter)
    product = shop.products[0]
    assert shopper_client.get(product.get_absolute_url()).status_code == 200
    assert add_to_basket(shopper_client, product, 1).status_code == 302
    assert shopper_client.get("/basket/").status_code == 200
    assert shopper_client.get("/search/", {"q": "Product"}).status_code == 200
    assert checkout(shopper_client, guest_email="g@example.com").status_code == 302
    for url in ("/personalize/api/recommendations/recommended_for_you/", f"/personalize/api/recommendations/similar/{product.pk}/"):
        response = shopper_client.get(url)
        assert response.status_code < 500, (url, response.status_code)
