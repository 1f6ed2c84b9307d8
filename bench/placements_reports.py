"""Placements at volume: the performance report's aggregates and the search-suggestion precompute.

Creates a throw-away test database (use PostgreSQL: ``DATABASE_URL`` + ``PERSONALIZE_TEST_DB``)
and ``--events`` events of ``--shoppers`` shoppers over 30 days: widget impressions, signed
recommendation clicks (placement, model version, A/B variant in the context), purchases, and
searches with result counts from a vocabulary of ``--queries`` queries. Then times:

* ``attribution.performance(last 30 days)``: impressions/clicks per placement, model version
  and variant, and the purchases credited to each shopper's last click (the admin report),
* ``search.compute_search_stats()``: the precompute the beat task runs every 10 minutes,
* ``search.suggestions_for()`` warm (stats cached) for shoppers with history,

and prints seconds, SQL queries and Python peak memory (tracemalloc) for each.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PERSONALIZE_TEST_DB=bench_placements \\
        .venv/bin/python bench/placements_reports.py --events 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

PLACEMENTS = ("for_you", "similar", "bought_together", "trending")
WORDS = ("red", "blue", "shoes", "lamp", "desk", "cat", "food", "camera", "lens", "bag", "run", "tent", "yoga", "mat")


def generate(args: argparse.Namespace) -> list[int]:
    from django.utils import timezone

    from personalize.models import Event, Shopper

    rng = random.Random(3)
    shoppers = Shopper.objects.bulk_create((Shopper() for _ in range(args.shoppers)), batch_size=5000)
    vocabulary = [" ".join(rng.sample(WORDS, rng.choice((1, 2)))) + (f" {i}" if i > 60 else "") for i in range(args.queries)]
    query_weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    now = timezone.now()
    per_shopper = max(1, args.events // len(shoppers))
    batch: list[Event] = []
    written = 0
    started = time.perf_counter()
    for shopper in shoppers:
        when = now - timedelta(days=30 * rng.random())
        for _ in range(per_shopper):
            when += timedelta(minutes=rng.randint(1, 90))
            roll = rng.random()
            product = str(rng.randrange(5000))
            if roll < 0.70:
                placement = rng.choice(PLACEMENTS)
                tags = {"placement": placement, "model_version": rng.choice(("11", "12")), "variant": rng.choice(("a", "b"))}
                batch.append(Event(shopper=shopper, kind="impression", product_key=product, context=tags, created_at=when))
            elif roll < 0.78:
                tags = {"placement": rng.choice(PLACEMENTS), "model_version": "12", "variant": rng.choice(("a", "b")), "source": "link"}
                batch.append(Event(shopper=shopper, kind="rec_click", product_key=product, context=tags, created_at=when))
            elif roll < 0.81:
                lines = [{"product": product, "quantity": 1, "price": "20.00"}]
                batch.append(Event(shopper=shopper, kind="purchase", value=Decimal("20.00"), context={"lines": lines}, created_at=when))
            else:
                query = rng.choices(vocabulary, query_weights)[0]
                results = 0 if query.endswith("7") else rng.randint(1, 80)
                batch.append(Event(shopper=shopper, kind="search", query=query, context={"results": results}, created_at=when))
            if len(batch) >= 20000:
                Event.objects.bulk_create(batch)
                written += len(batch)
                batch.clear()
                print(f"\r  events: {written:,}", end="", flush=True)
    Event.objects.bulk_create(batch)
    written += len(batch)
    print(f"\r  events: {written:,} in {time.perf_counter() - started:.0f}s")
    return [s.pk for s in shoppers]


def measure(label: str, function):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tracemalloc.start()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        value = function()
        elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label}: {elapsed:.2f}s, {len(queries)} SQL queries, Python peak {peak / 2**20:.1f} MiB")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000000)
    parser.add_argument("--shoppers", type=int, default=50000)
    parser.add_argument("--queries", type=int, default=2000, help="distinct search queries")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases
    from django.utils import timezone

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from personalize.models import Event, Shopper
        from personalize.placements.attribution import performance
        from personalize.placements.search import compute_search_stats, search_stats, suggestions_for

        print(f"database: {connection.vendor}; events {args.events:,}, shoppers {args.shoppers:,}")
        shopper_ids = generate(args)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        kinds = dict(Event.objects.values_list("kind").annotate(n=django.db.models.Count("id")))
        print(f"  by kind: {kinds}")

        since = timezone.now() - timedelta(days=30)
        rows = measure("performance report (30 days)", lambda: performance(since))
        print(f"    {len(rows)} rows; attributed orders {sum(r.orders for r in rows):,}, clicks {sum(r.clicks for r in rows):,}")
        stats = measure("compute_search_stats", compute_search_stats)
        print(f"    {len(stats.queries)} suggestible queries")
        cache.clear()
        search_stats()
        rng = random.Random(9)
        sample = list(Shopper.objects.filter(pk__in=rng.sample(shopper_ids, 200)))
        suggestions_for(sample[0], limit=6)  # the recommenders load once per process
        timings = []
        for shopper in sample:
            started = time.perf_counter()
            suggestions_for(shopper, limit=6, prefix=rng.choice(WORDS)[:2])
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(
            f"  suggestions_for (stats cached, 200 shoppers): p50 {statistics.median(timings) * 1000:.1f} ms, "
            f"p99 {timings[int(0.99 * (len(timings) - 1))] * 1000:.1f} ms"
        )
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
