"""The header search box completes what the shopper types (headless Chromium): debounced requests,
suggestions that start like the typed text (none for nonsense), keyboard to pick one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from demo_shop.catalog.models import Brand, Category, Product
from tests.browser import browser, screenshot  # noqa: F401 - browser is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def suggestions(session) -> list[str]:
    return [li.text for li in session.find_elements(By.CSS_SELECTOR, ".personalize-suggest li")]


def test_typing_completes_and_the_keyboard_picks(live_server, browser, settings):  # noqa: F811
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}
    category = Category.objects.create(slug="coffee", name="Coffee", position=0)
    brand = Brand.objects.create(slug="bean", name="Bean")
    for title in ("Espresso Machine Pro", "Espresso Beans 1kg", "Headlamp 300", "Sleeping Bag"):
        Product.objects.create(slug=title.lower().replace(" ", "-"), title=title, category=category, brand=brand,
                               price=Decimal("20.00"), stock=5, is_active=True)
    browser.get(live_server.url + "/")
    box = browser.find_element(By.ID, "q")
    assert box.get_attribute("role") == "combobox"
    box.send_keys("espr")
    WebDriverWait(browser, 10).until(lambda s: suggestions(s))
    shown = suggestions(browser)
    assert shown and all("espresso" in s.lower() for s in shown), shown
    assert box.get_attribute("aria-expanded") == "true"
    screenshot(browser, "shop-search-suggestions")
    box.send_keys(Keys.ARROW_DOWN)
    active = browser.find_element(By.CSS_SELECTOR, '.personalize-suggest li[aria-selected="true"]')
    assert box.get_attribute("aria-activedescendant") == active.get_attribute("id")
    picked = active.text
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda s: "q=" in s.current_url)
    assert browser.find_element(By.ID, "q").get_attribute("value") == picked

    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("zzzqqq")
    WebDriverWait(browser, 10).until(lambda s: s.find_element(By.ID, "q").get_attribute("aria-expanded") == "false")
    assert suggestions(browser) == []
