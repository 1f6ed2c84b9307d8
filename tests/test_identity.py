"""Shopper identity: lazy signed cookie, bots, tampering, and the merge on login."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpResponse
from django.test import RequestFactory

import personalize
from personalize import identity
from personalize.conf import personalize_settings as ps
from personalize.models import Cart, Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def signed(key) -> str:
    """The cookie value personalize would set for ``key`` (Django's own signing)."""
    response = HttpResponse()
    response.set_signed_cookie(ps.COOKIE_NAME, str(key), salt=ps.COOKIE_SALT)
    return response.cookies[ps.COOKIE_NAME].value


def unsign(value: str) -> str:
    req = RequestFactory().get("/")
    req.COOKIES[ps.COOKIE_NAME] = value
    return req.get_signed_cookie(ps.COOKIE_NAME, salt=ps.COOKIE_SALT)


def login(client, user):
    """Log in through the real login view (so the user_logged_in signal runs as in a store)."""
    response = client.post("/accounts/login/", {"username": user.username, "password": "pw"})
    assert response.status_code == 302, response.content[:500]
    return response


def view(client, product):
    response = client.get(f"/shop/p/{product.pk}/")
    assert response.status_code == 200
    return response


def test_page_that_tracks_nothing_leaves_no_row_and_no_cookie(client_ua):
    factories.product()
    response = client_ua.get("/shop/")
    assert response.status_code == 200
    assert Shopper.objects.count() == 0
    assert ps.COOKIE_NAME not in response.cookies


def test_bot_never_gets_a_row(client):
    p = factories.product()
    for agent in ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ""):
        response = client.get(f"/shop/p/{p.pk}/", HTTP_USER_AGENT=agent)
        assert response.status_code == 200
        assert ps.COOKIE_NAME not in response.cookies
    assert Shopper.objects.count() == 0 and Event.objects.count() == 0


def test_first_tracked_event_creates_row_and_signed_cookie(client_ua):
    p = factories.product()
    response = view(client_ua, p)
    shopper = Shopper.objects.get()
    morsel = response.cookies[ps.COOKIE_NAME]
    assert morsel.value != str(shopper.key)  # not the bare key: signed
    assert unsign(morsel.value) == str(shopper.key)
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    assert shopper.device == "desktop"
    # The next request finds the same shopper and does not re-issue the cookie.
    response = view(client_ua, p)
    assert Shopper.objects.count() == 1
    assert ps.COOKIE_NAME not in response.cookies
    assert Event.objects.filter(shopper=shopper).count() == 2


@pytest.mark.parametrize("tamper", ["unsigned", "bad-signature", "garbage", "signed-not-uuid", "other-salt"])
def test_tampered_cookie_is_ignored_and_replaced(client_ua, tamper):
    victim = Shopper.objects.create()
    Event.objects.create(shopper=victim, kind="view", product_key="x")
    value = {
        "unsigned": str(victim.key),
        "bad-signature": signed(victim.key)[:-3] + "abc",
        "garbage": "%%%",
        "signed-not-uuid": signed("not-a-uuid"),
        "other-salt": signing.get_cookie_signer(salt="elsewhere").sign(str(victim.key)),
    }[tamper]
    client_ua.cookies[ps.COOKIE_NAME] = value
    response = view(client_ua, factories.product())
    assert Shopper.objects.count() == 2
    fresh = Shopper.objects.exclude(pk=victim.pk).get()
    assert Event.objects.filter(shopper=victim).count() == 1  # nothing written to the victim
    assert unsign(response.cookies[ps.COOKIE_NAME].value) == str(fresh.key)


def test_shopper_is_lazy_and_unsaved_for_new_visitor():
    req = factories.request()
    shopper = identity.get_shopper(req)
    assert shopper.pk is None and isinstance(shopper.key, uuid.UUID)
    assert identity.get_shopper(req) is shopper
    assert Shopper.objects.count() == 0


def test_login_merges_history_and_cart_into_existing_account_profile(client_ua):
    user = factories.user()
    account = Shopper.objects.create(user=user)
    old = factories.product()
    Event.objects.create(shopper=account, kind="view", product_key=str(old.pk))
    a, b = factories.product(price=4), factories.product()
    view(client_ua, a)
    view(client_ua, b)
    browser = Shopper.objects.get(user=None)
    req = factories.request()
    req.COOKIES[ps.COOKIE_NAME] = signed(browser.key)
    personalize.track(req, "add_to_cart", product=a, quantity=2)

    response = login(client_ua, user)

    assert set(Event.objects.filter(shopper=account).values_list("product_key", flat=True)) == {
        str(old.pk), str(a.pk), str(b.pk)
    }
    assert not Event.objects.filter(shopper=browser).exists()
    cart = Cart.objects.get(shopper=account)
    assert cart.product_keys() == [str(a.pk)] and cart.item_count == 2
    browser.refresh_from_db()
    assert browser.merged_into == account
    # The browser now carries the account's profile.
    assert unsign(response.cookies[ps.COOKIE_NAME].value) == str(account.key)
    view(client_ua, b)
    assert Event.objects.filter(shopper=account).count() == 5  # old, a, b, add_to_cart, b


def test_login_adopts_browser_profile_when_account_has_none(client_ua):
    user = factories.user()
    p = factories.product()
    view(client_ua, p)
    browser = Shopper.objects.get()
    login(client_ua, user)
    browser.refresh_from_db()
    assert browser.user == user
    assert Shopper.objects.count() == 1
    view(client_ua, p)
    assert Event.objects.filter(shopper=browser).count() == 2


def test_login_without_prior_history_creates_account_profile_on_first_event(client_ua):
    user = factories.user()
    login(client_ua, user)
    assert Shopper.objects.count() == 0  # nothing tracked yet: still no row
    view(client_ua, factories.product())
    assert Shopper.objects.get().user == user


def test_another_users_browser_profile_is_never_handed_over(client_ua):
    alice, bob = factories.user(), factories.user()
    p, q = factories.product(), factories.product()
    view(client_ua, p)
    login(client_ua, alice)
    alices = Shopper.objects.get(user=alice)
    del client_ua.cookies["sessionid"]  # logged out (or session expired); the personalize cookie stays

    # Anonymous after logout: a fresh profile, not alice's history.
    view(client_ua, q)
    anonymous = Shopper.objects.exclude(pk=alices.pk).get()
    assert anonymous.user is None
    assert list(Event.objects.filter(shopper=alices).values_list("product_key", flat=True)) == [str(p.pk)]

    # Bob logs in on the same browser: the anonymous history follows him, alice's stays hers.
    login(client_ua, bob)
    view(client_ua, q)
    bobs = Shopper.objects.get(user=bob)
    assert bobs.pk != alices.pk
    assert set(Event.objects.filter(shopper=bobs).values_list("product_key", flat=True)) == {str(q.pk)}
    assert Event.objects.filter(shopper=bobs).count() == 2
    assert list(Event.objects.filter(shopper=alices).values_list("product_key", flat=True)) == [str(p.pk)]


def test_cookie_of_another_account_with_no_profile_for_this_one():
    """Bob has no profile; the cookie points at alice's: bob gets a new one, never a clash."""
    alice, bob = factories.user(), factories.user()
    alices = Shopper.objects.create(user=alice)
    req = factories.request(user_obj=bob)
    req.COOKIES[ps.COOKIE_NAME] = signed(alices.key)
    shopper = identity.ensure_shopper(req)
    assert shopper.pk != alices.pk and shopper.user == bob and shopper.key != alices.key


def test_works_with_the_default_user_model():
    assert get_user_model()._meta.label == "auth.User"
    user = factories.user()
    req = factories.request(user_obj=user)
    shopper = identity.ensure_shopper(req)
    assert shopper.user == user and shopper.get_email() == user.email


def test_visit_counted_after_timeout(client_ua):
    from datetime import timedelta

    from django.utils import timezone

    p = factories.product()
    view(client_ua, p)
    Shopper.objects.update(last_seen=timezone.now() - timedelta(minutes=ps.VISIT_TIMEOUT_MINUTES + 1))
    view(client_ua, p)
    assert Shopper.objects.get().visits == 2
