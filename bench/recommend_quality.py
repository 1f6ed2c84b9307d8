"""Recommendation quality on MovieLens-100k: every backend, the served blend, and baselines.

Data: ``ml-100k.inter`` / ``ml-100k.item`` read with ``zipfile`` from the ``recbole`` wheel
(downloaded once with ``pip download --no-deps recbole -d bench/data/``; recbole and torch are
never installed). Ratings >= 4 are positives; per user, the latest 20% of positives (by time)
are the test set (``--protocol`` offers others). Only the TRAIN part enters the store, through the project's own
``personalize_import_events`` command (kind ``purchase``: a rating of 4-5 is an explicit "I
liked it", the strongest signal the store has, and the ``for_you`` placement leaves out what a
shopper already bought, as a store must not recommend a film they already watched), into a
fresh SQLite file with a tiny product model (``bench.benchshop``: genres and release
year/decade as category/tags, so the adapter's features reach the hybrid model).

The store side uses SHIPPED DEFAULTS only: ``manage.py personalize_train`` with no options
(every trainable recommender chooses its own hyper-parameters on a validation split carved
from its training data; nothing here tunes them), then ``manage.py
personalize_export_recommendations --key external`` (the lists keyed by the imported ids):
the maintainers' path. implicit's ALS, the baseline, is tuned here on a validation split
carved from the training data only (the latest 20% of each user's TRAIN positives), by
NDCG@10. The test set is used once per method, at the end.

Beside the served list the script scores its plain components on the same version
(LightFM alone, the item-item part alone, co-occurrence, popular) and the served list with
each pipeline step changed alone (diversity cap, popular backfill, recency weighting,
profile length), so a step that costs quality shows. ``--protocol`` picks how the test set
is held out (temporal: each user's latest 20%, the reported one; random: a seeded 20%;
last-one: each user's newest positive). The last line is the figure a script reads:
``served ndcg ratio: R x tuned ALS, coverage C``.

Usage::

    .venv/bin/pip install -e '.[bench]'        # implicit (the ALS baseline)
    .venv/bin/python bench/recommend_quality.py [--quick] [--protocol random] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import glob
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice; LightFM uses OpenMP
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, "bench", "data")
sys.path.insert(0, ROOT)
K = 10
FRACTION = 0.2


# --- MovieLens ------------------------------------------------------------------------------
def wheel_path() -> str:
    found = sorted(glob.glob(os.path.join(DATA_DIR, "recbole-*.whl")))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "recbole", "-d", DATA_DIR, "-q"], check=True
        )
        found = sorted(glob.glob(os.path.join(DATA_DIR, "recbole-*.whl")))
    return found[-1]


def read_movielens(path: str) -> tuple[np.ndarray, dict[int, dict]]:
    """Ratings as an (n, 4) int array (user, item, rating, timestamp) and the films."""
    base = "recbole/dataset_example/ml-100k/ml-100k"
    with zipfile.ZipFile(path) as wheel:
        inter = wheel.read(base + ".inter").decode("latin-1").splitlines()
        item_lines = wheel.read(base + ".item").decode("latin-1").splitlines()
    rows = [line.split("\t") for line in inter[1:] if line.strip()]
    ratings = np.array([[int(u), int(i), int(float(r)), int(float(t))] for u, i, r, t in rows], dtype=np.int64)
    films = {}
    for line in item_lines[1:]:
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        item, title, year, genres = parts[0], parts[1], parts[2], parts[3]
        films[int(item)] = {"title": title[:200], "year": year.strip(), "genres": genres.split()}
    return ratings, films


def _split(rows: np.ndarray, fraction: float, order: np.ndarray, *, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per user (rows sorted by ``order``, grouped by user), ``fraction`` of the rows -> test:
    the last ones of each user's order or the first; at least one when the user has two."""
    rows = rows[order]
    users = rows[:, 0]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    n_test = np.floor(sizes * fraction).astype(np.int64)
    n_test[(sizes >= 2) & (n_test == 0)] = 1
    n_test[sizes < 2] = 0
    is_test = rank >= np.repeat(sizes - n_test, sizes) if last else rank < np.repeat(n_test, sizes)
    return rows[~is_test], rows[is_test]


def split_last(rows: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the latest ``fraction`` of rows (at least one when the user has two) -> test.

    Ties in time are broken by item id so the split is deterministic."""
    return _split(rows, fraction, np.lexsort((rows[:, 1], rows[:, 3], rows[:, 0])), last=True)


# --- metrics (one definition for every method) ----------------------------------------------
def ranking_metrics(
    recommend: Callable[[int], list[int]],
    truth: dict[int, set[int]],
    seen: dict[int, set[int]],
    n_items: int,
    k: int = K,
) -> dict[str, float]:
    """precision@k, recall@k, NDCG@k (binary gains) over users with a new relevant item, and
    coverage (distinct items shown / catalogue)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    p = r = n = 0.0
    shown: set[int] = set()
    users = [u for u in sorted(truth) if truth[u] - seen.get(u, set())]
    for user in users:
        relevant = truth[user] - seen.get(user, set())
        ranked = list(recommend(user))[:k]
        shown.update(ranked)
        hits = np.array([1.0 if item in relevant else 0.0 for item in ranked])
        p += hits.sum() / k
        r += hits.sum() / len(relevant)
        ideal = discounts[: min(len(relevant), k)].sum()
        n += float((hits * discounts[: len(hits)]).sum() / ideal)
    count = max(len(users), 1)
    return {"precision@10": p / count, "recall@10": r / count, "ndcg@10": n / count,
            "coverage": len(shown) / n_items, "users": len(users)}


def by_user(users: np.ndarray, items: np.ndarray) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for u, i in zip(users.tolist(), items.tolist()):
        out.setdefault(u, set()).add(i)
    return out


# --- baselines ------------------------------------------------------------------------------
def popularity(users: np.ndarray, items: np.ndarray, n_items: int, seen: dict[int, set[int]]) -> Callable[[int], list[int]]:
    order = np.argsort(-np.bincount(items, minlength=n_items), kind="stable")

    def recommend(user: int) -> list[int]:
        skip = seen.get(user, set())
        return [int(i) for i in order[: K + len(skip)] if int(i) not in skip][:K]

    return recommend


def als_fit(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, params: dict):
    from implicit.cpu.als import AlternatingLeastSquares

    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    model = AlternatingLeastSquares(
        factors=params["factors"], regularization=params["regularization"], alpha=params["alpha"],
        iterations=params["iterations"], random_state=42, num_threads=2,
    )
    model.fit(matrix, show_progress=False)
    return model, matrix


def als_recommender(model, matrix: sp.csr_matrix) -> Callable[[int], list[int]]:
    cache: dict[int, list[int]] = {}
    users = np.arange(matrix.shape[0])
    ids, _scores = model.recommend(users, matrix[users], N=K, filter_already_liked_items=True)
    for user in users.tolist():
        cache[user] = [int(i) for i in ids[user] if i >= 0]
    return lambda user: cache.get(user, [])


ALS_GRID = {
    "factors": [32, 64, 128],
    "regularization": [0.01, 0.1, 1.0, 10.0],
    "alpha": [0.5, 1.0, 5.0, 20.0],
    "iterations": [30],
}


def tune_als(fit_u, fit_i, truth, seen, n_users, n_items, quick: bool) -> tuple[dict, list]:
    """Grid over factors x regularization x alpha, then the iterations of the best point."""
    grid = {k: v[:2] for k, v in ALS_GRID.items()} if quick else ALS_GRID
    table = []

    def run(params: dict) -> None:
        model, matrix = als_fit(fit_u, fit_i, n_users, n_items, params)
        table.append((params, ranking_metrics(als_recommender(model, matrix), truth, seen, n_items)))

    for values in itertools.product(*grid.values()):
        run(dict(zip(grid, values)))
    # Then a local search around the best point (so a best on the grid's edge is followed
    # past it): factors x2 / /2, regularization x3 / /3, alpha x2 / /2, iterations 15 / 50.
    tried = {json.dumps(p, sort_keys=True) for p, _m in table}
    for _round in range(2 if quick else 8):
        best = max(table, key=lambda row: row[1]["ndcg@10"])[0]
        moves = [("factors", 2), ("factors", 0.5), ("regularization", 3), ("regularization", 1 / 3),
                 ("alpha", 2), ("alpha", 0.5)]
        candidates = [{**best, name: (int(best[name] * f) if name == "factors" else round(best[name] * f, 4))}
                      for name, f in moves]
        candidates += [{**best, "iterations": n} for n in (15, 50)]
        fresh = [c for c in candidates if json.dumps(c, sort_keys=True) not in tried and c["factors"] >= 8]
        if not fresh:
            break
        before = max(m["ndcg@10"] for _p, m in table)
        for params in fresh:
            tried.add(json.dumps(params, sort_keys=True))
            run(params)
        if max(m["ndcg@10"] for _p, m in table) <= before:
            break
    best = max(table, key=lambda row: row[1]["ndcg@10"])
    return best[0], table


# --- the store --------------------------------------------------------------------------------
def setup_django(db_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def load_store(films: dict[int, dict], train: np.ndarray, shift: int, workdir: str) -> dict:
    """Films as products, the TRAIN positives through ``personalize_import_events``."""
    from django.core.management import call_command

    from bench.benchshop.models import Movie

    movies = []
    for item, film in sorted(films.items()):
        year = film["year"] if film["year"].isdigit() else ""
        tags = list(film["genres"])
        if year:
            tags += [f"decade:{year[:3]}0s", f"year:{year}"]
        movies.append(Movie(id=item, title=film["title"] or f"film {item}", category=(film["genres"] or [""])[0], tags=",".join(tags)))
    Movie.objects.bulk_create(movies, batch_size=1000)
    path = os.path.join(workdir, "train.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["shopper", "product", "kind", "timestamp"])
        for user, item, _rating, ts in train.tolist():
            writer.writerow([f"u{user}", item, "purchase", ts + shift])
    started = time.monotonic()
    call_command("personalize_import_events", path, "--no-progress", "--batch-size", "5000")
    return {"import_seconds": round(time.monotonic() - started, 1), "csv_rows": len(train)}


# --- protocols --------------------------------------------------------------------------------
def split_random(rows: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per user, a seeded random ``fraction`` of rows (at least one when the user has two) -> test."""
    rng = np.random.default_rng(seed)
    return _split(rows, fraction, np.lexsort((rng.random(len(rows)), rows[:, 0])), last=False)


def split_last_one(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per user with two positives or more, the newest one -> test (leave-last-one-out)."""
    order = np.lexsort((rows[:, 1], rows[:, 3], rows[:, 0]))
    rows = rows[order]
    users = rows[:, 0]
    last = np.r_[users[1:] != users[:-1], True]
    sizes = np.bincount(np.unique(users, return_inverse=True)[1])
    counts = np.repeat(sizes, sizes)
    is_test = last & (counts >= 2)
    return rows[~is_test], rows[is_test]


PROTOCOLS = {
    "temporal": lambda rows: split_last(rows, FRACTION),
    "random": lambda rows: split_random(rows, FRACTION),
    "last-one": split_last_one,
}


# --- the store, trained and served with shipped defaults ---------------------------------------
def train_store(workdir: str) -> dict:
    """``manage.py personalize_train`` as a store runs it (no options), timed."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    started = time.monotonic()
    call_command("personalize_train", "--no-progress", stdout=out, stderr=out)
    seconds = round(time.monotonic() - started, 1)
    print(out.getvalue().rstrip())
    return {"seconds": seconds, "output": out.getvalue()}


def export_lists(workdir: str) -> dict[str, list[str]]:
    """``manage.py personalize_export_recommendations --key external``: {"u12": ["50", ...]}."""
    from django.core.management import call_command

    from django.core.management import CommandError

    from personalize.models import Shopper

    path = os.path.join(workdir, "export.json")
    try:
        call_command("personalize_export_recommendations", "--key", "external", "--limit", str(K), "--output", path,
                     "--no-progress")
    except CommandError as exc:  # a version without --key (the "before" figures): map the keys here
        print(f"  export --key external unavailable ({exc}); mapping shopper keys to imported ids")
        call_command("personalize_export_recommendations", "--limit", str(K), "--output", path, "--no-progress")
        with open(path, encoding="utf-8") as handle:
            lists = json.load(handle)
        external = {str(s.key): s.external_key for s in Shopper.objects.all()}
        return {external[key]: items for key, items in lists.items() if external.get(key)}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def evaluate_test(data, train: np.ndarray, test: np.ndarray, als_params: dict, workdir: str) -> tuple[dict, dict]:
    """Every method on the test set, scored once: baselines, the plain components, the
    served list (the export command), and the served list with each pipeline step off."""
    from django.conf import settings
    from django.core.cache import cache
    from django.test.utils import override_settings

    from personalize.caching import local
    from personalize.models import Shopper
    from personalize.placements.pipeline import recommend_for
    from personalize.profiles import load_profile
    from personalize.recommenders import get_recommender, reset_recommenders

    n_items = data.n_items
    index = {str(k): i for i, k in enumerate(data.product_keys)}
    shoppers = {s.external_key: s for s in Shopper.objects.select_related("cart")}
    user_index = {int(pk): i for i, pk in enumerate(data.shopper_ids)}
    uidx = {key: user_index[shoppers[key].pk] for key in (f"u{u}" for u in np.unique(train[:, 0]).tolist())}
    truth: dict[int, set[int]] = {}
    for user, item in test[:, :2].tolist():
        if f"u{user}" in uidx and str(item) in index:
            truth.setdefault(uidx[f"u{user}"], set()).add(index[str(item)])
    seen = by_user(data.users, data.items)
    shopper_of = {i: shoppers[key] for key, i in uidx.items()}
    key_of = {i: key for key, i in uidx.items()}
    results: dict[str, dict] = {}
    steps: dict[str, dict] = {}

    def score(recommend: Callable[[int], list[int]]) -> dict:
        return ranking_metrics(recommend, truth, seen, n_items)

    results["baseline: popularity (counts)"] = score(popularity(data.users, data.items, n_items, seen))
    model, matrix = als_fit(data.users, data.items, data.n_users, n_items, als_params)
    results["baseline: implicit ALS (tuned)"] = score(als_recommender(model, matrix))

    def backend_lists(alias: str, **options) -> Callable[[int], list[int]]:
        backend = get_recommender(alias)
        saved = dict(backend.options)
        backend.options.update(options)
        lists = {}
        for user, shopper in shopper_of.items():
            profile = load_profile(shopper)
            exclude = {str(data.product_keys[i]) for i in seen.get(user, set())}
            lists[user] = [index[r.key] for r in backend.recommend(profile, limit=K, exclude=exclude) if r.key in index]
        backend.options = saved
        return lambda user: lists.get(user, [])

    results["component: popular (trending backend)"] = score(backend_lists("popular"))
    results["component: bought_together (co-occurrence)"] = score(backend_lists("bought_together"))
    results["component: LightFM alone (KNN_WEIGHT=0)"] = score(backend_lists("default", KNN_WEIGHT=0.0))
    results["component: item-item alone (KNN_WEIGHT=1)"] = score(backend_lists("default", KNN_WEIGHT=1.0))
    results["backend: default as tuned (blend, no pipeline)"] = score(backend_lists("default"))

    started = time.monotonic()
    exported = export_lists(workdir)
    results["served: export --key external (for_you)"] = score(
        lambda user: [index[k] for k in exported.get(key_of[user], []) if k in index])
    results["served: export --key external (for_you)"]["seconds"] = round(time.monotonic() - started, 1)

    def served(personalize: dict | None = None, **options) -> dict:
        """recommend_for with one step changed (settings or the default backend's options)."""
        with override_settings(PERSONALIZE={**settings.PERSONALIZE, **(personalize or {})}):
            reset_recommenders()
            cache.clear()
            # and the in-process layer: a step's candidate lists (keyed by model version and
            # profile, not by the options a step changes) must not serve the next step's
            # first shoppers within LOCAL_CACHE_SECONDS
            local.clear()
            backend = get_recommender("default")
            backend.options.update(options)
            metrics = score(lambda user: [index[k] for k in recommend_for(shopper_of[user], "for_you", limit=K).keys
                                          if k in index])
        reset_recommenders()
        cache.clear()
        local.clear()
        return metrics

    placement = {"recommender": "default", "method": "recommend"}
    steps["served (every step on)"] = served()
    steps["no diversity cap"] = served({"PLACEMENTS": {"for_you": {**placement, "diversity": {"category": None, "brand": None}}}})
    steps["category cap 4 forced on (DIVERSITY_OFF=[])"] = served(DIVERSITY_OFF=[])
    steps["no popular backfill"] = served({"PLACEMENTS": {"for_you": {**placement, "backfill": False}}})
    steps["no recency weighting (RECENCY=KNN_RECENCY=1)"] = served(RECENCY=1.0, KNN_RECENCY=1.0)
    steps["longer profile (PROFILE_EVENTS 1000)"] = served({"PROFILE_EVENTS": 1000})
    steps["LightFM only (KNN_WEIGHT=0)"] = served(KNN_WEIGHT=0.0)
    steps["item-item only (KNN_WEIGHT=1)"] = served(KNN_WEIGHT=1.0)
    purchased = 0
    for user, shopper in shopper_of.items():
        bought = seen.get(user, set())
        purchased += sum(1 for k in exported.get(key_of[user], []) if k in index and index[k] in bought)
    results["served: export --key external (for_you)"]["purchased_served"] = purchased
    return results, steps


def version_summary() -> dict:
    """What the tuner chose and recorded on each active version."""
    from personalize.models import ModelVersion

    out = {}
    for version in ModelVersion.objects.order_by("pk"):
        tuning = (version.metrics or {}).get("tuning", {})
        out[f"{version.alias} #{version.pk}"] = {
            "status": version.status, "chosen": tuning.get("chosen"), "validation": (version.metrics or {}).get("model", {}),
            "trials": len(tuning.get("trials", [])), "training_seconds": version.training_seconds,
            "error": (version.error or "").splitlines()[:1],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small ALS grid (a smoke run, not the reported figures).")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="temporal", help="How the test set is held out.")
    parser.add_argument("--als-params", help="JSON ALS parameters: skip the ALS search (iterating on the store side).")
    parser.add_argument("--keep-db", help="Keep the SQLite database at this path.")
    parser.add_argument("--json", help="Also write every figure to this JSON file.")
    args = parser.parse_args()
    report: dict = {"protocol": args.protocol}

    ratings, films = read_movielens(wheel_path())
    positives = ratings[ratings[:, 2] >= 4]
    train, test = PROTOCOLS[args.protocol](positives)
    print(f"MovieLens-100k: {len(ratings)} ratings, {len(positives)} positives (>= 4), "
          f"{len(np.unique(positives[:, 0]))} users, {len(films)} films; protocol {args.protocol}: "
          f"train {len(train)}, test {len(test)}")
    # Times shifted so the newest training event is an hour ago: relative times are kept,
    # and time-decayed lists (trending) see the data as recent.
    shift = int(time.time()) - 3600 - int(train[:, 3].max())

    workdir = tempfile.mkdtemp(prefix="bench-quality-")
    db_path = args.keep_db or os.path.join(workdir, "bench.sqlite3")
    setup_django(db_path)
    from django.test.utils import override_settings

    from personalize.recommenders import reset_recommenders, training
    from personalize.recommenders.evaluation import temporal_split

    report["import"] = load_store(films, train, shift, workdir)
    print(f"imported through personalize_import_events in {report['import']['import_seconds']}s")
    data = training.load_training_data()
    print(f"training data: {data.n_events} events, {data.n_users} shoppers, {data.n_items} products")

    if args.als_params:
        als_params = json.loads(args.als_params)
        print(f"ALS parameters given: {als_params}")
    else:
        # The baseline's validation split, carved from the training data only.
        fit_part, validation = temporal_split(data, FRACTION)
        val_truth = by_user(validation.users, validation.items)
        val_seen = by_user(fit_part.users, fit_part.items)
        print("tuning implicit ALS on the validation split ...", flush=True)
        started = time.monotonic()
        als_params, als_table = tune_als(fit_part.users, fit_part.items, val_truth, val_seen, data.n_users,
                                         data.n_items, args.quick)
        report["als_tuning"] = {"chosen": als_params, "grid": als_table}
        print(f"  {len(als_table)} configurations in {time.monotonic() - started:.0f}s; best {als_params} "
              f"(validation NDCG@10 {max(m['ndcg@10'] for _p, m in als_table):.4f})")
    report["als"] = als_params

    print("personalize_train with the shipped defaults (the tuner chooses) ...", flush=True)
    report["train"] = train_store(workdir)
    report["versions"] = versions = version_summary()
    for name, summary in versions.items():
        print(f"  {name}: {summary['status']}, chose {summary['chosen']}, "
              f"{summary['trials']} trials, {summary['training_seconds']:.1f}s {' '.join(summary['error'])}")

    with override_settings():
        reset_recommenders()
        results, steps = evaluate_test(data, train, test, als_params, workdir)
    report["test"], report["steps"] = results, steps
    print(f"\nTest set ({args.protocol}), k=10:")
    print(f"{'method':<52}{'P@10':>8}{'R@10':>8}{'NDCG@10':>9}{'cover':>8}{'users':>7}")
    for name, m in results.items():
        print(f"{name:<52}{m['precision@10']:>8.4f}{m['recall@10']:>8.4f}{m['ndcg@10']:>9.4f}{m['coverage']:>8.3f}{m['users']:>7}")
    full = steps["served (every step on)"]["ndcg@10"]
    print("\nPipeline steps (recommend_for, for_you), each changed alone:")
    print(f"{'served list with':<52}{'NDCG@10':>9}{'vs all on':>10}{'cover':>8}")
    for name, m in steps.items():
        print(f"{name:<52}{m['ndcg@10']:>9.4f}{m['ndcg@10'] / full if full else 0:>9.3f}x{m['coverage']:>8.3f}")
    exported = results["served: export --key external (for_you)"]
    print(f"\npurchased products served: {exported['purchased_served']}")
    als = results["baseline: implicit ALS (tuned)"]["ndcg@10"]
    ratio = exported["ndcg@10"] / als if als else 0.0
    report["ratio"] = ratio
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=str)
    if not args.keep_db:
        from django.db import connection

        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"served ndcg ratio: {ratio:.3f} x tuned ALS, coverage {exported['coverage']:.3f}")


if __name__ == "__main__":
    main()
