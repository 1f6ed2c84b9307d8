"""The segment admin's rule forms (issue 10, "forms, not JSON"): each rule type's typed fields,
validation on the field, existing segments re-opened and saved unchanged, the catalogue search
behind the pickers (through the adapter), the live preview of unsaved rules, summaries that
name things, and help texts shown as written. Driven with Django's test client."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from personalize.admin import segments as segments_admin
from personalize.models import Cart, Event, Segment, SegmentRule, Shopper
from personalize.segments.preview import preview
from personalize.segments.rules import Rule, build_rule, describe_rule, rule_registry
from tests import factories as f

pytestmark = pytest.mark.django_db

ADD = "admin:personalize_segment_add"


# --- helpers ------------------------------------------------------------------------------
class FormValues(HTMLParser):
    """What a browser submits for the page's change form (``#segment_form``), as a dict of
    lists: text, number, hidden and checked inputs, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._select_seen: list[str] = []
        self._select_chosen = False
        self._textarea: str | None = None

    def add(self, name: str, value: str) -> None:
        if "__prefix__" not in name:
            self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == "segment_form":
            self._in_form = True
        if not self._in_form or "name" not in a and tag not in ("option",):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.add(a["name"], a.get("value", "on"))
            elif kind not in ("submit", "button", "file"):
                self.add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = (a["name"], "multiple" in a)
            self._select_seen, self._select_chosen = [], False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select_seen.append(value)
            if "selected" in a:
                self._select_chosen = True
                self.add(self._select[0], value)
        elif tag == "textarea":
            self._textarea = a["name"]
            self.add(a["name"], "")

    def handle_data(self, data: str) -> None:
        if self._textarea and "__prefix__" not in self._textarea:
            self.values[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select is not None:
            name, multiple = self._select
            if not multiple and not self._select_chosen and self._select_seen:
                self.add(name, self._select_seen[0])  # a browser submits the first option
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def submitted(html: str) -> dict[str, list[str]]:
    parser = FormValues()
    parser.feed(html)
    return parser.values


def post_data(values: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v if len(v) > 1 else v[0] for k, v in values.items()}


def segment_form(slug: str, rules: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data = {
        "name": slug.title(),
        "slug": slug,
        "description": "",
        "match": "all",
        "mode": "live",
        "is_active": "on",
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    for i, rule in enumerate(rules):
        data[f"rules-{i}-position"] = str(i)
        for key, value in rule.items():
            data[f"rules-{i}-{key}"] = value
    return data


def rule_forms(response: Any) -> list[Any]:
    return [form for formset in response.context["inline_admin_formsets"] for form in formset.formset.forms]


def stored(segment: Segment) -> list[tuple[str, dict[str, Any], bool]]:
    return [(r.kind, r.params, r.negate) for r in segment.rules.order_by("position", "pk")]


@pytest.fixture
def staff(admin_client):
    return admin_client


def clerk(client, *codenames: str):
    user = f.user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="personalize", codename__in=codenames))
    client.force_login(user)
    return client


# --- the form ----------------------------------------------------------------------------
def test_add_page_has_typed_fields_for_every_rule_type_and_no_json(staff):
    content = staff.get(reverse(ADD)).content.decode()
    assert 'name="rules-0-params"' not in content and "JSON" not in content and "<textarea" not in content.split('id="rules-group"')[1]
    for kind in rule_registry():
        assert f'data-rule-kind="{kind}"' in content, kind
    # Choices with their human labels, checkboxes for several values, numbers and durations.
    assert '<option value="big_spender">Big spenders</option>' in content
    assert 'type="checkbox" name="rules-0-params-weekday-days" value="5"' in content
    assert 'name="rules-0-params-cart_value-amount"' in content and 'type="number"' in content
    assert 'name="rules-0-params-days_since_purchase-min_0"' in content  # a number and a unit
    assert '<option value="weeks">weeks</option>' in content
    assert 'class=" personalize-picker" data-url="/admin/personalize/segment/catalogue/"' in content
    assert "admin/js/vendor/select2/select2.full.min.js" in content and "personalize/admin/segment_rules.js" in content
    # No RST markup anywhere (help per value: the RFM test below).
    assert "``" not in content and ":meth:" not in content


def test_rfm_buckets_explain_each_value_with_the_stores_thresholds(staff, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_RFM": {"frequent_orders": 7, "recent_days": 12}}
    content = staff.get(reverse(ADD)).content.decode()
    assert "<dt>Frequent buyers</dt><dd>at least 7 orders</dd>" in content
    assert "<dt>Recent buyers</dt><dd>bought in the last 12 days</dd>" in content


def test_add_a_segment_with_typed_fields(staff):
    hoodies = f.category("Hoodies")
    data = segment_form(
        "typed",
        [
            {"kind": "country", "params-country-countries": "de, at"},
            {"kind": "viewed", "params-viewed-target": "category", "params-viewed-key": str(hoodies.pk),
             "params-viewed-min_count": "2", "params-viewed-days_0": "3", "params-viewed-days_1": "weeks"},
            {"kind": "weekday", "params-weekday-days": ["5", "6"]},
            {"kind": "lifetime_value", "params-lifetime_value-min": "99.50", "negate": "on"},
            {"kind": "days_since_purchase", "params-days_since_purchase-max_0": "1", "params-days_since_purchase-max_1": "weeks"},
            {"kind": "rfm", "params-rfm-bucket": "at_risk"},
        ],
    )
    response = staff.post(reverse(ADD), data)
    assert response.status_code == 302, [form.params_errors() for form in rule_forms(response)]
    assert stored(Segment.objects.get(slug="typed")) == [
        ("country", {"countries": ["DE", "AT"]}, False),
        ("viewed", {"target": "category", "key": str(hoodies.pk), "min_count": 2, "days": 21}, False),
        ("weekday", {"days": ["5", "6"]}, False),
        ("lifetime_value", {"min": "99.50", "max": None}, True),
        ("days_since_purchase", {"min": None, "max": 7}, False),
        ("rfm", {"bucket": "at_risk"}, False),
    ]


@pytest.mark.parametrize(
    "rule, field, message",
    [
        ({"kind": "cart_value", "params-cart_value-op": "above", "params-cart_value-amount": "-5"}, "amount", "greater than or equal to 0"),
        ({"kind": "cart_value", "params-cart_value-op": "sideways", "params-cart_value-amount": "5"}, "op", "valid choice"),
        ({"kind": "visits"}, "min", "lower or an upper bound"),
        ({"kind": "orders", "params-orders-min": "5", "params-orders-max": "2"}, "max", "below the lower bound"),
        ({"kind": "country", "params-country-countries": "Germany"}, "countries", "two-letter"),
        ({"kind": "hour", "params-hour-start": "5", "params-hour-end": "5"}, "end", "empty"),
        ({"kind": "viewed", "params-viewed-target": "category", "params-viewed-key": "no such shelf"}, "key", "No category"),
        ({"kind": "viewed", "params-viewed-target": "brand", "params-viewed-key": "Nobody"}, "key", "no brand"),
        ({"kind": "viewed", "params-viewed-target": "product", "params-viewed-key": "x",
          "params-viewed-days_0": "600", "params-viewed-days_1": "weeks"}, "days", "At most"),
    ],
)
def test_bad_input_is_an_error_on_the_field(staff, rule, field, message):
    response = staff.post(reverse(ADD), segment_form("bad", [rule]))
    assert response.status_code == 200
    assert not Segment.objects.filter(slug="bad").exists()
    form = rule_forms(response)[0]
    params = form.params_form(rule["kind"])
    assert message in " ".join(params.errors.get(field, [])), params.errors
    html = response.content.decode()
    # Rendered inside that field's row, in the chosen type's (visible) fieldset.
    start = html.index(f'data-rule-kind="{rule["kind"]}"')
    fieldset = html[html.rfind("<fieldset", 0, start) : html.index("</fieldset>", start)]
    assert " hidden" not in fieldset.split(">", 1)[0]
    row = fieldset[fieldset.index(f"field-{field}") :]
    assert 'class="errorlist' in row.split("</div>", 1)[0] or "errorlist" in row[:600]
    assert "Correct the rule" in html


def test_a_segment_can_pick_another_segment_but_not_itself(staff):
    other = Segment.objects.create(name="VIPs", slug="vips")
    SegmentRule.objects.create(segment=other, kind="orders", params={"min": 5})
    content = staff.get(reverse(ADD)).content.decode()
    assert '<option value="vips">VIPs (vips)</option>' in content
    response = staff.post(reverse(ADD), segment_form("fans", [{"kind": "segment", "params-segment-segment": "vips"}]))
    assert response.status_code == 302
    assert stored(Segment.objects.get(slug="fans")) == [("segment", {"segment": "vips"}, False)]


SAMPLES: dict[str, dict[str, Any]] = {
    "visit_state": {"state": "first"},
    "visits": {"min": 2},
    "days_since_last_visit": {"max": 3},
    "searched": {"term": "shoes"},
    "cart_value": {"op": "below", "amount": "50"},
    "orders": {"min": 1, "max": 3},
    "lifetime_value": {"min": "99.50"},
    "rfm": {"bucket": "at_risk"},
    "days_since_purchase": {"min": 30},
    "logged_in": {"state": "anonymous"},
    "country": {"countries": "de,at"},
    "device": {"devices": ["tablet", "mobile"]},
    "referrer": {"domains": "google.com, bing.com"},
    "utm": {"field": "campaign", "values": "spring"},
    "weekday": {"days": ["5", "6"]},
    "hour": {"start": 22, "end": 6},
}


def test_existing_segments_open_in_the_new_form_and_save_unchanged(staff):
    """Every rule type, stored as JSON before the forms existed, opens with its values in the
    fields and a save of the page as it stands keeps every param as it was."""
    Segment.objects.create(name="Other", slug="other")
    hoodies = f.category("Hoodies")
    lamp = f.product(name="Desk lamp", brand="Lumen")
    samples = {
        **SAMPLES,
        "viewed": {"target": "category", "key": str(hoodies.pk), "min_count": 3, "days": 14},
        "cart_category": {"category": str(hoodies.pk)},
        "segment": {"segment": "other"},
    }
    assert set(samples) == set(rule_registry())
    segment = Segment.objects.create(name="Everything", slug="everything", match="any")
    for position, (kind, params) in enumerate(samples.items()):
        rule = build_rule(kind, params)
        SegmentRule.objects.create(segment=segment, kind=kind, params=type(rule).serialize_params(rule.params), position=position)
    SegmentRule.objects.create(segment=segment, kind="viewed", position=99, negate=True,
                               params={"target": "product", "key": str(lamp.pk), "min_count": 1, "days": 1})
    before = stored(segment)
    url = reverse("admin:personalize_segment_change", args=[segment.pk])
    response = staff.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    # Names, not keys: the picked category and product show as what they are called.
    assert f'<option value="{hoodies.pk}" selected>Hoodies</option>' in html
    assert f'<option value="{lamp.pk}" selected>Desk lamp</option>' in html
    assert 'value="DE, AT"' in html and 'value="google.com, bing.com"' in html
    values = submitted(html)
    viewed_index = list(samples).index("viewed")
    assert values[f"rules-{viewed_index}-params-viewed-days_0"] == ["2"]
    assert values[f"rules-{viewed_index}-params-viewed-days_1"] == ["weeks"]
    values["_continue"] = ["Save"]
    response = staff.post(url, post_data(values))
    assert response.status_code == 302, [form.params_errors() or form.errors for form in rule_forms(response)]
    assert stored(segment) == before


def test_changing_only_a_parameter_is_saved(staff):
    segment = Segment.objects.create(name="Big carts", slug="big-carts")
    rule = SegmentRule.objects.create(segment=segment, kind="cart_value", params={"op": "above", "amount": "100"})
    url = reverse("admin:personalize_segment_change", args=[segment.pk])
    values = submitted(staff.get(url).content.decode())
    values["rules-0-params-cart_value-amount"] = ["250"]
    assert staff.post(url, post_data(values)).status_code == 302
    rule.refresh_from_db()
    assert rule.params == {"op": "above", "amount": "250"}


# --- the catalogue pickers ------------------------------------------------------------------
CATALOGUE = "admin:personalize_segment_catalogue"


def test_catalogue_search_goes_through_the_adapter(staff):
    hoodies, mugs = f.category("Hoodies"), f.category("Mugs")
    grey = f.product(name="Grey hoodie", category=hoodies, brand="Northwind")
    f.product(name="Blue mug", category=mugs, brand="Acme")
    f.product(name="Hidden hoodie", category=hoodies, brand="Acme", is_active=False)
    url = reverse(CATALOGUE)

    answer = staff.get(url, {"facet": "product", "term": "hood"}).json()
    assert [r["text"] for r in answer["results"]] == ["Grey hoodie", "Hidden hoodie"]
    assert answer["results"][0]["id"] == str(grey.pk) and answer["pagination"] == {"more": False}
    assert staff.get(url, {"facet": "product", "term": str(grey.pk)}).json()["results"] == [{"id": str(grey.pk), "text": "Grey hoodie"}]
    assert staff.get(url, {"facet": "category", "term": "mu"}).json()["results"] == [{"id": str(mugs.pk), "text": "Mugs"}]
    assert staff.get(url, {"facet": "brand", "term": ""}).json()["results"] == [
        {"id": "Acme", "text": "Acme"},
        {"id": "Northwind", "text": "Northwind"},
    ]


def test_catalogue_search_pages(staff):
    for i in range(23):
        f.product(name=f"Sock {i:02d}")
    url = reverse(CATALOGUE)
    first = staff.get(url, {"facet": "product", "term": "sock"}).json()
    second = staff.get(url, {"facet": "product", "term": "sock", "page": "2"}).json()
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    assert [r["text"] for r in second["results"]] == ["Sock 20", "Sock 21", "Sock 22"] and not second["pagination"]["more"]


@pytest.mark.parametrize("query", [{"facet": "order"}, {"facet": "product", "page": "x"}, {"facet": "product", "page": "0"}])
def test_catalogue_search_bad_input_is_400(staff, query):
    response = staff.get(reverse(CATALOGUE), query)
    assert response.status_code == 400 and response.json()["error"]


def test_catalogue_search_needs_staff_and_a_segment_permission(client):
    url = reverse(CATALOGUE)
    assert client.get(url, {"facet": "product"}).status_code == 302  # to the login page
    assert clerk(client, "view_segment").get(url, {"facet": "product"}).status_code == 403
    assert clerk(client, "change_segment").get(url, {"facet": "product"}).status_code == 200
    shopper_user = f.user()  # not staff
    client.force_login(shopper_user)
    assert client.get(url, {"facet": "product"}).status_code == 302


def test_brand_rule_matches_viewers_of_the_brand(staff):
    acme = f.product(name="Anvil", brand="Acme")
    other = f.product(name="Kettle", brand="Northwind")
    fan, stranger = Shopper.objects.create(), Shopper.objects.create()
    Event.objects.create(shopper=fan, kind="view", product_key=str(acme.pk))
    Event.objects.create(shopper=stranger, kind="view", product_key=str(other.pk))
    data = segment_form("acme", [{"kind": "viewed", "params-viewed-target": "brand", "params-viewed-key": "Acme"}])
    assert staff.post(reverse(ADD), data).status_code == 302
    segment = Segment.objects.get(slug="acme")
    result = preview(segment)
    assert [s.pk for s in result.sample] == [fan.pk]
    assert str(segment.rules.get()) == "Viewed brand “Acme” in the last 30 days"


# --- the live preview -----------------------------------------------------------------------
PREVIEW = "admin:personalize_segment_preview"


def test_preview_counts_the_unsaved_rules(staff):
    for country in ("DE", "DE", "DE", "FR"):
        Shopper.objects.create(visits=2, country=country)
    url = reverse(PREVIEW)
    answer = staff.post(url, segment_form("", [{"kind": "country", "params-country-countries": "de"}])).json()
    assert answer["count"] == 3 and 'data-segment-count="3"' in answer["html"] and "not saved yet" in answer["html"]
    both = segment_form("", [{"kind": "country", "params-country-countries": "de, fr"}])
    assert staff.post(url, both).json()["count"] == 4
    assert not Segment.objects.exists()  # nothing saved


def test_preview_of_a_saved_segment_uses_the_form_not_the_stored_rules(staff):
    Shopper.objects.create(visits=9)
    Shopper.objects.create(visits=1)
    segment = Segment.objects.create(name="Loyal", slug="loyal")
    rule = SegmentRule.objects.create(segment=segment, kind="visits", params={"min": 5})
    change = reverse("admin:personalize_segment_change", args=[segment.pk])
    values = submitted(staff.get(change).content.decode())
    values["rules-0-params-visits-min"] = ["1"]
    answer = staff.post(reverse("admin:personalize_segment_preview_change", args=[segment.pk]), post_data(values)).json()
    assert answer["count"] == 2
    rule.refresh_from_db()
    assert rule.params == {"min": 5}


def test_preview_of_incomplete_rules_is_400_with_a_message(staff):
    response = staff.post(reverse(PREVIEW), segment_form("", [{"kind": "cart_value", "params-cart_value-op": "above"}]))
    assert response.status_code == 400
    assert "amount" in response.json()["error"] and "Complete the rules" in response.json()["html"]


def test_preview_without_rules_says_so(staff):
    answer = staff.post(reverse(PREVIEW), segment_form("", [])).json()
    assert answer["count"] is None and "matches nobody" in answer["html"]


def test_preview_needs_post_and_permission(client):
    url = reverse(PREVIEW)
    data = segment_form("", [{"kind": "visits", "params-visits-min": "1"}])
    assert client.post(url, data).status_code == 302  # anonymous: to the login page
    viewer = clerk(client, "view_segment", "view_shopper")
    assert viewer.post(url, data).status_code == 403
    adder = clerk(client, "add_segment", "add_segmentrule")
    assert adder.get(url).status_code == 405
    Shopper.objects.create(visits=3)
    answer = adder.post(url, data).json()
    assert answer["count"] == 1 and "segment-sample" not in answer["html"]  # no shopper list without view_shopper
    both = clerk(client, "add_segment", "add_segmentrule", "view_shopper")
    assert "segment-sample" in both.post(url, data).json()["html"]


def test_preview_is_bounded_in_time(settings):
    """Per-shopper (Python) rules stop after the time budget; the count is a lower bound."""
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_REFRESH_BATCH": 2}
    hoodies = f.category("Hoodies")
    hoodie = f.product(category=hoodies)
    for _ in range(6):
        shopper = Shopper.objects.create()
        Cart.objects.create(shopper=shopper, lines=[{"product": str(hoodie.pk), "quantity": 1, "price": "10"}], value=10)
    segment = Segment(name="Hoodie carts", slug="hoodie-carts")
    rules = [SegmentRule(kind="cart_category", params={"category": str(hoodies.pk)})]
    full = preview(segment, rules=rules)
    assert full.count == 6 and not full.partial
    bounded = preview(segment, rules=rules, seconds=0)
    assert bounded.partial and bounded.count == 2


# --- summaries and help texts ---------------------------------------------------------------
def test_summaries_name_categories_products_brands_and_segments(staff):
    hoodies = f.category("Hoodies")
    lamp = f.product(name="Desk lamp")
    Segment.objects.create(name="Big spenders", slug="big")
    assert describe_rule("cart_category", {"category": str(hoodies.pk)}) == "Cart contains a product of category “Hoodies”"
    assert describe_rule("viewed", {"target": "product", "key": str(lamp.pk), "min_count": 2, "days": 7}) == (
        "Viewed product “Desk lamp” at least 2 times in the last 7 days"
    )
    assert describe_rule("segment", {"segment": "big"}) == "Member of segment “Big spenders”"
    # A category removed since: the key, not an error.
    assert "“gone-42”" in describe_rule("cart_category", {"category": "gone-42"})
    seg = Segment.objects.create(name="Hoodie carts", slug="hoodie-carts")
    SegmentRule.objects.create(segment=seg, kind="cart_category", params={"category": str(hoodies.pk)})
    listing = staff.get(reverse("admin:personalize_segment_changelist")).content.decode()
    assert "Cart contains a product of category “Hoodies”" in listing and f"category {hoodies.pk}" not in listing


class PlaceholderRule(Rule):
    """Greets ``<name>`` by :meth:`~personalize.adapters.DefaultAdapter.user_first_name`."""

    kind = "placeholder"
    label = _("Placeholder test")

    class Params(forms.Form):
        greeting = forms.CharField(label="greeting", help_text="Write ``Hello <name>``; <b>not bold</b>.")

    def matches(self, ctx: Any) -> bool:
        return False


def test_help_texts_show_placeholders_literally_and_no_rst(staff, settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_RULES": ["tests.test_segments_admin_forms.PlaceholderRule"]}
    content = staff.get(reverse(ADD)).content.decode()
    assert "Write Hello &lt;name&gt;; &lt;b&gt;not bold&lt;/b&gt;." in content
    assert "Greets &lt;name&gt; by user_first_name." in content
    assert "<b>not bold</b>" not in content and "``" not in content


def test_days_since_last_visit_uses_the_duration_widget_and_stores_days(staff):
    now = timezone.now()
    Shopper.objects.create(last_seen=now - timedelta(days=20))
    data = segment_form("away", [{"kind": "days_since_last_visit", "params-days_since_last_visit-min_0": "2",
                                   "params-days_since_last_visit-min_1": "weeks"}])
    assert staff.post(reverse(ADD), data).status_code == 302
    assert stored(Segment.objects.get(slug="away")) == [("days_since_last_visit", {"min": 14, "max": None}, False)]


class SlowRule(Rule):
    """A rule whose SQL takes half a second (PostgreSQL's pg_sleep)."""

    kind = "slow"
    label = "Slow"

    def matches(self, ctx: Any) -> bool:
        return True

    def q(self, env: Any) -> Any:
        from django.db.models import Q
        from django.db.models.expressions import RawSQL

        return Q(pk__in=RawSQL("SELECT id FROM personalize_shopper WHERE pg_sleep(0.5) IS NOT NULL", []))


@pytest.mark.postgres
def test_a_slow_query_is_cancelled_by_the_preview_budget(settings, staff, monkeypatch):
    monkeypatch.setattr(segments_admin, "PREVIEW_SECONDS", 0.1)
    settings.PERSONALIZE = {**settings.PERSONALIZE, "SEGMENT_RULES": ["tests.test_segments_admin_forms.SlowRule"]}
    Shopper.objects.create()
    segment = Segment(name="Slow", slug="slow")
    result = preview(segment, rules=[SegmentRule(kind="slow", params={})], seconds=0.1)
    assert result.timed_out
    assert Shopper.objects.count() == 1  # the connection is still usable
    answer = staff.post(reverse(PREVIEW), segment_form("", [{"kind": "slow"}])).json()
    assert answer["count"] == 0 and "took too long" in answer["html"]
    assert preview(segment, rules=[SegmentRule(kind="slow", params={})]).count == 1  # no budget: waits


def test_without_javascript_the_chosen_types_fields_show_after_a_save(staff):
    """No script: a new row lists every type's fields; choose the type and save, and the page
    comes back with that type's fields alone (the others carry ``hidden``), errors on them."""
    html = staff.get(reverse(ADD)).content.decode()
    assert html.count("personalize-rule-fields") == 2 * len(rule_registry())  # row 0 and the empty form
    assert html.count('" hidden>') == 0
    response = staff.post(reverse(ADD), segment_form("dev", [{"kind": "device"}]))
    html = response.content.decode()
    row = html[html.index('id="rules-0"') : html.index('id="rules-empty"')]
    visible = [kind for kind in rule_registry() if f'data-rule-kind="{kind}">' in row]
    assert visible == ["device"]
    assert row.count(" hidden>") == len(rule_registry()) - 1
    assert "This field is required" in row[row.index('data-rule-kind="device"') :]


def test_a_flow_steps_template_help_shows_its_placeholders(staff):
    """Issue 10: the admin renders help texts as HTML; ``<name>`` must not vanish as a tag."""
    content = staff.get(reverse("admin:personalize_flow_add")).content.decode()
    assert "&lt;name&gt;.html and &lt;name&gt;.txt (per language: &lt;lang&gt;/&lt;name&gt;.html)" in content
    assert "<name>" not in content
