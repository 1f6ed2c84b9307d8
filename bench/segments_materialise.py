"""Materialising segment memberships for N shoppers: time and peak memory.

Creates (drops first) a PostgreSQL database, generates the data in SQL on the server
(shoppers, purchases, product views, searches, carts), defines materialised segments covering
the SQL paths (visits, country, RFM, lifetime value, views of a category, searches) and the
Python path (cart contains a category), then runs the refresh three times:

1. cold: every membership inserted (timed, no tracing);
2. unchanged data: the idempotent re-run (timed);
3. memberships deleted and refreshed again under ``tracemalloc`` (peak Python memory).

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_segments \\
        .venv/bin/python bench/segments_materialise.py --shoppers 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.databases import recreate_database  # noqa: E402


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(shoppers: int, products: int, categories: int) -> dict[str, int]:
    """Catalogue via the ORM (small); shoppers and events in SQL on the server."""
    from decimal import Decimal

    from django.db import connection

    from tests.testshop.models import Category, Product

    cats = Category.objects.bulk_create([Category(name=f"Category {i}") for i in range(categories)])
    Product.objects.bulk_create(
        [Product(name=f"Product {i}", category=cats[i % categories], price=Decimal(5 + i % 200)) for i in range(products)]
    )
    with connection.cursor() as cur:
        # numbered category by category, so the products most viewed below share a few categories
        cur.execute(
            "CREATE TEMP TABLE bench_products AS SELECT row_number() OVER (ORDER BY category_id, id) AS n,"
            " id::text AS key, price, category_id FROM testshop_product"
        )
        cur.execute(
            f"""
            INSERT INTO personalize_shopper (key, email, email_consent, language, country, device, visits,
                                             first_seen, last_seen, external_key)
            SELECT gen_random_uuid(), '', false, 'en',
                   (ARRAY['DE','AT','FR','NL','GB','US','', ''])[1 + (g % 8)],
                   (ARRAY['mobile','desktop','tablet'])[1 + (g % 3)],
                   1 + (g % 13),
                   now() - ((g % 400) || ' days')::interval,
                   now() - ((g % 97) || ' days')::interval - ((g % 24) || ' hours')::interval,
                   ''
            FROM generate_series(1, {int(shoppers)}) AS g
            """
        )
        # purchases: 40% of shoppers, 1-4 orders each, over the last 400 days
        cur.execute(
            """
            INSERT INTO personalize_event (shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at)
            SELECT s.id, 'purchase', '', 1, 10 + ((s.id * 7 + o * 13) % 300), '', 'o' || s.id || '-' || o, '{}',
                   now() - (((s.id * 11 + o * 37) % 400) || ' days')::interval
            FROM personalize_shopper s, generate_series(1, 4) AS o
            WHERE s.id % 5 < 2 AND o <= 1 + (s.id % 4)
            """
        )
        # product views: 3 per shopper on average, over the last 60 days, on the first 200 products
        cur.execute(
            f"""
            INSERT INTO personalize_event (shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at)
            SELECT s.id, 'view', p.key, 1, NULL, '', '', '{{}}', now() - (((s.id + v) % 60) || ' days')::interval
            FROM personalize_shopper s CROSS JOIN generate_series(1, 6) AS v
            JOIN bench_products p ON p.n = 1 + ((s.id * 7 + v) % {min(200, int(products))})
            WHERE (s.id + v) % 2 = 0
            """
        )
        cur.execute(
            """
            INSERT INTO personalize_event (shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at)
            SELECT s.id, 'search', '', 1, NULL, (ARRAY['running shoes','rain jacket','socks','tent'])[1 + s.id % 4],
                   '', '{}', now() - ((s.id % 30) || ' days')::interval
            FROM personalize_shopper s WHERE s.id % 3 = 0
            """
        )
        # carts: 20% of shoppers, one line
        cur.execute(
            f"""
            INSERT INTO personalize_cart (shopper_id, lines, value, item_count, language, revision, updated_at)
            SELECT s.id,
                   jsonb_build_array(jsonb_build_object('product', p.key, 'quantity', 1, 'price', p.price::text)),
                   p.price, 1, 'en', 1, now()
            FROM personalize_shopper s JOIN bench_products p ON p.n = 1 + (s.id % {int(products)})
            WHERE s.id % 5 = 4
            """
        )
        cur.execute("ANALYZE")
        counts = {}
        for table in ("personalize_shopper", "personalize_event", "personalize_cart"):
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    return counts


def define_segments() -> list[str]:
    from django.db import connection

    from personalize.models import Segment, SegmentRule

    with connection.cursor() as cur:  # the category of the most viewed products
        cur.execute("SELECT category_id::text FROM bench_products WHERE n = 1")
        first_category = cur.fetchone()[0]
    specs = [
        ("loyal-germans", "all", [("visits", {"min": 5}), ("country", {"countries": ["DE", "AT"]})]),
        ("recent-buyers", "all", [("rfm", {"bucket": "recent"})]),
        ("big-spenders", "all", [("lifetime_value", {"min": "500"})]),
        ("at-risk", "all", [("rfm", {"bucket": "at_risk"})]),
        ("lapsed-or-never", "any", [("rfm", {"bucket": "lapsed"}), ("orders", {"max": 0})]),
        ("category-fans", "all", [("viewed", {"target": "category", "key": first_category, "min_count": 2, "days": 30})]),
        ("shoe-searchers-mobile", "all", [("searched", {"term": "shoes"}), ("device", {"devices": ["mobile"]})]),
        ("cart-category", "all", [("cart_category", {"category": first_category})]),  # Python path
    ]
    for slug, match, rules in specs:
        seg = Segment.objects.create(name=slug, slug=slug, match=match, mode="materialised")
        for position, (kind, params) in enumerate(rules):
            SegmentRule.objects.create(segment=seg, kind=kind, params=params, position=position)
    return [slug for slug, _m, _r in specs]


def timed_refresh(slugs: list[str], batch: int) -> tuple[float, dict[str, tuple[float, int]]]:
    from personalize.segments.materialise import refresh_segments

    per: dict[str, tuple[float, int]] = {}
    total = time.perf_counter()
    for slug in slugs:
        start = time.perf_counter()
        [result] = refresh_segments([slug], batch_size=batch)
        per[slug] = (time.perf_counter() - start, result.members)
    return time.perf_counter() - total, per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--categories", type=int, default=40)
    parser.add_argument("--batch", type=int, default=None, help="SEGMENT_REFRESH_BATCH (default: the setting)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_segments")
    if not url.startswith("postgres"):
        raise SystemExit("This benchmark needs PostgreSQL (DATABASE_URL=postgres://...).")
    recreate_database(url)
    setup_django(url)

    from django.db import connection

    from personalize.conf import personalize_settings as ps
    from personalize.models import SegmentMembership

    batch = args.batch or ps.SEGMENT_REFRESH_BATCH
    start = time.perf_counter()
    counts = generate(args.shoppers, args.products, args.categories)
    print(f"generated in {time.perf_counter() - start:.1f}s: {counts}")
    slugs = define_segments()
    print(f"PostgreSQL {connection.pg_version}, batch {batch}, {len(slugs)} materialised segments")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cold, per = timed_refresh(slugs, batch)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    warm, per_warm = timed_refresh(slugs, batch)
    print(f"\n{'segment':24} {'members':>8} {'cold s':>8} {'re-run s':>9}")
    for slug in slugs:
        print(f"{slug:24} {per[slug][1]:>8} {per[slug][0]:>8.2f} {per_warm[slug][0]:>9.2f}")
    print(f"{'total':24} {sum(m for _t, m in per.values()):>8} {cold:>8.2f} {warm:>9.2f}")

    SegmentMembership.objects.all().delete()
    tracemalloc.start()
    traced, _ = timed_refresh(slugs, batch)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\npeak Python memory (tracemalloc, cold refresh of all segments): {peak / 2**20:.1f} MiB")
    print(f"max RSS of the process: {rss_after / 1024:.0f} MiB (before refreshing: {rss_before / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
