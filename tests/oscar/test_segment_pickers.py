"""The segment admin's pickers on an Oscar store: categories come from Oscar's tree (named
with their path), products without child variants (events are recorded on the parent), no
brands (Oscar has none); rules name the category."""

from __future__ import annotations

from django.urls import reverse

from personalize.adapters import get_adapter
from personalize.segments.rules import describe_rule


def results(admin_client, facet: str, term: str) -> list[dict[str, str]]:
    response = admin_client.get(reverse("admin:personalize_segment_catalogue"), {"facet": facet, "term": term})
    assert response.status_code == 200
    return response.json()["results"]


def test_oscar_catalogue_in_the_pickers(shop, admin_client):
    assert results(admin_client, "category", "hood") == [{"id": str(shop.hoodies.pk), "text": str(shop.hoodies)}]
    assert "Hoodies" in str(shop.hoodies)
    titles = [r["text"] for r in results(admin_client, "product", "zip")]
    assert titles == ["Zip Hoodie"]  # the parent, not its S and L variants
    assert results(admin_client, "brand", "") == []
    assert get_adapter().catalogue_labels("category", [str(shop.kitchen.pk)]) == {str(shop.kitchen.pk): str(shop.kitchen)}
    assert describe_rule("cart_category", {"category": str(shop.hoodies.pk)}) == (
        f"Cart contains a product of category “{shop.hoodies}”"
    )


def test_oscar_segment_with_a_picked_category(shop, admin_client):
    data = {
        "name": "Hoodie fans", "slug": "hoodie-fans", "description": "", "match": "all", "mode": "live", "is_active": "on",
        "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
        "rules-0-kind": "viewed", "rules-0-position": "0", "rules-0-params-viewed-target": "category",
        "rules-0-params-viewed-key": str(shop.clothing.pk), "rules-0-params-viewed-days_0": "1",
        "rules-0-params-viewed-days_1": "weeks", "_continue": "1",
    }
    response = admin_client.post(reverse("admin:personalize_segment_add"), data)
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert f'<option value="{shop.clothing.pk}" selected>{shop.clothing}</option>' in page
