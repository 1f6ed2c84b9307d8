"""The beacon endpoint against the database's own insert speed, in one run.

Creates a throw-away test database (PostgreSQL with ``DATABASE_URL``, else SQLite in memory), a
catalogue and ``--shoppers`` browsers, then per round, in blocks of ``--block`` batches taking
turns (ABBA, so machine noise hits both sides):

- **API**: batches of ``--size`` events with client ids posted through the full Django stack
  (middleware, origin check, throttle disabled, validation, key lookup, insert, receivers);
- **bulk20**: ``Event.objects.bulk_create`` of the same rows (the round's batches, each row with
  a client id of its own) in batches of ``--size``, one transaction each (the baseline of issue 11);
- **COPY** (PostgreSQL): the same rows in one ``COPY``.

Every acknowledged API event must be stored exactly once (counted by client id). Ends with::

    beacon ratio: R of bulk20, p99 N ms, lost L

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PERSONALIZE_TEST_DB=bench_beacon \\
        .venv/bin/python bench/beacon.py --batches 300 --size 20
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches per side and round")
    parser.add_argument("--size", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--block", type=int, default=10, help="batches per side in turn (ABBA)")
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest functions of the API side (cProfile)")
    args = parser.parse_args()

    import django

    django.setup()
    from bench.databases import make_test_catalogue
    from django.conf import settings
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import override_settings, setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from personalize.conf import DEFAULTS
        from personalize.models import Event, Shopper
        from tests import factories

        keys = make_test_catalogue(args.products)
        rng = random.Random(7)
        clients = [
            Client(HTTP_USER_AGENT=factories.BROWSER_UA, HTTP_ORIGIN="http://testserver") for _ in range(args.shoppers)
        ]
        for client in clients:
            client.cookies["personalize_consent"] = "granted"

        def events() -> list[dict]:
            return [
                {"kind": rng.choice(["impression", "impression", "view", "rec_click"]), "product": rng.choice(keys),
                 "placement": "recently_viewed", "id": uuid.uuid4().hex}
                for _ in range(args.size)
            ]  # fmt: skip

        # The shipped in-process bound (the test settings turn it off), so confirmed product
        # keys are held as in a store; throttles off (one client would trip them).
        personalize = {**settings.PERSONALIZE, "API_THROTTLE_RATE": None, "CONSENT_REQUIRED": False,
                       "LOCAL_CACHE_SECONDS": DEFAULTS["LOCAL_CACHE_SECONDS"],
                       "NEW_PROFILES_PER_NETWORK_PER_HOUR": None, "API_MAX_BATCH": max(50, args.size)}  # fmt: skip
        with override_settings(PERSONALIZE=personalize):
            for client in clients:  # each browser's first post: its cookie and profile
                client.post("/personalize/api/events/", json.dumps({"events": events()}), content_type="application/json")
            shoppers = list(Shopper.objects.all())
            Event.objects.all().delete()
            api_time = bulk_time = api_cpu = bulk_cpu = 0.0
            latencies: list[float] = []
            acknowledged: set[str] = set()
            bulk_rows = 0
            profiler = cProfile.Profile() if args.profile else None

            def post_block(block: list[int], bodies: list[list[dict]], payloads: list[str]) -> None:
                nonlocal api_time, api_cpu
                if profiler is not None:
                    profiler.enable()
                t0, c0 = time.perf_counter(), time.process_time()
                for i in block:
                    s = time.perf_counter()
                    answer = clients[i % len(clients)].post("/personalize/api/events/", payloads[i], content_type="application/json")
                    latencies.append(time.perf_counter() - s)
                    if answer.status_code == 202 and answer.json().get("accepted") == len(bodies[i]):
                        acknowledged.update(e["id"] for e in bodies[i])
                api_time += time.perf_counter() - t0
                api_cpu += time.process_time() - c0
                if profiler is not None:
                    profiler.disable()

            def bulk_block(block: list[int], rows: list[list]) -> None:
                nonlocal bulk_time, bulk_cpu, bulk_rows
                t0, c0 = time.perf_counter(), time.process_time()
                for i in block:
                    with transaction.atomic():
                        Event.objects.bulk_create(rows[i])
                bulk_time += time.perf_counter() - t0
                bulk_cpu += time.process_time() - c0
                bulk_rows += sum(len(rows[i]) for i in block)

            for _round in range(args.rounds):
                bodies = [events() for _ in range(args.batches)]
                # Encoding the body is the browser's work, not the server's: done before timing.
                payloads = [json.dumps({"events": batch}) for batch in bodies]
                # The same rows the API is sent (kind, product, context, a client id of their own:
                # the unique index costs both sides alike), built before timing.
                rows = [
                    [Event(shopper=shoppers[i % len(shoppers)], kind=e["kind"], product_key=e["product"],
                           context={"source": "beacon", "placement": e["placement"]}, client_id=uuid.uuid4().hex)
                     for e in batch]
                    for i, batch in enumerate(bodies)
                ]  # fmt: skip
                # Blocks of --block batches in ABBA order: a load change on the shared machine
                # hits both sides alike instead of whichever ran during it.
                for number, first in enumerate(range(0, args.batches, args.block)):
                    block = list(range(first, min(first + args.block, args.batches)))
                    if number % 2 == 0:
                        post_block(block, bodies, payloads)
                        bulk_block(block, rows)
                    else:
                        bulk_block(block, rows)
                        post_block(block, bodies, payloads)
            if profiler is not None:
                pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(os.environ.get("BENCH_FILTER", ""), args.profile)
            # The request stack alone (middleware, DRF, test client) with tracking off: what
            # every post pays before personalize does anything, and bulk_create never pays.
            floor_body = json.dumps({"events": events()})
            with override_settings(PERSONALIZE={**personalize, "TRACKING_ENABLED": False}):
                t0 = time.perf_counter()
                for i in range(args.batches):
                    clients[i % len(clients)].post("/personalize/api/events/", floor_body, content_type="application/json")
                floor_ms = (time.perf_counter() - t0) / args.batches * 1000
        api_events = len(acknowledged)
        stored = Event.objects.filter(client_id__in=acknowledged).count()
        lost = api_events - stored
        api_rate, bulk_rate = api_events / api_time, bulk_rows / bulk_time
        latencies.sort()
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
        copy_rate = _copy_rate(connection, shoppers, keys, rng, args.batches * args.size) if connection.vendor == "postgresql" else None
        print(f"database: {connection.vendor}; {args.rounds} rounds x {args.batches} batches x {args.size} events; {args.shoppers} shoppers")
        print(f"API (full stack):  {api_rate:8.0f} events/s, median {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99:.1f} ms per batch")
        print(f"bulk_create x{args.size}:  {bulk_rate:8.0f} events/s, {args.size / bulk_rate * 1000:.1f} ms per batch")
        batches = args.rounds * args.batches
        print(f"CPU of this process per batch (client + server, not the database): API {api_cpu / batches * 1000:.2f} ms, bulk_create {bulk_cpu / batches * 1000:.2f} ms")
        print(f"request stack alone (tracking off): {floor_ms:.1f} ms per post")
        if copy_rate:
            print(f"COPY:              {copy_rate:8.0f} events/s")
        print(f"acknowledged {api_events}, stored {stored} (exactly once by client id)")
        print(f"beacon ratio: {api_rate / bulk_rate:.2f} of bulk{args.size}, p99 {p99:.0f} ms, lost {lost}")
    finally:
        teardown_databases(old, verbosity=0)


def _copy_rate(connection, shoppers, keys, rng, count: int) -> float:
    """Events/s of one PostgreSQL COPY of ``count`` rows (the database's own ceiling)."""
    from django.utils import timezone

    now = timezone.now().isoformat()
    buffer = io.StringIO()
    for i in range(count):
        shopper = shoppers[i % len(shoppers)].pk
        buffer.write(f"{shopper}\timpression\t{rng.choice(keys)}\t1\t\\N\t\t\t{{\"source\": \"beacon\"}}\t{now}\n")
    data = buffer.getvalue()
    columns = "shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at"
    with connection.cursor() as cursor:
        t0 = time.perf_counter()
        with cursor.cursor.copy(f"COPY personalize_event ({columns}) FROM STDIN") as copy:
            copy.write(data)
        elapsed = time.perf_counter() - t0
    return count / elapsed


if __name__ == "__main__":
    main()
