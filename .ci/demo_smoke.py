"""Smoke test of the demo shop as ``make demo`` serves it (run by .ci/run against runserver).

Browses like a shopper: the home page asks for consent (no shopper cookie yet) and the visitor
accepts in the banner; the home page lists products, three product pages open, and the home page
then shows exactly those three in the ``recently_viewed`` widget, and still shows them after
logging in as a demo user (issue 2's definition of done).
Usage: python .ci/demo_smoke.py http://127.0.0.1:8799
"""

from __future__ import annotations

import http.cookiejar
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
WIDGET = 'data-personalize-widget="recently_viewed"'
LOGIN_PATH = "/account/login/"
USER, PASSWORD = "alice", "demo"  # an account load_demo_data creates
CONSENT = "data-personalize-consent"
CONSENT_ACTION = "/personalize/consent/"


def submit_form(opener, base: str, html: str, action: str, fields: dict) -> bool:
    """POST the form of ``html`` whose action is ``action`` (its CSRF token and hidden fields)."""
    form = re.search(r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S)
    if form is None:
        return False
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[1]))
    data.update(fields)
    request = urllib.request.Request(base + action, urllib.parse.urlencode(data).encode(), headers={"Referer": base + "/"})
    with opener.open(request, timeout=30) as response:
        return response.status == 200


class WidgetItems(HTMLParser):
    """The ``data-product-id`` values inside the element marked ``data-personalize-widget=name``."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name, self.depth, self.items = name, 0, []

    @classmethod
    def read(cls, html: str, name: str) -> list[str]:
        parser = cls(name)
        parser.feed(html)
        return parser.items

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if self.depth == 0 and attributes.get("data-personalize-widget") != self.name:
            return
        if attributes.get("data-product-id"):
            self.items.append(attributes["data-product-id"])
        if tag not in self.VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if self.depth:
            self.handle_starttag("br", attrs)  # self-closing: never changes the depth

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1


def main(base: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", BROWSER_UA)]

    def get(path: str) -> str:
        with opener.open(base + path, timeout=30) as response:
            if response.status != 200:
                raise AssertionError(f"GET {path}: HTTP {response.status}")
            return response.read().decode()

    deadline = time.monotonic() + 60
    while True:  # runserver needs a moment to come up
        try:
            home = get("/")
            break
        except (urllib.error.URLError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                print(f"demo smoke: the server never answered: {exc}")
                return 1
            time.sleep(0.5)

    before = WidgetItems.read(home, "recently_viewed")
    if before:
        print(f"demo smoke: a brand-new visitor already has {len(before)} recently viewed products")
        return 1
    # Consent is required by default: accept in the banner, as a person clicking "Accept" would.
    if CONSENT not in home:
        print("demo smoke: no consent banner for a brand-new visitor")
        return 1
    if any(cookie.name == "personalize_id" for cookie in jar):
        print("demo smoke: the shopper cookie was set before consent")
        return 1
    if not submit_form(opener, base, home, CONSENT_ACTION, {"choice": "accept"}):
        print("demo smoke: the consent banner's form could not be submitted")
        return 1
    home = get("/")
    if CONSENT in home:
        print("demo smoke: the consent banner is still shown after accepting")
        return 1
    products = list(dict.fromkeys(re.findall(r'href="(/products/[\w-]+/)', home)))
    if len(products) < 3:
        print(f"demo smoke: the home page links {len(products)} product pages, expected at least 3")
        return 1
    for path in products[:3]:
        get(path)
    home = get("/")
    if WIDGET not in home:
        print("demo smoke: no recently_viewed widget on the home page after viewing three products")
        return 1
    viewed = set(WidgetItems.read(home, "recently_viewed"))
    if len(viewed) != 3:
        print(f"demo smoke: recently_viewed shows {len(viewed)} products after viewing three")
        return 1

    # Logging in keeps the history made before it (the anonymous profile merges into the account's).
    form = get(LOGIN_PATH)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    if token is None:
        print(f"demo smoke: no CSRF token in the form at {LOGIN_PATH}")
        return 1
    data = urllib.parse.urlencode({"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": token[1]})
    request = urllib.request.Request(base + LOGIN_PATH, data.encode(), headers={"Referer": base + LOGIN_PATH})
    with opener.open(request, timeout=30) as response:
        if urllib.parse.urlsplit(response.url).path == LOGIN_PATH:
            print(f"demo smoke: logging in as {USER}/{PASSWORD} failed (still on the login page)")
            return 1
    after = set(WidgetItems.read(get("/"), "recently_viewed"))
    if not viewed <= after:
        print(f"demo smoke: after logging in, recently_viewed lost {sorted(viewed - after)}")
        return 1
    print(f"demo smoke: home, 3 product pages, recently_viewed {sorted(viewed)}, kept after logging in as {USER}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/")))
