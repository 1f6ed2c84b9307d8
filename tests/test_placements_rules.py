"""Business rules (admin rows and the settings hook), the rule form, the admin preview."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest
from django.db.models import Q

from personalize.models import Shopper
from personalize.placements import cards, recommend_for
from personalize.placements.forms import PlacementRuleForm
from personalize.models import PlacementRule
from tests import factories
from tests.placements_helpers import bought, configure, keys, products

pytestmark = pytest.mark.django_db


def only_high_margin(placement, profile):
    """A settings hook: used by test_settings_hook_adds_a_q."""
    return Q(margin__gte=Decimal("0.5"))


def test_include_rule_applies_to_its_placement_only(settings):
    low = factories.product(margin=Decimal("0.10"))
    high = factories.product(margin=Decimal("0.40"))
    configure(settings, items=[low, high])
    PlacementRule.objects.create(name="margin", placement="for_you", include={"margin__gte": "0.2"})
    assert recommend_for(None, "for_you", limit=8).keys == keys([high])
    assert recommend_for(None, "trending", limit=8).keys == keys([low, high])


def test_exclude_rule_on_a_related_field_for_every_placement(settings):
    gifts = factories.category("Gift cards")
    card = factories.product(category=gifts)
    other = factories.product()
    configure(settings, items=[card, other])
    PlacementRule.objects.create(name="no gift cards", placement="", exclude={"category__name__in": ["Gift cards"]})
    assert recommend_for(None, "for_you", limit=8).keys == keys([other])
    assert recommend_for(None, "trending", limit=8).keys == keys([other])


def test_rules_apply_to_live_data_and_edits_take_effect_at_once(settings):
    product = factories.product(margin=Decimal("0.10"))
    configure(settings, items=[product])
    rule = PlacementRule.objects.create(name="margin", placement="for_you", include={"margin__gte": "0.2"})
    assert recommend_for(None, "for_you", limit=8).keys == []
    type(product).objects.filter(pk=product.pk).update(margin=Decimal("0.30"))  # live product data
    # An update behind the ORM's signals is seen within LOCAL_CACHE_SECONDS, at once after
    # invalidate() (what a store calls after queryset.update()).
    cards.invalidate()
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])
    rule.include = {"margin__gte": "0.5"}
    rule.save()  # the rules cache is dropped on save
    assert recommend_for(None, "for_you", limit=8).keys == []
    rule.active = False
    rule.save()
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])
    rule.active = True
    rule.save()
    rule.delete()
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])


def test_stock_changed_behind_the_orm_waits_for_the_freshness_bound_a_save_does_not(settings, monkeypatch):
    # One instant of the process's clock: stock answers end with their LOCAL_CACHE_SECONDS
    # window, and a window ending between two calls must not decide this test.
    clock = type("Clock", (), {"monotonic": staticmethod(lambda: 1000.0)})
    monkeypatch.setattr(sys.modules["personalize.caching.local"], "time", clock)
    product = factories.product(stock=5)
    configure(settings, items=[product], LOCAL_CACHE_SECONDS=5)
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])
    type(product).objects.filter(pk=product.pk).update(stock=0)
    # Within LOCAL_CACHE_SECONDS this process still trusts its stock check...
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])
    # ...which a bound of 0 turns off (every list checks stock on live data).
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 0}
    assert recommend_for(None, "for_you", limit=8).keys == []
    settings.PERSONALIZE = {**settings.PERSONALIZE, "LOCAL_CACHE_SECONDS": 5}
    product.stock = 3
    product.save()  # through the ORM: at once
    assert recommend_for(None, "for_you", limit=8).keys == keys([product])


def test_settings_hook_adds_a_q(settings):
    low = factories.product(margin=Decimal("0.30"))
    high = factories.product(margin=Decimal("0.60"))
    configure(
        settings,
        items=[low, high],
        PLACEMENTS={"for_you": {"rules": "tests.test_placements_rules.only_high_margin"}},
    )
    assert recommend_for(None, "for_you", limit=8).keys == keys([high])
    assert recommend_for(None, "trending", limit=8).keys == keys([low, high])


def form(**data):
    base = {"name": "r", "placement": "for_you", "include": "{}", "exclude": "{}", "active": "on"}
    return PlacementRuleForm(data={**base, **data})


def test_form_accepts_valid_lookups():
    f = form(include='{"margin__gte": "0.2"}', exclude='{"category__name__in": ["X"]}')
    assert f.is_valid(), f.errors
    rule = f.save()
    assert rule.include == {"margin__gte": "0.2"}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("include", '{"no_such_field": 1}', "no_such_field"),
        ("include", '{"margin__gte": "lots"}', "margin__gte"),
        ("exclude", '{"category__nope__in": ["x"]}', "category__nope__in"),
        ("exclude", '{"price__in": 5}', "price__in"),
        ("include", '["margin__gte"]', "JSON object"),
    ],
)
def test_form_rejects_bad_lookups_with_a_field_error(field, value, message):
    f = form(**{field: value})
    assert not f.is_valid()
    assert message in " ".join(f.errors[field])


def test_form_offers_configured_placements(settings):
    settings.PERSONALIZE = {**settings.PERSONALIZE, "PLACEMENTS": {"refill": {"recommender": "popular"}}}
    choices = dict(PlacementRuleForm().fields["placement"].choices)
    assert {"", "for_you", "similar", "trending", "refill"} <= set(choices)
    assert not form(placement="nope").is_valid()


def test_admin_rejects_a_bad_rule_without_a_500(admin_client):
    response = admin_client.post(
        "/admin/personalize/placementrule/add/",
        {"name": "bad", "placement": "for_you", "include": '{"colour": "red"}', "exclude": "{}", "active": "on"},
    )
    assert response.status_code == 200
    assert "colour" in response.content.decode()
    assert not PlacementRule.objects.exists()


def test_admin_preview_shows_scores_reasons_and_what_was_left_out(admin_client, settings):
    shown = factories.product(name="Shown lamp")
    purchased = factories.product(name="Bought lamp")
    low = factories.product(name="Cheap lamp", margin=Decimal("0.05"))
    configure(settings, items=[purchased, low, shown])
    PlacementRule.objects.create(name="margin", placement="for_you", include={"margin__gte": "0.2"})
    shopper = Shopper.objects.create()
    bought(shopper, purchased)
    response = admin_client.get(
        "/admin/personalize/placementrule/preview/", {"shopper": str(shopper.key), "placement": "for_you", "limit": 8}
    )
    assert response.status_code == 200
    html = response.content.decode()
    shown_table = html.split('id="preview-shown"')[1].split("</table>")[0]
    left_table = html.split('id="preview-filtered"')[1].split("</table>")[0]
    assert "Shown lamp" in shown_table and "test recommendation" in shown_table
    assert "Bought lamp" in left_table and "already purchased" in left_table
    assert "Cheap lamp" in left_table and "business rule" in left_table
    rules_list = html.split('id="preview-rules"')[1].split("</ul>")[0]
    assert "margin" in rules_list and "margin__gte" in rules_list
    assert not recommend_for(shopper, "for_you", limit=8).filtered  # explain only in the preview


def test_admin_preview_finds_a_shopper_by_username_and_validates(admin_client, settings):
    configure(settings, items=products(1))
    user = factories.user("lena")
    Shopper.objects.create(user=user)
    ok = admin_client.get("/admin/personalize/placementrule/preview/", {"shopper": "lena", "placement": "for_you", "limit": 4})
    assert ok.status_code == 200 and 'id="preview-shown"' in ok.content.decode()
    bad = admin_client.get("/admin/personalize/placementrule/preview/", {"shopper": "ghost", "placement": "similar", "limit": 4})
    html = bad.content.decode()
    assert bad.status_code == 200 and "No shopper" in html and "needs a product" in html


def test_preview_needs_admin_permission(client):
    response = client.get("/admin/personalize/placementrule/preview/")
    assert response.status_code == 302 and "/login/" in response["Location"]
