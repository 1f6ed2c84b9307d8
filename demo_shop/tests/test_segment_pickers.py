"""The segment admin's catalogue pickers on the demo shop, whose categories and brands are
foreign keys (the library's test store has a plain-text brand): search and names go through
the default adapter, and a "viewed brand" rule stores the brand's id and names it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from demo_shop.catalog.models import Brand, Category, Product
from personalize.adapters import get_adapter
from personalize.models import Event, Segment, Shopper
from personalize.segments.preview import preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    tents = Category.objects.create(slug="tents", name="Tents")
    lamps = Category.objects.create(slug="lamps", name="Lamps")
    peak = Brand.objects.create(slug="peak", name="Peak Outdoor")
    glow = Brand.objects.create(slug="glow", name="Glow")
    dome = Product.objects.create(slug="dome", title="Dome tent", category=tents, brand=peak, price=Decimal("199"))
    lamp = Product.objects.create(slug="lamp", title="Head lamp", category=lamps, brand=glow, price=Decimal("25"))
    return {"tents": tents, "peak": peak, "glow": glow, "dome": dome, "lamp": lamp}


def test_search_and_names_through_the_default_adapter(catalogue):
    adapter = get_adapter()
    assert adapter.search_catalogue("brand", "peak") == [(str(catalogue["peak"].pk), "Peak Outdoor")]
    assert adapter.search_catalogue("brand", "glow") == [(str(catalogue["glow"].pk), "Glow")]  # by slug or name
    assert adapter.search_catalogue("category", "ten") == [(str(catalogue["tents"].pk), "Tents")]
    assert adapter.search_catalogue("product", "lamp") == [(str(catalogue["lamp"].pk), "Head lamp")]
    assert adapter.catalogue_labels("brand", [str(catalogue["peak"].pk), "999"]) == {str(catalogue["peak"].pk): "Peak Outdoor"}


def test_viewed_brand_rule_in_the_admin(admin_client, catalogue):
    fan, other = Shopper.objects.create(), Shopper.objects.create()
    Event.objects.create(shopper=fan, kind="view", product_key=str(catalogue["dome"].pk))
    Event.objects.create(shopper=other, kind="view", product_key=str(catalogue["lamp"].pk))
    search = admin_client.get(reverse("admin:personalize_segment_catalogue"), {"facet": "brand", "term": "outdoor"})
    assert search.json()["results"] == [{"id": str(catalogue["peak"].pk), "text": "Peak Outdoor"}]
    data = {
        "name": "Peak fans", "slug": "peak-fans", "description": "", "match": "all", "mode": "live", "is_active": "on",
        "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0", "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
        "rules-0-kind": "viewed", "rules-0-position": "0", "rules-0-params-viewed-target": "brand",
        "rules-0-params-viewed-key": str(catalogue["peak"].pk), "rules-0-params-viewed-days_0": "30",
        "rules-0-params-viewed-days_1": "days",
    }
    assert admin_client.post(reverse("admin:personalize_segment_add"), data).status_code == 302
    segment = Segment.objects.get(slug="peak-fans")
    assert segment.rules.get().params["key"] == str(catalogue["peak"].pk)
    assert [s.pk for s in preview(segment).sample] == [fan.pk]
    page = admin_client.get(reverse("admin:personalize_segment_change", args=[segment.pk])).content.decode()
    assert f'<option value="{catalogue["peak"].pk}" selected>Peak Outdoor</option>' in page
    assert "Viewed brand “Peak Outdoor” in the last 30 days" in page
