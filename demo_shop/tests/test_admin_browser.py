"""The marketer's admin pages in headless Chromium on demo data: the dashboard, the impact page,
a campaign's results and a shopper's timeline render, their charts draw, and screenshots are saved
in var/screenshots/ (look at them)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from personalize.models import Campaign, Redemption
from tests.browser import browser, login, screenshot  # noqa: F401 - browser is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_result_pages_on_demo_data(live_server, browser, settings):  # noqa: F811
    settings.PERSONALIZE = {**settings.PERSONALIZE, "HOLDOUT_PERCENT": 10}
    call_command("load_demo_data", products=60, shoppers=1200, no_images=True, stdout=open("/dev/null", "w"))
    admin = get_user_model().objects.get(username="admin")
    login(browser, live_server, admin)

    browser.get(live_server.url + reverse("admin:personalize_campaign_dashboard") + "?days=90")
    assert "Is personalisation paying off?" in browser.title
    drawn = browser.execute_script(
        "return Array.from(document.querySelectorAll('canvas')).map(c => [c.id, c.width, c.height]);"
    )
    assert {"pz-attributed", "pz-ctr"} <= {c[0] for c in drawn} and all(w > 0 and h > 0 for _id, w, h in drawn)
    screenshot(browser, "admin-dashboard")

    browser.get(live_server.url + reverse("admin:personalize_campaign_impact") + "?days=90")
    screenshot(browser, "admin-impact")
    campaign = Campaign.objects.get(name="First visit: 10% off")
    browser.get(live_server.url + reverse("admin:personalize_campaign_change", args=[campaign.pk]))
    assert "Credited to this campaign" in browser.page_source
    screenshot(browser, "admin-campaign-results")
    shopper = Redemption.objects.filter(shopper__isnull=False).first().shopper
    browser.get(live_server.url + reverse("admin:personalize_shopper_change", args=[shopper.pk]))
    assert "credited to: Offer code redeemed" in browser.page_source
    screenshot(browser, "admin-shopper-timeline")
