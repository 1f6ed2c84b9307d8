"""Widget tags: markup, signed click links and their recording, attribution, query counts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.utils import timezone

from personalize.conf import personalize_settings as ps
from personalize.models import Event, Shopper
from personalize.placements.attribution import performance
from personalize.placements.clicks import read_click, sign_click
from personalize.placements.pipeline import MAX_QUERIES
from tests import factories
from tests.placements_helpers import bought, configure, ids, in_cart, keys, products, render

pytestmark = pytest.mark.django_db

HREF = re.compile(r'<a href="([^"]+)"')


def test_recommended_for_you_markup_and_signed_links(settings):
    items = products(3)
    configure(settings, items=items)
    html = render("{% recommended_for_you limit=2 %}")
    assert 'data-personalize-widget="recommended_for_you"' in html
    assert ids(html) == keys(items[:2])
    assert 'data-placement="for_you"' in html and 'data-model-version="test"' in html
    href = HREF.findall(html)[0].replace("&amp;", "&")
    assert urlsplit(href).path == items[0].get_absolute_url()
    token = parse_qs(urlsplit(href).query)[ps.REC_CLICK_PARAM][0]
    assert read_click(token) == {"placement": "for_you", "model_version": "test", "variant": "", "product": str(items[0].pk)}


def test_each_tag_renders_its_placement(settings):
    shoes = factories.category("Shoes")
    items = products(3, category=shoes)
    configure(settings, items=items, DIVERSITY={})
    page = items[0]
    assert ids(render("{% similar_products product limit=8 %}", product=page)) == keys(items[1:])
    assert 'data-personalize-widget="frequently_bought_together"' in render(
        "{% frequently_bought_together product limit=4 %}", product=page
    )
    assert ids(render("{% frequently_bought_together product limit=1 %}", product=page)) == keys(items[1:2])
    trending = render("{% trending limit=8 category=c %}", c=shoes)
    assert 'data-personalize-widget="trending"' in trending and ids(trending) == keys(items)
    # The page's product is found in the context without being passed.
    assert ids(render("{% similar_products limit=8 %}", product=page)) == keys(items[1:])
    assert ids(render("{% recommended_for_you limit=8 %}", object=page)) == keys(items[1:])


def test_titles_and_templates_can_be_overridden(settings, tmp_path):
    configure(settings, items=products(2))
    (tmp_path / "mine.html").write_text("{% for item in items %}[{{ item.title }}|{{ item.reason }}]{% endfor %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    assert render('{% trending limit=1 template="mine.html" %}').startswith("[Product")
    assert "Just for Ana" in render('{% recommended_for_you limit=2 title="Just for Ana" %}')


def test_a_failing_widget_renders_nothing(settings):
    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "RECOMMENDERS": {"default": {"BACKEND": "no.such.Backend"}},
    }
    assert render("before{% recommended_for_you limit=3 %}after") == "beforeafter"


def test_empty_list_renders_nothing(settings):
    configure(settings, items=[])
    assert render("{% recommended_for_you limit=3 %}").strip() == ""


def test_variant_is_in_the_markup_and_the_link(settings):
    configure(
        settings,
        items=products(2),
        PLACEMENTS={"for_you": {"variants": [{"name": "b", "recommender": "popular", "weight": 1}]}},
    )
    html = render("{% recommended_for_you limit=2 %}", shopper=Shopper.objects.create())
    assert html.count('data-variant="b"') == 3  # the widget and both items
    token = parse_qs(urlsplit(HREF.findall(html)[0].replace("&amp;", "&")).query)[ps.REC_CLICK_PARAM][0]
    assert read_click(token)["variant"] == "b"


# --- the click parameter --------------------------------------------------------------------


def test_a_signed_click_is_recorded_and_redirected_to_the_clean_url(client_ua, settings):
    product = factories.product()
    token = sign_click(placement="similar", model_version="7", variant="b", product_key=str(product.pk))
    url = product.get_absolute_url()
    response = client_ua.get(url, {"utm_source": "mail", ps.REC_CLICK_PARAM: token})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?utm_source=mail"
    event = Event.objects.get(kind="rec_click")
    assert event.product_key == str(product.pk)
    assert event.context["placement"] == "similar"
    assert event.context["model_version"] == "7"
    assert event.context["variant"] == "b"
    assert event.context["source"] == "link"
    # The shopper was created and given its cookie on the redirect.
    assert ps.COOKIE_NAME in response.cookies
    assert event.shopper.key == Shopper.objects.get().key


def test_a_tampered_click_parameter_is_ignored(client_ua):
    product = factories.product()
    token = sign_click(placement="similar", model_version="7", variant="", product_key=str(product.pk))
    forged = signing.dumps({"p": "similar", "m": "999", "v": "", "k": str(product.pk)}, salt="wrong", compress=True)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "garbage"):
        response = client_ua.get(product.get_absolute_url(), {ps.REC_CLICK_PARAM: bad})
        assert response.status_code == 302 and ps.REC_CLICK_PARAM not in response["Location"]
    assert not Event.objects.filter(kind="rec_click").exists()


def test_an_expired_click_link_records_nothing(client_ua, settings):
    product = factories.product()
    token = sign_click(placement="similar", model_version="7", variant="", product_key=str(product.pk))
    settings.PERSONALIZE = {**settings.PERSONALIZE, "REC_CLICK_MAX_AGE_SECONDS": -1}
    client_ua.get(product.get_absolute_url(), {ps.REC_CLICK_PARAM: token})
    assert not Event.objects.filter(kind="rec_click").exists()


def test_the_same_click_twice_in_a_minute_counts_once(client_ua):
    product = factories.product()
    token = sign_click(placement="for_you", model_version="7", variant="", product_key=str(product.pk))
    client_ua.get(product.get_absolute_url(), {ps.REC_CLICK_PARAM: token})
    client_ua.get(product.get_absolute_url(), {ps.REC_CLICK_PARAM: token})
    assert Event.objects.filter(kind="rec_click").count() == 1


def test_bots_clicks_are_not_recorded(client):
    product = factories.product()
    token = sign_click(placement="for_you", model_version="7", variant="", product_key=str(product.pk))
    client.get(product.get_absolute_url(), {ps.REC_CLICK_PARAM: token}, HTTP_USER_AGENT="Googlebot/2.1")
    assert not Event.objects.exists()


def test_a_rendered_link_round_trips_through_the_middleware(client_ua, settings):
    items = products(2)
    configure(settings, items=items)
    page = client_ua.get(items[0].get_absolute_url())  # a view, which makes the shopper
    assert page.status_code == 200
    html = render("{% similar_products product limit=1 %}", product=items[0])
    href = HREF.findall(html)[0].replace("&amp;", "&")
    response = client_ua.get(href)
    assert response.status_code == 302
    click = Event.objects.get(kind="rec_click")
    assert click.product_key == str(items[1].pk)
    assert click.context["placement"] == "similar" and click.context["model_version"] == "test"


# --- attribution report ---------------------------------------------------------------------


def event(shopper, kind, *, minutes_ago, product="", **context):
    return Event.objects.create(
        shopper=shopper, kind=kind, product_key=product, context=context,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def purchase(shopper, value, *, minutes_ago):
    return Event.objects.create(
        shopper=shopper, kind="purchase", value=Decimal(value), context={"lines": []},
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_performance_counts_impressions_clicks_and_attributed_revenue(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "ATTRIBUTION_WINDOW_HOURS": 24}
    a, b, c = (Shopper.objects.create() for _ in range(3))
    tags_a = {"placement": "for_you", "model_version": "3", "variant": "a"}
    tags_b = {"placement": "for_you", "model_version": "3", "variant": "b"}
    for shopper in (a, b, c):
        for _ in range(2):
            event(shopper, "impression", minutes_ago=100, product="x", **tags_a)
    event(c, "impression", minutes_ago=100, product="x", **tags_b)
    event(a, "rec_click", minutes_ago=90, product="x", **tags_a)
    event(b, "rec_click", minutes_ago=90, product="x", **tags_a)
    event(c, "rec_click", minutes_ago=95, product="y", **tags_a)
    event(c, "rec_click", minutes_ago=90, product="x", **tags_b)  # c's last click: variant b
    purchase(a, "30.00", minutes_ago=60)  # credited to a's click (variant a)
    purchase(a, "20.00", minutes_ago=30)  # also within the window
    purchase(c, "50.00", minutes_ago=60)  # credited to c's *last* click (variant b)
    purchase(b, "99.00", minutes_ago=95)  # before b's click: not credited
    old = Shopper.objects.create()
    event(old, "rec_click", minutes_ago=60 * 30, product="x", **tags_a)
    purchase(old, "70.00", minutes_ago=60)  # click older than the window: not credited
    event(a, "view", minutes_ago=10, product="x")  # not recommendation activity

    rows = {(r.placement, r.model_version, r.variant): r for r in performance(timezone.now() - timedelta(days=1))}
    row_a, row_b = rows[("for_you", "3", "a")], rows[("for_you", "3", "b")]
    assert (row_a.impressions, row_a.clicks, row_a.orders, row_a.revenue) == (6, 3, 2, Decimal("50.00"))
    assert (row_b.impressions, row_b.clicks, row_b.orders, row_b.revenue) == (1, 1, 1, Decimal("50.00"))
    assert row_a.ctr == pytest.approx(0.5)
    assert len(rows) == 2  # the old click falls outside the period


def test_performance_report_in_the_admin(admin_client):
    shopper = Shopper.objects.create()
    event(shopper, "impression", minutes_ago=5, product="x", placement="trending", model_version="")
    event(shopper, "rec_click", minutes_ago=4, product="x", placement="trending", model_version="")
    purchase(shopper, "12.50", minutes_ago=3)
    response = admin_client.get("/admin/personalize/recommendationreport/?days=7")
    assert response.status_code == 200
    table = response.content.decode().split('id="recommendation-performance"')[1].split("</table>")[0]
    cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", table)]
    assert cells[0] == "trending" and cells[3:] == ["1", "1", "100.0%", "1", "12.50"]


def test_performance_report_is_read_only(admin_client):
    assert admin_client.get("/admin/personalize/recommendationreport/add/").status_code == 403


# --- query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [2, 8, 40])
def test_recommended_for_you_costs_at_most_three_queries_warm(settings, django_assert_max_num_queries, limit):
    assert MAX_QUERIES == 3
    items = products(60)
    configure(settings, items=items, DIVERSITY={}, WIDGET_MAX_LIMIT=50)
    shopper = Shopper.objects.create()
    bought(shopper, items[0])
    in_cart(shopper, items[1])
    for product in items[2:12]:
        Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    render("{% recommended_for_you limit=n %}", shopper=shopper, n=limit)  # warm the caches
    with django_assert_max_num_queries(MAX_QUERIES):
        html = render("{% recommended_for_you limit=n %}", shopper=shopper, n=limit)
    assert len(ids(html)) == limit
    assert str(items[0].pk) not in ids(html) and str(items[1].pk) not in ids(html)


def test_a_first_visit_costs_one_query(settings, django_assert_max_num_queries):
    configure(settings, items=products(10))
    render("{% recommended_for_you limit=8 %}")
    # No cookie: no shopper lookup, no profile; only the products.
    with django_assert_max_num_queries(1):
        assert len(ids(render("{% recommended_for_you limit=8 %}"))) == 8


def test_similar_products_costs_at_most_three_queries_warm(settings, django_assert_max_num_queries):
    items = products(30)
    configure(settings, items=items, DIVERSITY={})
    shopper = Shopper.objects.create()
    render("{% similar_products product limit=8 %}", shopper=shopper, product=items[0])
    with django_assert_max_num_queries(MAX_QUERIES):
        assert len(ids(render("{% similar_products product limit=8 %}", shopper=shopper, product=items[0]))) == 8


def test_the_redirect_never_leaves_the_site(client_ua):
    token = sign_click(placement="for_you", model_version="", variant="", product_key="x")
    response = client_ua.get(f"/%2Fevil.example/x?{ps.REC_CLICK_PARAM}={token}")
    assert response.status_code == 302
    assert response["Location"] == "/%2Fevil.example/x"


def test_prefetches_and_head_requests_are_not_clicks(client_ua):
    product = factories.product()
    token = sign_click(placement="for_you", model_version="7", variant="", product_key=str(product.pk))
    url = product.get_absolute_url()
    assert client_ua.get(url, {ps.REC_CLICK_PARAM: token}, HTTP_SEC_PURPOSE="prefetch").status_code == 302
    assert client_ua.head(url, {ps.REC_CLICK_PARAM: token}).status_code == 302
    assert not Event.objects.filter(kind="rec_click").exists()


def test_a_page_of_widgets_reads_the_profile_once(settings, django_assert_max_num_queries):
    items = products(12)
    configure(settings, items=items, DIVERSITY={})
    shopper = Shopper.objects.create()
    Event.objects.create(shopper=shopper, kind="view", product_key=str(items[0].pk))
    page = (
        "{% recommended_for_you limit=4 %}{% similar_products product limit=4 %}"
        "{% frequently_bought_together product limit=2 %}{% trending limit=4 %}"
    )
    render(page, shopper=shopper, product=items[0])  # warm
    # The shopper and the profile once, then one product query per widget.
    with django_assert_max_num_queries(2 + 4):
        html = render(page, shopper=shopper, product=items[0])
    assert html.count('data-personalize-widget="') == 4


def test_variant_summaries_compare_ctr_with_the_control(settings, admin_client):
    from personalize.placements.attribution import variant_summaries

    settings.PERSONALIZE = {
        **settings.PERSONALIZE,
        "PLACEMENTS": {"for_you": {"variants": [{"name": "z-control", "weight": 1}, {"name": "a-new", "weight": 1}]}},
    }
    shopper = Shopper.objects.create()
    for variant, impressions, clicks in (("z-control", 200, 10), ("a-new", 200, 40)):
        tags = {"placement": "for_you", "model_version": "1", "variant": variant}
        Event.objects.bulk_create(
            [Event(shopper=shopper, kind="impression", product_key="x", context=tags) for _ in range(impressions)]
            + [Event(shopper=shopper, kind="rec_click", product_key="x", context=tags) for _ in range(clicks)]
        )
    rows = performance(timezone.now() - timedelta(days=1))
    summaries = variant_summaries(rows)
    assert [(s.variant, s.control) for s in summaries] == [("z-control", True), ("a-new", False)]
    assert summaries[0].p_value is None
    assert summaries[1].ctr_percent == pytest.approx(20.0)
    assert summaries[1].p_value < 0.001  # 5% vs 20% on 200 impressions each
    html = admin_client.get("/admin/personalize/recommendationreport/").content.decode()
    assert 'id="recommendation-variants"' in html and "(control)" in html


def test_widgets_on_one_page_never_repeat_a_product(settings):
    """A first visitor's "for you" falls back to the popular list: "trending" below it must
    not show the same products again."""
    items = products(6)
    configure(settings, items=items, DIVERSITY={})
    page = render("{% recommended_for_you limit=3 %}|{% trending limit=3 %}")
    for_you, trending = (ids(part) for part in page.split("|"))
    assert for_you == keys(items[:3])
    assert trending == keys(items[3:6])


def test_page_deduplication_can_be_switched_off(settings):
    items = products(4)
    configure(settings, items=items, DIVERSITY={}, DEDUPLICATE_PAGE=False)
    page = render("{% recommended_for_you limit=2 %}|{% trending limit=2 %}")
    for_you, trending = (ids(part) for part in page.split("|"))
    assert for_you == trending == keys(items[:2])


def test_bought_together_never_pads_with_popular_items(settings):
    """Without co-purchase data the widget shows nothing rather than unrelated bestsellers."""
    page, *popular = products(4)
    configure(settings, items=[], popular=popular, DIVERSITY={})
    assert ids(render("{% frequently_bought_together product limit=4 %}", product=page)) == []
    # the other placements still fill up from the popular list
    assert ids(render("{% recommended_for_you limit=3 %}")) == keys(popular)
