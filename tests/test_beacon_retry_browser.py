"""beacon.js keeps what the server did not acknowledge and sends it again, exactly once stored.

In a real headless Chromium against a live server whose event endpoint misbehaves first: the
first post is stored but answered 503 (the answer was lost on the way back), the second is
answered 429 without reaching the view. beacon.js must keep the batch in localStorage, retry
with backoff, and the server's client ids must store each event once. At the end nothing waits
in localStorage.
"""

from __future__ import annotations

import itertools

import pytest
from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from personalize.api.views import EventBatchView
from personalize.models import Event
from tests.test_beacon_browser import run_chromium

pytestmark = [pytest.mark.browser, pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

PAGE = engines["django"].from_string(
    """{% load static %}<!doctype html><html><head><title>start</title></head><body>
<script src="{% static 'personalize/beacon.js' %}" data-endpoint="/flaky-events/"></script>
<script>
  setTimeout(function () {
    personalize.track("search", {query: "kettle"});
    personalize.track("search", {query: "teapot"});
    personalize.flush();
  }, 200);
  // After the retries (2 s, then 4 s of backoff): how many events still wait in localStorage.
  setTimeout(function () {
    var left = JSON.parse(window.localStorage.getItem("personalize:unsent") || "[]").length;
    document.title = "left " + left;
  }, 10000);
</script>
</body></html>"""
)

real_view = EventBatchView.as_view()
answers: list[int] = []
_calls = itertools.count()


@csrf_exempt
def flaky_events(request):
    """1st post: stored, then answered 503. 2nd: 429 without storing. Then the real answer."""
    call = next(_calls)
    if call == 0:
        real_view(request)
        answers.append(503)
        return JsonResponse({"detail": "upstream lost"}, status=503)
    if call == 1:
        answers.append(429)
        return JsonResponse({"detail": "slow down"}, status=429)
    response = real_view(request)
    answers.append(response.status_code)
    return response


def page(request):
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("personalize/", include("personalize.urls")),
    path("flaky-events/", flaky_events),
    path("retry-page/", page),
]


@pytest.fixture(autouse=True)
def _fresh_counter(settings):
    global _calls
    _calls = itertools.count()
    answers.clear()
    # No consent step in this page: the store has consent off (tests/settings.py), cookieless
    # first contact answers "resend" once the cookie is set.
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": False}


def test_unacknowledged_batches_are_retried_and_stored_once(live_server, tmp_path):
    dom = run_chromium(f"{live_server.url}/retry-page/", tmp_path)

    assert "<title>left 0</title>" in dom, (answers, dom[-800:])
    assert answers[:2] == [503, 429], answers
    assert any(code in (200, 202) for code in answers[2:]), answers
    stored = sorted(Event.objects.filter(kind="search").values_list("query", flat=True))
    assert stored == ["kettle", "teapot"], (answers, stored)  # each once, though sent three times
