"""What the per-shopper cap costs co-occurrence training: the same baskets counted per basket
(``_neighbours`` without ``shoppers``) and per (shopper, contribution window) once per pair.

Synthetic: 1M view events, 100k shoppers, 10k products (Zipf popularity), 30 days, sessions
split after 30 idle minutes. Prints CPU and wall seconds of each side and the ratio.

Usage::

    .venv/bin/python bench/cooccurrence_cap.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from personalize.recommenders.cooccurrence import CoOccurrenceRecommender  # noqa: E402
from personalize.recommenders.training import sessions_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--shoppers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    users = rng.integers(0, args.shoppers, args.events)
    items = (rng.zipf(1.3, args.events) % args.products).astype(np.int64)
    times = rng.uniform(0, 30 * 86400, args.events)
    sessions = sessions_of(users, times, 1800.0).astype(np.int64)
    rec = CoOccurrenceRecommender("bench", {"KINDS": ["view"]})
    cpu = {}
    for label, extra in (("per basket", {}), ("capped", {"shoppers": users})):
        c0, w0 = time.process_time(), time.perf_counter()
        out = rec._neighbours(sessions, items, times, args.products, **extra)
        cpu[label] = time.process_time() - c0
        print(f"{label:<11} cpu {cpu[label]:6.2f} s  wall {time.perf_counter() - w0:6.2f} s  pairs kept {len(out['indices'])}")
    print(f"cap cost ratio: {cpu['capped'] / cpu['per basket']:.2f} x CPU ({args.events:,} events)")


if __name__ == "__main__":
    main()
