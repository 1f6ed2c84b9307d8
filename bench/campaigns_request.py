"""Choosing campaigns for one request: live segments + the best campaign, cold and cached.

Creates a throw-away test database (SQLite in memory, or PostgreSQL with ``DATABASE_URL``) with
``--segments`` live segments (cheap per-request rules), ``--campaigns`` active campaigns over
four placements targeting random subsets of them (a third with offers, a third with a control
group), and ``--shoppers`` shoppers with carts and a few campaign assignments. A "request" is
the shopper's segments plus the choice for three placements (home banner, cart, exit intent),
as a page with three slots does it. No impression is recorded (writes are not the question).

* cold: the campaigns cache and the session's segment cache are empty (after a deploy or an
  edit): the campaigns and segment definitions are loaded from the database;
* new session: campaigns and segment definitions cached, but the shopper's first request of
  a session: their segments, assignments and fatigue answer come from the database;
* cached: all of the above in the process memo and the session (a returning request).

Prints p50/p99 wall time per request, the Python time (wall minus time inside SQL) and the
number of SQL queries.

Usage::

    .venv/bin/python bench/campaigns_request.py --requests 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PERSONALIZE_TEST_DB=bench_campaigns \\
        .venv/bin/python bench/campaigns_request.py --requests 2000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

PLACEMENTS = ("home_banner", "cart", "exit_intent", "product_page")
PAGE = ("home_banner", "cart", "exit_intent")

# (kind, params) of cheap live rules, varied so that segments overlap realistically.
RULES = [
    ("visit_state", {"state": "first"}),
    ("visit_state", {"state": "returning"}),
    ("visits", {"min": 3}),
    ("device", {"devices": ["mobile"]}),
    ("device", {"devices": ["desktop"]}),
    ("country", {"countries": "DE, AT"}),
    ("country", {"countries": "US"}),
    ("cart_value", {"op": "above", "amount": "50"}),
    ("cart_value", {"op": "below", "amount": "20"}),
    ("logged_in", {"state": "logged_in"}),
    ("logged_in", {"state": "anonymous"}),
    ("utm", {"field": "source", "values": "newsletter"}),
    ("referrer", {"domains": "google.com"}),
    ("weekday", {"days": ["0", "1", "2", "3", "4"]}),
    ("hour", {"start": 8, "end": 20}),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build(args: argparse.Namespace, rng: random.Random) -> list:
    from django.utils import timezone

    from personalize.models import Campaign, CampaignAssignment, CampaignContent, Offer
    from personalize.models import Cart, Shopper
    from personalize.models import Segment, SegmentRule
    from personalize.segments.rules import get_rule_class

    segments = []
    for i in range(args.segments):
        segment = Segment.objects.create(name=f"Segment {i}", slug=f"segment-{i}", match=rng.choice(["all", "any"]))
        for position, (kind, params) in enumerate(rng.sample(RULES, rng.randint(1, 3))):
            rule_class = get_rule_class(kind)
            form = rule_class.Params(data=params)
            if not form.is_valid():  # keep the bench honest: only rules the admin would accept
                raise SystemExit(f"bench rule {kind} {params}: {form.errors.as_json()}")
            cleaned = {k: v for k, v in form.cleaned_data.items() if v is not None}
            cleaned = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in cleaned.items()}
            SegmentRule.objects.create(segment=segment, kind=kind, params=cleaned, position=position)
        segments.append(segment)
    offer = Offer.objects.create(name="Bench", value=Decimal("10"), code="BENCH10")
    start = timezone.now() - timezone.timedelta(days=1)
    for i in range(args.campaigns):
        campaign = Campaign.objects.create(
            name=f"Campaign {i}",
            placement=PLACEMENTS[i % len(PLACEMENTS)],
            priority=rng.randint(0, 100),
            starts_at=start,
            offer=offer if i % 3 == 0 else None,
            control_percent=10 if i % 3 == 1 else 0,
            frequency_cap=3 if i % 2 else 0,
        )
        for language in ("en", "de"):
            CampaignContent.objects.create(campaign=campaign, variant="A", language=language, headline=f"C{i} {language}")
        campaign.segments.set(rng.sample(segments, rng.randint(1, 3)))
    shoppers = []
    devices = ["mobile", "desktop", "tablet"]
    campaigns = list(Campaign.objects.all())
    for i in range(args.shoppers):
        shopper = Shopper.objects.create(visits=rng.randint(1, 8), device=rng.choice(devices), country=rng.choice(["DE", "US", "FR"]))
        value = Decimal(rng.randint(0, 120))
        Cart.objects.create(shopper=shopper, lines=[{"product": "1", "quantity": 1, "price": str(value)}], value=value, item_count=1)
        for campaign in rng.sample(campaigns, 3):
            CampaignAssignment.objects.create(campaign=campaign, shopper=shopper, arm="A", impressions=1, window_impressions=1)
        shoppers.append(shopper)
    return shoppers


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.sessions.backends.cache import SessionStore
    from django.core.cache import cache
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext, setup_databases, setup_test_environment, teardown_databases

    from personalize.campaigns import selection, specs
    from personalize.models import Shopper

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    rng = random.Random(args.seed)
    try:
        shoppers = build(args, rng)
        sessions = {s.pk: SessionStore() for s in shoppers}
        factory = RequestFactory()
        ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"

        def one_request(shopper: Shopper, mode: str) -> tuple[float, float, int, int]:
            if mode == "cold":
                cache.clear()  # segment definitions, campaign generation
                specs.definitions.clear()
            if mode in ("cold", "new session"):
                sessions[shopper.pk] = SessionStore()
            request = factory.get("/?utm_source=newsletter", HTTP_USER_AGENT=ua, HTTP_CF_IPCOUNTRY=shopper.country)
            request.user = _anonymous()
            request.session = sessions[shopper.pk]
            request._personalize_shopper = shopper
            request.LANGUAGE_CODE = "en"
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                chosen = sum(1 for placement in PAGE if selection.choose(request, placement) is not None)
                wall = time.perf_counter() - started
            sql = sum(float(q["time"]) for q in queries.captured_queries)
            return wall, max(0.0, wall - sql), len(queries), chosen

        results = {}
        for mode in ("cold", "new session", "cached"):
            n = args.requests if mode == "cached" else max(50, args.requests // 10)
            # warm up (and fill the session caches for the cached run)
            for shopper in shoppers:
                one_request(shopper, mode)
            walls, pythons, counts, chosen = [], [], [], []
            for i in range(n):
                wall, python, count, hits = one_request(shoppers[i % len(shoppers)], mode)
                walls.append(wall * 1000)
                pythons.append(python * 1000)
                counts.append(count)
                chosen.append(hits)
            results[mode] = (walls, pythons, counts, chosen, n)
        print(
            f"database: {connection.vendor}; {args.segments} live segments, {args.campaigns} active campaigns, "
            f"{args.shoppers} shoppers; a request = segments + choice for {len(PAGE)} placements"
        )
        for mode, (walls, pythons, counts, chosen, n) in results.items():
            print(
                f"{mode:>11}: n={n}  p50 {percentile(walls, 0.5):.3f} ms  p99 {percentile(walls, 0.99):.3f} ms  "
                f"python p50 {percentile(pythons, 0.5):.3f} ms  p99 {percentile(pythons, 0.99):.3f} ms  "
                f"queries median {statistics.median(counts):.0f} max {max(counts)}  "
                f"campaigns shown per request {statistics.mean(chosen):.2f}"
            )
    finally:
        teardown_databases(old, verbosity=0)


def _anonymous():
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--segments", type=int, default=20)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(args)


if __name__ == "__main__":
    main()
