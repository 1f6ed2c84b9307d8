"""Session 10: per-shopper top-10 lists for grid.py's serving points and new blend formulations.

Same fits as grid.py (one on the fit part of holdout_split, one on all the protocol's training
data). Instead of calling recommend() per point, each shopper's LightFM scores (per RECENCY)
and item-item scores (per KNN_RECENCY x KNN_MAX_PROFILE_ITEMS) are computed once, with the
same code as LightFMRecommender.user_vector / _blend, and every formulation is ranked from
them with ranking.top_k (what recommend() uses). Formulations ("BLEND"):
  lin   (1-w) * minmax(LightFM) + w * kNN / peak       (what the package serves; w 0 / 1 = parts)
  rrf10 (1-w) / (10 + rank_LightFM) + w / (10 + rank_kNN), ranks over the allowed products
  rrf60 same with 60
  z     (1-w) * z(LightFM) + w * z(kNN), z over the allowed products
  mix   lin with kNN = 0.5 * recent/peak + 0.5 * flat(KNN_RECENCY 1, 50 products)/peak
Writes <out>.npz-like pickle: per set the users, their relevant sets, the top-10 of every
config, and each shopper's "sequentiality" (consecutive-item similarity over all-pairs
similarity in their newest 20 products, from the fit's EASE neighbours).
Usage: grid10.py <protocol> /tmp/q/g10-<protocol>.pkl
"""
import os, pickle, sys, time, tempfile, itertools
sys.path.insert(0, os.getcwd())
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
from bench import recommend_quality as rq
rq.setup_django(os.path.join(tempfile.mkdtemp(), "db.sqlite3"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol
from personalize.profiles import ShopperProfile
from personalize.recommenders.evaluation import Validation, holdout_split
from personalize.recommenders.lightfm import LightFMRecommender
from personalize.recommenders.popular import PopularRecommender
from personalize.recommenders.ranking import top_k, indices_of

proto, out = sys.argv[1], sys.argv[2]
data, test_td = protocol.load(proto)
FIT, VARIANTS = protocol.FIT, protocol.VARIANTS
SMOKE = bool(os.environ.get("GRID10_SMOKE"))
if SMOKE:
    FIT = {**protocol.FIT, "NO_COMPONENTS": 8, "EPOCHS": 1}
LFM_R = (1.0, 0.95, 0.85)
KNN_P = list(itertools.product((1.0, 0.95, 0.85, 0.7), (20, 50)))
WS = (0.3, 0.5, 0.7)
BLENDS = ("lin", "rrf10", "rrf60", "z", "mix")


def configs():
    out = [("lfm", r, None, 0.0) for r in LFM_R] + [("knn", None, kp, 1.0) for kp in KNN_P]
    out += [(b, r, kp, w) for b in BLENDS for r in LFM_R for kp in KNN_P for w in WS]
    return out


CONFIGS = configs()


def ranks(scores, allowed):
    """Rank (0 best) of every product among the allowed ones (ties: lower index first)."""
    idx = np.flatnonzero(allowed)
    order = idx[np.lexsort((idx, -scores[idx]))]
    r = np.full(len(scores), len(scores), dtype=np.float64)
    r[order] = np.arange(len(order))
    return r


def zs(scores, allowed):
    s = scores[allowed]
    sd = s.std()
    return (scores - s.mean()) / (sd if sd > 0 else 1.0)


def sequentiality(dense, profile, index, window=20):
    keys = [index[k] for k in profile.recent_keys()[:window] if k in index]
    if len(keys) < 3:
        return np.nan
    sub = dense[np.ix_(keys, keys)]
    sym = sub + sub.T
    consec = np.mean([sym[i, i + 1] for i in range(len(keys) - 1)])
    mask = ~np.eye(len(keys), dtype=bool)
    allp = sym[mask].mean()
    return consec / allp if allp > 0 else np.nan


def score_set(model, v, dense):
    n_items = len(model._keys)
    us = v.users
    tops = {c: np.full((len(us), 10), -1, dtype=np.int16) for c in CONFIGS}
    seq = np.full(len(us), np.nan)
    rel = []
    for u_i, user in enumerate(us):
        rel.append(sorted(v.truth[user] - v.seen.get(user, set())))
        profile = v.profiles.get(user) or ShopperProfile(shopper=None, features=dict(v.train.user_features.get(user, {})))
        seq[u_i] = sequentiality(dense, profile, model._index)
        banned = set(v.excluded[user]) | set(profile.recent_keys())
        bidx = indices_of(banned, model._index)
        allowed = np.ones(n_items, dtype=bool)
        allowed[bidx] = False
        lfm = {}
        for r in LFM_R:
            model.options["RECENCY"] = r
            found = model.user_vector(profile)
            if found is None:
                lfm[r] = None
                continue
            vector, _known = found
            lfm[r] = (model._item_repr @ vector.astype(np.float32) + model._item_bias).astype(np.float64)
        knn = {(kr, mp): model._knn_scores(profile, recency=kr, max_items=mp) for kr, mp in KNN_P}
        flat = knn[(1.0, 50)]
        flat_n = flat / flat.max() if flat.max() > 0 else flat
        cache = {}
        for c in CONFIGS:
            blend, r, kp, w = c
            if (r is not None and lfm[r] is None):
                continue
            if blend == "lfm":
                s = lfm[r].copy()
            elif blend == "knn" or blend in ("lin", "mix"):
                k = knn[kp]
                peak = float(k.max())
                kn = k / peak if peak > 0 else k.copy()
                if blend == "mix":
                    kn = 0.5 * kn + 0.5 * flat_n
                if blend == "knn":
                    s = 0.0 * kn + 1.0 * kn
                else:
                    sc = lfm[r]
                    low, high = float(sc.min()), float(sc.max())
                    scaled = (sc - low) / (high - low) if high > low else np.zeros_like(sc)
                    s = (1.0 - w) * scaled + w * kn
            elif blend.startswith("rrf"):
                K = float(blend[3:])
                if ("rl", r) not in cache:
                    cache[("rl", r)] = ranks(lfm[r], allowed)
                rl = cache[("rl", r)]
                if ("rk", kp) not in cache:
                    cache[("rk", kp)] = ranks(knn[kp], allowed)
                rk = cache[("rk", kp)]
                s = (1 - w) / (K + rl) + w / (K + rk)
            elif blend == "z":
                if ("zl", r) not in cache:
                    cache[("zl", r)] = zs(lfm[r], allowed)
                if ("zk", kp) not in cache:
                    cache[("zk", kp)] = zs(knn[kp], allowed)
                s = (1 - w) * cache[("zl", r)] + w * cache[("zk", kp)]
            s = np.asarray(s, dtype=np.float64)
            s[bidx] = -np.inf
            t = top_k(s, 10)
            tops[c][u_i, : len(t)] = t
    # check: the first 25 shoppers' lists equal recommend()'s at a few grid.py points
    bad = 0
    base = dict(model.options)
    for c in [("lfm", 0.85, None, 0.0), ("knn", None, (0.85, 50), 1.0), ("lin", 0.85, (0.85, 50), 0.3), ("lin", 1.0, (1.0, 20), 0.5)]:
        blend, r, kp, w = c
        model.options = {**base, "KNN_WEIGHT": w, **({"RECENCY": r} if r else {}), **({"KNN_RECENCY": kp[0], "KNN_MAX_PROFILE_ITEMS": kp[1]} if kp else {})}
        for u_i, user in enumerate(us[:25]):
            profile = v.profiles.get(user)
            got = [model._index[x.key] for x in model.recommend(profile, limit=10, exclude=v.excluded[user])]
            bad += got != [int(t) for t in tops[c][u_i] if t >= 0]
    model.options = base
    print("check mismatches", bad, flush=True)
    return {"users": us, "relevant": rel, "tops": tops, "seq": seq}


def run(fit_data, sets, tag, res):
    clock = time.monotonic()
    model = LightFMRecommender("default", {**FIT, **VARIANTS[0]})
    model.fit(fit_data)
    print(tag, "fit", round(time.monotonic() - clock, 1), flush=True)
    pop = PopularRecommender("p"); pop.fit(fit_data)
    for name, v in sets.items():
        recs = [[v.index[r.key] for r in pop.recommend(v.profiles.get(u) or ShopperProfile(shopper=None, features={}), limit=10, exclude=v.excluded[u])[:10] if r.key in v.index] for u in v.users]
        res.setdefault(name, {})["popular"] = recs
    for variant in VARIANTS:
        model.options = {**FIT, **variant, "KNN_WEIGHT": 1.0}
        model.rebuild(fit_data)
        indptr, indices, sims = model._knn
        n_items = len(model._keys)
        dense = np.zeros((n_items, n_items))
        for row in range(n_items):
            dense[row, indices[indptr[row]:indptr[row + 1]]] = sims[indptr[row]:indptr[row + 1]]
        clock = time.monotonic()
        for name, v in sets.items():
            res[name][variant["EASE_LAMBDA"]] = score_set(model, v, dense)
        print(tag, variant["EASE_LAMBDA"], "scored", round(time.monotonic() - clock, 1), flush=True)


res = {}
fit, held = holdout_split(data, 0.1, seed=0)
sets = {h.name: Validation(fit, h.test, max_users=30 if SMOKE else 1000, seed=0, profiles=h.profiles) for h in held}
run(fit, sets, "val", res)
run(data, {"test": Validation(data, test_td, max_users=30 if SMOKE else None)}, "test", res)
res["n_items"] = data.n_items
pickle.dump(res, open(out, "wb"))
