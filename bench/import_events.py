"""``personalize_import_events`` against PostgreSQL's raw ``COPY`` of the same rows, in one run.

Creates a throw-away test database (PostgreSQL with ``DATABASE_URL``; on SQLite only the import
side runs), a ``--products`` catalogue and a CSV of ``--rows`` interactions (``--shoppers``
customer keys; views, carts and purchases with values; ISO times), then in alternating rounds
(ABAB, so machine noise hits both sides):

- **import**: ``manage.py personalize_import_events FILE --no-progress`` (parse, validate every
  row, resolve products and shoppers per batch, write);
- **raw COPY**: the same number of rows, already in COPY's text format, in one
  ``COPY personalize_event FROM STDIN`` (the database's own ceiling).

Every imported row must be stored (counted). Ends with::

    import ratio: R of raw COPY, stored N of N

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PERSONALIZE_TEST_DB=bench_import \\
        .venv/bin/python bench/import_events.py --rows 100000
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per side and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--shoppers", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=5_000, help="the command's --batch-size")
    args = parser.parse_args()

    import django

    django.setup()
    from bench.databases import make_test_catalogue
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from personalize.models import Event, Shopper

        keys = make_test_catalogue(args.products)
        rng = random.Random(11)
        postgres = connection.vendor == "postgresql"
        import_time = copy_time = 0.0
        imported = copied = 0
        with tempfile.TemporaryDirectory() as folder:
            for round_ in range(args.rounds):
                path = os.path.join(folder, f"events-{round_}.csv")
                _write_csv(path, args.rows, keys, args.shoppers, rng)
                before = Event.objects.count()
                t0 = time.perf_counter()
                call_command("personalize_import_events", path, "--no-progress", "--batch-size", str(args.batch_size),
                             stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
                import_time += time.perf_counter() - t0
                imported += Event.objects.count() - before
                if postgres:
                    shoppers = list(Shopper.objects.values_list("pk", flat=True)[: args.shoppers])
                    data = _copy_text(args.rows, keys, shoppers, rng)
                    t0 = time.perf_counter()
                    _raw_copy(connection, data)
                    copy_time += time.perf_counter() - t0
                    copied += args.rows
        expected = args.rows * args.rounds
        import_rate = imported / import_time
        print(f"database: {connection.vendor}; {args.rounds} rounds x {args.rows} rows; {args.products} products, {args.shoppers} shoppers")
        print(f"import (command):  {import_rate:8.0f} rows/s ({import_time:.1f} s)")
        if postgres:
            copy_rate = copied / copy_time
            print(f"raw COPY:          {copy_rate:8.0f} rows/s ({copy_time:.1f} s)")
            print(f"import ratio: {import_rate / copy_rate:.2f} of raw COPY, stored {imported} of {expected}")
        else:
            print(f"import: {import_rate:.0f} rows/s (no COPY on {connection.vendor}), stored {imported} of {expected}")
    finally:
        teardown_databases(old, verbosity=0)


def _write_csv(path: str, rows: int, keys: list[str], shoppers: int, rng: random.Random) -> None:
    kinds = ["view"] * 7 + ["add_to_cart"] * 2 + ["purchase"]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("shopper,product,kind,timestamp,value,quantity\n")
        for i in range(rows):
            kind = rng.choice(kinds)
            value = f"{rng.randint(5, 200)}.{rng.randint(0, 99):02d}" if kind == "purchase" else ""
            day, second = 1 + i % 28, i % 86_400
            handle.write(
                f"cust-{rng.randrange(shoppers)},{rng.choice(keys)},{kind},"
                f"2025-03-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z,{value},1\n"
            )


def _copy_text(rows: int, keys: list[str], shoppers: list[int], rng: random.Random) -> str:
    """The rows in COPY's text format (what the import writes, already converted)."""
    buffer = io.StringIO()
    for i in range(rows):
        second = i % 86_400
        buffer.write(
            f"{rng.choice(shoppers)}\tview\t{rng.choice(keys)}\t1\t\\N\t\t\t{{\"source\": \"import\"}}\t"
            f"2025-03-{1 + i % 28:02d} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00\n"
        )
    return buffer.getvalue()


def _raw_copy(connection, data: str) -> None:
    columns = "shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY personalize_event ({columns}) FROM STDIN") as copy:
            copy.write(data)


if __name__ == "__main__":
    main()
