"""Headless Chromium driven through Selenium (Debian's chromium + chromium-driver), for tests that
click, type and take screenshots. Skips with a reason when either is missing, except under CI=true.

Screenshots land in ``var/screenshots/`` (a CI artefact): look at them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import factories

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def driver(width: int = 1280, height: int = 1000):
    """A new headless Chromium session (the caller quits it)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    binary = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    chromedriver = shutil.which("chromedriver")
    if binary is None or chromedriver is None:
        _missing("headless Chromium or chromedriver not installed (apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                f"--user-agent={factories.BROWSER_UA}", "--lang=en"):
        options.add_argument(arg)
    options.binary_location = binary
    return webdriver.Chrome(options=options, service=Service(chromedriver))


@pytest.fixture
def browser() -> Iterator:
    session = driver()
    try:
        yield session
    finally:
        session.quit()


def login(session, live_server, user) -> None:
    """Log ``user`` in by handing the browser a session cookie (no login form to fill)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session.get(f"{live_server.url}/static-missing-on-purpose/")  # a page on the domain, to set a cookie
    session.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "path": "/"})


def wait_for(session, condition, timeout: float = 15):
    """Wait until ``condition(session)`` is truthy (a page loading after a click, a script's answer)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(session, timeout).until(lambda s: condition(s))


def screenshot(session, name: str) -> Path:
    """Save the whole page as ``var/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = session.execute_script("return Math.max(document.body.scrollHeight, 800)")
    session.set_window_size(1280, min(int(height) + 40, 4000))
    path = SCREENSHOTS / f"{name}.png"
    session.save_screenshot(str(path))
    return path
