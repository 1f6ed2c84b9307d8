"""The "Is personalisation paying off?" dashboard on the demo's data: how long it takes to build.

Loads the demo (``load_demo_data``: 300 products, 3000 shoppers, 8 weeks of holdout, lists and the
first-visit campaign) into a throw-away SQLite file (or ``DATABASE_URL``), then times, warm, the
dashboard's context for the last 90 days against a baseline measured in the same run: the impact
page alone (``admin.results.impact_context``), which the dashboard contains. Prints the median of
``--rounds`` rounds, SQL queries, and the ratio.

Usage::

    .venv/bin/python bench/dashboard.py [--rounds 5] [--shoppers 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_shop.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/personalize_bench_dashboard.sqlite3")


def timed(fn, rounds: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm
    seconds = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shoppers", type=int, default=3000)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import RequestFactory

    from demo_shop.catalog.models import Product
    from personalize.admin.dashboard import dashboard_context
    from personalize.admin.results import impact_context
    from personalize.models import Event

    call_command("migrate", verbosity=0)
    if not Product.objects.exists():
        call_command("load_demo_data", shoppers=args.shoppers, no_images=True, stdout=open(os.devnull, "w"))
    request = RequestFactory().get("/admin/personalize/campaign/dashboard/?days=90")
    base, base_q = timed(lambda: impact_context(90), args.rounds)
    dash, dash_q = timed(lambda: dashboard_context(request), args.rounds)
    print(f"events={Event.objects.count()} purchases={Event.objects.filter(kind='purchase').count()}")
    print(f"impact page (baseline): {base * 1000:.0f} ms, {base_q} queries")
    print(f"dashboard:              {dash * 1000:.0f} ms, {dash_q} queries  (x{dash / base:.2f} the impact page)")


if __name__ == "__main__":
    main()
