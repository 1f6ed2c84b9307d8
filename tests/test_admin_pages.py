"""Every personalize admin page a marketer can open renders (no 500), with data present."""

import pytest
from django.contrib import admin
from django.urls import reverse

import personalize
from tests import factories

pytestmark = pytest.mark.django_db


def personalize_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items() if model._meta.app_label == "personalize"]


def test_there_are_personalize_admins():
    names = {model._meta.model_name for model, _admin in personalize_admins()}
    assert {"shopper", "event", "cart", "segment", "campaign", "offer", "flow", "modelversion"} <= names


@pytest.mark.parametrize("view", ["changelist", "add"])
def test_every_admin_page_renders(admin_client, view):
    product = factories.product()
    request = factories.request()
    personalize.track(request, "view", product=product)
    personalize.track(request, "add_to_cart", product=product)
    opened = 0
    for model, model_admin in personalize_admins():
        opts = model._meta
        if view == "add" and not model_admin.has_add_permission(_superuser_request(admin_client)):
            continue
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}")
        response = admin_client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        opened += 1
    assert opened >= 5


def _superuser_request(admin_client):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="admin")
    return request


@pytest.mark.parametrize(("raw", "days"), [("7", 7), ("90", 90), ("", 30), ("abc", 30), ("5", 30), (None, 30)])
def test_report_pages_accept_only_offered_periods(rf, raw, days):
    from personalize.admin.periods import report_days

    request = rf.get("/", {"days": raw} if raw is not None else {})
    assert report_days(request) == days
