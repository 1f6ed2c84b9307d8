"""Recommendation quality on MovieLens-100k: every backend, the served blend, and baselines.

Data: ``ml-100k.inter`` / ``ml-100k.item`` read with ``zipfile`` from the ``recbole`` wheel
(downloaded once with ``pip download --no-deps recbole -d bench/data/``; recbole and torch are
never installed). Ratings >= 4 are positives; per user, the latest 20% of positives (by time)
are the test set. Only the TRAIN part enters the store, through the project's own
``personalize_import_events`` command (kind ``purchase``: a rating of 4-5 is an explicit "I
liked it", the strongest signal the store has, and the ``for_you`` placement leaves out what a
shopper already bought, as a store must not recommend a film they already watched), into a
fresh SQLite file with a tiny product model (``bench.benchshop``: genres and release
year/decade as category/tags, so the adapter's features reach the hybrid model).

Hyper-parameters of implicit's ALS and of the project's backends are chosen on a validation
split carved from the training data only (the latest 20% of each user's TRAIN positives), by
NDCG@10; the test set is used once per configuration, at the end. The "served" row goes
through ``personalize.placements.recommend_for(shopper, "for_you", limit=10)``: the code path
of ``{% recommended_for_you %}`` (profile from the database, candidate cache, purchased
products left out, stock, diversity cap, popular backfill).

Usage::

    .venv/bin/pip install -e '.[bench]'        # implicit (the ALS baseline)
    .venv/bin/python bench/recommend_quality.py [--quick]
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


def split_last(rows: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the latest ``fraction`` of rows (at least one when the user has two) -> test.

    Ties in time are broken by item id so the split is deterministic."""
    order = np.lexsort((rows[:, 1], rows[:, 3], rows[:, 0]))
    rows = rows[order]
    users = rows[:, 0]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    n_test = np.floor(sizes * fraction).astype(np.int64)
    n_test[(sizes >= 2) & (n_test == 0)] = 1
    n_test[sizes < 2] = 0
    is_test = rank >= np.repeat(sizes - n_test, sizes)
    return rows[~is_test], rows[is_test]


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


# --- the project's backends -------------------------------------------------------------------
def backend_recommender(backend, data, fit_part, users_idx, seen) -> Callable[[int], list[int]]:
    """A backend fitted in memory, scored like ``evaluation.evaluate`` does (profiles from
    the fitted events, seen products excluded)."""
    from personalize.recommenders.evaluation import profiles_from

    profiles = profiles_from(fit_part, np.array(sorted(users_idx), dtype=np.int64))
    keys = data.product_keys
    index = {str(k): i for i, k in enumerate(keys)}
    from personalize.profiles import ShopperProfile

    def recommend(user: int) -> list[int]:
        profile = profiles.get(user) or ShopperProfile(shopper=None)
        exclude = {str(keys[i]) for i in seen.get(user, set())}
        return [index[r.key] for r in backend.recommend(profile, limit=K, exclude=exclude) if r.key in index]

    return recommend


def tune_backend(
    cls, alias: str, base: dict, grid: list[dict], data, fit_part, truth, seen, serving_grid: list[dict] | None = None
) -> tuple[dict, list]:
    """Fit every grid point on ``fit_part``; score it (and each serving-time option of
    ``serving_grid`` on the same fitted model) on the validation split."""
    table = []
    for point in grid:
        options = {**base, **point}
        backend = cls(alias, options)
        started = time.monotonic()
        backend.fit(fit_part)
        fit_s = round(time.monotonic() - started, 1)
        for serving in serving_grid or [{}]:
            backend.options.update(serving)
            metrics = ranking_metrics(backend_recommender(backend, data, fit_part, truth, seen), truth, seen, data.n_items)
            metrics["fit_s"] = fit_s
            table.append(({**point, **serving}, metrics))
            print(f"    {alias} {({**point, **serving})}: NDCG@10 {metrics['ndcg@10']:.4f} ({fit_s}s)", flush=True)
    best = max(table, key=lambda row: row[1]["ndcg@10"])
    return {**base, **best[0]}, table


def lightfm_grid(quick: bool) -> list[dict]:
    if quick:
        return [{"EPOCHS": 12}]
    grid = [{"NO_COMPONENTS": c, "EPOCHS": e, "ITEM_FEATURES": True} for c, e in itertools.product([48, 96], [12, 30])]
    return grid + [{"NO_COMPONENTS": 48, "EPOCHS": 30, "ITEM_FEATURES": False}]


# Serving-time options (the blend): scored on each fitted model without refitting.
KNN_GRID = [{"KNN_WEIGHT": w, "KNN_RECENCY": r} for w in (0.0, 0.3, 0.5, 0.7, 0.85, 1.0) for r in (0.85, 0.95)]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small grids (a smoke run, not the reported figures).")
    parser.add_argument("--keep-db", help="Keep the SQLite database at this path.")
    parser.add_argument("--json", help="Also write every figure to this JSON file.")
    args = parser.parse_args()
    report: dict = {}

    ratings, films = read_movielens(wheel_path())
    positives = ratings[ratings[:, 2] >= 4]
    train, test = split_last(positives, FRACTION)
    print(f"MovieLens-100k: {len(ratings)} ratings, {len(positives)} positives (>= 4), "
          f"{len(np.unique(positives[:, 0]))} users, {len(films)} films; train {len(train)}, test {len(test)}")
    # Times shifted so the newest training event is an hour ago: relative times are kept,
    # and time-decayed lists (trending) see the data as recent.
    shift = int(time.time()) - 3600 - int(train[:, 3].max())

    workdir = tempfile.mkdtemp(prefix="bench-quality-")
    db_path = args.keep_db or os.path.join(workdir, "bench.sqlite3")
    setup_django(db_path)
    from django.core.cache import cache
    from django.test.utils import override_settings

    from personalize.recommenders import reset_recommenders
    from personalize.recommenders.cooccurrence import CoOccurrenceRecommender
    from personalize.recommenders.evaluation import temporal_split
    from personalize.recommenders.lightfm import LightFMRecommender
    from personalize.recommenders.popular import PopularRecommender
    from personalize.recommenders import training

    report["import"] = load_store(films, train, shift, workdir)
    print(f"imported through personalize_import_events in {report['import']['import_seconds']}s")

    data = training.load_training_data()
    n_items = data.n_items
    print(f"training data: {data.n_events} events, {data.n_users} shoppers, {n_items} products")

    # --- validation split, carved from the training data only ---------------------------------
    fit_part, validation = temporal_split(data, FRACTION)
    val_truth = by_user(validation.users, validation.items)
    val_seen = by_user(fit_part.users, fit_part.items)

    print("tuning implicit ALS on the validation split ...", flush=True)
    started = time.monotonic()
    als_params, als_table = tune_als(fit_part.users, fit_part.items, val_truth, val_seen, data.n_users, n_items, args.quick)
    print(f"  {len(als_table)} configurations in {time.monotonic() - started:.0f}s; best {als_params} "
          f"(validation NDCG@10 {max(m['ndcg@10'] for _p, m in als_table):.4f})")

    print("tuning the project's backends on the validation split ...", flush=True)
    pop_options, pop_table = tune_backend(
        PopularRecommender, "popular", {}, [{"HALF_LIFE_DAYS": h} for h in (7, 30, 90, 0)], data, fit_part, val_truth, val_seen
    )
    co_grid = [{"SCOPE": s, "METRIC": m} for s in ("session", "shopper") for m in ("cosine", "jaccard")]
    co_options, co_table = tune_backend(
        CoOccurrenceRecommender, "bought_together", {"KINDS": ["purchase"]}, co_grid, data, fit_part, val_truth, val_seen
    )
    lfm_options, lfm_table = tune_backend(
        LightFMRecommender, "default", {"KNN_METRIC": co_options["METRIC"]}, lightfm_grid(args.quick), data, fit_part,
        val_truth, val_seen, KNN_GRID,
    )
    report["tuning"] = {
        "als": {"chosen": als_params, "grid": als_table},
        "popular": {"chosen": pop_options, "grid": pop_table},
        "bought_together": {"chosen": co_options, "grid": co_table},
        "default": {"chosen": lfm_options, "grid": lfm_table},
    }
    print(f"chosen: ALS {als_params}\n        popular {pop_options}\n        bought_together {co_options}\n"
          f"        default (LightFM) {lfm_options}")

    # --- train the store's recommenders with the chosen options, as a store would -------------
    from django.conf import settings

    personalize = dict(settings.PERSONALIZE)
    recommenders = {alias: dict(conf) for alias, conf in training.ps.RECOMMENDERS.items()}
    recommenders["default"] = {**recommenders["default"], "OPTIONS": lfm_options}
    recommenders["popular"] = {**recommenders["popular"], "OPTIONS": pop_options}
    recommenders["bought_together"] = {**recommenders["bought_together"], "OPTIONS": co_options}
    personalize["RECOMMENDERS"] = recommenders
    with override_settings(PERSONALIZE=personalize):
        reset_recommenders()
        cache.clear()
        timings = {}
        for alias in ("default", "bought_together", "also_viewed"):
            started = time.monotonic()
            version = training.train(alias=alias, force=True)
            timings[alias] = round(time.monotonic() - started, 1)
            print(f"  personalize train {alias}: #{version.pk} {version.status} in {timings[alias]}s {version.error[:200]}")
        training.refresh_lists()
        report["train_seconds"] = timings
        results = evaluate_test(data, train, test, n_items, als_params)
    report["test"] = results
    print("\nTest set (latest 20% of each user's positives), k=10:")
    print(f"{'method':<40}{'P@10':>8}{'R@10':>8}{'NDCG@10':>9}{'cover':>8}{'users':>7}")
    for name, m in results.items():
        print(f"{name:<40}{m['precision@10']:>8.4f}{m['recall@10']:>8.4f}{m['ndcg@10']:>9.4f}{m['coverage']:>8.3f}{m['users']:>7}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=str)
    if not args.keep_db:
        from django.db import connection

        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)


def evaluate_test(data, train: np.ndarray, test: np.ndarray, n_items: int, als_params: dict) -> dict:
    """Every method on the test set: fitted on all the training data, scored once."""
    from personalize.models import Shopper
    from personalize.placements.pipeline import recommend_for
    from personalize.profiles import load_profile
    from personalize.recommenders import get_recommender

    index = {str(k): i for i, k in enumerate(data.product_keys)}
    shoppers = {s.external_key: s for s in Shopper.objects.select_related("cart")}
    user_index = {int(pk): i for i, pk in enumerate(data.shopper_ids)}
    ext = {f"u{u}" for u in np.unique(train[:, 0]).tolist()}
    uidx = {key: user_index[shoppers[key].pk] for key in ext}
    truth: dict[int, set[int]] = {}
    for user, item in test[:, :2].tolist():
        if f"u{user}" in uidx and str(item) in index:
            truth.setdefault(uidx[f"u{user}"], set()).add(index[str(item)])
    seen = by_user(data.users, data.items)
    shopper_of = {i: shoppers[key] for key, i in uidx.items()}
    results = {}

    results["baseline: popularity (counts)"] = ranking_metrics(popularity(data.users, data.items, n_items, seen), truth, seen, n_items)
    model, matrix = als_fit(data.users, data.items, data.n_users, n_items, als_params)
    results["baseline: implicit ALS (tuned)"] = ranking_metrics(als_recommender(model, matrix), truth, seen, n_items)

    def through(alias: str) -> Callable[[int], list[int]]:
        backend = get_recommender(alias)

        def recommend(user: int) -> list[int]:
            profile = load_profile(shopper_of[user])
            exclude = {str(data.product_keys[i]) for i in seen.get(user, set())}
            return [index[r.key] for r in backend.recommend(profile, limit=K, exclude=exclude) if r.key in index]

        return recommend

    for alias, label in (("popular", "popular (trending)"), ("bought_together", "co-occurrence (bought together)")):
        results[f"backend: {label}"] = ranking_metrics(through(alias), truth, seen, n_items)
    default = get_recommender("default")
    weight = default.option("KNN_WEIGHT")
    default.options["KNN_WEIGHT"] = 0.0  # the same fitted version, LightFM's scores alone
    results["backend: LightFM alone (KNN_WEIGHT=0)"] = ranking_metrics(through("default"), truth, seen, n_items)
    default.options["KNN_WEIGHT"] = weight
    results["backend: default (LightFM+kNN blend)"] = ranking_metrics(through("default"), truth, seen, n_items)

    def served(user: int) -> list[int]:
        result = recommend_for(shopper_of[user], "for_you", limit=K)
        return [index[key] for key in result.keys if key in index]

    started = time.monotonic()
    results["served: for_you (recommend_for)"] = ranking_metrics(served, truth, seen, n_items)
    results["served: for_you (recommend_for)"]["seconds"] = round(time.monotonic() - started, 1)
    return results


if __name__ == "__main__":
    main()
