"""The consent banner in headless Chromium: accepting hides it without a reload (consent.js),
sets the consent cookie, and tracking starts on the next page. Screenshots in var/screenshots/."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

import personalize
from personalize.models import Event
from tests import factories
from tests.browser import browser, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

PAGE = engines["django"].from_string(
    """{% load personalize %}<!doctype html><html lang="en"><head><title>shop</title></head><body>
<h1>Shop</h1>{% recently_viewed %}{% personalize_consent %}</body></html>"""
)


def page(request):
    from tests.testshop.models import Product

    for product in Product.objects.all():
        personalize.track(request, "view", product=product)
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [path("personalize/", include("personalize.urls")), path("page/", page)]


def test_accepting_in_the_banner_needs_no_reload(live_server, browser, settings):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": True, "CONSENT_POLICY_URL": "/privacy/"}
    factories.product(name="Lamp")
    browser.get(f"{live_server.url}/page/")
    banner = browser.find_element(By.CSS_SELECTOR, "[data-personalize-consent]")
    assert banner.is_displayed()
    screenshot(browser, "consent-banner")
    assert not Event.objects.exists()
    assert browser.get_cookie("personalize_id") is None
    browser.execute_script("window.__noReload = true;")
    browser.find_element(By.CSS_SELECTOR, "button[value=accept]").click()
    WebDriverWait(browser, 10).until(lambda b: not banner.is_displayed())
    assert browser.execute_script("return window.__noReload === true;")  # the same page, no reload
    assert browser.get_cookie("personalize_consent")["value"] == "granted"
    browser.get(f"{live_server.url}/page/")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-personalize-consent]")
    assert Event.objects.filter(kind="view").count() == 1
    assert browser.get_cookie("personalize_id") is not None


def test_declining_with_the_keyboard(live_server, browser, settings):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": True}
    factories.product()
    browser.get(f"{live_server.url}/page/")
    decline = browser.find_element(By.CSS_SELECTOR, "button[value=decline]")
    decline.send_keys(Keys.ENTER)  # reachable and usable without a mouse
    WebDriverWait(browser, 10).until(lambda b: b.get_cookie("personalize_consent") is not None)
    assert browser.get_cookie("personalize_consent")["value"] == "denied"
    browser.get(f"{live_server.url}/page/")
    assert not Event.objects.exists() and browser.get_cookie("personalize_id") is None
