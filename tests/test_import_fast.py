"""``personalize_import_events`` at the database's speed (issue 11): ``COPY`` on PostgreSQL,
shoppers created in one statement, each product and customer looked up once per import, the
usual timestamp forms parsed in C. The COPY tests are marked ``postgres`` (CI's PostgreSQL stage)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personalize.events.importing import parse_timestamp
from personalize.models import Event, Shopper
from tests import factories

pytestmark = pytest.mark.django_db


def _import(tmp_path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("personalize_import_events", str(path), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.postgres
def test_postgresql_writes_a_batch_with_copy_and_creates_shoppers_in_one_statement(tmp_path):
    a, b = factories.product(), factories.product()
    text = (
        "shopper,product,kind,timestamp,value,quantity\n"
        f"c1,{a.pk},view,2024-03-01T10:00:00Z,,\n"
        f"c1,{b.pk},purchase,2024-03-02,19.98,2\n"
        f"c2,{a.pk},add_to_cart,1709300000,,\n"
    )
    with CaptureQueriesContext(connection) as queries:
        out, _err = _import(tmp_path, text)
    assert "3 event(s) imported" in out and "2 new shopper(s)" in out
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any('INSERT INTO "personalize_event"' in sql for sql in statements)  # COPY, not INSERT
    assert sum('INSERT INTO "personalize_shopper"' in sql for sql in statements) == 1
    c1, c2 = Shopper.objects.get(external_key="c1"), Shopper.objects.get(external_key="c2")
    assert c1.key != c2.key and c1.visits == 1 and c1.first_seen is not None and c1.email == ""
    purchase = Event.objects.get(shopper=c1, kind="purchase")
    assert str(purchase.value) == "19.98" and purchase.quantity == 2 and purchase.client_id is None
    assert purchase.context == {"source": "import", "lines": [{"product": str(b.pk), "quantity": 2, "price": "9.99"}]}
    assert purchase.created_at == datetime(2024, 3, 2, tzinfo=UTC)
    view = Event.objects.get(kind="view")
    assert view.context == {"source": "import"} and view.created_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert Event.objects.get(kind="add_to_cart").created_at == datetime.fromtimestamp(1709300000, tz=UTC)
    # A second import finds its shoppers again (one lookup, no new rows).
    out, _err = _import(tmp_path, text)
    assert "0 new shopper(s)" in out and Shopper.objects.filter(external_key="c1").count() == 1
    assert Event.objects.count() == 6


@pytest.mark.postgres
def test_postgresql_strict_import_with_copy_still_writes_nothing(tmp_path):
    a = factories.product()
    text = "shopper,product,kind,timestamp\n" + f"c1,{a.pk},view,2024-03-01\n" * 4 + "c9,missing,view,2024-03-01\n"
    with pytest.raises(Exception, match="nothing imported"):
        _import(tmp_path, text, "--strict", "--batch-size", "2")
    assert Event.objects.count() == 0 and not Shopper.objects.filter(external_key__in=["c1", "c9"]).exists()


def test_each_product_and_customer_is_looked_up_once_per_import(tmp_path):
    a, b = factories.product(), factories.product()
    rows = "".join(f"c{i % 2},{(a, b)[i % 2].pk},view,2024-03-0{1 + i % 5}\n" for i in range(10))
    with CaptureQueriesContext(connection) as queries:
        out, _err = _import(tmp_path, "shopper,product,kind,timestamp\n" + rows, "--batch-size", "2")
    assert "10 event(s) imported" in out
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "testshop_product"' in sql for sql in statements) == 1  # five batches, one lookup
    assert sum('FROM "personalize_shopper"' in sql and sql.lstrip().upper().startswith("SELECT") for sql in statements) <= 2


def test_blank_lines_are_no_rows_and_columns_may_come_in_any_order(tmp_path):
    a = factories.product()
    out, err = _import(tmp_path, f"timestamp,kind,product,shopper\n\n2024-03-01,view,{a.pk},c1\n\n")
    assert "1 event(s) imported from 1 row(s)" in out and err == ""
    assert Event.objects.get().shopper.external_key == "c1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 8, tzinfo=UTC)),
        ("2024-03-01 10:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),  # naive: the current time zone (UTC here)
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("1709300000", datetime.fromtimestamp(1709300000, tz=UTC)),
        ("1709300000.5", datetime.fromtimestamp(1709300000.5, tz=UTC)),
        ("20240301", datetime.fromtimestamp(20240301, tz=UTC)),  # digits only are POSIX seconds, as before
        ("2024-03-01T10:00:00.123456Z", datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_timestamps(text, expected):
    assert parse_timestamp(text) == expected


def test_a_bad_timestamp_is_still_an_error():
    for bad in ("not-a-date", "2024-13-01", "", "10:00"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_an_offset_is_kept_as_given():
    assert parse_timestamp("2024-03-01T10:00:00-05:00").utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)
