"""The beacon's shopper remembered per process (identity/remembered.py): a warm post is one
guarded insert, and a stale memory never files events under a row that was erased, merged or
claimed by an account (the insert checks the row; a failed check looks the shopper up again).
Runs on SQLite here and on PostgreSQL in CI's PostgreSQL stage (same tests)."""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from personalize.identity import merge_shoppers, remembered
from personalize.models import Event, Shopper
from personalize.privacy.erasure import erase
from tests import factories

pytestmark = pytest.mark.django_db

# The module (``personalize.caching.local`` the attribute is the layer instance): its clock.
local_module = importlib.import_module("personalize.caching.local")

URL = "/personalize/api/events/"


@pytest.fixture(autouse=True)
def layer_on(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None, "LOCAL_CACHE_SECONDS": 5}


def post(client, events):
    return client.post(URL, json.dumps({"events": events}), content_type="application/json", HTTP_ORIGIN="http://testserver")


def views(product, n=2):
    return [{"kind": "view", "product": str(product.pk), "id": uuid.uuid4().hex} for _ in range(n)]


def statements(captured):
    return [q["sql"].split()[0].upper() for q in captured.captured_queries]


def warm_browser(client):
    """A browser with its cookie and profile, remembered by this process; its shopper and product."""
    product = factories.product()
    assert post(client, views(product, 1)).status_code == 202  # the cookie and the profile
    assert post(client, views(product, 1)).status_code == 202  # looked up by key: remembered
    return Shopper.objects.get(), product


def remember_again(shopper):
    """What another process still holds for this browser after the row changed there."""
    remembered.REMEMBERED.hold(f"k:{shopper.key.hex}", tuple(getattr(shopper, f) for f in remembered._FIELDS))


def test_a_warm_post_is_one_insert_and_stores_the_batch(client_ua):
    shopper, product = warm_browser(client_ua)
    with CaptureQueriesContext(connection) as warm:
        assert post(client_ua, views(product, 20)).json() == {"accepted": 20}
    assert statements(warm) == ["INSERT"]
    assert Event.objects.filter(shopper=shopper).count() == 22


def test_a_retried_batch_is_stored_once_and_counted_as_duplicates(client_ua):
    shopper, product = warm_browser(client_ua)
    batch = views(product, 5)
    assert post(client_ua, batch).json() == {"accepted": 5}
    with CaptureQueriesContext(connection) as retry:
        assert post(client_ua, batch).json() == {"accepted": 0, "duplicates": 5}
    # Nothing written could also mean a changed row: it is looked up, and the ids are stored.
    assert statements(retry) == ["INSERT", "SELECT", "INSERT"]
    assert Event.objects.filter(client_id__in=[e["id"] for e in batch]).count() == 5
    assert Event.objects.count() == 7


def test_an_erasure_in_another_process_never_gets_new_events_under_the_old_id(client_ua):
    shopper, product = warm_browser(client_ua)
    erase(shopper=shopper)
    assert not Shopper.objects.filter(pk=shopper.pk).exists()
    remember_again(shopper)  # another process still remembers the erased row
    assert post(client_ua, views(product, 3)).json() == {"accepted": 3}
    fresh = Shopper.objects.get()
    assert fresh.pk != shopper.pk and Event.objects.filter(shopper=fresh).count() == 3
    assert Event.objects.count() == 3


def test_an_erasure_in_this_process_forgets_the_row(client_ua):
    shopper, product = warm_browser(client_ua)
    erase(shopper=shopper)
    assert remembered.REMEMBERED.held(f"k:{shopper.key.hex}") == (False, None)
    with CaptureQueriesContext(connection) as after:
        assert post(client_ua, views(product, 1)).json() == {"accepted": 1}
    assert statements(after)[0] == "SELECT"  # looked up, not a failed guarded insert first


def test_a_merge_elsewhere_is_followed_and_an_account_keeps_its_profile(client_ua):
    shopper, product = warm_browser(client_ua)
    account = Shopper.objects.create(user=factories.user())
    Shopper.objects.filter(pk=shopper.pk).update(merged_into=account)  # no signal: another process
    assert post(client_ua, views(product, 2)).json() == {"accepted": 2}
    # The browser's profile went into an account and this browser is not logged in: a new one.
    assert Event.objects.filter(shopper__in=[shopper, account], client_id__isnull=False).count() == 2
    newest = Shopper.objects.order_by("-pk").first()
    assert newest.pk not in (shopper.pk, account.pk) and Event.objects.filter(shopper=newest).count() == 2


def test_an_anonymous_merge_elsewhere_moves_the_events_with_the_profile(client_ua):
    shopper, product = warm_browser(client_ua)
    guest = Shopper.objects.create(email="guest@example.com")
    Shopper.objects.filter(pk=shopper.pk).update(merged_into=guest)
    assert post(client_ua, views(product, 2)).json() == {"accepted": 2}
    assert Event.objects.filter(shopper=guest).count() == 2
    assert Event.objects.filter(shopper=shopper).count() == 2  # the two of warm_browser


def test_a_profile_claimed_by_an_account_elsewhere_is_not_fed_by_the_next_person(client_ua):
    shopper, product = warm_browser(client_ua)
    Shopper.objects.filter(pk=shopper.pk).update(user=factories.user())
    assert post(client_ua, views(product, 1)).json() == {"accepted": 1}
    assert Event.objects.filter(shopper=shopper).count() == 2


def test_a_login_or_merge_in_this_process_forgets_the_rows(client_ua):
    shopper, _product = warm_browser(client_ua)
    user = factories.user()
    remembered.REMEMBERED.hold(f"u:{user.pk}", ("stale",))
    browser = Shopper.objects.get(pk=shopper.pk)
    browser.user = user
    browser.save(update_fields=["user"])  # what attach_user does when the account has no profile yet
    assert remembered.REMEMBERED.held(f"k:{shopper.key.hex}") == (False, None)
    assert remembered.REMEMBERED.held(f"u:{user.pk}") == (False, None)
    other = Shopper.objects.create()
    remembered.REMEMBERED.hold(f"k:{other.key.hex}", ("stale",))
    merge_shoppers(other, browser)
    assert remembered.REMEMBERED.held(f"k:{other.key.hex}") == (False, None)


def test_a_logged_in_shopper_is_remembered_by_account_and_checked_by_it(client_ua):
    user = factories.user()
    client_ua.force_login(user)
    product = factories.product()
    assert post(client_ua, views(product, 1)).status_code == 202
    assert post(client_ua, views(product, 1)).status_code == 202
    account = Shopper.objects.get(user=user)
    hit, values = remembered.REMEMBERED.held(f"u:{user.pk}")
    assert hit and values[0] == account.pk
    with CaptureQueriesContext(connection) as warm:
        assert post(client_ua, views(product, 2)).json() == {"accepted": 2}
    assert "INSERT" in statements(warm)
    assert not [q for q in warm.captured_queries if q["sql"].startswith("SELECT") and 'FROM "personalize_shopper"' in q["sql"]]
    Shopper.objects.filter(pk=account.pk).update(user=None)  # the account lost it elsewhere
    with CaptureQueriesContext(connection) as changed:
        assert post(client_ua, views(product, 1)).json() == {"accepted": 1}
    # The guarded insert wrote nothing; the shopper was looked up again (by account, then by
    # the cookie's key, which now names an anonymous row) and the batch went where that says.
    first_insert = statements(changed).index("INSERT")
    assert [q for q in changed.captured_queries[first_insert:] if 'FROM "personalize_shopper"' in q["sql"]]
    assert statements(changed).count("INSERT") == 2
    assert Event.objects.filter(shopper=account).count() == 5


def test_the_memory_is_not_extended_and_keeps_the_touched_time(client_ua, monkeypatch):
    product = factories.product()
    assert post(client_ua, views(product, 1)).status_code == 202
    Shopper.objects.update(last_seen=timezone.now() - timedelta(minutes=10))
    with CaptureQueriesContext(connection) as looked_up:
        assert post(client_ua, views(product, 1)).status_code == 202
    assert statements(looked_up) == ["SELECT", "INSERT", "UPDATE"]  # lookup, batch, touch
    with CaptureQueriesContext(connection) as warm:
        assert post(client_ua, views(product, 1)).status_code == 202
    assert statements(warm) == ["INSERT"]  # remembered after the touch: no UPDATE per post
    clock = local_module.time.monotonic() + remembered.REMEMBER_SECONDS + 1
    monkeypatch.setattr(local_module.time, "monotonic", lambda: clock)
    with CaptureQueriesContext(connection) as later:
        assert post(client_ua, views(product, 1)).status_code == 202
    assert statements(later)[0] == "SELECT"  # REMEMBER_SECONDS after the lookup: looked up again


def test_without_consent_nothing_is_recalled_or_stored(client_ua, settings):
    shopper, product = warm_browser(client_ua)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "CONSENT_REQUIRED": True}  # and no consent cookie
    response = post(client_ua, views(product, 2))
    assert response.status_code == 204
    assert Event.objects.count() == 2


def test_off_with_the_in_process_layer(client_ua, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    product = factories.product()
    for _ in range(2):
        assert post(client_ua, views(product, 1)).status_code == 202
    with CaptureQueriesContext(connection) as warm:
        assert post(client_ua, views(product, 1)).status_code == 202
    assert statements(warm)[:1] == ["SELECT"]


def test_a_warm_post_does_not_check_the_cookie_signature_again_and_a_tampered_one_is_refused(client_ua, monkeypatch, settings):
    shopper, product = warm_browser(client_ua)
    checked = []
    real = remembered.read_cookie_key
    monkeypatch.setattr(remembered, "read_cookie_key", lambda request: checked.append(1) or real(request))
    assert post(client_ua, views(product, 1)).json() == {"accepted": 1}
    assert checked == []  # this exact signed value was verified by this process before
    name = settings.PERSONALIZE.get("COOKIE_NAME", "personalize_id")
    tampered = client_ua.cookies[name].value[:-2] + "xx"
    client_ua.cookies[name] = tampered
    assert post(client_ua, views(product, 1)).json() == {"accepted": 1}
    assert checked  # checked, failed, and never held as verified
    assert remembered.VERIFIED_COOKIES.held(f"{remembered.ps.COOKIE_SALT}:{tampered}") == (False, None)
    assert Event.objects.filter(shopper=shopper).count() == 3  # the tampered cookie's went elsewhere
    assert Shopper.objects.count() == 2
