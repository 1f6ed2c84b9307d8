"""Placement rules edited as rows (product field, condition, value) instead of JSON: what the
admin posts becomes the same ORM lookups as before, stored rules read back as rows, and a
mistake is a form error, never a 500."""

from __future__ import annotations

import pytest

from personalize.models import PlacementRule
from personalize.placements.forms import PlacementRuleForm
from personalize.placements.lookups import Row, describe, from_rows, product_paths, to_rows
from tests.testshop.models import Product

pytestmark = pytest.mark.django_db

ADD = "/admin/personalize/placementrule/add/"


def rows_post(prefix: str, rows: list[tuple[str, str, str]]) -> dict[str, str]:
    data = {f"{prefix}-rows": str(len(rows))}
    for i, (path, operator, value) in enumerate(rows):
        data.update({f"{prefix}-{i}-path": path, f"{prefix}-{i}-operator": operator, f"{prefix}-{i}-value": value})
    return data


def test_fields_offered_are_the_products_own_and_their_relations_names():
    paths = dict(product_paths(Product))
    assert {"name", "price", "margin", "stock", "is_active", "brand", "category__name"} <= set(paths)
    assert paths["category__name"].startswith("Category › ")


def test_rows_become_the_lookups_the_engine_applies():
    rows = [Row("margin", "gte", "0.2"), Row("category__name", "in", "Gift cards, Vouchers ,"), Row("is_active", "", "Yes"), Row("", "", "")]
    assert from_rows(Product, rows) == {"margin__gte": "0.2", "category__name__in": ["Gift cards", "Vouchers"], "is_active": True}


def test_stored_lookups_read_back_as_rows_and_unknown_paths_are_kept():
    lookups = {"category__name__in": ["Gift cards"], "name__icontains": "mug", "category__pk__startswith": "a", "is_active": False}
    rows = to_rows(lookups)
    assert rows == [Row("category__name", "in", "Gift cards"), Row("name", "icontains", "mug"),
                    Row("category__pk__startswith", "", "a"), Row("is_active", "", "no")]
    assert from_rows(Product, rows) == lookups


def test_admin_saves_a_rule_from_rows(admin_client):
    data = {"name": "No gift cards", "placement": "for_you", "active": "on",
            **rows_post("include", [("margin", "gte", "0.2"), ("", "", "")]),
            **rows_post("exclude", [("category__name", "in", "Gift cards, Vouchers")])}
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = PlacementRule.objects.get()
    assert rule.include == {"margin__gte": "0.2"}
    assert rule.exclude == {"category__name__in": ["Gift cards", "Vouchers"]}
    listing = admin_client.get("/admin/personalize/placementrule/").content.decode()
    assert "Margin is at least 0.2" in listing and "Category › name is one of Gift cards, Vouchers" in listing


def test_admin_change_form_shows_the_rule_as_rows(admin_client):
    rule = PlacementRule.objects.create(name="r", include={"margin__gte": "0.2"}, exclude={"category__name__in": ["X", "Y"]})
    html = admin_client.get(f"/admin/personalize/placementrule/{rule.pk}/change/").content.decode()
    assert 'name="include-rows" value="3"' in html  # its row and two blank ones
    assert '<option value="margin" selected>' in html and '<option value="gte" selected>' in html
    assert 'name="exclude-0-value" id="id_exclude-0-value" value="X, Y"' in html
    assert "{&quot;" not in html and '{"margin' not in html  # no JSON for the marketer to edit


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("margin", "gte", "")], "Enter a value for “margin”"),
        ([("margin", "gte", "lots")], "margin__gte"),
        ([("colour", "", "red")], "colour"),
        ([("margin", "between", "1")], "Choose a condition"),
    ],
)
def test_a_bad_row_is_a_form_error_not_a_500(admin_client, rows, message):
    data = {"name": "bad", "placement": "", "active": "on", **rows_post("include", rows), **rows_post("exclude", [])}
    response = admin_client.post(ADD, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PlacementRule.objects.exists()


def test_unchanged_rule_saves_the_same_lookups():
    rule = PlacementRule.objects.create(name="r", include={"is_active": True, "price__lte": "50"}, exclude={})
    rows = to_rows(rule.include)
    data = {"name": "r", "placement": "", "active": "on",
            **rows_post("include", [tuple(r) for r in rows]), **rows_post("exclude", [])}
    form = PlacementRuleForm(data=data, instance=rule)
    assert form.is_valid(), form.errors
    assert not form.has_changed() or form.cleaned_data["include"] == {"is_active": True, "price__lte": "50"}
    assert form.save().include == {"is_active": True, "price__lte": "50"}


def test_describe_reads_like_a_sentence():
    assert describe(Product, {"price__lt": "10", "is_active": True}) == "Price is less than 10; Is active is yes"
