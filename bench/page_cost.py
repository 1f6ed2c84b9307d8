"""What personalize's widgets cost a real page: the demo shop behind gunicorn, PostgreSQL + Redis.

The demo shop (``make demo``'s data: 300 products, 3000 shoppers, ~50k events, trained models)
is served by gunicorn (2 sync workers, ``DJANGO_DEBUG=0``) on a PostgreSQL database of its own
and a Redis cache (database 11 by default, flushed at the start). 8 client threads request a
page as fast as the server answers, for a fixed time, side by side:

* **A, with widgets**: the page as the demo serves it;
* **B, without widgets**: the same URL with ``?widgets=off`` (bench/page_settings.py: every
  personalize tag renders nothing; same view, same ``track()``, middleware and templates).

Rounds alternate A B A B for each scenario: the product page and the home page, for returning
shoppers (a pool of cookie jars that browsed a few products of one or two categories first)
and first-time visitors (no cookie on any request). Printed per scenario: requests/s of both
sides and their ratio, gunicorn worker CPU per page, and, from one in-process request with the
same settings (warm caches), SQL queries, cache reads and cache writes per page.

The last line, for scripts: ``page ratio: R_returning returning, R_new new`` where each R is
the worse of the product page and home page ratios.

``--fragments`` adds the cache/CDN-safe mode (docs/placements.md): the same page with every list
as a ``{% personalize_fragment %}`` placeholder (``?widgets=fragments``: the neutral lists; the
campaign slot and greeting, which have no cache-safe form, render nothing), measured twice
against the page without widgets: **the page alone** (what the origin serves when a CDN does not
hold it) and **the page + its one batched fragment request** (``/personalize/fragments/?f=...``
with the shopper's cookies, as beacon.js sends it), counted as one page view. A CDN serving the
page makes the first number irrelevant and leaves the fragment request as the origin's cost.

Usage (2 cores; PostgreSQL and Redis on localhost)::

    .venv/bin/pip install -e '.[bench,demo]'
    .venv/bin/python bench/page_cost.py                  # load + train (~1 min), then ~3 min
    .venv/bin/python bench/page_cost.py --skip-load      # reuse the loaded database
    # DATABASE_URL (name must start with "bench"), REDIS_URL override the defaults
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_page"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
SETTINGS = "bench.page_settings"
# A browser's agent: personalize ignores bots (and an empty or scripted agent is one).
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
OFF = "widgets=off"
FRAGMENTS = "widgets=fragments"
FRAGMENT_TOKEN = re.compile(r'data-fragment-token="([^"]+)"')
FRAGMENTS_URL = re.compile(r'data-fragments-url="([^"]+)"')
PRODUCT_LINK = re.compile(r'href="(/products/[^/"?]+/)"')
# DJANGO_DEBUG=0 needs a secret key of its own: one per run, shared by the server and the bench.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)


def env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DEMO_VAR_DIR": args.var_dir,
        "DEMO_MEDIA_ROOT": os.path.join(args.var_dir, "media"),
        "PYTHONPATH": ROOT,
    }


def manage(args: argparse.Namespace, *command: str) -> None:
    subprocess.run([sys.executable, os.path.join(ROOT, "manage.py"), *command], env=env(args), cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def load(args: argparse.Namespace) -> None:
    from bench.databases import recreate_database

    started = time.monotonic()
    recreate_database(args.database_url)
    manage(args, "migrate", "--noinput", "-v0")
    manage(args, "load_demo_data")
    manage(args, "personalize_train")
    print(f"loaded and trained in {time.monotonic() - started:.0f}s", flush=True)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


# --- the server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(args: argparse.Namespace, port: int):
    command = [
        sys.executable, "-m", "gunicorn", "demo_shop.wsgi:application", "--workers", str(args.workers),
        "--bind", f"127.0.0.1:{port}", "--backlog", "256", "--log-level", "warning", "--timeout", "60",
    ]
    proc = subprocess.Popen(command, env=env(args), cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body, _cookies = request(port, "/", {})
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.3)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of the gunicorn workers (children of the master) so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- the clients --------------------------------------------------------------------------
def request(port: int, path: str, cookies: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html", "Accept-Language": "en"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        jar = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            for morsel in SimpleCookie(header).values():
                jar[morsel.key] = morsel.value
        return response.status, body, jar
    finally:
        conn.close()


@dataclass
class Shopper:
    cookies: dict[str, str] = field(default_factory=dict)


def make_returning(port: int, products: list[str], count: int, rng: random.Random) -> list[Shopper]:
    """Shoppers that browsed 6 products (mostly of one or two categories) and the home page."""
    shoppers = []
    for _ in range(count):
        shopper = Shopper()
        start = rng.randrange(len(products))
        viewed = [products[(start + rng.randrange(12)) % len(products)] for _ in range(6)]
        for path in ["/", *viewed]:
            status, _body, jar = request(port, path, shopper.cookies)
            if status != 200:
                raise SystemExit(f"warm-up {path}: HTTP {status}")
            shopper.cookies.update(jar)
        shoppers.append(shopper)
    return shoppers


@dataclass
class Run:
    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    cpu: float = 0.0


def fragment_path(body: bytes) -> str:
    """The page's one batched fragment request ("" when it has no placeholder)."""
    html = body.decode()
    tokens, url = FRAGMENT_TOKEN.findall(html), FRAGMENTS_URL.search(html)
    return f"{url.group(1)}?{'&'.join(f'f={t}' for t in tokens)}" if tokens and url else ""


def hammer(port: int, paths: list[str], shoppers: list[Shopper] | None, clients: int, seconds: float,
           master_pid: int, seed: int, follow_fragments: bool = False) -> Run:
    """``clients`` threads requesting random ``paths`` for ``seconds``; returning shoppers
    take turns with the pool's cookie jars, first-time visitors send no cookie.
    ``follow_fragments``: each page view also sends the page's fragment request (with the
    cookies the page set), as beacon.js does; a page view counts when both answered 200."""
    run = Run()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        done, errors = 0, Counter()
        while time.monotonic() < stop:
            jar = rng.choice(shoppers).cookies if shoppers else {}
            try:
                status, body, set_cookies = request(port, rng.choice(paths), jar)
                if status == 200 and follow_fragments:
                    path = fragment_path(body)
                    if not path:
                        raise SystemExit("--fragments: the page has no fragment placeholder")
                    status, _body, _set = request(port, path, {**jar, **set_cookies})
            except OSError as exc:
                errors[type(exc).__name__] += 1
                continue
            if status == 200:
                done += 1
            else:
                errors[f"HTTP {status}"] += 1
        with lock:
            run.requests += done
            run.errors.update(errors)

    cpu_before = worker_cpu_seconds(master_pid)
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.monotonic() - started
    run.cpu = worker_cpu_seconds(master_pid) - cpu_before
    return run


def with_param(path: str, param: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{param}"


# --- queries and cache calls per page (in-process, same settings) --------------------------
READS = ("get", "get_many", "has_key")
WRITES = ("set", "add", "set_many", "delete", "delete_many", "incr", "decr", "touch")


@contextmanager
def counting_cache():
    """Count calls reaching the Redis backend (each is one round trip)."""
    from django.core.cache.backends.redis import RedisCache

    counts: Counter = Counter()
    originals = {name: getattr(RedisCache, name) for name in READS + WRITES}

    def counted(name, original):
        def method(self, *a, **kw):
            counts[name] += 1
            return original(self, *a, **kw)

        return method

    for name, original in originals.items():
        setattr(RedisCache, name, counted(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(RedisCache, name, original)


def page_costs(args: argparse.Namespace, product_paths: list[str], sides: list[str]) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(page, shopper, side) -> (SQL queries, cache reads, cache writes) of one warm request."""
    os.environ.update(env(args))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    def measure(client: Client, path: str) -> tuple[int, int, int]:
        with CaptureQueriesContext(connection) as queries, counting_cache() as calls:
            response = client.get(path, HTTP_USER_AGENT=USER_AGENT)
        assert response.status_code == 200, (path, response.status_code)
        bodies[path] = response.content
        return (len(queries), sum(calls[n] for n in READS), sum(calls[n] for n in WRITES))

    def measure_with_fragments(client: Client, path: str) -> tuple[int, int, int]:
        page = measure(client, path)
        extra = measure(client, fragment_path(bodies[path]))
        return tuple(a + b for a, b in zip(page, extra))

    bodies: dict[str, bytes] = {}

    results = {}
    returning = Client()
    for path in ["/", *product_paths[:6]]:
        returning.get(path, HTTP_USER_AGENT=USER_AGENT)
    pages = {"product": product_paths[7], "home": "/"}
    for page, path in pages.items():
        for side in sides:
            url, how = side_url(path, side), measure_with_fragments if side == FRAGMENTS_SIDE else measure
            returning.get(url, HTTP_USER_AGENT=USER_AGENT)  # the page's lists cached, as in the run
            results[(page, "returning", side)] = how(returning, url)
            Client().get(url, HTTP_USER_AGENT=USER_AGENT)
            results[(page, "new", side)] = how(Client(), url)
    return results


FRAGMENTS_SIDE = "fragments + request"
PAGE_SIDE = "fragment page"


def side_url(path: str, side: str) -> str:
    if side == "no widgets":
        return with_param(path, OFF)
    if side in (FRAGMENTS_SIDE, PAGE_SIDE):
        return with_param(path, FRAGMENTS)
    return path


# --- main ---------------------------------------------------------------------------------
def product_paths(port: int) -> list[str]:
    """Product pages linked from the home page and every category page."""
    _status, body, _ = request(port, "/", {})
    found = dict.fromkeys(PRODUCT_LINK.findall(body.decode()))
    for category in dict.fromkeys(re.findall(r'href="(/c/[^/"?]+/)"', body.decode())):
        _status, page, _ = request(port, category, {})
        found.update(dict.fromkeys(PRODUCT_LINK.findall(page.decode())))
    return list(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-load", action="store_true", help="reuse the database loaded by an earlier run")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one side of a round (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per scenario (default 2)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--returning", type=int, default=48, help="returning shoppers in the pool (default 48)")
    parser.add_argument("--pages", default="product,home", help="product,home")
    parser.add_argument("--fragments", action="store_true",
                        help="also measure the {%% personalize_fragment %%} page, alone and with its fragment request")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--var-dir", default=os.path.join(ROOT, "var", "bench_page"))
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("bench/page_cost.py measures the PostgreSQL deployment: DATABASE_URL must be postgres://")
    os.makedirs(args.var_dir, exist_ok=True)

    print(f"load before: {os.popen('uptime').read().strip()}", flush=True)
    if not args.skip_load:
        load(args)
    flush_redis(args.redis_url)
    port = free_port()
    rng = random.Random(7)
    sides = ["widgets", "no widgets", *([PAGE_SIDE, FRAGMENTS_SIDE] if args.fragments else [])]
    with gunicorn(args, port) as master:
        products = product_paths(port)
        shoppers = make_returning(port, products, args.returning, rng)
        print(f"gunicorn {args.workers} workers, {args.clients} clients, {len(products)} product pages, "
              f"{len(shoppers)} returning shoppers, {args.rounds} rounds x {args.seconds:.0f}s per side", flush=True)
        scenarios = [(page, who) for page in args.pages.split(",") for who in ("returning", "new")]
        totals: dict[tuple[str, str, str], Run] = {}
        for page, who in scenarios:
            paths = products if page == "product" else ["/"]
            pool = shoppers if who == "returning" else None
            # Warm every side once (every product's lists, the processes' memos), unmeasured.
            for side in sides:
                hammer(port, [side_url(p, side) for p in paths], pool, args.clients, min(3.0, args.seconds),
                       master.pid, seed=0, follow_fragments=side == FRAGMENTS_SIDE)
            for r in range(args.rounds):
                for side in sides:
                    run = hammer(port, [side_url(p, side) for p in paths], pool, args.clients, args.seconds,
                                 master.pid, seed=r + 1, follow_fragments=side == FRAGMENTS_SIDE)
                    total = totals.setdefault((page, who, side), Run())
                    total.requests += run.requests
                    total.seconds += run.seconds
                    total.cpu += run.cpu
                    total.errors.update(run.errors)
                    print(f"  {page:<8} {who:<10} round {r + 1} {side:<19} {run.requests / run.seconds:7.1f} req/s"
                          f"  {1000 * run.cpu / max(1, run.requests):5.1f} ms CPU/page"
                          + (f"  errors {dict(run.errors)}" if run.errors else ""), flush=True)
    costs = page_costs(args, products, sides)

    print(f"\nload after: {os.popen('uptime').read().strip()}")
    print(f"\n| page | shopper | with widgets req/s | without req/s | ratio | worker CPU/page (with / without) "
          f"| SQL queries (with / without) | cache reads | cache writes |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios: dict[str, list[float]] = {"returning": [], "new": []}
    for page, who in scenarios:
        a, b = totals[(page, who, "widgets")], totals[(page, who, "no widgets")]
        rate_a, rate_b = a.requests / a.seconds, b.requests / b.seconds
        ratio = rate_a / rate_b
        ratios[who].append(ratio)
        qa, ra, wa = costs[(page, who, "widgets")]
        qb, rb, wb = costs[(page, who, "no widgets")]
        print(f"| {page} | {who} | {rate_a:.1f} | {rate_b:.1f} | {ratio:.2f} | "
              f"{1000 * a.cpu / max(1, a.requests):.1f} / {1000 * b.cpu / max(1, b.requests):.1f} ms | "
              f"{qa} / {qb} | {ra} / {rb} | {wa} / {wb} |")
        for run in (a, b):
            if run.errors:
                print(f"  errors: {dict(run.errors)}")
    if args.fragments:
        print_fragments(scenarios, totals, costs)
    print(f"\npage ratio: {min(ratios['returning']):.2f} returning, {min(ratios['new']):.2f} new")


def print_fragments(scenarios: list[tuple[str, str]], totals: dict, costs: dict) -> None:
    """The CDN mode against the page without widgets: the page alone, and with its fragment request."""
    print("\nFragment mode (lists as {% personalize_fragment %}; campaign slot and greeting off), "
          "against the page without widgets; a page view = the page + its fragment request:")
    print("| page | shopper | side | page views/s | without widgets | ratio | worker CPU/page view (side / without) "
          "| SQL queries (side / without) |")
    print("|---|---|---|---|---|---|---|---|")
    for page, who in scenarios:
        b = totals[(page, who, "no widgets")]
        rate_b = b.requests / b.seconds
        for side in (PAGE_SIDE, FRAGMENTS_SIDE):
            a = totals[(page, who, side)]
            rate_a = a.requests / a.seconds
            print(f"| {page} | {who} | {side} | {rate_a:.1f} | {rate_b:.1f} | {rate_a / rate_b:.2f} | "
                  f"{1000 * a.cpu / max(1, a.requests):.1f} / {1000 * b.cpu / max(1, b.requests):.1f} ms | "
                  f"{costs[(page, who, side)][0]} / {costs[(page, who, 'no widgets')][0]} |")


if __name__ == "__main__":
    main()
