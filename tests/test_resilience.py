"""Never lose an event, fail fast on a dead cache (issue 12a).

The cache outages are real: a Django ``RedisCache`` pointed at a port nothing listens on, and
at a listener that accepts connections and never answers.
"""

from __future__ import annotations

import json
import socket
import threading
from decimal import Decimal

import pytest
from django.core.checks import run_checks
from django.dispatch import receiver
from django.test import RequestFactory

import personalize
from personalize.caching import breaker as breakers
from personalize.caching import cache
from personalize.identity.agent import agent_is_bot, client_ip, client_network
from personalize.models import Cart, Event, Shopper
from personalize.signals import event_tracked
from tests import factories

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BlackHole:
    """Accepts TCP connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self.thread.join(1)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def _redis_caches(port: int) -> dict:
    return {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }


@pytest.fixture
def refused_cache(settings):
    """personalize's cache (and Django's) on a Redis port nothing listens on."""
    settings.CACHES = _redis_caches(_free_port())
    yield
    breakers.reset()


@pytest.fixture
def black_hole(settings):
    hole = BlackHole()
    settings.CACHES = _redis_caches(hole.port)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CACHE_SOCKET_TIMEOUT_SECONDS": 0.2, "CACHE_CONNECT_TIMEOUT_SECONDS": 0.2}
    yield hole
    breakers.reset()
    hole.close()


# --- never lose an event -----------------------------------------------------------------------


def test_a_failing_receiver_never_undoes_the_event(client_ua, django_capture_on_commit_callbacks):
    calls = []

    @receiver(event_tracked, weak=False, dispatch_uid="tests.resilience.broken")
    def broken(sender, event, **kwargs):
        calls.append(event.kind)
        raise RuntimeError("a store's listener has a bug")

    try:
        request = factories.request()
        product = factories.product()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            event = personalize.track(request, "view", product=product)
        assert event is not None and Event.objects.filter(pk=event.pk).exists()
        assert calls == ["view"] and len(callbacks) == 1  # it ran, after the commit, and failed alone
    finally:
        event_tracked.disconnect(dispatch_uid="tests.resilience.broken")


def test_receivers_do_not_run_for_a_rolled_back_transaction(django_capture_on_commit_callbacks):
    from django.db import transaction

    seen = []

    @receiver(event_tracked, weak=False, dispatch_uid="tests.resilience.seen")
    def remember(sender, event, **kwargs):
        seen.append(event.kind)

    try:
        shopper = Shopper.objects.create()
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            with transaction.atomic():
                personalize.track_for(shopper, "search", query="boots")
                raise RuntimeError("the store's order failed")
        assert seen == [] and not Event.objects.filter(kind="search").exists()
    finally:
        event_tracked.disconnect(dispatch_uid="tests.resilience.seen")


def test_purchase_and_cart_are_written_with_the_cache_refusing(refused_cache, django_capture_on_commit_callbacks):
    product = factories.product(price=Decimal("12.50"))
    request = factories.request()
    with django_capture_on_commit_callbacks(execute=True):
        cart = personalize.update_cart(request, [(product, 2)])
        event = personalize.track(request, "purchase", lines=[{"product": product, "quantity": 2}], order_ref="R-1")
    assert cart is not None and event is not None
    assert Event.objects.filter(kind="purchase", order_ref="R-1").exists()
    assert Cart.objects.get(shopper=event.shopper).lines == []  # the purchase emptied it: no abandoned-cart email


def test_beacon_and_read_api_answer_with_the_cache_refusing(refused_cache, client_ua):
    product = factories.product()
    answer = client_ua.post(
        "/personalize/api/events/",
        json.dumps({"events": [{"kind": "view", "product": str(product.pk)}]}),
        content_type="application/json",
        HTTP_ORIGIN="http://testserver",
    )
    assert answer.status_code == 202, answer.content
    assert Event.objects.filter(kind="view", product_key=str(product.pk)).count() == 1
    read = client_ua.get("/personalize/api/recommendations/", {"placement": "trending"})
    assert read.status_code == 200, read.content


def test_throttle_falls_back_to_an_in_process_limit_without_the_cache(refused_cache, client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": "3/min"}
    product = factories.product()
    body = json.dumps({"events": [{"kind": "view", "product": str(product.pk)}]})
    post = client_ua.post("/personalize/api/events/", body, content_type="application/json", HTTP_ORIGIN="http://testserver")
    assert post.status_code == 202  # counted against the address: the browser had no cookie yet
    codes = [
        client_ua.post("/personalize/api/events/", body, content_type="application/json", HTTP_ORIGIN="http://testserver").status_code
        for _ in range(5)
    ]
    assert codes[:3] == [202, 202, 202] and codes[3:] == [429, 429]


# --- fail fast ------------------------------------------------------------------------------------


def test_a_black_holed_cache_is_asked_once_then_skipped(black_hole):
    assert cache().get("anything", "neutral") == "neutral"  # waited for one read timeout
    assert breakers.breaker().is_open
    connections = len(black_hole.accepted)
    for _ in range(50):  # skipped: no new connection, no waiting
        assert cache().get("anything", "neutral") == "neutral"
        cache().set("anything", 1)
        assert cache().get_many(["a", "b"]) == {}
    assert len(black_hole.accepted) == connections


def test_breaker_opens_skips_probes_once_and_closes():
    now = [0.0]
    breaker = breakers.CircuitBreaker(failures=2, reset_seconds=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.record_failure(OSError("refused"))
    assert breaker.allow() and not breaker.is_open  # one failure of two
    breaker.record_failure(OSError("refused"))
    assert breaker.is_open and not breaker.allow()
    now[0] = 10.5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one caller probes
    breaker.record_failure(OSError("still down"))
    assert breaker.is_open and not breaker.allow()
    now[0] = 21.0
    assert breaker.allow()
    breaker.record_success()
    assert not breaker.is_open and breaker.allow()


def test_timeouts_are_added_only_where_the_store_set_none():
    options = breakers.timeout_options("django.core.cache.backends.redis.RedisCache", {"socket_timeout": 2}, 0.25, 0.5)
    assert options == {"socket_timeout": 2, "socket_connect_timeout": 0.25}
    assert breakers.timeout_options("django_redis.cache.RedisCache", {}, 0.25, 0.5) == {
        "SOCKET_CONNECT_TIMEOUT": 0.25,
        "SOCKET_TIMEOUT": 0.5,
    }
    assert breakers.timeout_options("some.unknown.Backend", {}, 0.25, 0.5) is None
    backend = breakers.build_backend("default", connect=0.1, read=0.1)
    assert backend is not None


def test_missing_key_incr_is_not_a_cache_failure():
    assert cache().incr("personalize:tests:missing") is None
    assert not breakers.breaker().is_open


@pytest.mark.redis
def test_real_redis_through_the_guard(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    try:
        cache().set("personalize:tests:guard", {"a": 1}, 30)
        assert cache().get("personalize:tests:guard") == {"a": 1}
        assert cache().get_many(["personalize:tests:guard"]) == {"personalize:tests:guard": {"a": 1}}
        assert not breakers.breaker().is_open
        cache().delete("personalize:tests:guard")
    finally:
        breakers.reset()


# --- who is a bot, where a request comes from -----------------------------------------------------

AUTOMATED = [
    "python-httpx/0.27.0", "Go-http-client/1.1", "axios/1.6.8", "okhttp/4.12.0", "Scrapy/2.11.2 (+https://scrapy.org)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "WhatsApp/2.23.20.0 A",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "python-requests/2.32.3", "curl/8.5.0", "Wget/1.21.4", "Java/17.0.2", "Apache-HttpClient/4.5.14 (Java/17.0.8)",
    "PostmanRuntime/7.36.1", "aiohttp/3.9.5", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "",
]  # fmt: skip
PEOPLE = [
    factories.BROWSER_UA,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
]


@pytest.mark.parametrize("agent", AUTOMATED)
def test_automated_agents_are_bots(agent):
    assert agent_is_bot(agent)


@pytest.mark.parametrize("agent", PEOPLE)
def test_browsers_are_people(agent):
    assert not agent_is_bot(agent)


def test_store_patterns_extend_the_list(settings):
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0 AcmeQA/1.0"
    assert not agent_is_bot(agent)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "BOT_PATTERNS": ["acmeqa/"]}
    assert agent_is_bot(agent)


def test_client_address_ignores_forwarded_for_unless_proxies_are_declared(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2"  # nobody said there is a proxy: the header is the client's
    settings.PERSONALIZE = {**settings.PERSONALIZE, "NUM_PROXIES": 1}
    assert client_ip(request) == "203.0.113.9"  # what our proxy saw, not what the client wrote
    assert client_network(request) == "203.0.113.0/24"
    settings.PERSONALIZE = {**settings.PERSONALIZE, "NUM_PROXIES": 5}
    assert client_ip(request) == "6.6.6.6"
    garbage = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(garbage) == "10.0.0.2"


def test_system_checks_run_with_the_cache_down(refused_cache):
    run_checks()  # no check may need the cache to answer


# --- checks ---------------------------------------------------------------------------------------


def _ids(**kwargs) -> set[str]:
    return {m.id for m in run_checks(**kwargs) if m.id and m.id.startswith("personalize.W10")}


def test_cache_without_timeouts_is_reported(settings):
    settings.CACHES = _redis_caches(6379)
    assert "personalize.W100" in _ids()
    settings.CACHES = {
        "default": {**_redis_caches(6379)["default"], "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}
    }
    assert "personalize.W100" not in _ids()


def test_deploy_checks(settings):
    settings.DEBUG = False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SITE_URL": "http://localhost:8000", "COOKIE_SECURE": False}
    assert {"personalize.W101", "personalize.W102", "personalize.W103"} <= _ids(include_deployment_checks=True)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SITE_URL": "https://shop.example", "COOKIE_SECURE": True, "NUM_PROXIES": 1}
    assert not {"personalize.W101", "personalize.W102", "personalize.W103"} & _ids(include_deployment_checks=True)


def test_demo_refuses_debug_off_with_the_public_key(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_DEBUG": "0", "DEMO_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "demo_shop.settings"}
    env.pop("DJANGO_SECRET_KEY", None)
    run = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "DJANGO_SECRET_KEY" in run.stderr
