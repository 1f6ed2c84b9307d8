"""Recommendation speed at store scale: warm ``{% recommended_for_you %}`` renders and training.

Generates a catalogue (default 10k products in 50 categories, 3% out of stock) and shoppers
with 1M events (views, add-to-carts and purchases; each shopper has one or two favourite
categories, product popularity is Zipf-like) in a PostgreSQL database of its own, loaded with
COPY. Then:

* training: loading the newest 100k events (a ``since`` window) and all 1M from PostgreSQL,
  then ``personalize.recommenders.training.train`` for every trainable alias (evaluation, fit,
  refit when the data is under ``REFIT_MAX_EVENTS``, artefact saved, switch) and the popular
  lists, each size in a child process: seconds (wall and CPU), Python peak memory
  (tracemalloc, which also slows Python code down a little) and peak RSS (ru_maxrss);
* serving: ``recommend_for(shopper, "for_you", limit=8)`` warm against its floor (the
  shopper's embedding given, one dot product, one primary-key query for the 8 rows), timed
  side by side per shopper; prints ``serving ratio: R x floor``;
* rendering: ``{% recommended_for_you limit=8 %}`` through the template engine for varied
  shoppers with the model loaded: p50/p99 of the first render of each shopper (candidate cache
  cold for them) and of a repeat render (cache warm), and the SQL queries for limit 4, 8 and 24.

Usage (2 cores, PostgreSQL on localhost)::

    createdb -h 127.0.0.1 -U postgres bench_speed
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_speed .venv/bin/python bench/recommend_speed.py
    # again without regenerating: --skip-load; only some parts: --no-train / --no-render / --serving 0
    # the serving part on Redis instead of the local-memory cache: BENCH_REDIS_URL=redis://127.0.0.1:6379/3
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

KINDS = ("view", "add_to_cart", "purchase")
KIND_P = (0.82, 0.11, 0.07)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generate(products: int, shoppers: int, events: int, categories: int, seed: int) -> None:
    """Products (bulk_create), shoppers (bulk_create) and events (COPY) into an empty store."""
    from django.db import connection
    from django.utils import timezone

    from bench.benchshop.models import Movie
    from personalize.models import Shopper

    rng = np.random.default_rng(seed)
    started = time.monotonic()
    cat_of = rng.integers(0, categories, size=products)
    prices = np.round(rng.lognormal(3.2, 0.8, size=products), 2)
    stock = np.where(rng.random(products) < 0.03, 0, rng.integers(1, 50, size=products))
    Movie.objects.bulk_create(
        [
            Movie(id=i + 1, title=f"Product {i + 1}", category=f"cat{cat_of[i]:02d}",
                  tags=f"brand{rng.integers(0, 200)},style{rng.integers(0, 20)}", price=float(prices[i]), stock=int(stock[i]))
            for i in range(products)
        ],
        batch_size=5000,
    )
    countries, devices = ["FR", "DE", "GB", "ES", "IT", "US"], ["desktop", "mobile", "tablet"]
    now = timezone.now()
    Shopper.objects.bulk_create(
        [Shopper(country=countries[i % 6], device=devices[i % 3], first_seen=now, last_seen=now) for i in range(shoppers)],
        batch_size=5000,
    )
    shopper_ids = np.array(Shopper.objects.order_by("pk").values_list("pk", flat=True))
    print(f"  {products} products, {shoppers} shoppers in {time.monotonic() - started:.0f}s", flush=True)

    # Zipf-like popularity inside each category; every shopper has 1-2 favourite categories.
    members = [np.flatnonzero(cat_of == c) for c in range(categories)]
    weights = [1.0 / np.arange(1, len(m) + 1) ** 0.8 for m in members]
    weights = [w / w.sum() for w in weights]
    global_w = 1.0 / np.arange(1, products + 1) ** 0.9
    global_order = rng.permutation(products)
    activity = rng.pareto(1.2, size=shoppers) + 1.0
    who = rng.choice(shoppers, size=events, p=activity / activity.sum())
    fav = rng.integers(0, categories, size=(shoppers, 2))
    from_fav = rng.random(events) < 0.75
    which_fav = fav[who, rng.integers(0, 2, size=events)]
    items = np.empty(events, dtype=np.int64)
    for c in range(categories):
        sel = np.flatnonzero(from_fav & (which_fav == c))
        items[sel] = members[c][rng.choice(len(members[c]), size=len(sel), p=weights[c])]
    rest = np.flatnonzero(~from_fav)
    items[rest] = global_order[rng.choice(products, size=len(rest), p=global_w / global_w.sum())]
    kinds = rng.choice(len(KINDS), size=events, p=KIND_P)
    ages = rng.random(events) * 90 * 86400  # the last 90 days
    stamp = now.timestamp()

    started = time.monotonic()
    columns = "shopper_id, kind, product_key, quantity, value, query, order_ref, context, created_at"
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3: COPY ... FROM STDIN
        chunk = 100_000
        for lo in range(0, events, chunk):
            buf = io.StringIO()
            for n in range(lo, min(lo + chunk, events)):
                key = int(items[n]) + 1
                kind = KINDS[kinds[n]]
                when = datetime.fromtimestamp(stamp - ages[n], tz=UTC).isoformat()
                if kind == "purchase":
                    price = prices[items[n]]
                    context = json.dumps({"lines": [{"product": str(key), "quantity": 1, "price": f"{price:.2f}"}]})
                    value = f"{price:.2f}"
                else:
                    context, value = "{}", "\\N"
                buf.write(f"{shopper_ids[who[n]]}\t{kind}\t{key}\t1\t{value}\t\t\t{context}\t{when}\n")
            with raw.copy(f"COPY personalize_event ({columns}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE personalize_event")
    print(f"  {events} events by COPY in {time.monotonic() - started:.0f}s", flush=True)


def train_size(size: int, refit: bool | None, trace: bool = True) -> dict:
    """Every trainable alias on the newest ``size`` events (a ``since`` window, as a store
    would set it), including loading them from PostgreSQL: time and memory."""
    from personalize.models import Event
    from personalize.recommenders import get_recommender, recommender_aliases
    from personalize.recommenders import training

    kinds = [str(k) for k in training.TRAINING_KINDS]
    since = (
        Event.objects.filter(kind__in=kinds).order_by("-created_at").values_list("created_at", flat=True)[size - 1 : size].first()
    )
    row: dict = {"events_wanted": size, "aliases": {}, "tracemalloc": trace}
    if trace:
        tracemalloc.start()
    total, cpu0 = time.monotonic(), time.process_time()
    data = training.load_training_data(since=since)
    row["events"], row["shoppers"], row["products"] = data.n_events, data.n_users, data.n_items
    row["load_s"] = round(time.monotonic() - total, 1)
    print(f"  loaded {data.n_events} events in {row['load_s']}s", flush=True)
    for alias in recommender_aliases():
        if not get_recommender(alias).trainable:
            continue
        t0 = time.monotonic()
        version = training.train(alias=alias, data=data, force=True, refit=refit)
        row["aliases"][alias] = {
            "seconds": round(time.monotonic() - t0, 1), "status": version.status,
            "refit": version.metrics.get("refit"), "ndcg@10": round((version.metrics.get("model") or {}).get("ndcg@10", 0.0), 4),
            "baseline_ndcg@10": round((version.metrics.get("baseline") or {}).get("ndcg@10", 0.0), 4),
            "error": (version.error or "")[:300],
            "tuning_s": (version.metrics.get("tuning") or {}).get("seconds"),
            "tuned_on_events": (version.metrics.get("split") or {}).get("events"),
            "chosen": (version.metrics.get("tuning") or {}).get("chosen"),
        }
        print(f"  {size} events, {alias}: {row['aliases'][alias]}", flush=True)
    training.refresh_lists(data)
    row["train_s"] = round(time.monotonic() - total, 1)
    row["train_cpu_s"] = round(time.process_time() - cpu0, 1)  # all threads of this process
    if trace:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row["tracemalloc_peak_mb"] = round(peak / 2**20, 1)
    row["ru_maxrss_mb"] = round(rss_mb(), 1)
    row["load_average"] = os.getloadavg()
    print(f"  {size} events: {row}", flush=True)
    return row


def train_sizes(sizes: list[int], refit: bool | None, trace: bool = True) -> list[dict]:
    """One child process per size, so each peak RSS is that size's own."""
    if len(sizes) == 1:
        return [train_size(sizes[0], refit, trace)]
    rows = []
    for size in sizes:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, "-u", os.path.abspath(__file__), "--skip-load", "--no-render", "--train-sizes", str(size),
                   "--json", out.name]
            if refit is not None:
                cmd.append("--refit" if refit else "--no-refit")
            if not trace:
                cmd.append("--no-tracemalloc")
            subprocess.run(cmd, check=True)
            rows.extend(json.load(open(out.name))["training"])
    return rows


def render_bench(renders: int, seed: int) -> dict:
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.cache import SessionStore
    from django.db import connection
    from django.http import HttpResponse
    from django.template import Context, Template
    from django.test.client import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from personalize.conf import personalize_settings as ps
    from personalize.models import Event, Shopper

    factory = RequestFactory()

    def request_for(shopper: Shopper):
        response = HttpResponse()
        response.set_signed_cookie(ps.COOKIE_NAME, str(shopper.key), salt=ps.COOKIE_SALT)
        req = factory.get("/")
        req.COOKIES[ps.COOKIE_NAME] = response.cookies[ps.COOKIE_NAME].value
        req.user = AnonymousUser()
        req.session = SessionStore()
        return req

    templates = {n: Template("{% load personalize %}{% recommended_for_you limit=" + str(n) + " %}") for n in (4, 8, 24)}
    active = Event.objects.values("shopper_id").distinct().order_by("shopper_id")
    ids = list(active.values_list("shopper_id", flat=True)[: 20 * renders])
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(ids, size=min(renders, len(ids)), replace=False).tolist())
    shoppers = list(Shopper.objects.filter(pk__in=chosen))
    # warm the process: model loaded, popular lists cached
    html = templates[8].render(Context({"request": request_for(shoppers[0])}))
    assert "data-product-id" in html, html[:500]

    cpu: dict[str, list[float]] = {"first": [], "repeat": []}

    def timed(shopper: Shopper, phase: str, limit: int = 8) -> float:
        req = request_for(shopper)
        c0, t0 = time.process_time(), time.perf_counter()
        out = templates[limit].render(Context({"request": req}))
        elapsed = time.perf_counter() - t0
        cpu[phase].append((time.process_time() - c0) * 1000.0)
        assert out.count("data-product-id=") >= 1
        return elapsed * 1000.0

    first = [timed(s, "first") for s in shoppers[1:]]
    repeat = [timed(s, "repeat") for s in shoppers[1:]]

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    queries = {}
    for limit in (4, 8, 24):
        shopper = shoppers[len(shoppers) // 2]
        templates[limit].render(Context({"request": request_for(shopper)}))  # warm for this limit
        with CaptureQueriesContext(connection) as ctx:
            out = templates[limit].render(Context({"request": request_for(shopper)}))
        queries[limit] = {"queries": len(ctx.captured_queries), "items": out.count("data-product-id=")}
    return {
        "renders": len(first),
        "first_p50_ms": round(statistics.median(first), 2), "first_p99_ms": round(pct(first, 99), 2),
        "repeat_p50_ms": round(statistics.median(repeat), 2), "repeat_p99_ms": round(pct(repeat, 99), 2),
        # CPU of this process only (the machine is shared: wall times include waiting for a core)
        "first_cpu_p50_ms": round(statistics.median(cpu["first"]), 2), "first_cpu_p99_ms": round(pct(cpu["first"], 99), 2),
        "repeat_cpu_p50_ms": round(statistics.median(cpu["repeat"]), 2), "repeat_cpu_p99_ms": round(pct(cpu["repeat"], 99), 2),
        "load_average": os.getloadavg(),
        "queries": queries,
    }


def serving_bench(shoppers_n: int, rounds: int, seed: int) -> dict:
    """``recommend_for(shopper, "for_you", limit=8)`` warm against its floor, interleaved.

    The floor: the shopper's embedding given (computed beforehand, free), one dot product
    over the catalogue plus the bias, the top 8 and one primary-key query for their rows
    through the adapter. The served call is the whole pipeline with rows (``products=True``):
    profile, candidates, exclusions, stock check, diversity, rows for the 8 shown. Both are
    warmed per shopper first, then timed one after the other per shopper (A B A B), so the
    load of the shared machine hits both alike; queries are counted on a warm call of each.
    "Warm" is within ``LOCAL_CACHE_SECONDS`` of the shopper's previous list (the in-process
    stock check); the candidate list and the profile stay cached until something changes.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from personalize.adapters import get_adapter
    from personalize.models import Event, Shopper
    from personalize.placements import recommend_for
    from personalize.profiles import load_profile
    from personalize.recommenders import get_recommender
    from personalize.recommenders.ranking import top_k

    backend = get_recommender("default")
    assert backend.ready(), "no trained default model: run the training part first"
    adapter = get_adapter()
    active = Event.objects.filter(kind="view").values("shopper_id").distinct().order_by("shopper_id")
    ids = list(active.values_list("shopper_id", flat=True)[: 20 * shoppers_n])
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(ids, size=min(shoppers_n, len(ids)), replace=False).tolist())
    shoppers = list(Shopper.objects.filter(pk__in=chosen))
    vectors = {}
    for shopper in shoppers:
        found = backend.user_vector(load_profile(shopper))
        if found is not None:
            vectors[shopper.pk] = found[0].astype(np.float32)
    shoppers = [s for s in shoppers if s.pk in vectors]

    def floor(shopper: Shopper) -> list:
        scores = backend._item_repr @ vectors[shopper.pk] + backend._item_bias
        return adapter.get_products([str(backend._keys[i]) for i in top_k(scores, 8)])

    def served(shopper: Shopper) -> list:
        return recommend_for(shopper, "for_you", limit=8).items

    def served_cards(shopper: Shopper) -> list:
        return recommend_for(shopper, "for_you", limit=8, products=False).cards

    sides = {"floor": floor, "served": served, "served_cards": served_cards}
    # One BLAS thread for both sides, as a web worker should run (OPENBLAS_NUM_THREADS=1,
    # docs/recommenders.md): a catalogue-sized dot product split over 2 threads waits for a
    # core on a busy machine (it made the floor itself 10x slower here).
    limits = threadpool_limits(limits=1, user_api="blas")
    for shopper in shoppers:  # warm: model, candidate lists, cards, stock checks, profiles
        for side in sides.values():
            assert len(side(shopper)) == 8
    times: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for _round in range(rounds):
        for shopper in shoppers:
            # Warm within LOCAL_CACHE_SECONDS: the in-process stock check of this shopper's
            # candidates is remembered that long (after it, one keys-only query renews it).
            served_cards(shopper)
            for name, side in sides.items():
                c0, t0 = time.process_time(), time.perf_counter()
                side(shopper)
                times[name].append((time.perf_counter() - t0) * 1000.0)
                cpu[name].append((time.process_time() - c0) * 1000.0)
    queries = {}
    for name, side in sides.items():
        side(shoppers[0])
        with CaptureQueriesContext(connection) as ctx:
            side(shoppers[0])
        queries[name] = len(ctx.captured_queries)
    limits.restore_original_limits()
    out: dict = {"shoppers": len(shoppers), "rounds": rounds, "load_average": os.getloadavg(), "queries": queries}
    for name in sides:
        out[f"{name}_p50_ms"] = round(statistics.median(times[name]), 3)
        out[f"{name}_p99_ms"] = round(float(np.percentile(times[name], 99)), 3)
        out[f"{name}_cpu_p50_ms"] = round(statistics.median(cpu[name]), 3)
    out["ratio"] = round(out["served_p50_ms"] / out["floor_p50_ms"], 3)
    out["ratio_cards"] = round(out["served_cards_p50_ms"] / out["floor_p50_ms"], 3)
    print(f"  floor (dot product + 1 primary-key query): p50 {out['floor_p50_ms']} ms, p99 {out['floor_p99_ms']} ms, "
          f"{queries['floor']} queries")
    print(f"  recommend_for(shopper, 'for_you', limit=8): p50 {out['served_p50_ms']} ms, p99 {out['served_p99_ms']} ms, "
          f"{queries['served']} queries")
    print(f"  same, products=False (cached cards): p50 {out['served_cards_p50_ms']} ms, {queries['served_cards']} queries")
    print(f"serving ratio: {out['ratio']} x floor (cards {out['ratio_cards']} x), queries {queries['served']} "
          f"(cards {queries['served_cards']})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--shoppers", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--categories", type=int, default=50)
    parser.add_argument("--train-sizes", default="100000,1000000")
    parser.add_argument("--no-refit", action="store_true", help="Train with refit=False.")
    parser.add_argument("--refit", action="store_true", help="Train with refit=True (default: the backend's REFIT_MAX_EVENTS).")
    parser.add_argument(
        "--no-tracemalloc", action="store_true",
        help="Time training without tracemalloc (it slows allocation-heavy Python code down); RSS is still reported.",
    )
    parser.add_argument("--renders", type=int, default=500)
    parser.add_argument("--serving", type=int, default=300, help="Shoppers for the recommend_for-vs-floor part (0: skip).")
    parser.add_argument("--serving-rounds", type=int, default=3)
    parser.add_argument("--skip-load", action="store_true", help="Reuse the data already in the database.")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--no-render", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="Also write the figures to this JSON file.")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_speed (a database of your own)")

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from bench.benchshop.models import Movie
    from personalize.models import Event

    call_command("migrate", verbosity=0, interactive=False)
    cache.clear()
    report: dict = {"cpus": os.cpu_count()}
    if not args.skip_load:
        if Movie.objects.exists() or Event.objects.exists():
            parser.error("the database already holds a store: use --skip-load, or drop and recreate it")
        print("generating ...", flush=True)
        generate(args.products, args.shoppers, args.events, args.categories, args.seed)
    report["store"] = {"products": Movie.objects.count(), "events": Event.objects.count()}
    print(f"store: {report['store']}", flush=True)
    if not args.no_train:
        sizes = [int(s) for s in args.train_sizes.split(",") if s]
        refit = False if args.no_refit else (True if args.refit else None)
        report["training"] = train_sizes(sizes, refit=refit, trace=not args.no_tracemalloc)
    if not args.no_render:
        report["render"] = render_bench(args.renders, args.seed)
        print(f"render: {report['render']}", flush=True)
    if args.serving:
        print("serving: recommend_for vs the floor ...", flush=True)
        report["serving"] = serving_bench(args.serving, args.serving_rounds, args.seed)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=str)
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
