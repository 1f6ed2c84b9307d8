"""``{% personalize_fragment %}``: pages a shared cache (Django's cache middleware, a CDN) may keep,
their personal lists filled per shopper from one batched, private endpoint; and the inline way
(private + Vary: Cookie). One shopper's widgets never reach another, either way."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.urls import include, path

import personalize
from personalize import signing
from personalize.models import Shopper
from personalize.widgets import fragments
from tests.factories import BROWSER_UA
from tests.factories import request as factories_request
from tests.placements_helpers import configure, ids, in_cart, keys, products, render, shopper_request

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

FRAGMENT_PAGE = engines["django"].from_string(
    "{% load personalize %}<main>"
    "{% personalize_fragment 'recommended_for_you' limit=3 %}"
    "{% personalize_fragment 'similar_products' product=product limit=2 title='Like this' %}"
    "</main>"
)
INLINE_PAGE = engines["django"].from_string("{% load personalize %}<main>{% recommended_for_you limit=3 %}</main>")
TOKENS = re.compile(r'data-fragment-token="([^"]+)"')


def fragment_page(request):
    from tests.testshop.models import Product

    product = Product.objects.order_by("name").last()
    return HttpResponse(FRAGMENT_PAGE.render({"product": product}, request))


def inline_page(request):
    return HttpResponse(INLINE_PAGE.render({}, request))


def add_to_cart(request, pk):
    from tests.testshop.models import Product

    product = Product.objects.get(pk=pk)
    personalize.update_cart(request, [{"product": str(product.pk), "quantity": 1, "price": str(product.price)}])
    return HttpResponse("ok")


urlpatterns = [
    path("personalize/", include("personalize.urls")),
    path("shop/", include("tests.testshop.urls")),
    path("fragment-page/", fragment_page),
    path("inline-page/", inline_page),
    path("cart/<uuid:pk>/", add_to_cart),
]


@pytest.fixture
def catalogue(settings):
    items = products(10)
    items.sort(key=lambda p: p.name)
    configure(settings, items=items, CONSENT_REQUIRED=False)
    return items


@pytest.fixture
def cached_site(settings):
    """Behind Django's whole-site cache middleware (a CDN behaves the same for these headers)."""
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    settings.CACHE_MIDDLEWARE_SECONDS = 300


def fill(client: Client, page_html: str):
    """What beacon.js does: one GET with every placeholder's token, in page order."""
    query = urlencode([("f", token) for token in TOKENS.findall(page_html)])
    return client.get(f"/personalize/fragments/?{query}")


def test_a_fragment_page_is_the_same_neutral_page_for_everyone_and_shared_by_the_cache(catalogue, cached_site):
    alice, bob = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    assert alice.get(f"/cart/{catalogue[0].pk}/").status_code == 200  # Alice's list leaves it out
    first = alice.get("/fragment-page/")
    html = first.content.decode()
    # The neutral lists, with the widget conventions, inside their placeholders.
    assert html.count("data-personalize-fragment=") == 2 and html.count("data-fragment-pending") == 2
    assert 'data-personalize-widget="recommended_for_you"' in html and 'data-personalize-widget="similar_products"' in html
    assert ids(html)[:3] == keys(catalogue[:3])  # a new visitor's "for you": Alice's cart is not in it
    # Nothing personal: no cookie set, nothing marking it private, no Vary on the cookie.
    assert not first.cookies and "private" not in first.get("Cache-Control", "")
    assert "Cookie" not in first.get("Vary", "")
    # The cache middleware keeps it and hands the very same bytes to Bob.
    second = bob.get("/fragment-page/")
    assert second.content == first.content
    assert not second.cookies


def test_one_batched_request_fills_every_fragment_per_shopper_and_is_never_shared(catalogue, cached_site):
    alice, bob = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    alice.get(f"/cart/{catalogue[0].pk}/")
    page = alice.get("/fragment-page/").content.decode()

    mine = fill(alice, page)
    assert mine.status_code == 200
    assert "private" in mine["Cache-Control"] and "Cookie" in mine["Vary"]
    for_you, similar = mine.json()["fragments"]
    assert str(catalogue[0].pk) not in ids(for_you)  # in Alice's cart
    assert len(ids(for_you)) == 3 and 'data-personalize-widget="recommended_for_you"' in for_you
    assert "Like this" in similar and str(catalogue[-1].pk) not in ids(similar)  # the page's product
    assert not set(ids(for_you)) & set(ids(similar))  # one page: no product twice

    # Bob asks the same URL right after, through the same cache middleware: his own lists.
    theirs = fill(bob, page)
    bob_for_you = theirs.json()["fragments"][0]
    assert str(catalogue[0].pk) in ids(bob_for_you)
    assert theirs.content != mine.content


def test_the_fragment_endpoint_refuses_bad_tokens_with_400(catalogue):
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    assert client.get("/personalize/fragments/").status_code == 400
    bad = client.get("/personalize/fragments/?f=not-a-token")
    assert bad.status_code == 400 and "not valid" in bad.json()["detail"]
    foreign = signing.sign("rec_click", {"k": "1"})  # another kind's token
    assert client.get(f"/personalize/fragments/?f={foreign}").status_code == 400
    unknown = signing.sign("fragment", {"w": "delete_everything", "a": {}})
    assert client.get(f"/personalize/fragments/?f={unknown}").status_code == 400
    many = urlencode([("f", fragments.fragment_token("trending", {}))] * (fragments.MAX_FRAGMENTS + 1))
    assert client.get(f"/personalize/fragments/?{many}").status_code == 400


def test_a_failing_fragment_answers_null_so_the_page_keeps_its_neutral_list(catalogue, monkeypatch):
    client = Client(HTTP_USER_AGENT=BROWSER_UA)
    page = client.get("/fragment-page/").content.decode()

    def broken(*args, **kwargs):
        raise RuntimeError("recommender down")

    monkeypatch.setattr("personalize.widgets.recommendations.recommend_for", broken)
    answer = fill(client, page)
    assert answer.status_code == 200 and answer.json()["fragments"] == [None, None]


def test_a_failing_neutral_list_renders_an_empty_placeholder_not_an_error(catalogue, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("recommender down")

    monkeypatch.setattr("personalize.widgets.fragments.recommend_for", broken)
    html = Client(HTTP_USER_AGENT=BROWSER_UA).get("/fragment-page/").content.decode()
    assert html.count("data-personalize-fragment=") == 2 and ids(html) == []


def test_inline_widgets_make_the_page_private_and_the_cache_never_shares_it(catalogue, cached_site):
    alice, bob = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    alice.get(f"/cart/{catalogue[0].pk}/")
    mine = alice.get("/inline-page/")
    assert "private" in mine["Cache-Control"] and "Cookie" in mine["Vary"]
    assert str(catalogue[0].pk) not in ids(mine.content)
    theirs = bob.get("/inline-page/")
    assert str(catalogue[0].pk) in ids(theirs.content)  # rendered for Bob, not Alice's copy


def test_the_neutral_list_reads_no_shopper_even_with_a_cookie(catalogue, settings, django_assert_num_queries):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}  # the shipped bound
    shopper = Shopper.objects.create()
    in_cart(shopper, catalogue[0])
    request = shopper_request(shopper)
    render("{% personalize_fragment 'trending' limit=3 %}", request=request)  # cards, stock check
    with django_assert_num_queries(0):
        html = render("{% personalize_fragment 'trending' limit=3 %}", request=request)
    assert ids(html) == keys(catalogue[:3])  # the cart is not read: the same list for everyone
    assert "_personalize_shopper" not in vars(request) and not getattr(request, "_personalize_personal", False)


def test_an_unknown_fragment_or_argument_renders_nothing(catalogue):
    assert render("{% personalize_fragment 'no_such_widget' %}", shopper=None).strip() == ""
    assert render("{% personalize_fragment 'trending' colour='red' %}", shopper=None).strip() == ""


def test_the_same_list_renders_once_per_process(catalogue, settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    calls = []
    real = fragments.render_widget.__globals__["render_to_string"]

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr("personalize.widgets.render.render_to_string", counting)
    first = render("{% personalize_fragment 'trending' limit=3 %}", shopper=None)
    second = render("{% personalize_fragment 'trending' limit=3 %}", shopper=None)
    # The placeholder's token is signed per render (its timestamp may cross a second); the list is not.
    unsigned = [re.sub(r'data-fragment-token="[^"]*"', "", html) for html in (first, second)]
    assert len(calls) == 1 and unsigned[0] == unsigned[1] and len(ids(first)) == 3
    # A saved product is a new catalogue generation: rendered again, with the new title.
    catalogue[0].name = "Renamed"
    catalogue[0].save()
    assert "Renamed" in render("{% personalize_fragment 'trending' limit=3 %}", shopper=None)
    assert len(calls) == 2


def test_widget_html_cache_off_renders_every_time(catalogue, settings, monkeypatch):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5, "WIDGET_HTML_CACHE": False}
    calls = []
    real = fragments.render_widget.__globals__["render_to_string"]
    monkeypatch.setattr(
        "personalize.widgets.render.render_to_string", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    render("{% trending limit=3 %}", shopper=None)
    render("{% trending limit=3 %}", shopper=None)
    assert len(calls) == 2


def test_a_shopper_specific_exclusion_changes_the_cached_html(catalogue, settings):
    """The HTML cache is keyed by the shown products: Alice's cart still leaves her list."""
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    alice, bob = Shopper.objects.create(), Shopper.objects.create()
    in_cart(alice, catalogue[0])
    assert ids(render("{% trending limit=3 %}", shopper=bob)) == keys(catalogue[:3])
    assert ids(render("{% trending limit=3 %}", shopper=alice)) == keys(catalogue[1:4])
    assert ids(render("{% trending limit=3 %}", shopper=bob)) == keys(catalogue[:3])


RECENT_PAGE = engines["django"].from_string("{% load personalize %}<main>{% personalize_fragment 'recently_viewed' limit=4 %}</main>")


def test_recently_viewed_as_a_fragment_is_empty_in_the_page_and_each_shoppers_own_when_filled(catalogue, cached_site):
    from personalize.models import Event

    alice, bob = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    alice.get(f"/cart/{catalogue[0].pk}/")  # Alice gets her cookie (and a shopper row)
    shopper = Shopper.objects.get()
    for product in catalogue[3:5]:
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    html = RECENT_PAGE.render({}, factories_request())
    assert 'data-personalize-fragment="recently_viewed"' in html and ids(html) == []
    token = TOKENS.findall(html)[0]
    mine = alice.get(f"/personalize/fragments/?f={token}").json()["fragments"][0]
    assert set(ids(mine)) == {str(p.pk) for p in catalogue[3:5]}
    theirs = bob.get(f"/personalize/fragments/?f={token}").json()["fragments"][0]
    assert theirs is not None and ids(theirs) == []  # nothing viewed: empty, not a failure


def test_with_the_shipped_process_caches_filled_fragments_stay_each_shoppers_own(catalogue, settings, cached_site):
    """The rendered-list and candidate caches are on (LOCAL_CACHE_SECONDS as shipped): Alice's
    filled fragments (her cart left out, her recently viewed) never come back to Bob for the
    same tokens from the same process, nor hers to a visitor without a cookie."""
    from personalize.conf import personalize_settings as ps
    from personalize.models import Event

    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    alice, bob, anonymous = (Client(HTTP_USER_AGENT=BROWSER_UA) for _ in range(3))
    alice.get(f"/cart/{catalogue[0].pk}/")
    bob.get(f"/cart/{catalogue[1].pk}/")
    alice_row = Shopper.objects.get(key=alice.cookies[ps.COOKIE_NAME].value.split(":")[0])
    for product in catalogue[3:6]:
        Event.objects.create(shopper=alice_row, kind="view", product_key=str(product.pk))
    tokens = TOKENS.findall(alice.get("/fragment-page/").content.decode())
    tokens += TOKENS.findall(RECENT_PAGE.render({}, factories_request()))
    query = urlencode([("f", token) for token in tokens])
    for _ in range(2):  # the second round is served from the process caches
        mine = alice.get(f"/personalize/fragments/?{query}").json()["fragments"]
        theirs = bob.get(f"/personalize/fragments/?{query}").json()["fragments"]
        nobody = anonymous.get(f"/personalize/fragments/?{query}").json()["fragments"]
        assert set(ids(mine[2])) == {str(p.pk) for p in catalogue[3:6]}
        assert ids(theirs[2]) == [] and ids(nobody[2]) == []
        assert str(catalogue[0].pk) not in ids(mine[0]) and str(catalogue[0].pk) in ids(theirs[0])
        assert str(catalogue[1].pk) in ids(mine[0]) and str(catalogue[1].pk) not in ids(theirs[0])
        assert ps.COOKIE_NAME not in anonymous.cookies  # a fragment request never hands out a shopper
