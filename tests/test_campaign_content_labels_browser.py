"""A marketer adding a campaign in headless Chromium sees each content form headed by its variant
and language ("A · polski"), not Django's "#2", and the heading follows a changed choice.
Screenshot in var/screenshots/."""

from __future__ import annotations

import pytest

from tests.browser import browser, login, screenshot  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORE = [("en", "English"), ("pl", "polski"), ("pt", "português")]


def headings(session) -> list[str]:
    from selenium.webdriver.common.by import By

    forms = session.find_elements(By.CSS_SELECTOR, "#contents-group .inline-related:not(.empty-form) .inline_label")
    return [f.text.strip() for f in forms]


def test_new_content_forms_are_headed_by_language(live_server, browser, admin_user, settings):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings.LANGUAGES = STORE
    login(browser, live_server, admin_user)
    browser.get(f"{live_server.url}/admin/personalize/campaign/add/")
    assert headings(browser) == ["A · English", "A · polski", "A · português"]

    Select(browser.find_element(By.ID, "id_contents-2-language")).select_by_value("en")
    variant = browser.find_element(By.ID, "id_contents-2-variant")
    variant.clear()
    variant.send_keys("B")
    assert headings(browser)[2] == "B · English"
    assert not any(h.startswith("#") for h in headings(browser))
    screenshot(browser, "campaign-content-labels")
