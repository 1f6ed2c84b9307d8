"""Session 8: choice rules against each trial's own endpoints and both validation sets.

Reads /tmp/q/grid-<protocol>.json (grid.py) like analyse.py; prints each rule's pick and its
test score beside the test-set components at the same options (the rows
bench/recommend_quality.py prints: LightFM alone = KNN_WEIGHT 0, item-item alone =
KNN_WEIGHT 1, same recency options) and the plain no-recency components.
"""
import json, sys

ALS = {"temporal": 0.1399, "random": 0.2780, "last-one": 0.0645}
WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)


def key(o):
    return json.dumps(o, sort_keys=True)


def load(proto):
    val, test = {}, {}
    for r in json.load(open(f"/tmp/q/grid-{proto}.json")):
        k = key(r["opts"])
        if r["tag"] == "test":
            test[k] = (r["ndcg"], r["cov"])
        else:
            val.setdefault(r["set"], {})[k] = (r["ndcg"], r["cov"])
    return val, test


def endpoint(o, w):
    """The grid point with blend weight w at o's other options (what has no effect dropped)."""
    var = {k: o[k] for k in ("KNN_METRIC", "EASE_LAMBDA", "KNN_TOP_N")}
    if w == 0.0:
        return {**var, "KNN_WEIGHT": 0.0, "RECENCY": o.get("RECENCY", 1.0)}
    if w == 1.0:
        return {**var, "KNN_WEIGHT": 1.0, "KNN_RECENCY": o.get("KNN_RECENCY", 1.0),
                "KNN_MAX_PROFILE_ITEMS": o.get("KNN_MAX_PROFILE_ITEMS", 20)}
    return {**var, "KNN_WEIGHT": w, "KNN_RECENCY": o.get("KNN_RECENCY", 1.0),
            "KNN_MAX_PROFILE_ITEMS": o.get("KNN_MAX_PROFILE_ITEMS", 20), "RECENCY": o.get("RECENCY", 1.0)}


def full(o):
    """o with every axis spelt out (endpoints carry only the axes that matter)."""
    return {"KNN_RECENCY": 1.0, "KNN_MAX_PROFILE_ITEMS": 20, "RECENCY": 1.0, **o}


def norec(o):
    return o.get("RECENCY", 1.0) == 1.0 and o.get("KNN_RECENCY", 1.0) == 1.0


def points(val):
    return [json.loads(k) for k in val["latest"] if k != '"popular"']


def plain_norec(table):
    return max(v[0] for k, v in table.items() if k != '"popular"' and json.loads(k)["KNN_WEIGHT"] in (0.0, 1.0) and norec(json.loads(k)))


def own_floor(table, o):
    """max(own LightFM, own item-item, popular) on one set."""
    return max(table[key(endpoint(o, 0.0))][0], table[key(endpoint(o, 1.0))][0], table['"popular"'][0])


def latest_best(val):
    return max(points(val), key=lambda o: val["latest"][key(o)][0])


def r_latest(val):
    return latest_best(val)


def r_own_weight(val, sets=("latest", "older")):
    """Recency options from the best 'latest' point; then the blend weight whose worst ratio
    (over the sets) to its own endpoints and popular is highest (ties: the higher sum)."""
    return _own_at(val, latest_best(val), sets)


def r_guard(val, tol=0.0, norec_ref=True):
    """Best 'latest' among points >= (1 - tol) x their own endpoints and popular on both sets
    and (norec_ref) >= (1 - tol) x the plain no-recency components on both; none: max-min."""
    refs = {s: plain_norec(val[s]) for s in val}
    ok, fallback = [], None
    for o in points(val):
        ratios = []
        for s in val:
            floor = own_floor(val[s], o)
            if norec_ref:
                floor = max(floor, refs[s])
            ratios.append(val[s][key(o)][0] / floor)
        if min(ratios) >= 1 - tol:
            ok.append(o)
        score = (round(min(ratios), 4), sum(ratios))
        if fallback is None or score > fallback[0]:
            fallback = (score, o)
    return max(ok, key=lambda o: val["latest"][key(o)][0]) if ok else fallback[1]


def r_sum(val):
    """Highest latest + older NDCG (both sets weighted alike)."""
    return max(points(val), key=lambda o: sum(val[s][key(o)][0] for s in val))


def r_sum_then_own(val):
    return _own_at(val, r_sum(val))


def _own_at(val, base, sets=("latest", "older")):
    best = None
    for w in WEIGHTS:
        o = endpoint(base, w)
        ratios = [val[s][key(o)][0] / own_floor(val[s], o) for s in sets]
        score = (round(min(ratios), 4), sum(ratios))
        if best is None or score > best[0]:
            best = (score, o)
    return best[1]


RULES = {
    "latest only (main, roughly)": r_latest,
    "A: latest recency, weight by worst ratio to own endpoints (both sets)": r_own_weight,
    "A1: same, 'latest' set only": lambda v: r_own_weight(v, sets=("latest",)),
    "B: latest if >= own endpoints+popular on both sets": lambda v: r_guard(v, 0.0, norec_ref=False),
    "C: latest if >= own endpoints and plain no-recency on both": lambda v: r_guard(v, 0.0),
    "C2: same, 2% tolerance": lambda v: r_guard(v, 0.02),
    "D: best latest+older sum": r_sum,
    "D+A: sum pick, weight by own endpoints": r_sum_then_own,
}

def report(proto):
    val, test = load(proto)
    pn = plain_norec(test)
    print(f"== {proto}: test plain no-recency best {pn:.4f}, popular {test[chr(34)+'popular'+chr(34)][0]:.4f}; ALS {ALS[proto]}")
    for name, rule in RULES.items():
        o = rule(val)
        k = key(o)
        nd, cov = test[k]
        lf, kn = test[key(endpoint(o, 0.0))][0], test[key(endpoint(o, 1.0))][0]
        vr = " ".join(f"{s}:{val[s][k][0] / own_floor(val[s], o):.3f}" for s in val)
        flag = "OK" if nd >= max(lf, kn, test['"popular"'][0]) else "below-own"
        flag += "/norecOK" if nd >= pn else "/below-norec"
        print(f"{name}\n    test {nd:.4f} x{nd / ALS[proto]:.3f} cov {cov:.3f} | own lf {lf:.4f} knn {kn:.4f} | {flag} | val/own {vr} | {full(o)}")


def _steps_then_weight(val, base, tol=0.0):
    """Each recency step (RECENCY, KNN_RECENCY) kept at base's strength only where its worst
    ratio over both sets to the step off (1.0) is >= 1 - tol; else the value with the best
    worst ratio. Then the blend weight by its own endpoints on both sets."""
    o = dict(full(base))
    for name, values in (("RECENCY", (1.0, 0.95, 0.85)), ("KNN_RECENCY", (1.0, 0.95, 0.85, 0.7))):
        def ratio(v):
            pt = {**o, name: v}
            off = {**o, name: 1.0}
            return min(val[s][key(pt)][0] / val[s][key(off)][0] for s in val)
        if ratio(o[name]) < 1 - tol:
            o[name] = max(values, key=lambda v: (round(ratio(v), 4), val["latest"][key({**o, name: v})][0]))
    return _own_at(val, o)


def _blend_key_ok(val, o):
    return key(o) in val["latest"]


def r_steps(val, tol=0.0):
    base = latest_best(val)
    if base["KNN_WEIGHT"] in (0.0, 1.0):  # steps are searched on a blend point of the grid
        base = endpoint(base, 0.5)
    return _steps_then_weight(val, base, tol)


RULES2 = {
    "E: latest pick; each recency step kept only if >= step-off on both sets; weight by own endpoints": r_steps,
    "E2: same, 1% tolerance": lambda v: r_steps(v, 0.01),
}

if __name__ == "__main__":
    for proto in sys.argv[1:]:
        report(proto)
        val, test = load(proto)
        pn = plain_norec(test)
        for name, rule in RULES2.items():
            o = rule(val)
            k = key(o)
            nd, cov = test[k]
            lf, kn = test[key(endpoint(o, 0.0))][0], test[key(endpoint(o, 1.0))][0]
            vr = " ".join(f"{s}:{val[s][k][0] / own_floor(val[s], o):.3f}" for s in val)
            flag = "OK" if nd >= max(lf, kn, test['"popular"'][0]) else "below-own"
            flag += "/norecOK" if nd >= pn else "/below-norec"
            print(f"[{proto}] {name}\n    test {nd:.4f} x{nd / ALS[proto]:.3f} cov {cov:.3f} | own lf {lf:.4f} knn {kn:.4f} | {flag} | val/own {vr} | {full(o)}")
