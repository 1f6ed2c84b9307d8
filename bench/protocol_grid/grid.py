import os, sys, json, time, itertools, tempfile
sys.path.insert(0, os.getcwd())
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
from bench import recommend_quality as rq
rq.setup_django(os.path.join(tempfile.mkdtemp(), "db.sqlite3"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import protocol
from personalize.recommenders.evaluation import Validation, holdout_split
from personalize.recommenders.lightfm import LightFMRecommender
from personalize.recommenders.popular import PopularRecommender

proto = sys.argv[1]
out = sys.argv[2]
data, test_td = protocol.load(proto)
FIT, VARIANTS = protocol.FIT, protocol.VARIANTS
def grid():
    pts = []
    for r in (1.0, 0.95, 0.85):
        pts.append({"KNN_WEIGHT": 0.0, "RECENCY": r})
    for kr, mp in itertools.product((1.0, 0.95, 0.85, 0.7), (20, 50)):
        pts.append({"KNN_WEIGHT": 1.0, "KNN_RECENCY": kr, "KNN_MAX_PROFILE_ITEMS": mp})
    for w, kr, mp, r in itertools.product((0.3, 0.5, 0.7), (1.0, 0.95, 0.85, 0.7), (20, 50), (1.0, 0.95, 0.85)):
        pts.append({"KNN_WEIGHT": w, "KNN_RECENCY": kr, "KNN_MAX_PROFILE_ITEMS": mp, "RECENCY": r})
    return pts

def run(fit_data, sets, tag, rows):
    clock = time.monotonic()
    model = LightFMRecommender("default", {**FIT, **VARIANTS[0]})
    model.fit(fit_data)
    print(tag, "fit", round(time.monotonic() - clock, 1), flush=True)
    pop = PopularRecommender("p"); pop.fit(fit_data)
    for name, v in sets.items():
        m = v.score(pop); rows.append({"tag": tag, "set": name, "opts": "popular", "ndcg": m["ndcg@10"], "cov": m["coverage"]})
    for variant in VARIANTS:
        model.options = {**FIT, **variant, "KNN_WEIGHT": 1.0}
        model.rebuild(fit_data)
        clock = time.monotonic()
        for pt in grid():
            model.options = {**FIT, **variant, **pt}
            for name, v in sets.items():
                m = v.score(model)
                rows.append({"tag": tag, "set": name, "opts": {**variant, **pt}, "ndcg": m["ndcg@10"], "cov": m["coverage"]})
        print(tag, variant["EASE_LAMBDA"], "grid", round(time.monotonic() - clock, 1), flush=True)

rows = []
fit, held = holdout_split(data, 0.1, seed=0)
sets = {h.name: Validation(fit, h.test, max_users=1000, seed=0, profiles=h.profiles) for h in held}
print({k: len(v.users) for k, v in sets.items()}, flush=True)
run(fit, sets, "val", rows)
run(data, {"test": Validation(data, test_td, max_users=None)}, "test", rows)
json.dump(rows, open(out, "w"))
