"""Segments end to end: segments_for and its session cache, all/any/negate, live vs
materialised, the refresh job, cycles, the admin (forms, preview, CSV, refresh) and the tag."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

import personalize
from personalize.models import Cart, Event, Shopper
from personalize.segments import shopper_segments
from personalize.segments.evaluation import active_segments, bump_version, context_for, evaluate, segments_for
from personalize.segments.materialise import refresh_segments
from personalize.segments.preview import preview
from personalize.models import Segment, SegmentMembership, SegmentRule
from tests import factories as f

pytestmark = pytest.mark.django_db


def make_segment(slug: str, rules: list[tuple], *, match: str = "all", mode: str = "live", active: bool = True) -> Segment:
    """``rules``: ``(kind, params)`` or ``(kind, params, negate)``."""
    seg = Segment.objects.create(name=slug.title(), slug=slug, match=match, mode=mode, is_active=active)
    for position, rule in enumerate(rules):
        kind, params, *rest = rule
        SegmentRule.objects.create(segment=seg, kind=kind, params=params, negate=bool(rest and rest[0]), position=position)
    return seg


def request_for(shopper: Shopper | None = None, path: str = "/", **meta: Any) -> Any:
    req = f.request(path, user_obj=shopper.user if shopper is not None and shopper.user_id else None, **meta)
    if shopper is not None:
        req._personalize_shopper = Shopper.objects.select_related("cart").get(pk=shopper.pk)
    return req


def purchase(shopper: Shopper, value: str, days_ago: float = 0) -> None:
    Event.objects.create(
        shopper=shopper, kind="purchase", value=Decimal(value), created_at=timezone.now() - timedelta(days=days_ago)
    )


# --- segments_for -------------------------------------------------------------------------
def test_public_api_is_reexported():
    assert personalize.segments_for is not None
    from personalize.segments import segments_for as api

    assert callable(api)


def test_unsaved_first_visitor_gets_first_visit_segment_without_writes():
    make_segment("first-visit", [("visit_state", {"state": "first"})])
    make_segment("returning", [("visit_state", {"state": "returning"})])
    req = f.request()
    assert req.shopper.pk is None
    assert personalize.segments_for(req) == frozenset({"first-visit"})
    assert Shopper.objects.count() == 0


def test_live_and_materialised_memberships_both_answer():
    shopper = Shopper.objects.create(visits=4, country="DE")
    make_segment("germans", [("country", {"countries": "DE"})])
    make_segment("loyal", [("visits", {"min": 3})], mode="materialised")
    refresh_segments()
    assert segments_for(request_for(shopper)) == {"germans", "loyal"}
    assert shopper_segments(shopper) == {"loyal"}  # materialised only
    assert shopper_segments(Shopper()) == frozenset()


def test_inactive_segments_are_ignored():
    make_segment("off", [("visit_state", {"state": "first"})], active=False)
    assert segments_for(f.request()) == frozenset()


def test_all_any_and_negate():
    shopper = Shopper.objects.create(visits=5, country="FR", device="mobile")
    make_segment("all-yes", [("visits", {"min": 2}), ("country", {"countries": "FR"})])
    make_segment("all-no", [("visits", {"min": 2}), ("country", {"countries": "DE"})])
    make_segment("any-yes", [("visits", {"min": 10}), ("country", {"countries": "FR"})], match="any")
    make_segment("any-no", [("visits", {"min": 10}), ("country", {"countries": "DE"})], match="any")
    make_segment("negated", [("device", {"devices": "desktop"}, True)])
    make_segment("negated-no", [("device", {"devices": "mobile"}, True)])
    make_segment("empty", [])
    assert segments_for(request_for(shopper)) == {"all-yes", "any-yes", "negated"}


def test_broken_stored_rule_matches_nobody_and_does_not_raise():
    seg = make_segment("broken", [])
    SegmentRule.objects.create(segment=seg, kind="no_such_rule", params={})
    make_segment("first", [("visit_state", {"state": "first"})])
    assert segments_for(f.request()) == {"first"}


def test_stored_cycle_is_guarded_at_runtime():
    a = make_segment("a", [])
    b = make_segment("b", [("segment", {"segment": "a"})])
    # stored without the admin's validation: a -> b -> a
    SegmentRule.objects.create(segment=a, kind="segment", params={"segment": "b"})
    assert b.pk
    assert segments_for(f.request()) == frozenset()


# --- session cache ------------------------------------------------------------------------
def test_cached_answer_costs_no_query(django_assert_num_queries):
    shopper = Shopper.objects.create(visits=3)
    make_segment("returning", [("visit_state", {"state": "returning"})])
    first = request_for(shopper)
    assert segments_for(first) == {"returning"}
    second = request_for(shopper)
    second.session = first.session
    second._personalize_shopper = first._personalize_shopper
    with django_assert_num_queries(0):
        assert segments_for(second) == {"returning"}


def test_session_cache_kept_until_invalidated_by_an_event(django_capture_on_commit_callbacks):
    product = f.product()
    shopper = Shopper.objects.create()
    make_segment("viewer", [("viewed", {"target": "product", "key": str(product.pk)})])
    req = request_for(shopper)
    assert segments_for(req) == frozenset()
    # data changed behind the cache's back: the cached answer stands
    Event.objects.create(shopper=shopper, kind="view", product_key=str(product.pk))
    later = request_for(shopper)
    later.session = req.session
    assert segments_for(later) == frozenset()
    # tracking through personalize invalidates the session's answer
    tracked = request_for(shopper)
    tracked.session = req.session
    with django_capture_on_commit_callbacks(execute=True):  # receivers run after the commit
        personalize.track(tracked, "view", product=product)
    after = request_for(shopper)
    after.session = req.session
    assert segments_for(after) == {"viewer"}


def test_cart_update_invalidates_and_changing_a_segment_bumps_version():
    p = f.product(price=Decimal("80.00"))
    shopper = Shopper.objects.create()
    seg = make_segment("big-cart", [("cart_value", {"op": "above", "amount": "50"})])
    req = request_for(shopper)
    assert segments_for(req) == frozenset()
    personalize.update_cart(req, [{"product": p, "quantity": 1}])
    again = request_for(shopper)
    again.session = req.session
    assert segments_for(again) == {"big-cart"}
    # editing the segment invalidates every cached answer
    rule = seg.rules.get()
    rule.params = {"op": "above", "amount": "100"}
    rule.save()
    third = request_for(shopper)
    third.session = req.session
    assert segments_for(third) == frozenset()


def test_cache_expires_after_segment_cache_seconds(settings):
    shopper = Shopper.objects.create(visits=1)
    make_segment("returning", [("visit_state", {"state": "returning"})])
    req = request_for(shopper)
    assert segments_for(req) == frozenset()
    Shopper.objects.filter(pk=shopper.pk).update(visits=2)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_CACHE_SECONDS": 0}
    later = request_for(shopper)
    later.session = req.session
    assert segments_for(later) == {"returning"}


def test_login_changes_the_answer():
    user = f.user()
    shopper = Shopper.objects.create(user=user)
    make_segment("members", [("logged_in", {"state": "logged_in"})])
    anon = f.request()
    assert segments_for(anon) == frozenset()
    logged = request_for(shopper)
    logged.session = anon.session
    assert segments_for(logged) == {"members"}


# --- live vs materialised -----------------------------------------------------------------
RULESETS = [
    [("visits", {"min": 3})],
    [("orders", {"min": 1}), ("lifetime_value", {"min": "100"})],
    [("orders", {"max": 0}, True)],
    [("rfm", {"bucket": "recent"}), ("country", {"countries": "DE,AT"})],
    [("days_since_purchase", {"min": 30}), ("device", {"devices": "mobile"})],
    [("cart_value", {"op": "below", "amount": "30"}), ("logged_in", {"state": "anonymous"})],
    [("visit_state", {"state": "first"}), ("searched", {"term": "shoe"})],
]


@pytest.fixture
def population() -> list[Shopper]:
    shoes = f.category()
    boot = f.product(category=shoes, price=Decimal("25.00"))
    people = []
    for i in range(12):
        s = Shopper.objects.create(
            visits=1 + i % 5,
            country=["DE", "AT", "FR", ""][i % 4],
            device=["mobile", "desktop", "tablet"][i % 3],
            user=f.user() if i % 4 == 0 else None,
        )
        for j in range(i % 3):
            purchase(s, str(40 + 30 * i), days_ago=5 + 20 * j + i)
        if i % 2:
            Cart.objects.create(shopper=s, lines=[{"product": str(boot.pk), "quantity": 1, "price": "25.00"}], value=Decimal("25.00"))
        if i % 5 == 0:
            Event.objects.create(shopper=s, kind="search", query="Blue shoes")
        people.append(s)
    return people


@pytest.mark.parametrize("match", ["all", "any"])
@pytest.mark.parametrize("ruleset", RULESETS, ids=lambda r: "+".join(x[0] for x in r))
def test_live_and_materialised_give_the_same_answer(population, ruleset, match):
    make_segment("live", ruleset, match=match)
    make_segment("mat", ruleset, match=match, mode="materialised")
    refresh_segments()
    members = set(SegmentMembership.objects.filter(segment__slug="mat").values_list("shopper_id", flat=True))
    segments = active_segments()
    live = {
        s.pk
        for s in Shopper.objects.select_related("cart").order_by("pk")
        if evaluate(segments["live"], context_for(s, segments=segments))
    }
    assert members == live
    assert Segment.objects.get(slug="mat").member_count == len(members)


def test_materialised_with_python_rule_matches_live(population):
    from tests.testshop.models import Product

    shoes_key = str(f.product().category_id)  # a category nobody has in the cart
    in_carts = Cart.objects.exclude(lines=[]).first().lines[0]["product"]
    cat = str(Product.objects.get(pk=in_carts).category_id)
    rules = [("cart_category", {"category": cat}), ("visits", {"min": 2})]
    make_segment("live", rules)
    make_segment("mat", rules, mode="materialised")
    make_segment("mat-any", [("cart_category", {"category": shoes_key}), ("orders", {"min": 2})], match="any", mode="materialised")
    make_segment("live-any", [("cart_category", {"category": shoes_key}), ("orders", {"min": 2})], match="any")
    refresh_segments(batch_size=5)  # several batches
    segments = active_segments()
    for live_slug, mat_slug in (("live", "mat"), ("live-any", "mat-any")):
        members = set(SegmentMembership.objects.filter(segment__slug=mat_slug).values_list("shopper_id", flat=True))
        live = {s.pk for s in Shopper.objects.select_related("cart") if evaluate(segments[live_slug], context_for(s, segments=segments))}
        assert members == live
    assert SegmentMembership.objects.filter(segment__slug="mat").exists()


# --- the refresh job ----------------------------------------------------------------------
def test_refresh_task_is_idempotent_and_reconciles(population):
    from personalize.segments.tasks import refresh_segments_task

    seg = make_segment("buyers", [("orders", {"min": 1})], mode="materialised")
    first = refresh_segments_task.delay().get()
    rows = dict(SegmentMembership.objects.filter(segment=seg).values_list("shopper_id", "since"))
    assert rows and first[0]["added"] == len(rows)
    second = refresh_segments_task.delay().get()
    assert second[0]["added"] == second[0]["removed"] == 0
    assert dict(SegmentMembership.objects.filter(segment=seg).values_list("shopper_id", "since")) == rows
    # a member stops matching, a new one starts
    leaver = next(iter(rows))
    Event.objects.filter(shopper_id=leaver, kind="purchase").delete()
    newcomer = Shopper.objects.create()
    purchase(newcomer, "10")
    third = refresh_segments_task.delay().get()
    now_rows = set(SegmentMembership.objects.filter(segment=seg).values_list("shopper_id", flat=True))
    assert now_rows == (set(rows) - {leaver}) | {newcomer.pk}
    assert (third[0]["added"], third[0]["removed"]) == (1, 1)
    seg.refresh_from_db()
    assert seg.last_refreshed_at is not None and seg.member_count == len(now_rows) and seg.refresh_started_at is None


def test_refresh_skips_a_segment_claimed_by_another_worker():
    seg = make_segment("x", [("visits", {"min": 1})], mode="materialised")
    Shopper.objects.create()
    Segment.objects.filter(pk=seg.pk).update(refresh_started_at=timezone.now())
    [result] = refresh_segments()
    assert not result.refreshed and not SegmentMembership.objects.exists()
    # a stale claim (crashed worker) is taken over
    Segment.objects.filter(pk=seg.pk).update(refresh_started_at=timezone.now() - timedelta(hours=2))
    [result] = refresh_segments()
    assert result.refreshed and SegmentMembership.objects.count() == 1


def test_refresh_orders_dependencies_first():
    s = Shopper.objects.create(visits=5)
    # created before its dependency, so creation order would refresh it first
    derived = make_segment("derived", [("visits", {"min": 0})], mode="materialised")
    base = make_segment("base", [("visits", {"min": 3})], mode="materialised")
    SegmentRule.objects.filter(segment=derived).update(kind="segment", params={"segment": base.slug})
    bump_version()
    results = refresh_segments()
    order = [r.slug for r in results]
    assert order.index("base") < order.index("derived")
    assert shopper_segments(s) >= {"base", "derived"}


def test_refresh_beat_schedule_and_command(capsys):
    from personalize.schedules import DEFAULT_SCHEDULES

    assert any(job["task"] == "personalize.segments.refresh" and job.get("every_minutes") == 15 for job in DEFAULT_SCHEDULES)
    make_segment("mat", [("visits", {"min": 1})], mode="materialised")
    make_segment("live", [("visits", {"min": 1})])
    Shopper.objects.create()
    call_command("personalize_refresh_segments", "mat")
    assert "mat: 1 members" in capsys.readouterr().out
    with pytest.raises(CommandError, match="Unknown segment"):
        call_command("personalize_refresh_segments", "nope")
    with pytest.raises(CommandError, match="Not materialised"):
        call_command("personalize_refresh_segments", "live")
    with pytest.raises(CommandError, match="batch-size"):
        call_command("personalize_refresh_segments", "--batch-size", "0")


def test_merged_shoppers_are_not_members():
    target = Shopper.objects.create(visits=4)
    Shopper.objects.create(visits=4, merged_into=target)
    make_segment("mat", [("visits", {"min": 2})], mode="materialised")
    refresh_segments()
    assert list(SegmentMembership.objects.values_list("shopper_id", flat=True)) == [target.pk]


# --- preview ------------------------------------------------------------------------------
def test_preview_counts_now_and_ignores_visit_rules(population):
    seg = make_segment("p", [("visits", {"min": 3}), ("utm", {"field": "source", "values": "news"})])
    result = preview(seg)
    expected = Shopper.objects.filter(visits__gte=3).count()
    assert result.count == expected and len(result.sample) == min(expected, 20)
    assert result.skipped and "utm_source" in result.skipped[0]


# --- the template tag ---------------------------------------------------------------------
def render(source: str, **context: Any) -> str:
    return Template("{% load personalize %}" + source).render(Context(context)).strip()


def test_if_segment_tag_branches():
    make_segment("first-visit", [("visit_state", {"state": "first"})])
    tpl = '{% if_segment "first-visit" %}Welcome!{% else %}Hello again{% endif_segment %}'
    assert render(tpl, request=f.request()) == "Welcome!"
    back = Shopper.objects.create(visits=3)
    assert render(tpl, request=request_for(back)) == "Hello again"
    assert render('{% if_segment "nope" "first-visit" %}yes{% endif_segment %}', request=f.request()) == "yes"
    assert render('{% if_segment slug %}yes{% else %}no{% endif_segment %}', request=f.request(), slug="first-visit") == "yes"


def test_if_segment_never_breaks_a_page(monkeypatch):
    tpl = '{% if_segment "x" %}in{% else %}out{% endif_segment %}'
    assert render(tpl) == "out"  # no request in the context

    def boom(request: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr("personalize.segments.evaluation._segments_for", boom)
    assert render(tpl, request=f.request()) == "out"


def test_if_segment_needs_a_slug():
    from django.template import TemplateSyntaxError

    with pytest.raises(TemplateSyntaxError):
        Template("{% load personalize %}{% if_segment %}x{% endif_segment %}")


# --- admin --------------------------------------------------------------------------------
def inline_data(rules: list[dict], *, prefix: str = "rules", initial: int = 0) -> dict[str, Any]:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rules)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, rule in enumerate(rules):
        for key, value in rule.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def segment_post(slug: str, rules: list[dict], **fields: Any) -> dict[str, Any]:
    data = {"name": slug.title(), "slug": slug, "description": "", "match": "all", "mode": "live", "is_active": "on"}
    data.update(fields)
    data.update(inline_data(rules))
    return data


def errors_of(response: Any) -> str:
    text = []
    for formset in response.context["inline_admin_formsets"]:
        text += [str(e) for e in formset.formset.errors] + [str(e) for e in formset.formset.non_form_errors()]
        text += [error for form in formset.formset.forms for error in form.params_errors()]
    text.append(str(response.context["adminform"].form.errors))
    return " ".join(text)


@pytest.fixture
def staff(admin_client):
    return admin_client


def test_admin_add_segment_with_rules(staff):
    url = reverse("admin:personalize_segment_add")
    assert staff.get(url).status_code == 200
    response = staff.post(url, segment_post("de", [{"kind": "country", "params-country-countries": "de", "position": "0"}]))
    assert response.status_code == 302, errors_of(response)
    rule = Segment.objects.get(slug="de").rules.get()
    assert rule.params == {"countries": ["DE"]}


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"kind": "visits", "position": "0"}, "lower or an upper bound"),
        ({"kind": "cart_value", "params-cart_value-op": "above", "position": "0"}, "amount: This field is required"),
        ({"kind": "country", "params-country-countries": "Germany", "position": "0"}, "two-letter"),
        ({"kind": "no_such", "position": "0"}, "valid choice"),
        ({"kind": "hour", "params-hour-start": "30", "params-hour-end": "2", "position": "0"}, "start: Ensure this value"),
    ],
)
def test_admin_bad_rule_input_is_a_form_error(staff, rule, message):
    response = staff.post(reverse("admin:personalize_segment_add"), segment_post("bad", [rule]))
    assert response.status_code == 200
    assert message in errors_of(response)
    assert not Segment.objects.filter(slug="bad").exists()


def test_admin_rejects_visit_rules_in_materialised_segment(staff):
    rule = {"kind": "utm", "params-utm-field": "source", "params-utm-values": "news", "position": "0"}
    response = staff.post(reverse("admin:personalize_segment_add"), segment_post("m", [rule], mode="materialised"))
    assert response.status_code == 200 and "depends on the request" in errors_of(response)


def test_admin_rejects_self_inclusion(staff):
    make_segment("me", [("visits", {"min": 1})])
    me = Segment.objects.get(slug="me")
    existing = me.rules.get()
    rules = [
        {"id": str(existing.pk), "segment": str(me.pk), "kind": "visits", "params-visits-min": "1", "position": "0"},
        {"segment": str(me.pk), "kind": "segment", "params-segment-segment": "me", "position": "1"},
    ]
    data = segment_post("me", rules)
    data["rules-INITIAL_FORMS"] = "1"
    response = staff.post(reverse("admin:personalize_segment_change", args=[me.pk]), data)
    assert response.status_code == 200 and "cannot include itself" in errors_of(response)


def test_admin_rejects_indirect_cycle(staff):
    a = make_segment("a", [("visits", {"min": 1})])
    make_segment("b", [("segment", {"segment": "a"})])
    make_segment("c", [("segment", {"segment": "b"})])
    existing = a.rules.get()
    data = segment_post(
        "a",
        [
            {"id": str(existing.pk), "segment": str(a.pk), "kind": "visits", "params-visits-min": "1", "position": "0"},
            {"segment": str(a.pk), "kind": "segment", "params-segment-segment": "c", "position": "1"},
        ],
    )
    data["rules-INITIAL_FORMS"] = "1"
    response = staff.post(reverse("admin:personalize_segment_change", args=[a.pk]), data)
    assert response.status_code == 200
    errors = errors_of(response)
    assert "cannot include itself" in errors and "a → c → b → a" in errors
    assert a.rules.count() == 1


def test_admin_change_page_shows_count_sample_and_rule_help(staff):
    for _ in range(3):
        Shopper.objects.create(visits=5, country="DE")
    Shopper.objects.create(visits=5, country="FR")
    seg = make_segment("de", [("country", {"countries": "DE"})])
    response = staff.get(reverse("admin:personalize_segment_change", args=[seg.pk]))
    assert response.status_code == 200
    assert response.context["preview"].count == 3
    content = response.content.decode()
    assert 'data-segment-count="3"' in content and 'data-rule-kind="country"' in content
    assert reverse("admin:personalize_segment_export", args=[seg.pk]) in content


def test_admin_materialised_refresh_now(staff):
    Shopper.objects.create(visits=5)
    seg = make_segment("m", [("visits", {"min": 2})], mode="materialised")
    page = staff.get(reverse("admin:personalize_segment_change", args=[seg.pk])).content.decode()
    assert "Refresh memberships now" in page and "Not refreshed yet" in page
    url = reverse("admin:personalize_segment_refresh", args=[seg.pk])
    assert staff.get(url).status_code == 405
    response = staff.post(url)
    assert response.status_code == 302
    seg.refresh_from_db()
    assert seg.member_count == 1 and seg.last_refreshed_at is not None
    # the list action does the same
    response = staff.post(
        reverse("admin:personalize_segment_changelist"), {"action": "refresh_selected", "_selected_action": [seg.pk]}
    )
    assert response.status_code == 302


def test_csv_export_content_and_injection_escaping(staff):
    user = f.user(username="=cmd|calc", email="-bad@example.com")
    Shopper.objects.create(user=user, country="DE", visits=3)
    Shopper.objects.create(email="+plain@example.com", country="DE")
    Shopper.objects.create(country="FR")
    seg = make_segment("de", [("country", {"countries": "DE"})])
    response = staff.get(reverse("admin:personalize_segment_export", args=[seg.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["key", "user", "email"]
    assert len(rows) == 3
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=cmd|calc" in cells and "'-bad@example.com" in cells and "'+plain@example.com" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_csv_export_needs_permission(client):
    seg = make_segment("de", [("country", {"countries": "DE"})])
    url = reverse("admin:personalize_segment_export", args=[seg.pk])
    assert client.get(url).status_code == 302  # not logged in: to the login page
    clerk = f.user(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_segment"))
    client.force_login(clerk)
    assert client.get(url).status_code == 403  # may see segments, not shoppers' data
    clerk.user_permissions.add(Permission.objects.get(codename="view_shopper"))
    assert client.get(url).status_code == 200


def test_refresh_needs_change_permission(client):
    seg = make_segment("m", [("visits", {"min": 1})], mode="materialised")
    clerk = f.user(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_segment"))
    client.force_login(clerk)
    assert client.post(reverse("admin:personalize_segment_refresh", args=[seg.pk])).status_code == 403
    seg.refresh_from_db()
    assert seg.last_refreshed_at is None


def test_bump_version_changes_compiled_definitions():
    make_segment("a", [("visits", {"min": 1})])
    assert set(active_segments()) == {"a"}
    Segment.objects.create(name="B", slug="b")
    bump_version()
    assert set(active_segments()) == {"a", "b"}


# --- system checks ------------------------------------------------------------------------
def test_system_checks(settings):
    from personalize.segments.checks import check_segments

    assert check_segments() == []
    settings.PERSONALIZE = {
        "PRODUCT_MODEL": "testshop.Product",
        "SEGMENT_RULES": ["nowhere.Rule", "personalize.segments.rules.QueryEnv"],
        "STORE_TIME_ZONE": "Mars/Olympus",
        "SEGMENT_RFM": {"recent_days": -1, "whales": 3},
        "SEGMENT_REFRESH_BATCH": 0,
    }
    ids = sorted(error.id for error in check_segments())
    assert ids == ["personalize.E020", "personalize.E020", "personalize.E021", "personalize.E022", "personalize.E022", "personalize.E023"]


def test_admin_refresh_form_is_not_nested_in_the_change_form(staff):
    seg = make_segment("m", [("visits", {"min": 1})], mode="materialised")
    page = staff.get(reverse("admin:personalize_segment_change", args=[seg.pk])).content.decode()
    change_form_end = page.index("</form>", page.index('id="segment_form"'))
    assert page.index('id="segment-refresh-form"') > change_form_end


def test_only_events_a_live_rule_reads_drop_the_cache(django_capture_on_commit_callbacks):
    product = f.product()
    shopper = Shopper.objects.create()
    make_segment("searchers", [("searched", {"term": "boots"})])
    req = request_for(shopper)
    assert segments_for(req) == frozenset()
    from personalize.segments.evaluation import SESSION_KEY

    assert SESSION_KEY in req.session
    viewing = request_for(shopper)
    viewing.session = req.session
    with django_capture_on_commit_callbacks(execute=True):  # receivers run after the commit
        personalize.track(viewing, "view", product=product)  # no live rule reads views
    assert SESSION_KEY in req.session
    searching = request_for(shopper)
    searching.session = req.session
    with django_capture_on_commit_callbacks(execute=True):
        personalize.track(searching, "search", query="Boots for winter")
    assert SESSION_KEY not in req.session
    after = request_for(shopper)
    after.session = req.session
    assert segments_for(after) == {"searchers"}


def test_a_store_rule_without_event_kinds_is_invalidated_by_any_event(settings, django_capture_on_commit_callbacks):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_RULES": ["tests.test_segment_rules.EmailDomainRule"]}
    from personalize.segments.evaluation import SESSION_KEY

    shopper = Shopper.objects.create()
    make_segment("custom", [("email_domain", {})])
    req = request_for(shopper)
    segments_for(req)
    with django_capture_on_commit_callbacks(execute=True):
        personalize.track(req, "page_view")
    assert SESSION_KEY not in req.session


def test_new_visit_and_landing_source_are_part_of_the_cache_key():
    shopper = Shopper.objects.create(visits=1)
    make_segment("returning", [("visit_state", {"state": "returning"})])
    make_segment("newsletter", [("utm", {"field": "source", "values": "newsletter"})])
    req = request_for(shopper)
    assert segments_for(req) == frozenset()
    Shopper.objects.filter(pk=shopper.pk).update(visits=2)  # what the middleware does after 30 idle minutes
    landing = request_for(shopper, "/?utm_source=newsletter")
    landing.session = req.session
    assert segments_for(landing) == {"returning", "newsletter"}
    next_page = request_for(shopper, "/shoes/")
    next_page.session = req.session
    assert segments_for(next_page) == {"returning", "newsletter"}  # the session's first touch


# --- a real worker ------------------------------------------------------------------------
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_on_a_real_worker_claim_each_segment_once(celery_worker_process):
    """Two refresh tasks at once in a 2-process worker: the segment is claimed by one of
    them (or refreshed twice in a row); memberships come out exact either way."""
    import time

    from personalize.segments.tasks import refresh_segments_task

    Shopper.objects.bulk_create([Shopper(visits=1 + i % 4) for i in range(400)])
    seg = make_segment("regulars", [("visits", {"min": 3})], mode="materialised")
    for _ in range(2):
        refresh_segments_task.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seg.refresh_from_db()
        if seg.last_refreshed_at is not None and seg.refresh_started_at is None:
            break
        time.sleep(0.2)
    time.sleep(1)  # let a second, queued refresh finish too
    seg.refresh_from_db()
    assert seg.last_refreshed_at is not None and seg.refresh_started_at is None
    expected = set(Shopper.objects.filter(visits__gte=3).values_list("pk", flat=True))
    assert set(SegmentMembership.objects.filter(segment=seg).values_list("shopper_id", flat=True)) == expected
    assert seg.member_count == len(expected) == 200


def test_renaming_a_segment_keeps_the_segments_built_on_it():
    shopper = Shopper.objects.create(visits=4)
    base = make_segment("regulars", [("visits", {"min": 3})])
    make_segment("derived", [("segment", {"segment": "regulars"})])
    base.slug = "loyal"
    base.save()
    assert SegmentRule.objects.get(segment__slug="derived").params == {"segment": "loyal"}
    assert segments_for(request_for(shopper)) == {"loyal", "derived"}


def test_switching_a_segment_to_live_drops_its_memberships():
    shopper = Shopper.objects.create(visits=4)
    seg = make_segment("regulars", [("visits", {"min": 3})], mode="materialised")
    refresh_segments()
    assert shopper_segments(shopper) == {"regulars"}
    seg.mode = Segment.Mode.LIVE
    seg.save()
    assert not SegmentMembership.objects.exists()
    seg.refresh_from_db()
    assert seg.member_count is None and seg.last_refreshed_at is None
    assert segments_for(request_for(shopper)) == {"regulars"}  # now evaluated per request


def test_a_failing_rule_only_fails_its_own_segment(monkeypatch):
    from personalize.segments.rules import VisitCountRule

    make_segment("first", [("visit_state", {"state": "first"})])
    make_segment("counted", [("visits", {"min": 1})])

    def boom(self: Any, ctx: Any) -> bool:
        raise RuntimeError("store rule bug")

    monkeypatch.setattr(VisitCountRule, "matches", boom)
    assert segments_for(f.request()) == {"first"}


def test_segment_features_for_the_recommender():
    from personalize.profiles import load_profile
    from personalize.segments import segment_features

    shopper = Shopper.objects.create(visits=4)
    make_segment("regulars", [("visits", {"min": 3})], mode="materialised")
    make_segment("buyers", [("visits", {"min": 1})], mode="materialised")
    assert segment_features(shopper) == {}
    refresh_segments()
    assert segment_features(shopper) == {"segments": "buyers,regulars"}
    assert load_profile(shopper, extra_features=segment_features(shopper)).features["segments"] == "buyers,regulars"
    assert segment_features(Shopper()) == {}
