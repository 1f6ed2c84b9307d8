"""The marketer's forms and model pages in headless Chromium: a campaign's content form per store
language, a flow's subjects per language, a model version's tables and chart, and the dashboard's
model table inside its card. Screenshots in var/screenshots/ (look at them)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from personalize.emails.defaults import ABANDONED_SLUG
from personalize.models import Event, Flow, ModelVersion, Shopper
from tests import factories
from tests.browser import browser, login, screenshot  # noqa: F401 - browser is a fixture
from tests.test_admin_model_versions import METRICS, PARAMS
from tests.test_email_report_credits import emailed_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE = [("en", "English"), ("id", "Indonesian"), ("sr", "Serbian"), ("sr-latn", "Serbian (Latin)"), ("pl", "Polish"),
         ("pt", "Portuguese"), ("tr", "Turkish"), ("nl", "Dutch")]


def selected_languages(session, prefix: str) -> list[str]:
    return session.execute_script(
        "return Array.from(document.querySelectorAll('select[name^=\"' + arguments[0] + '\"][name$=\"-language\"]'))"
        ".filter(s => !s.name.includes('__prefix__')).map(s => s.value);",
        prefix,
    )


def test_campaign_and_flow_forms_per_language_and_the_model_pages(live_server, browser, settings):  # noqa: F811
    settings.LANGUAGES = STORE
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRICE_FORMAT": "€{amount}"}
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    login(browser, live_server, admin)

    # A campaign written in English so far: one content form per missing language, each preselected.
    campaign = factories.campaign("home_banner", headline="Spring sale: 10% off")
    browser.get(live_server.url + reverse("admin:personalize_campaign_change", args=[campaign.pk]))
    assert selected_languages(browser, "contents-") == ["en", "id", "sr", "sr-latn", "pl", "pt", "tr", "nl"]
    assert browser.find_element("name", "default_language").get_attribute("value") == "en"
    screenshot(browser, "admin-campaign-languages")

    # A flow step's subject: one labelled box per store language, the catalogue's text as placeholder.
    flow = Flow.objects.get(slug=ABANDONED_SLUG)
    browser.get(live_server.url + reverse("admin:personalize_flow_change", args=[flow.pk]))
    boxes = browser.find_elements("css selector", "input[name^='steps-0-subject_translations_']")
    assert [b.get_attribute("name").rsplit("_", 1)[1] for b in boxes] == ["id", "sr", "sr-latn", "pl", "pt", "tr", "nl"]
    assert boxes[3].get_attribute("placeholder") == "Coś zostało w Twoim koszyku"
    assert browser.find_elements("css selector", "textarea[name='steps-0-subject_translations']") == []
    screenshot(browser, "admin-flow-subjects")

    # A model version: tables (not JSON) and its chart among the recommender's versions.
    older = ModelVersion.objects.create(alias="default", status="ready", params=PARAMS,
                                        metrics={**METRICS, "model": {**METRICS["model"], "ndcg@10": 0.61}})
    version = ModelVersion.objects.create(alias="default", status="active", is_active=True, params=PARAMS, metrics=METRICS,
                                          n_events=12840, n_shoppers=930, n_products=60, training_seconds=4.2)
    browser.get(live_server.url + reverse("admin:personalize_modelversion_change", args=[version.pk]))
    assert len(browser.find_elements("css selector", "table.pz-model-table")) == 4
    assert "NO_COMPONENTS" in browser.page_source and '{"NO_COMPONENTS"' not in browser.page_source
    size = browser.execute_script("var c = document.getElementById('pz-version-chart'); return c ? [c.width, c.height] : null;")
    assert size and size[0] > 0 and size[1] > 0
    screenshot(browser, "admin-model-version")

    # The dashboard's model table stays inside its card (it used to push past the page).
    shopper = Shopper.objects.create()
    now = timezone.now()
    for model in (older, version):
        Event.objects.create(shopper=shopper, kind="impression", product_key="1", created_at=now - timedelta(hours=1),
                             context={"placement": "home_for_you_with_a_long_name", "model_version": str(model.pk), "variant": "A"})
    browser.set_window_size(900, 1000)
    browser.get(live_server.url + reverse("admin:personalize_campaign_dashboard"))
    measure = (
        "var card = document.querySelector('[data-card=models]'); var r = card.getBoundingClientRect();"
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, r.right];"
    )

    def fits(session) -> bool:  # Chart.js resizes its canvases a frame after the window: let it settle
        width, viewport, right = session.execute_script(measure)
        return width <= viewport and right <= viewport

    deadline = time.monotonic() + 5
    while not fits(browser) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not fits(browser):
        wide = browser.execute_script(
            "return Array.from(document.querySelectorAll('#content *'))"
            ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth).slice(0, 8)"
            ".map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right));"
        )
        pytest.fail(f"the dashboard is wider than the window: {browser.execute_script(measure)} {wide}")
    screenshot(browser, "admin-dashboard-models")


def test_chart_axes_write_money_the_store_way(live_server, browser, settings):  # noqa: F811
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PRICE_FORMAT": "€{amount}"}
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    login(browser, live_server, admin)
    emailed_order("O-1", "1280.00")
    browser.get(live_server.url + reverse("admin:personalize_flow_report") + "?days=7")
    ticks = browser.execute_script(
        "var chart = Chart.getChart(document.getElementById('email-report-chart'));"
        "return chart ? chart.scales.revenue.ticks.map(function (t) { return t.label; }) : null;"
    )
    assert ticks and all(str(label).startswith("€") for label in ticks), ticks
    assert "€1,280.00" in browser.page_source
    screenshot(browser, "admin-email-report")
