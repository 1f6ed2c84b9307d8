"""Importing historical events from CSV and exporting every shopper's list as JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artefacts_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def write_csv(tmp_path, text: str):
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_good_rows(tmp_path):
    a, b = factories.product(), factories.product()
    path = write_csv(
        tmp_path,
        "shopper,product,kind,timestamp,value,quantity\n"
        f"c1,{a.pk},view,2024-03-01T10:00:00Z,,\n"
        f"c1,{b.pk},purchase,2024-03-02,19.98,2\n"
        f"c2,{a.pk},add_to_cart,1709300000,,\n",
    )
    out = StringIO()
    call_command("personalize_import_events", path, "--no-progress", stdout=out, stderr=StringIO())
    assert "3 event(s) imported" in out.getvalue() and "2 new shopper(s)" in out.getvalue()
    c1 = Shopper.objects.get(external_key="c1")
    purchase = Event.objects.get(shopper=c1, kind="purchase")
    assert str(purchase.value) == "19.98" and purchase.quantity == 2
    assert purchase.context["lines"] == [{"product": str(b.pk), "quantity": 2, "price": "9.99"}]
    assert purchase.created_at.year == 2024
    # the imported purchase is part of the shopper's profile
    from personalize.profiles import load_profile

    assert str(b.pk) in load_profile(c1).purchased_keys
    # importing again reuses the shoppers
    call_command("personalize_import_events", path, "--no-progress", stdout=StringIO(), stderr=StringIO())
    assert Shopper.objects.filter(external_key="c1").count() == 1 and Event.objects.count() == 6


def test_bad_rows_and_unknown_products_are_reported_with_line_numbers_and_skipped(tmp_path):
    a = factories.product()
    path = write_csv(
        tmp_path,
        "shopper,product,kind,timestamp\n"
        f"c1,{a.pk},view,2024-03-01\n"  # line 2: good
        f"c1,{a.pk},teleport,2024-03-01\n"  # 3: bad kind
        "c1,00000000-0000-0000-0000-000000000000,view,2024-03-01\n"  # 4: unknown product
        f"c1,{a.pk},view,not-a-date\n"  # 5: bad timestamp
        f",{a.pk},view,2024-03-01\n"  # 6: no shopper
        "c1,not-a-uuid,view,2024-03-01\n"  # 7: malformed product key
        f"c2,{a.pk},view,2024-03-03\n",  # 8: good
    )
    err = StringIO()
    out = StringIO()
    call_command("personalize_import_events", path, "--no-progress", "--batch-size", "3", stdout=out, stderr=err)
    problems = err.getvalue()
    for line in (3, 4, 5, 6, 7):
        assert f"line {line}:" in problems
    assert "line 2:" not in problems and "line 8:" not in problems
    assert "kind" in problems and "unknown product" in problems and "timestamp" in problems
    assert "2 event(s) imported" in out.getvalue() and "5 skipped (2 unknown product(s))" in out.getvalue()
    assert Event.objects.count() == 2


def test_strict_import_writes_nothing(tmp_path):
    a = factories.product()
    path = write_csv(
        tmp_path,
        "shopper,product,kind,timestamp\n" + f"c1,{a.pk},view,2024-03-01\n" * 5 + "c9,missing,view,2024-03-01\n",
    )
    err = StringIO()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("personalize_import_events", path, "--strict", "--batch-size", "2", "--no-progress", stdout=StringIO(), stderr=err)
    assert "line 7:" in err.getvalue()
    assert Event.objects.count() == 0 and not Shopper.objects.filter(external_key__in=["c1", "c9"]).exists()


def test_import_bad_file_or_header(tmp_path):
    with pytest.raises(CommandError, match="Cannot open"):
        call_command("personalize_import_events", str(tmp_path / "nope.csv"), stdout=StringIO())
    path = write_csv(tmp_path, "customer,sku\n1,2\n")
    with pytest.raises(CommandError, match="missing column"):
        call_command("personalize_import_events", path, "--no-progress", stdout=StringIO())


def test_export_streams_valid_json_for_every_shopper(tmp_path, fast):
    from tests.recommender_data import taste_shop

    shop = taste_shop(shoppers=8)
    empty = Shopper.objects.create()
    path = tmp_path / "recs.json"
    call_command(
        "personalize_export_recommendations", "--placement", "for_you", "--limit", "3", "--output", str(path),
        "--no-progress", stderr=StringIO(),
    )
    data = json.loads(path.read_text())
    assert set(data) == {str(s.key) for s in shop["shoppers"]} | {str(empty.key)}
    catalogue = {str(p.pk) for p in shop["a"] + shop["b"]}
    assert all(len(keys) <= 3 and set(keys) <= catalogue for keys in data.values())
    assert data[str(empty.key)]  # a new shopper still gets the trending list
    assert not (tmp_path / "recs.json.partial").exists()


def test_export_service_writes_incrementally(fast):
    from personalize.placements.exporting import export_recommendations

    factories.product()
    Shopper.objects.create()
    Shopper.objects.create()
    writes = []

    class Spy(StringIO):
        def write(self, text):
            writes.append(text)
            return super().write(text)

    out = Spy()
    count = export_recommendations(out, placement="for_you", limit=2)
    assert count == 2 and len(writes) >= 4  # opening, one write per shopper, closing
    assert len(json.loads(out.getvalue())) == 2


def test_export_with_no_shoppers_is_an_empty_object(fast):
    from personalize.placements.exporting import export_recommendations

    out = StringIO()
    assert export_recommendations(out, placement="for_you", limit=2) == 0
    assert json.loads(out.getvalue()) == {}


def test_export_bad_input(fast):
    with pytest.raises(CommandError, match="--limit"):
        call_command("personalize_export_recommendations", "--limit", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="--placement"):
        call_command("personalize_export_recommendations", "--placement", "nope", stdout=StringIO())
