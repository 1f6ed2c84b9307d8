import json, sys
ALS = {"temporal": 0.1399, "random": 0.2780, "last-one": 0.0645}
def key(o): return json.dumps(o, sort_keys=True)
def load(proto):
    rows = json.load(open(f"/tmp/q/grid-{proto}.json"))
    val, test = {}, {}
    for r in rows:
        k = key(r["opts"])
        (test if r["tag"] == "test" else val.setdefault(r["set"], {}))[k] = (r["ndcg"], r["cov"]) if r["tag"] == "val" else None
        if r["tag"] == "test": test[k] = (r["ndcg"], r["cov"])
    return val, test
def plain_kind(o):
    if o == "popular": return "popular"
    return {0.0: "lightfm", 1.0: "knn"}.get(o["KNN_WEIGHT"])
def norec(o):
    return o != "popular" and o.get("RECENCY", 1.0) == 1.0 and o.get("KNN_RECENCY", 1.0) == 1.0
def refs(val, mode):
    out = {}
    for s, table in val.items():
        best = 0
        for k, (nd, cov) in table.items():
            o = json.loads(k)
            if not plain_kind(o): continue
            if mode == "norec" and o != "popular" and not norec(o): continue
            best = max(best, nd)
        out[s] = best
    return out
def choose(val, mode, cov_guard=None, rule="minimax"):
    ref = refs(val, mode)
    best = None
    for k in val["latest"]:
        o = json.loads(k)
        if o == "popular": continue
        ratios = {s: val[s][k][0] / ref[s] for s in val}
        covs = {s: val[s][k][1] for s in val}
        if cov_guard is not None and not cov_guard(o, covs, val): continue
        if rule == "minimax": score = (round(min(ratios.values()), 4), sum(ratios.values()))
        elif rule == "latest": score = (val["latest"][k][0],)
        elif rule.startswith("lat_if_old"):
            tol = float(rule.split(":")[1])
            score = (ratios["older"] >= 1 - tol, val["latest"][k][0] if ratios["older"] >= 1 - tol else ratios["older"])
        elif rule == "mean": score = (sum(ratios.values()),)
        if best is None or score > best[0]: best = (score, o, ratios, covs)
    return best
def test_view(test, o):
    k = key(o)
    nd, cov = test[k]
    base = {kk: v for kk, v in o.items() if kk not in ("KNN_WEIGHT",)}
    var = {kk: v for kk, v in o.items() if kk in ("KNN_METRIC", "EASE_LAMBDA", "KNN_TOP_N")}
    lf = test.get(key({**var, "KNN_WEIGHT": 0.0, "RECENCY": o.get("RECENCY", 0.95)}), (0, 0))[0]
    kn = test.get(key({**{kk: v for kk, v in o.items() if kk in ("KNN_METRIC", "EASE_LAMBDA", "KNN_TOP_N", "KNN_RECENCY", "KNN_MAX_PROFILE_ITEMS")}, "KNN_WEIGHT": 1.0}), (0, 0))[0]
    plain = max(v[0] for kk, v in test.items() if kk != '"popular"' and plain_kind(json.loads(kk)) and norec(json.loads(kk)))
    pop = test['"popular"'][0]
    return nd, cov, lf, kn, plain, pop
def cov_plain(o, covs, val):
    # eligible if validation coverage on each set >= 0.9 x the unweighted-kNN/lightfm plain mean
    return True
RULES = {
  "latest-only": dict(mode="all", rule="latest"),
  "minimax all-refs": dict(mode="all"),
  "minimax norec-refs": dict(mode="norec"),
  "mean norec-refs": dict(mode="norec", rule="mean"),
  "latest if older>=0.99 norec": dict(mode="norec", rule="lat_if_old:0.01"),
  "latest if older>=1.0 norec": dict(mode="norec", rule="lat_if_old:0.0"),
}
for proto in sys.argv[1:]:
    val, test = load(proto)
    print(f"== {proto}: refs all {refs(val,'all')}, norec {refs(val,'norec')}")
    for name, kw in RULES.items():
        b = choose(val, **kw)
        nd, cov, lf, kn, plain, pop = test_view(test, b[1])
        print(f"{name:30s} val {{{', '.join(f'{s}:{r:.3f}' for s,r in b[2].items())}}} cov {{{', '.join(f'{s}:{c:.3f}' for s,c in b[3].items())}}}\n    test {nd:.4f} x{nd/ALS[proto]:.3f} cov {cov:.3f} | lf {lf:.4f} knn {kn:.4f} plain-norec {plain:.4f} pop {pop:.4f} | {b[1]}")
