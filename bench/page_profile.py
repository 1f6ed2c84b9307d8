"""Where a page's widget time goes: the demo shop in-process, CPU per widget tag.

bench/page_cost.py measures the whole page behind gunicorn; this script says which part of
it the widgets cost, on the same database and settings (run page_cost.py once first: it loads
``bench_page``). One process, Django's test client: returning shoppers (8 cookie jars that
browsed the home page and 6 products) or a new visitor per page (``--new``), each page asked
with and without widgets (``?widgets=off``) in turn. Printed: CPU per page of both sides and
their ratio, then CPU per call of each widget tag and of the parts inside them (the profile
read, ``recommend_for`` per placement, each widget template, the stock query, Redis calls:
these count both sides). ``--profile`` adds cProfile's top functions of the widget side.

    PYTHONPATH=$PWD .venv/bin/python bench/page_profile.py product 600
    PYTHONPATH=$PWD .venv/bin/python bench/page_profile.py home 400 --new
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import os
import pstats
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import page_cost  # noqa: E402

times: dict[str, float] = defaultdict(float)
counts: dict[str, int] = defaultdict(int)


def timed(owner: Any, name: str, label: Callable[..., str]) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU time under ``label(*args)``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            key = label(*args)
            if key:
                times[key] += time.process_time() - started
                counts[key] += 1

    setattr(owner, name, wrapper)


def instrument() -> None:
    import django.core.cache.backends.redis as redis_backend

    from bench import page_widgets
    from personalize.placements import cards, pipeline
    from personalize.profiles import live
    from personalize.widgets import history, item_html, recommendations, render

    timed(page_widgets.SwitchableNode, "render",
          lambda node, context: node.name if page_widgets.mode(context) == "" else "")
    timed(render, "render_to_string", lambda name, *a: f"  template {name}")
    timed(recommendations, "recommend_for", lambda request, placement, *a: f"  recommend_for {placement}")
    timed(pipeline, "request_profile", lambda *a: "  request_profile")
    timed(cards, "visible_keys", lambda *a: "  stock query")
    timed(live, "refresh_state", lambda *a: "    refresh query")
    timed(history, "card_items", lambda *a, **k: "    items built (recently viewed)")
    timed(recommendations, "placement_items", lambda result: f"    items built ({result.placement})")
    timed(item_html, "_render", lambda *a: "      item HTML rendered")
    for method in ("get_many", "set", "set_many"):
        timed(redis_backend.RedisCache, method, lambda *a, m=method: f"    redis {m} (both sides)")


_workers: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def serve(worker: int, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` on thread ``worker`` (0: this one), waiting for it: per-thread
    state (a thread's own steps, connections) then differs between pages as between workers."""
    if worker == 0:
        return call(*args, **kwargs)
    if worker not in _workers:
        _workers[worker] = concurrent.futures.ThreadPoolExecutor(1)
    return _workers[worker].submit(call, *args, **kwargs).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", choices=["product", "home"])
    parser.add_argument("pages", type=int, nargs="?", default=400)
    parser.add_argument("--new", action="store_true", help="a first-time visitor per page")
    parser.add_argument("--profile", action="store_true", help="cProfile the widget side")
    parser.add_argument("--workers", type=int, default=1,
                        help="serve each page on one of this many threads at random (as gunicorn's workers would)")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (cumulative, tottime)")
    parser.add_argument("--database-url", default=page_cost.DEFAULT_DB)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--var-dir", default=os.path.join(ROOT, "var", "bench_page"))
    args = parser.parse_args()
    os.environ.update(page_cost.env(args))
    import django

    django.setup()
    from django.test import Client

    instrument()
    agent = page_cost.USER_AGENT
    home = Client().get("/", HTTP_USER_AGENT=agent).content.decode()
    products = list(dict.fromkeys(page_cost.PRODUCT_LINK.findall(home)))
    for category in dict.fromkeys(re.findall(r'href="(/c/[^/"?]+/)"', home)):
        products += page_cost.PRODUCT_LINK.findall(Client().get(category, HTTP_USER_AGENT=agent).content.decode())
    products = list(dict.fromkeys(products))
    rng = random.Random(1)
    shoppers = []
    for _ in range(8):
        client, start = Client(), rng.randrange(len(products))
        for path in ["/", *(products[(start + rng.randrange(12)) % len(products)] for _ in range(6))]:
            client.get(path, HTTP_USER_AGENT=agent)
        shoppers.append(client)
    paths = products if args.page == "product" else ["/"]
    profile = cProfile.Profile() if args.profile else None
    side = {"widgets": 0.0, "no widgets": 0.0}
    times.clear()
    counts.clear()
    for _ in range(args.pages):
        client, path = (Client() if args.new else rng.choice(shoppers)), rng.choice(paths)
        for name, url in (("widgets", path), ("no widgets", page_cost.with_param(path, page_cost.OFF))):
            started = time.process_time()
            if profile is not None and name == "widgets":
                profile.enable()
            response = serve(rng.randrange(args.workers), client.get, url, HTTP_USER_AGENT=agent)
            if profile is not None and name == "widgets":
                profile.disable()
            side[name] += time.process_time() - started
            assert response.status_code == 200, (url, response.status_code)
    n = args.pages
    print(f"{args.page}, {'new visitors' if args.new else 'returning shoppers'}, {n} pages a side: "
          f"{side['widgets'] / n * 1000:.2f} ms CPU with widgets, {side['no widgets'] / n * 1000:.2f} ms without, "
          f"ratio {side['no widgets'] / side['widgets']:.2f}")
    for key in sorted(times, key=lambda k: times[k] / n, reverse=True):
        print(f"  {key:60s} {times[key] / counts[key] * 1000:6.2f} ms a call, {counts[key] / n:4.1f} calls a page")
    if profile is not None:
        stats = pstats.Stats(profile).sort_stats(args.sort)
        stats.print_stats(r"personalize/", 40) if args.sort == "cumulative" else stats.print_stats(50)


if __name__ == "__main__":
    main()
