"""``{% recently_viewed %}``: content, order, fixed query cost, markup, overriding, failures."""

import re
from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.template import Context, Template
from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db

ITEM_IDS = re.compile(r'data-product-id="([^"]+)"')


def ids(html) -> list[str]:
    if isinstance(html, bytes):
        html = html.decode()
    return ITEM_IDS.findall(html)


def cookie_for(shopper) -> str:
    response = HttpResponse()
    response.set_signed_cookie(ps.COOKIE_NAME, str(shopper.key), salt=ps.COOKIE_SALT)
    return response.cookies[ps.COOKIE_NAME].value


def viewed(shopper, products, *, start=None):
    """Views in the given order, one second apart (the last is the newest)."""
    start = start or timezone.now() - timedelta(hours=1)
    for i, product in enumerate(products):
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk), created_at=start + timedelta(seconds=i))


def render(shopper, template="{% load personalize %}{% recently_viewed limit=limit %}", **context):
    req = factories.request()
    req.COOKIES[ps.COOKIE_NAME] = cookie_for(shopper)
    return Template(template).render(Context({"request": req, **context}))


def test_newest_first_deduplicated_and_uuid_keys():
    shopper = Shopper.objects.create()
    a, b, c = factories.product(), factories.product(), factories.product()
    viewed(shopper, [a, b, a, c, b])
    html = render(shopper, limit=8)
    assert ids(html) == [str(b.pk), str(c.pk), str(a.pk)]
    assert all(len(key) == 36 and key.count("-") == 4 for key in ids(html))  # UUIDs


def test_excludes_the_product_on_the_page():
    shopper = Shopper.objects.create()
    a, b = factories.product(), factories.product()
    viewed(shopper, [a, b])
    assert ids(render(shopper, limit=8, product=b)) == [str(a.pk)]


def test_out_of_stock_inactive_and_deleted_are_hidden_and_do_not_shorten_the_list():
    shopper = Shopper.objects.create()
    keep = [factories.product() for _ in range(3)]
    sold_out, inactive, deleted = factories.product(stock=0), factories.product(is_active=False), factories.product()
    viewed(shopper, [keep[0], keep[1], keep[2], sold_out, inactive, deleted])
    deleted.delete()
    assert ids(render(shopper, limit=3)) == [str(p.pk) for p in reversed(keep)]


def test_limit_is_respected():
    shopper = Shopper.objects.create()
    products = [factories.product() for _ in range(6)]
    viewed(shopper, products)
    assert ids(render(shopper, limit=2)) == [str(products[5].pk), str(products[4].pk)]


# Cold: the shopper (from the cookie), the segment definitions and their rules (once per process:
# the profile's segment features), the profile's events (the viewed keys come from them, shared
# with the page's other widgets), the keys-only stock check, the cards' rows.
RECENTLY_VIEWED_QUERIES = 6
# Warm (cards cached, stock checked within LOCAL_CACHE_SECONDS): the shopper (its profile is cached).
RECENTLY_VIEWED_WARM_QUERIES = 1


@pytest.mark.parametrize("limit", [4, 40])
def test_fixed_number_of_queries_whatever_the_limit(django_assert_num_queries, limit, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}  # the shipped bound
    shopper = Shopper.objects.create()
    products = [factories.product() for _ in range(45)]
    viewed(shopper, products)
    with django_assert_num_queries(RECENTLY_VIEWED_QUERIES):
        html = render(shopper, limit=limit)
    assert len(ids(html)) == limit
    with django_assert_num_queries(RECENTLY_VIEWED_WARM_QUERIES):
        assert ids(render(shopper, limit=limit)) == ids(html)


def test_markup_carries_widget_and_item_attributes():
    shopper = Shopper.objects.create()
    p = factories.product(name="Blue <kettle>")
    viewed(shopper, [p])
    html = render(shopper, limit=4)
    assert 'data-personalize-widget="recently_viewed"' in html
    assert f'data-product-id="{p.pk}"' in html
    assert 'data-placement="recently_viewed"' in html
    assert "Blue &lt;kettle&gt;" in html  # escaped
    assert f'href="/shop/p/{p.pk}/"' in html


def test_nothing_viewed_renders_nothing():
    assert render(Shopper.objects.create(), limit=4).strip() == ""
    req = factories.request()  # a new visitor: unsaved shopper, no query needed
    assert Template("{% load personalize %}{% recently_viewed %}").render(Context({"request": req})).strip() == ""


def test_template_is_overridable(tmp_path, settings):
    override = tmp_path / "personalize" / "widgets"
    override.mkdir(parents=True)
    (override / "recently_viewed.html").write_text(
        '<ol data-personalize-widget="recently_viewed">{% for item in items %}<li data-product-id="{{ item.id }}">'
        "MINE {{ item.title }}</li>{% endfor %}</ol>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    shopper = Shopper.objects.create()
    p = factories.product(name="Teapot")
    viewed(shopper, [p])
    assert f'<li data-product-id="{p.pk}">MINE Teapot</li>' in render(shopper, limit=4)


def test_title_argument():
    shopper = Shopper.objects.create()
    viewed(shopper, [factories.product()])
    html = render(shopper, template='{% load personalize %}{% recently_viewed limit=2 title="Seen lately" %}')
    assert "<h2>Seen lately</h2>" in html


def test_failure_renders_nothing_and_logs(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("personalize.widgets.history.recently_viewed_keys", broken)
    shopper = Shopper.objects.create()
    viewed(shopper, [factories.product()])
    with caplog.at_level("ERROR", logger="personalize"):
        html = render(shopper, template="<p>{% load personalize %}{% recently_viewed %}</p>")
    assert html == "<p></p>"
    assert "recently_viewed" in caplog.text and "database on fire" in caplog.text


# --- end to end through the test shop ---------------------------------------------------------


def test_end_to_end_views_then_home_then_login(client_ua):
    user = factories.user()
    a, b, c = factories.product(), factories.product(), factories.product()
    for p in (a, b, c):
        assert client_ua.get(f"/shop/p/{p.pk}/").status_code == 200
    # On c's page, c itself is not listed.
    assert ids(client_ua.get(f"/shop/p/{c.pk}/").content) == [str(b.pk), str(a.pk)]
    home = client_ua.get("/shop/")
    assert 'data-personalize-widget="recently_viewed"' in home.content.decode()
    assert ids(home.content) == [str(c.pk), str(b.pk), str(a.pk)]

    response = client_ua.post("/accounts/login/", {"username": user.username, "password": "pw"})
    assert response.status_code == 302
    assert ids(client_ua.get("/shop/").content) == [str(c.pk), str(b.pk), str(a.pk)]
    assert Shopper.objects.get(user=user).events.filter(kind="view").count() == 4

    # Another browser logging into the same account sees the same history.
    other = type(client_ua)(HTTP_USER_AGENT=factories.BROWSER_UA)
    other.post("/accounts/login/", {"username": user.username, "password": "pw"})
    assert ids(other.get("/shop/").content) == [str(c.pk), str(b.pk), str(a.pk)]


@pytest.mark.parametrize(
    "language, title",
    [("id", "Baru saja dilihat"), ("sr", "Недавно прегледано"), ("pl", "Ostatnio oglądane"),
     ("pt", "Vistos recentemente"), ("tr", "Son görüntülenenler"), ("nl", "Recent bekeken")],
)
def test_widget_title_is_translated(language, title):
    from django.utils import translation

    shopper = Shopper.objects.create()
    viewed(shopper, [factories.product()])
    with translation.override(language):
        assert f"<h2>{title}</h2>" in render(shopper, limit=2)
