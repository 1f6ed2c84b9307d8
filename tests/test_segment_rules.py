"""Every segment rule type, positive and negative, in Python (per request) and in SQL (bulk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from personalize.models import Cart, Event, Shopper
from personalize.segments.context import SegmentContext, accept_language_country
from personalize.segments.materialise import Planner
from personalize.segments.rules import QueryEnv, Rule, build_rule, get_rule_class, rule_registry
from tests import factories as f

pytestmark = pytest.mark.django_db


def make_shopper(**fields: Any) -> Shopper:
    return Shopper.objects.create(**fields)


def event(shopper: Shopper, kind: str, *, days_ago: float = 0, **fields: Any) -> Event:
    return Event.objects.create(shopper=shopper, kind=kind, created_at=timezone.now() - timedelta(days=days_ago), **fields)


def purchase(shopper: Shopper, value: str, days_ago: float = 0) -> Event:
    return event(shopper, "purchase", days_ago=days_ago, value=Decimal(value), order_ref=f"o{Event.objects.count()}")


def cart(shopper: Shopper, products: list[Any]) -> Cart:
    lines = [{"product": str(p.pk), "quantity": 1, "price": str(p.price)} for p in products]
    return Cart.objects.create(shopper=shopper, lines=lines, value=sum((p.price for p in products), Decimal("0")))


def fresh(shopper: Shopper) -> Shopper:
    """Reload as a request would (cart joined)."""
    return Shopper.objects.select_related("cart").get(pk=shopper.pk)


def python_says(kind: str, params: dict, shopper: Any, request: Any = None, now: datetime | None = None) -> bool:
    rule = build_rule(kind, params)
    return rule.matches(SegmentContext(shopper, request=request, now=now))


def sql_says(kind: str, params: dict, shopper: Shopper) -> bool | None:
    rule = build_rule(kind, params)
    q = rule.q(QueryEnv(timezone.now()))
    if q is None:
        return None
    return Shopper.objects.filter(q).filter(pk=shopper.pk).exists()


def sql_negated(kind: str, params: dict, shopper: Shopper) -> bool:
    q = build_rule(kind, params).q(QueryEnv(timezone.now()))
    return Shopper.objects.filter(~q).filter(pk=shopper.pk).exists()


def assert_rule(kind: str, params: dict, shopper: Shopper, expected: bool, *, sql: bool = True) -> None:
    """Python and SQL agree with ``expected``, and the negated SQL with its opposite."""
    assert python_says(kind, params, fresh(shopper)) is expected, f"python {kind} {params}"
    if sql:
        assert sql_says(kind, params, shopper) is expected, f"sql {kind} {params}"
        assert sql_negated(kind, params, shopper) is (not expected), f"negated sql {kind} {params}"


def test_registry_has_every_builtin_kind():
    kinds = set(rule_registry())
    assert {
        "visit_state", "visits", "days_since_last_visit", "viewed", "searched", "cart_value", "cart_category",
        "orders", "lifetime_value", "rfm", "days_since_purchase", "logged_in", "country", "device", "referrer",
        "utm", "weekday", "hour", "segment",
    } <= kinds


# --- visits ---------------------------------------------------------------------------------
def test_visit_state_first_and_returning():
    new, back = make_shopper(visits=1), make_shopper(visits=3)
    assert_rule("visit_state", {"state": "first"}, new, True)
    assert_rule("visit_state", {"state": "first"}, back, False)
    assert_rule("visit_state", {"state": "returning"}, back, True)
    assert_rule("visit_state", {"state": "returning"}, new, False)


def test_visit_state_unsaved_visitor_is_on_first_visit():
    unsaved = Shopper()
    assert python_says("visit_state", {"state": "first"}, unsaved) is True
    assert python_says("visit_state", {"state": "returning"}, unsaved) is False


def test_visits_range():
    shopper = make_shopper(visits=5)
    assert_rule("visits", {"min": 5}, shopper, True)
    assert_rule("visits", {"min": 6}, shopper, False)
    assert_rule("visits", {"min": 2, "max": 4}, shopper, False)
    assert_rule("visits", {"max": 5}, shopper, True)


def test_days_since_last_visit():
    shopper = make_shopper(last_seen=timezone.now() - timedelta(days=10, hours=2))
    assert_rule("days_since_last_visit", {"min": 7}, shopper, True)
    assert_rule("days_since_last_visit", {"min": 11}, shopper, False)
    assert_rule("days_since_last_visit", {"max": 10}, shopper, True)
    assert_rule("days_since_last_visit", {"max": 9}, shopper, False)


# --- browsing -------------------------------------------------------------------------------
def test_viewed_product_at_least_n_times_in_window():
    product = f.product()
    shopper = make_shopper()
    for days in (1, 2, 40):
        event(shopper, "view", product_key=str(product.pk), days_ago=days)
    params = {"target": "product", "key": str(product.pk), "min_count": 2, "days": 30}
    assert_rule("viewed", params, shopper, True)
    assert_rule("viewed", {**params, "min_count": 3}, shopper, False)
    assert_rule("viewed", {**params, "min_count": 3, "days": 60}, shopper, True)


def test_viewed_category_counts_views_of_its_products():
    shoes = f.category("Shoes")
    a, b, other = f.product(category=shoes), f.product(category=shoes), f.product()
    shopper = make_shopper()
    event(shopper, "view", product_key=str(a.pk))
    event(shopper, "view", product_key=str(b.pk))
    event(shopper, "view", product_key=str(other.pk))
    params = {"target": "category", "key": str(shoes.pk), "min_count": 2, "days": 7}
    assert_rule("viewed", params, shopper, True)
    assert_rule("viewed", {**params, "min_count": 3}, shopper, False)


def test_searched_term_case_insensitive():
    shopper = make_shopper()
    event(shopper, "search", query="Red Running Shoes")
    assert_rule("searched", {"term": "running"}, shopper, True)
    assert_rule("searched", {"term": "sandals"}, shopper, False)


# --- cart -----------------------------------------------------------------------------------
def test_cart_value_above_and_below():
    p = f.product(price=Decimal("40.00"))
    with_cart, without = make_shopper(), make_shopper()
    cart(with_cart, [p])
    assert_rule("cart_value", {"op": "above", "amount": "30"}, with_cart, True)
    assert_rule("cart_value", {"op": "above", "amount": "40"}, with_cart, False)
    assert_rule("cart_value", {"op": "below", "amount": "50"}, with_cart, True)
    assert_rule("cart_value", {"op": "below", "amount": "40"}, with_cart, False)
    # no cart: value 0
    assert_rule("cart_value", {"op": "below", "amount": "50"}, without, True)
    assert_rule("cart_value", {"op": "above", "amount": "0"}, without, False)


def test_cart_contains_category_python_only():
    shoes = f.category()
    boot = f.product(category=shoes)
    has, hasnt = make_shopper(), make_shopper()
    cart(has, [boot])
    cart(hasnt, [f.product()])
    assert build_rule("cart_category", {"category": str(shoes.pk)}).q(QueryEnv(timezone.now())) is None
    assert python_says("cart_category", {"category": str(shoes.pk)}, fresh(has)) is True
    assert python_says("cart_category", {"category": str(shoes.pk)}, fresh(hasnt)) is False


# --- orders ---------------------------------------------------------------------------------
def test_orders_count_including_zero():
    buyer, never = make_shopper(), make_shopper()
    purchase(buyer, "20")
    purchase(buyer, "30")
    assert_rule("orders", {"min": 2}, buyer, True)
    assert_rule("orders", {"min": 3}, buyer, False)
    assert_rule("orders", {"max": 0}, never, True)
    assert_rule("orders", {"max": 0}, buyer, False)
    assert_rule("orders", {"min": 1}, never, False)


def test_lifetime_value():
    buyer, never = make_shopper(), make_shopper()
    purchase(buyer, "120.50")
    purchase(buyer, "79.50")
    assert_rule("lifetime_value", {"min": "200"}, buyer, True)
    assert_rule("lifetime_value", {"min": "200.01"}, buyer, False)
    assert_rule("lifetime_value", {"max": "10"}, never, True)
    assert_rule("lifetime_value", {"min": "1"}, never, False)


def test_days_since_last_purchase():
    buyer, never = make_shopper(), make_shopper()
    purchase(buyer, "10", days_ago=50)
    purchase(buyer, "10", days_ago=20.5)
    assert_rule("days_since_purchase", {"min": 14}, buyer, True)
    assert_rule("days_since_purchase", {"min": 30}, buyer, False)
    assert_rule("days_since_purchase", {"max": 20}, buyer, True)
    assert_rule("days_since_purchase", {"max": 19}, buyer, False)
    assert_rule("days_since_purchase", {"min": 0}, never, False)


@pytest.mark.parametrize(
    "orders, expected",
    [
        # (value, days ago) per order -> buckets it is in
        ([("10", 5)], {"recent"}),
        ([("10", 100), ("10", 90), ("10", 80)], {"frequent", "at_risk"}),
        ([("600", 10)], {"recent", "big_spender"}),
        ([("10", 300)], {"lapsed"}),
        ([("10", 90)], set()),  # one order 90 days ago: not yet lapsed, too few orders to be at risk
    ],
)
def test_rfm_buckets(orders, expected):
    shopper = make_shopper()
    for value, days in orders:
        purchase(shopper, value, days_ago=days)
    for bucket in ("recent", "frequent", "big_spender", "at_risk", "lapsed"):
        assert_rule("rfm", {"bucket": bucket}, shopper, bucket in expected)


def test_rfm_thresholds_are_settings():
    shopper = make_shopper()
    purchase(shopper, "100", days_ago=1)
    assert_rule("rfm", {"bucket": "big_spender"}, shopper, False)
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "SEGMENT_RFM": {"big_spender_value": 50}}):
        assert_rule("rfm", {"bucket": "big_spender"}, shopper, True)


def test_rfm_never_bought_is_in_no_bucket():
    shopper = make_shopper()
    for bucket in ("recent", "frequent", "big_spender", "at_risk", "lapsed"):
        assert_rule("rfm", {"bucket": bucket}, shopper, False)


# --- who and where --------------------------------------------------------------------------
def test_logged_in_and_anonymous():
    known, anon = make_shopper(user=f.user()), make_shopper()
    assert_rule("logged_in", {"state": "logged_in"}, known, True)
    assert_rule("logged_in", {"state": "logged_in"}, anon, False)
    assert_rule("logged_in", {"state": "anonymous"}, anon, True)


def test_logged_in_from_request_for_unsaved_shopper():
    user = f.user()
    req = f.request(user_obj=user)
    assert python_says("logged_in", {"state": "logged_in"}, Shopper(), request=req) is True
    assert python_says("logged_in", {"state": "anonymous"}, Shopper(), request=f.request()) is True


def test_country_stored_header_and_accept_language():
    de = make_shopper(country="DE")
    assert_rule("country", {"countries": "de, at"}, de, True)
    assert_rule("country", {"countries": ["FR"]}, de, False)
    # an unsaved visitor: the CDN header, else the Accept-Language region
    req = f.request(HTTP_CF_IPCOUNTRY="AT")
    assert python_says("country", {"countries": "AT"}, Shopper(), request=req) is True
    req = f.request(HTTP_ACCEPT_LANGUAGE="fr-CH,fr;q=0.9")
    assert python_says("country", {"countries": "CH"}, Shopper(), request=req) is True
    assert python_says("country", {"countries": "FR"}, Shopper(), request=req) is False


def test_accept_language_country_parsing():
    assert accept_language_country(f.request(HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.8")) == "AT"
    assert accept_language_country(f.request(HTTP_ACCEPT_LANGUAGE="de,en;q=0.8")) == ""
    assert accept_language_country(f.request(HTTP_ACCEPT_LANGUAGE="en_gb")) == "GB"


def test_device():
    phone = make_shopper(device="mobile")
    assert_rule("device", {"devices": ["mobile", "tablet"]}, phone, True)
    assert_rule("device", {"devices": "desktop"}, phone, False)
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    assert python_says("device", {"devices": "mobile"}, Shopper(), request=f.request(HTTP_USER_AGENT=iphone)) is True
    assert python_says("device", {"devices": "mobile"}, Shopper(), request=f.request()) is False


# --- the visit ------------------------------------------------------------------------------
def test_referrer_domain_and_subdomains():
    req = f.request(HTTP_REFERER="https://news.google.com/some/page")
    assert python_says("referrer", {"domains": "google.com"}, Shopper(), request=req) is True
    assert python_says("referrer", {"domains": "bing.com"}, Shopper(), request=req) is False
    req = f.request(HTTP_REFERER="https://notgoogle.com/")
    assert python_says("referrer", {"domains": "google.com"}, Shopper(), request=req) is False
    assert build_rule("referrer", {"domains": "google.com"}).live_only


def test_utm_from_request_then_session_first_touch():
    req = f.request("/?utm_source=Newsletter&utm_medium=email&utm_campaign=spring")
    for field, value in (("source", "newsletter"), ("medium", "EMAIL"), ("campaign", "spring")):
        assert python_says("utm", {"field": field, "values": value}, Shopper(), request=req) is True
    assert python_says("utm", {"field": "source", "values": "ads"}, Shopper(), request=req) is False
    # the next page of the visit has no UTM parameters: the session remembers the first touch
    later = f.request("/products/")
    later.session = req.session
    assert python_says("utm", {"field": "source", "values": "newsletter"}, Shopper(), request=later) is True
    assert python_says("utm", {"field": "source", "values": "newsletter"}, Shopper(), request=f.request()) is False


def test_weekday_and_hour_in_store_time_zone():
    # Sunday 2026-11-22 23:30 UTC is Monday 00:30 in Berlin (UTC+1 in November)
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    with override_settings(PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "STORE_TIME_ZONE": "Europe/Berlin"}):
        from personalize.segments.context import store_timezone

        local = moment.astimezone(store_timezone())
        assert (local.weekday(), local.hour) == (0, 0)
        assert python_says("weekday", {"days": ["0"]}, Shopper(), now=local) is True
        assert python_says("weekday", {"days": "5,6"}, Shopper(), now=local) is False
        assert python_says("hour", {"start": 22, "end": 6}, Shopper(), now=local) is True  # wraps midnight
        assert python_says("hour", {"start": 9, "end": 18}, Shopper(), now=local) is False
        with mock.patch("django.utils.timezone.now", return_value=moment):
            from personalize.segments.context import store_now

            assert store_now().hour == 0


# --- other segments -------------------------------------------------------------------------
def test_member_of_live_and_materialised_segment():
    from personalize.segments.evaluation import active_segments, bump_version, context_for
    from personalize.models import Segment, SegmentMembership, SegmentRule

    vip = Segment.objects.create(name="VIP", slug="vip", mode="materialised")
    SegmentRule.objects.create(segment=vip, kind="orders", params={"min": 1})
    mobile = Segment.objects.create(name="Mobile", slug="mobile")
    SegmentRule.objects.create(segment=mobile, kind="device", params={"devices": ["mobile"]})
    member, other = make_shopper(device="mobile"), make_shopper(device="desktop")
    SegmentMembership.objects.create(segment=vip, shopper=member)
    bump_version()
    segments = active_segments()
    for slug in ("vip", "mobile"):
        rule = build_rule("segment", {"segment": slug})
        assert rule.matches(context_for(fresh(member), segments=segments)) is True
        assert rule.matches(context_for(fresh(other), segments=segments)) is False
        planner = Planner(segments)
        q = rule.q(planner.env)
        assert set(Shopper.objects.filter(q).values_list("pk", flat=True)) == {member.pk}


def test_member_of_unknown_segment_is_a_validation_error():
    with pytest.raises(ValidationError):
        build_rule("segment", {"segment": "nope"})


# --- params validation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, params",
    [
        ("visits", {}),
        ("visits", {"min": 5, "max": 2}),
        ("visits", {"min": -1}),
        ("visit_state", {"state": "sometimes"}),
        ("viewed", {"target": "product"}),
        ("viewed", {"target": "product", "key": "not-a-uuid"}),
        ("searched", {}),
        ("cart_value", {"op": "above"}),
        ("cart_value", {"op": "above", "amount": "-5"}),
        ("cart_value", {"op": "above", "amount": "lots"}),
        ("lifetime_value", {}),
        ("rfm", {"bucket": "whales"}),
        ("country", {"countries": "Germany"}),
        ("country", {"countries": ""}),
        ("device", {"devices": ["fridge"]}),
        ("utm", {"field": "source"}),
        ("hour", {"start": 25, "end": 3}),
        ("hour", {"start": 4, "end": 4}),
        ("weekday", {"days": ["9"]}),
        ("unknown_kind", {}),
        ("visits", "not an object"),
    ],
)
def test_bad_params_raise_validation_error(kind, params):
    with pytest.raises(ValidationError):
        build_rule(kind, params)


# --- a store's own rule ---------------------------------------------------------------------
class EmailDomainRule(Rule):
    """Test rule: shoppers whose email is at a domain."""

    kind = "email_domain"
    label = "Email domain"

    class Params(Rule.Params):
        pass

    def matches(self, ctx: SegmentContext) -> bool:
        return ctx.shopper is not None and ctx.shopper.email.endswith("@example.org")


def test_store_adds_a_rule_type_through_the_setting():
    assert get_rule_class("email_domain") is None
    with override_settings(
        PERSONALIZE={"PRODUCT_MODEL": "testshop.Product", "SEGMENT_RULES": ["tests.test_segment_rules.EmailDomainRule"]}
    ):
        assert get_rule_class("email_domain") is EmailDomainRule
        shopper = make_shopper(email="a@example.org")
        assert python_says("email_domain", {}, shopper) is True
    assert get_rule_class("email_domain") is None


def test_describe_every_builtin_rule_from_stored_params():
    from personalize.models import Segment, SegmentRule
    from personalize.segments.rules import describe_rule

    Segment.objects.create(name="Other", slug="other")
    product = f.product()
    samples = {
        "visit_state": {"state": "first"},
        "visits": {"min": 2},
        "days_since_last_visit": {"max": 3},
        "viewed": {"target": "product", "key": str(product.pk), "min_count": 3, "days": 7},
        "searched": {"term": "<b>shoes</b>"},
        "cart_value": {"op": "below", "amount": "50"},
        "cart_category": {"category": str(product.category_id)},
        "orders": {"min": 1, "max": 3},
        "lifetime_value": {"min": "99.50"},
        "rfm": {"bucket": "at_risk"},
        "days_since_purchase": {"min": 30},
        "logged_in": {"state": "anonymous"},
        "country": {"countries": "de,at"},
        "device": {"devices": ["tablet"]},
        "referrer": {"domains": "google.com"},
        "utm": {"field": "campaign", "values": "spring"},
        "weekday": {"days": ["5", "6"]},
        "hour": {"start": 22, "end": 6},
        "segment": {"segment": "other"},
    }
    assert set(samples) == {cls.kind for cls in rule_registry().values()}
    for kind, params in samples.items():
        rule = build_rule(kind, params)
        stored = type(rule).serialize_params(rule.params)
        text = describe_rule(kind, stored)
        assert text == rule.describe() and text != f"{kind} {stored}", (kind, text)
        assert describe_rule(kind, stored, negate=True) == f"not ({text})"
    seg = Segment.objects.get(slug="other")
    row = SegmentRule.objects.create(segment=seg, kind="hour", params={"start": 22, "end": 6})
    assert str(row) == "Between 22:00 and 6:00"
    assert describe_rule("gone", {"x": 1}) == "gone {'x': 1}"


def test_a_new_source_replaces_the_remembered_one():
    first = f.request("/?utm_source=newsletter")
    assert python_says("utm", {"field": "source", "values": "newsletter"}, Shopper(), request=first)
    second = f.request("/?utm_source=ads")
    second.session = first.session
    assert python_says("utm", {"field": "source", "values": "ads"}, Shopper(), request=second)
    later = f.request("/cart/")
    later.session = first.session
    assert python_says("utm", {"field": "source", "values": "ads"}, Shopper(), request=later)
    assert not python_says("utm", {"field": "source", "values": "newsletter"}, Shopper(), request=later)


def test_category_rules_accept_a_name_or_id_and_store_the_key():
    """Marketers type "Coffee", not the category's UUID; an unknown category is a form error."""
    coffee = f.category("Coffee")
    f.product(category=coffee)
    by_name = build_rule("viewed", {"target": "category", "key": "coffee", "min_count": 1, "days": 7})
    assert by_name.params["key"] == str(coffee.pk)
    by_id = build_rule("cart_category", {"category": str(coffee.pk)})
    assert by_id.params["category"] == str(coffee.pk)
    assert build_rule("cart_category", {"category": " Coffee "}).params["category"] == str(coffee.pk)
    with pytest.raises(ValidationError, match="No category"):
        build_rule("cart_category", {"category": "Tea"})
    with pytest.raises(ValidationError, match="No category"):
        build_rule("viewed", {"target": "category", "key": "Tea", "min_count": 1, "days": 7})
