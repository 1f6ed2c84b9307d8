"""Campaign and offer admin: validation as form errors, results page with a chart, impact page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from personalize.campaigns.forms import CampaignForm, OfferForm
from personalize.models import Campaign, CampaignAssignment, Offer
from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def offer_data(**overrides) -> dict:
    data = {
        "name": "Spring",
        "discount_type": "percent",
        "value": "10",
        "min_cart_value": "0",
        "scope": "all",
        "scope_keys": "",
        "code_mode": "shared",
        "code": "SPRING",
        "code_prefix": "",
        "code_valid_days": "14",
        "uses_per_shopper": "1",
        "is_active": "on",
        "created_at": timezone.now().strftime("%Y-%m-%d %H:%M:%S"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_valid_offer_form_saves():
    form = OfferForm(data=offer_data())
    assert form.is_valid(), form.errors
    assert form.save().code == "SPRING"


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"value": "120"}, "value", "cannot be over 100"),
        ({"discount_type": "amount", "value": "-5"}, "value", "greater than or equal to 0"),
        ({"value": "0"}, "value", "how much the discount is"),
        ({"min_cart_value": "-1"}, "min_cart_value", "greater than or equal to 0"),
        ({"discount_type": "none", "value": "0"}, "free_shipping", "must give free shipping"),
        ({"code": ""}, "code", "Enter the shared code"),
        ({"scope": "categories", "scope_keys": ""}, "scope_keys", "Name the categories"),
        ({"scope": "products", "scope_keys": "not-a-key"}, "scope_keys", "Not product ids"),
        ({"scope": "products", "scope_keys": "2b1e5d7c-84c4-4b6e-9d55-5d8f1c3a0f11"}, "scope_keys", "No such products"),
    ],
)
def test_offer_form_errors(overrides, field, message):
    form = OfferForm(data=offer_data(**overrides))
    assert not form.is_valid()
    assert message in " ".join(form.errors.get(field, [])), form.errors


def test_offer_form_product_scope_accepts_real_keys():
    a, b = factories.product(), factories.product()
    form = OfferForm(data=offer_data(scope="products", scope_keys=f"{a.pk}, {b.pk}\n{a.pk}"))
    assert form.is_valid(), form.errors
    assert form.save().scope_keys == [str(a.pk), str(b.pk)]


def campaign_data(**overrides) -> dict:
    data = {
        "name": "Spring banner",
        "placement": "home_banner",
        "is_active": "on",
        "priority": "0",
        "default_language": "en",
        "starts_at": "2026-05-01 10:00:00",
        "ends_at": "2026-05-08 10:00:00",
        "personal_minutes": "0",
        "min_product_views": "0",
        "frequency_cap": "0",
        "frequency_hours": "24",
        "control_percent": "10",
    }
    data.update(overrides)
    return data


def test_campaign_form_valid():
    form = CampaignForm(data=campaign_data())
    assert form.is_valid(), form.errors


def test_campaign_form_end_before_start():
    form = CampaignForm(data=campaign_data(ends_at="2026-04-30 10:00:00"))
    assert not form.is_valid()
    assert "The end must be after the start." in form.errors["ends_at"]


def test_campaign_form_control_share_and_countdown():
    form = CampaignForm(data=campaign_data(control_percent="95", show_countdown="on", ends_at=""))
    assert not form.is_valid()
    assert "control_percent" in form.errors and "show_countdown" in form.errors


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def admin_post_data(**overrides) -> dict:
    data = {
        "name": "Spring banner",
        "placement": "home_banner",
        "is_active": "on",
        "priority": "0",
        "default_language": "en",
        "starts_at_0": "2026-05-01",
        "starts_at_1": "10:00:00",
        "ends_at_0": "2026-05-08",
        "ends_at_1": "10:00:00",
        "personal_minutes": "0",
        "min_product_views": "0",
        "frequency_cap": "0",
        "frequency_hours": "24",
        "control_percent": "10",
        "contents-TOTAL_FORMS": "1",
        "contents-INITIAL_FORMS": "0",
        "contents-MIN_NUM_FORMS": "1",
        "contents-MAX_NUM_FORMS": "1000",
        "contents-0-variant": "A",
        "contents-0-language": "en",
        "contents-0-headline": "Spring sale",
        "contents-0-link": "/sale/",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_campaign(admin_client):
    response = admin_client.post(reverse("admin:personalize_campaign_add"), admin_post_data())
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    campaign = Campaign.objects.get()
    assert campaign.contents.get().headline == "Spring sale"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ends_at_0": "2026-04-01"}, "The end must be after the start."),
        ({"contents-0-link": "javascript:alert(1)"}, "Enter a path starting with /"),
        ({"contents-0-language": "de"}, "Every variant needs content in the default language"),
        ({"contents-0-variant": "control"}, "reserved for the control group"),
    ],
)
def test_admin_rejects_bad_campaigns_with_a_form_error(admin_client, overrides, message):
    with override_settings(LANGUAGES=[("en", "English"), ("de", "German")]):
        response = admin_client.post(reverse("admin:personalize_campaign_add"), admin_post_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Campaign.objects.exists()


def test_admin_offer_percent_over_100_is_a_form_error(admin_client):
    data = offer_data(value="150")
    data.update({"valid_from_0": "", "valid_from_1": "", "valid_until_0": "", "valid_until_1": ""})
    response = admin_client.post(reverse("admin:personalize_offer_add"), data)
    assert response.status_code == 200 and "A percentage cannot be over 100." in response.content.decode()
    assert not Offer.objects.filter(name="Spring").exists()


def test_campaign_page_shows_results_table_but_no_lift_without_data(admin_client):
    campaign = factories.campaign(headline="Tested", control_percent=50)
    for arm, value in (("A", Decimal("40")), ("A", None), ("control", Decimal("10")), ("control", None)):
        s = Shopper.objects.create()
        CampaignAssignment.objects.create(campaign=campaign, shopper=s, arm=arm, impressions=0 if arm == "control" else 3)
        if value:  # bought after seeing it: counts for the arm's revenue
            Event.objects.create(shopper=s, kind="purchase", value=value)
    response = admin_client.get(reverse("admin:personalize_campaign_change", args=[campaign.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not enough data yet: a verdict needs 100 shoppers in each arm (the smaller has 2)" in html
    assert "Control group: 50% of eligible shoppers" in html
    # Two shoppers per arm: no interval, p-value or chart pretending to be a result.
    assert 'id="campaign-results-chart"' not in html and "data-personalize-lift" not in html
    assert "Revenue per shopper" in html and "20.00" in html  # 40 over 2 shoppers
    assert response.context["result_rows"][0]["conversions"] == 1


def test_impact_page(admin_client):
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "HOLDOUT_PERCENT": 50}):
        for _ in range(20):
            s = Shopper.objects.create()
            Event.objects.create(shopper=s, kind="purchase", value=Decimal("25"))
        response = admin_client.get(reverse("admin:personalize_campaign_impact") + "?days=7")
        html = response.content.decode()
        assert response.status_code == 200
        assert "Personalisation impact" in html
        # 20 shoppers split in two: the arms are shown, but no chart or interval before the data is there.
        assert "Not enough data yet" in html and 'id="impact-chart"' not in html
        results = response.context["results"]
        assert sum(a.shoppers for a in results.arms) == 20
        assert all(a.revenue_per_shopper == 25 for a in results.arms if a.shoppers)


def test_impact_page_needs_permission(client):
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:personalize_campaign_impact")).status_code == 403


@pytest.mark.parametrize(
    "overrides, check_id",
    [
        ({"CAMPAIGN_CONFIDENCE": 95}, "personalize.E030"),
        ({"ATTRIBUTION_WINDOW_HOURS": -1}, "personalize.E031"),
        ({"CAMPAIGN_MIN_SAMPLE": 1}, "personalize.E031"),
        ({"FREE_SHIPPING_THRESHOLD": "lots"}, "personalize.E032"),
    ],
)
def test_system_checks_report_bad_campaign_settings(overrides, check_id):
    from personalize.campaigns.checks import check_campaigns

    assert not check_campaigns()
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", **overrides}):
        assert check_id in {e.id for e in check_campaigns()}


def test_missing_click_route_is_a_warning_and_links_still_work():
    from django.template import Context, Template

    from personalize.campaigns.checks import check_campaigns

    factories.campaign(contents=[{"variant": "A", "headline": "Go", "link": "/sale/"}])
    with override_settings(ROOT_URLCONF="tests.testshop.urls"):
        assert "personalize.W030" in {e.id for e in check_campaigns()}
        req = factories.shopper_request(Shopper.objects.create())
        html = Template('{% load personalize %}{% personalized_content "home_banner" %}').render(Context({"request": req}))
    assert 'href="/sale/"' in html


def test_admin_lists_and_forms_render(admin_client):
    campaign = factories.campaign(offer=factories.offer())
    for name in ("campaign", "offer", "offercode", "redemption"):
        assert admin_client.get(reverse(f"admin:personalize_{name}_changelist")).status_code == 200
    for name in ("campaign", "offer"):
        assert admin_client.get(reverse(f"admin:personalize_{name}_add")).status_code == 200
    html = admin_client.get(reverse("admin:personalize_campaign_changelist")).content.decode()
    assert campaign.name in html and "live" in html and "Personalisation impact" in html


def test_admin_pause_action_invalidates_the_cache(admin_client):
    from personalize.campaigns import selection

    campaign = factories.campaign(headline="Soon paused")
    assert selection.load_campaigns("home_banner")
    admin_client.post(
        reverse("admin:personalize_campaign_changelist"), {"action": "pause", "_selected_action": [campaign.pk]}
    )
    campaign.refresh_from_db()
    assert not campaign.is_active and selection.load_campaigns("home_banner") == []


def test_new_campaign_content_starts_in_the_store_language(admin_client, settings):
    settings.LANGUAGE_CODE = "pt"
    html = admin_client.get(reverse("admin:personalize_campaign_add")).content.decode()
    assert '<option value="pt" selected>' in html
