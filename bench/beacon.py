"""The beacon endpoint under load: batches of events through the full Django stack.

Creates a throw-away test database (SQLite in memory, or PostgreSQL with ``DATABASE_URL``),
a catalogue, then posts ``--batches`` batches of ``--size`` impression/view events with the
test client (middleware, origin check, throttle, validation, one transaction per batch) from
``--shoppers`` browsers, and prints requests/s, events/s and SQL queries per batch.
Throttling is disabled for the run (it would stop a single client, as it should).

Usage::

    .venv/bin/python bench/beacon.py --batches 200 --size 50
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PERSONALIZE_TEST_DB=bench_beacon \\
        .venv/bin/python bench/beacon.py --batches 200 --size 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--shoppers", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings, setup_test_environment, setup_databases

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from personalize.models import Event
        from tests import factories
        from tests.testshop.models import Category, Product

        categories = [Category.objects.create(name=f"C{i}") for i in range(10)]
        Product.objects.bulk_create(
            Product(name=f"P{i}", category=categories[i % 10], price=10 + i % 90) for i in range(args.products)
        )
        keys = [str(pk) for pk in Product.objects.values_list("pk", flat=True)]
        clients = [Client(HTTP_USER_AGENT=factories.BROWSER_UA, HTTP_ORIGIN="http://testserver") for _ in range(args.shoppers)]
        rng = random.Random(7)

        def batch() -> str:
            events = []
            for _ in range(args.size):
                kind = rng.choice(["impression", "impression", "impression", "view", "rec_click"])
                events.append({"kind": kind, "product": rng.choice(keys), "placement": "recently_viewed"})
            return json.dumps({"events": events})

        personalize = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None, "API_MAX_BATCH": max(50, args.size)}
        with override_settings(PERSONALIZE=personalize):
            bodies = [batch() for _ in range(args.batches)]
            for client in clients:  # first request of each browser creates its shopper
                client.post("/personalize/api/events/", bodies[0], content_type="application/json")
            Event.objects.all().delete()
            times, queries = [], []
            start = time.perf_counter()
            for i, body in enumerate(bodies):
                client = clients[i % len(clients)]
                t0 = time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    response = client.post("/personalize/api/events/", body, content_type="application/json")
                times.append(time.perf_counter() - t0)
                queries.append(len(ctx.captured_queries))
                assert response.status_code == 202, response.content
            total = time.perf_counter() - start
        stored = Event.objects.count()
        assert stored == args.batches * args.size, stored
        times.sort()
        print(f"database: {connection.vendor}; batches: {args.batches} x {args.size} events; shoppers: {args.shoppers}")
        print(f"requests/s: {args.batches / total:.1f}; events/s: {stored / total:.0f}")
        print(
            f"latency per batch ms: median {statistics.median(times) * 1000:.1f}, "
            f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f}"
        )
        print(f"SQL queries per batch: min {min(queries)}, max {max(queries)}")
    finally:
        from django.test.utils import teardown_databases

        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
