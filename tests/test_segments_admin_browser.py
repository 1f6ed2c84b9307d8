"""A marketer builds a segment in the admin in headless Chromium without typing JSON: picks rule
types, fills their fields (a country code, a category picked with the select2 search, "2 weeks"),
watches the live count follow, saves, and re-opens it with the category's name shown.
Screenshots in var/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from personalize.models import Event, Segment, Shopper
from tests import factories
from tests.browser import browser, login, screenshot, wait_for  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def count_shown(session) -> str | None:
    from selenium.webdriver.common.by import By

    found = session.find_elements(By.CSS_SELECTOR, "#segment-preview-body [data-segment-count]")
    return found[0].get_attribute("data-segment-count") if found else None


def test_build_a_segment_with_rule_forms(live_server, browser, admin_user):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    hoodies, _mugs = factories.category("Hoodies"), factories.category("Mugs")
    hoodie = factories.product(name="Grey hoodie", category=hoodies)
    now = timezone.now()
    for i in range(4):  # four German shoppers; two of them viewed a hoodie last week
        shopper = Shopper.objects.create(visits=3, country="DE")
        if i < 2:
            Event.objects.create(shopper=shopper, kind="view", product_key=str(hoodie.pk), created_at=now - timedelta(days=6))
    Shopper.objects.create(visits=3, country="FR")

    login(browser, live_server, admin_user)
    browser.get(f"{live_server.url}/admin/personalize/segment/add/")
    browser.find_element(By.ID, "id_name").send_keys("German hoodie fans")

    # Rule 1: country. The country fieldset appears once the type is chosen.
    Select(browser.find_element(By.ID, "id_rules-0-kind")).select_by_value("country")
    countries = browser.find_element(By.ID, "id_rules-0-params-country-countries")
    assert countries.is_displayed()
    assert not browser.find_element(By.ID, "id_rules-0-params-cart_value-amount").is_displayed()
    countries.send_keys("de")
    browser.find_element(By.ID, "id_name").click()  # blur: a change event
    wait_for(browser, lambda s: count_shown(s) == "4")

    # Rule 2: viewed a category, picked by name in the select2 search, in the last 2 weeks.
    browser.find_element(By.CSS_SELECTOR, "#rules-group .add-row a").click()
    Select(browser.find_element(By.ID, "id_rules-1-kind")).select_by_value("viewed")
    Select(browser.find_element(By.ID, "id_rules-1-params-viewed-target")).select_by_value("category")
    picker = browser.find_element(By.CSS_SELECTOR, "#rules-1 .field-key .select2-selection")
    picker.click()
    search = wait_for(browser, lambda s: s.find_element(By.CSS_SELECTOR, ".select2-container--open .select2-search__field"))
    search.send_keys("hood")
    # The results are re-rendered as the search answers: wait for "Hoodies" alone, then Enter.
    wait_for(browser, lambda s: [o.text for o in s.find_elements(By.CSS_SELECTOR, ".select2-results__option")] == ["Hoodies"])
    search.send_keys(Keys.ENTER)
    days = browser.find_element(By.ID, "id_rules-1-params-viewed-days_0")
    days.clear()
    days.send_keys("2")
    Select(browser.find_element(By.ID, "id_rules-1-params-viewed-days_1")).select_by_value("weeks")
    wait_for(browser, lambda s: count_shown(s) == "2")
    assert "Hoodies" in browser.find_element(By.CSS_SELECTOR, "#rules-1 .field-key").text
    screenshot(browser, "segment-rule-forms")

    browser.find_element(By.NAME, "_continue").click()
    wait_for(browser, lambda s: "/change/" in s.current_url)
    segment = Segment.objects.get(name="German hoodie fans")
    rules = list(segment.rules.order_by("position", "pk").values_list("kind", "params"))
    assert rules[0] == ("country", {"countries": ["DE"]})
    assert rules[1][0] == "viewed"
    assert rules[1][1] == {"target": "category", "key": str(hoodies.pk), "min_count": 1, "days": 14}
    assert list(segment.rules.order_by("pk").values_list("position", flat=True)) == [0, 1]  # the added row goes last

    # Re-opened: the stored key shows as the category's name, days as "2 weeks", count 2.
    assert count_shown(browser) == "2"
    key_field = browser.find_element(By.CSS_SELECTOR, "#rules-1 .field-key")
    assert "Hoodies" in key_field.text and str(hoodies.pk) not in key_field.text
    assert browser.find_element(By.ID, "id_rules-1-params-viewed-days_0").get_attribute("value") == "2"
    assert Select(browser.find_element(By.ID, "id_rules-1-params-viewed-days_1")).first_selected_option.get_attribute("value") == "weeks"
    assert not browser.find_element(By.ID, "id_rules-1-params-country-countries").is_displayed()
    screenshot(browser, "segment-rule-forms-reopened")
    browser.get(f"{live_server.url}/admin/personalize/segment/")
    assert "Viewed category “Hoodies”" in browser.find_element(By.ID, "result_list").text


def test_an_error_shows_on_its_field_and_rfm_explains_its_buckets(live_server, browser, admin_user):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    login(browser, live_server, admin_user)
    browser.get(f"{live_server.url}/admin/personalize/segment/add/")
    browser.find_element(By.ID, "id_name").send_keys("Big carts")
    Select(browser.find_element(By.ID, "id_rules-0-kind")).select_by_value("cart_value")
    amount = browser.find_element(By.ID, "id_rules-0-params-cart_value-amount")
    amount.send_keys("-5")
    browser.find_element(By.CSS_SELECTOR, "#rules-group .add-row a").click()
    Select(browser.find_element(By.ID, "id_rules-1-kind")).select_by_value("rfm")
    assert "at least 3 orders" in browser.find_element(By.CSS_SELECTOR, '#rules-1 [data-rule-kind="rfm"]').text
    browser.find_element(By.NAME, "_save").click()
    row = wait_for(browser, lambda s: s.find_element(By.CSS_SELECTOR, "#rules-0 .field-amount.errors"))
    assert "greater than or equal to 0" in row.text
    assert row.is_displayed() and not Segment.objects.exists()
    # The page sent back with the error still says why nothing can be counted yet.
    wait_for(browser, lambda s: "Complete the rules" in s.find_element(By.ID, "segment-preview-body").text)
    screenshot(browser, "segment-rule-forms-error")
