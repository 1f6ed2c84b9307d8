"""Session 10: more choice rules on grid.py's JSON grids (/tmp/q/grid-<protocol>.json),
scored like rules8.py (own endpoints = same point at KNN_WEIGHT 0 / 1, and popular).
Usage: rules10_grid.py temporal random last-one
"""
import json, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rules8 as r8

SETS = ("latest", "older")


def ratios(val, o):
    return {s: val[s][r8.key(o)][0] / r8.own_floor(val[s], o) for s in SETS}


def blends(val):
    return [o for o in r8.points(val) if o["KNN_WEIGHT"] not in (0.0, 1.0)]


def guarded(val, tol=0.0):
    return [o for o in r8.points(val) if min(ratios(val, o).values()) >= 1 - tol]


def k_maxmin(val):
    """Highest worst ratio (over both sets) to its own endpoints and popular."""
    return max(r8.points(val), key=lambda o: (round(min(ratios(val, o).values()), 4), sum(ratios(val, o).values())))


def k_guard_sum(val):
    """B's filter (>= own parts on both sets), then the highest latest + older ratio sum."""
    return max(guarded(val), key=lambda o: sum(ratios(val, o).values()))


def k_guard_latest_ratio(val):
    return max(guarded(val), key=lambda o: ratios(val, o)["latest"])


def k_guard_older_ratio(val):
    return max(guarded(val), key=lambda o: ratios(val, o)["older"])


def k_flat_knn(val):
    """B restricted to a flat kNN profile (KNN_RECENCY 1): recency only on the LightFM side."""
    ok = [o for o in guarded(val) if o.get("KNN_RECENCY", 1.0) == 1.0]
    return max(ok, key=lambda o: val["latest"][r8.key(o)][0]) if ok else k_maxmin(val)


def k_flat_knn_sum(val):
    ok = [o for o in guarded(val) if o.get("KNN_RECENCY", 1.0) == 1.0]
    return max(ok, key=lambda o: sum(val[s][r8.key(o)][0] for s in SETS)) if ok else k_maxmin(val)


def k_older_margin(val, m):
    """B with 'older' ratio >= 1 + m (the older set over-rates blends on random)."""
    ok = [o for o in r8.points(val) if ratios(val, o)["latest"] >= 1 and (ratios(val, o)["older"] >= 1 + m or o["KNN_WEIGHT"] in (0.0, 1.0))]
    return max(ok, key=lambda o: val["latest"][r8.key(o)][0])


RULES = {
    "B (session 8)": lambda v: r8.r_guard(v, 0.0, norec_ref=False),
    "K1 max-min own ratio": k_maxmin,
    "K2 B filter, max ratio sum": k_guard_sum,
    "K3 B filter, max latest ratio": k_guard_latest_ratio,
    "K4 B filter, max older ratio": k_guard_older_ratio,
    "K5 B, flat kNN only": k_flat_knn,
    "K6 B, flat kNN, max NDCG sum": k_flat_knn_sum,
    "K7 B, older margin 2%": lambda v: k_older_margin(v, 0.02),
    "K8 B, older margin 4%": lambda v: k_older_margin(v, 0.04),
}


def report(rules, data):
    """Each rule's pick on every protocol: its test score, its own parts, its validation ratios."""
    for name, rule in rules.items():
        print(name)
        for proto, (val, test) in data.items():
            o = rule(val)
            k = r8.key(o)
            nd, cov = test[k]
            lf, kn, pop = test[r8.key(r8.endpoint(o, 0.0))][0], test[r8.key(r8.endpoint(o, 1.0))][0], test['"popular"'][0]
            flag = "OWN-OK" if nd >= max(lf, kn, pop) else "BELOW-OWN"
            rv = " ".join(f"{s}:{x:.3f}" for s, x in ratios(val, o).items())
            f = r8.full(o)
            print(f"  {proto:8s} {nd:.4f} x{nd / r8.ALS[proto]:.3f} cov {cov:.3f} | lf {lf:.4f} knn {kn:.4f} {flag} | val/own {rv} | "
                  f"lam {o['EASE_LAMBDA']:.0f} w {o['KNN_WEIGHT']} R {f['RECENCY']} KR {f['KNN_RECENCY']} KP {f['KNN_MAX_PROFILE_ITEMS']}")


if __name__ == "__main__":
    data = {p: r8.load(p) for p in sys.argv[1:]}
    report(RULES, data)


def _flat(pts):
    return [o for o in pts if o.get("KNN_RECENCY", 1.0) == 1.0]


ROBUST = {
    "K5a flat kNN, best latest (no guard)": lambda v: max(_flat(r8.points(v)), key=lambda o: v["latest"][r8.key(o)][0]),
    "K5b flat kNN, max-min own ratio": lambda v: max(_flat(r8.points(v)), key=lambda o: (round(min(ratios(v, o).values()), 4), sum(ratios(v, o).values()))),
    "K5c flat kNN, B guard 1% tolerance": lambda v: max(_flat(guarded(v, 0.01)), key=lambda o: v["latest"][r8.key(o)][0]),
    "K5d flat kNN, B guard, EASE 1000 only": lambda v: max([o for o in _flat(guarded(v)) if o["EASE_LAMBDA"] == 1000.0], key=lambda o: v["latest"][r8.key(o)][0]),
    "K5e flat kNN, B guard, profile 50 only": lambda v: max([o for o in _flat(guarded(v)) if r8.full(o)["KNN_MAX_PROFILE_ITEMS"] == 50], key=lambda o: v["latest"][r8.key(o)][0]),
    "K5f flat kNN, B guard, 2nd best latest": lambda v: sorted(_flat(guarded(v)), key=lambda o: -v["latest"][r8.key(o)][0])[1],
    "K5g flat kNN, B guard, 3rd best latest": lambda v: sorted(_flat(guarded(v)), key=lambda o: -v["latest"][r8.key(o)][0])[2],
    "K9 B guard, LightFM recency fixed 1 (recency on kNN only)": lambda v: max([o for o in guarded(v) if o.get("RECENCY", 1.0) == 1.0], key=lambda o: v["latest"][r8.key(o)][0]),
}
if __name__ == "__main__" and os.environ.get("ROBUST"):
    report(ROBUST, data)
