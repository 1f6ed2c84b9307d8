"""A marketer writes a placement rule in headless Chromium by picking a product field and a
condition and typing a value: no JSON. Screenshot in var/screenshots/."""

from __future__ import annotations

import pytest

from personalize.models import PlacementRule
from tests.browser import browser, login, screenshot, wait_for  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_a_placement_rule_with_rows(live_server, browser, admin_user):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    login(browser, live_server, admin_user)
    browser.get(f"{live_server.url}/admin/personalize/placementrule/add/")
    browser.find_element(By.ID, "id_name").send_keys("Margin, no gift cards")
    Select(browser.find_element(By.ID, "id_include-0-path")).select_by_value("margin")
    Select(browser.find_element(By.ID, "id_include-0-operator")).select_by_value("gte")
    browser.find_element(By.ID, "id_include-0-value").send_keys("0.2")
    Select(browser.find_element(By.ID, "id_exclude-0-path")).select_by_value("category__name")
    Select(browser.find_element(By.ID, "id_exclude-0-operator")).select_by_value("in")
    browser.find_element(By.ID, "id_exclude-0-value").send_keys("Gift cards, Vouchers")
    screenshot(browser, "placement-rule-rows")
    browser.find_element(By.NAME, "_save").click()
    # The click starts the post; wait for the page it leads to (the list, or the form with its errors).
    wait_for(browser, lambda s: "/add/" not in s.current_url or s.find_elements(By.CSS_SELECTOR, ".errornote, .errorlist"))
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".errornote, .errorlist")]
    assert "/add/" not in browser.current_url, errors
    rule = PlacementRule.objects.get()
    assert (rule.include, rule.exclude) == ({"margin__gte": "0.2"}, {"category__name__in": ["Gift cards", "Vouchers"]})
    assert "Category › name is one of Gift cards, Vouchers" in browser.page_source
    screenshot(browser, "placement-rule-list")
