"""Session 10: choice rules on grid10.py's per-shopper lists (/tmp/q/g10-<protocol>.pkl).

A point is (EASE lambda, blend, RECENCY, (KNN_RECENCY, KNN_MAX_PROFILE_ITEMS), w); w 0 / 1 serve
LightFM / the item-item part alone. Its own endpoints: ("lfm", RECENCY) and ("knn", kNN options).
Usage: rules10.py temporal random last-one
"""
import pickle, sys
import numpy as np

ALS = {"temporal": 0.1399, "random": 0.2780, "last-one": 0.0645}
DISC = 1.0 / np.log2(np.arange(2, 12))
LAMS = (300.0, 1000.0)


def per_user(tops, relevant):
    out = np.zeros(len(relevant))
    for i, (t, rel) in enumerate(zip(tops, relevant)):
        rel = set(rel)
        hits = np.array([1.0 if x in rel else 0.0 for x in t if x >= 0])
        ideal = DISC[: min(len(rel), 10)].sum()
        out[i] = (hits * DISC[: len(hits)]).sum() / ideal if ideal else 0.0
    return out


class Set:
    def __init__(self, res, name, n_items):
        self.n_items = n_items
        self.rel = res[name][300.0]["relevant"]
        self.seq = res[name][300.0]["seq"]
        self.tops = {}
        for lam in LAMS:
            for c, t in res[name][lam]["tops"].items():
                self.tops[(lam, *c)] = t
        self.tops["popular"] = np.array([list(x) + [-1] * (10 - len(x)) for x in res[name]["popular"]])
        self._u = {}

    def u(self, p):
        if p not in self._u:
            self._u[p] = per_user(self.tops[p], self.rel)
        return self._u[p]

    def nd(self, p):
        return float(self.u(p).mean())

    def cov(self, p):
        t = self.tops[p]
        return len(np.unique(t[t >= 0])) / self.n_items


def own(p):
    lam, blend, r, kp, w = p
    return (lam, "lfm", r, None, 0.0), (lam, "knn", None, kp, 1.0)


def served(p):
    """The list a point serves (an endpoint point serves its part)."""
    lam, blend, r, kp, w = p
    if w == 0.0:
        return own(p)[0]
    if w == 1.0:
        return own(p)[1]
    return p


def points(V, blends=("lin",)):
    """Blend points of the grid, and each part alone with the other part's options at their
    best latest + older sum (what a tuner would record beside an endpoint it serves)."""
    S = V["latest"]
    keys = [k for k in S.tops if k != "popular"]
    rs = sorted({k[2] for k in keys if k[1] == "lfm"})
    kps = sorted({k[3] for k in keys if k[1] == "knn"})
    ws = sorted({k[4] for k in keys if k[1] not in ("lfm", "knn")})
    out = []
    for lam in LAMS:
        best_r = max(rs, key=lambda r: sum(V[s].nd((lam, "lfm", r, None, 0.0)) for s in V))
        best_kp = max(kps, key=lambda kp: sum(V[s].nd((lam, "knn", None, kp, 1.0)) for s in V))
        for b in blends:
            out += [(lam, b, r, best_kp, 0.0) for r in rs] + [(lam, b, best_r, kp, 1.0) for kp in kps]
            out += [(lam, b, r, kp, w) for r in rs for kp in kps for w in ws]
    return out


def floor_ratio(S, p):
    """served / max(own LightFM, own kNN, popular) on one set."""
    lf, kn = own(p)
    return S.nd(served(p)) / max(S.nd(lf), S.nd(kn), S.nd("popular"))


def lcb_ok(S, p, z):
    """Paired per-shopper difference to the best own part: mean - z * se > 0 (endpoints: True)."""
    lf, kn = own(p)
    best = lf if S.nd(lf) >= S.nd(kn) else kn
    d = S.u(p) - S.u(best)
    return d.mean() - z * d.std(ddof=1) / np.sqrt(len(d)) > 0 and S.nd(p) >= S.nd("popular")


def rule_latest(V, blends=("lin",)):
    return max(points(V, blends), key=lambda p: V["latest"].nd(served(p)))


def rule_guard(V, blends=("lin",), margin=0.0, endpoints_ok=True):
    """Best 'latest' among points whose served list is >= (1 + margin) x max(own parts, popular)
    on both sets (an endpoint needs >= 1 x, i.e. not below its other part and popular)."""
    ok = []
    for p in points(V, blends):
        m = 0.0 if p[4] in (0.0, 1.0) else margin
        if p[4] in (0.0, 1.0) and not endpoints_ok:
            continue
        if all(floor_ratio(V[s], p) >= 1 + m - 1e-12 for s in V):
            ok.append(p)
    return max(ok, key=lambda p: V["latest"].nd(served(p)))


def rule_lcb(V, blends=("lin",), z=1.0):
    """Best 'latest' among endpoints (>= other part and popular on both sets) and blends whose
    paired per-shopper gain over the better own part has a z-sigma lower bound > 0 on both."""
    ok = []
    for p in points(V, blends):
        if p[4] in (0.0, 1.0):
            if all(floor_ratio(V[s], p) >= 1 - 1e-12 for s in V):
                ok.append(p)
        elif all(lcb_ok(V[s], p, z) for s in V):
            ok.append(p)
    return max(ok, key=lambda p: V["latest"].nd(served(p)))


def rule_two_step(V, blends=("lin",), z=1.0):
    """Recency options of the 'latest' winner; then at those options serve the blend weight
    only if its gain over the better own part has a z-sigma lower bound > 0 on both sets,
    else the better own part (by the sum over both sets)."""
    p0 = rule_latest(V, blends)
    lam, b, r, kp, _ = p0
    cands = [(lam, b, r, kp, w) for w in (0.3, 0.5, 0.7)]
    ok = [p for p in cands if all(lcb_ok(V[s], p, z) for s in V)]
    if ok:
        return max(ok, key=lambda p: V["latest"].nd(p))
    lf, kn = own(p0)
    return (lam, b, r, kp, 0.0) if sum(V[s].nd(lf) for s in V) >= sum(V[s].nd(kn) for s in V) else (lam, b, r, kp, 1.0)


class Mixed:
    """Per-shopper choice: shoppers whose sequentiality is >= the set's q-quantile get point
    `hi` (recency), the others `lo` (no recency); own parts mixed the same way."""
    QS = (0.0, 0.25, 0.5, 0.75, 1.0)

    def __init__(self, hi, q):
        lam, b, r, kp, w = hi
        self.hi, self.lo, self.q = hi, (lam, b, 1.0, (1.0, kp[1]), w), q

    def mask(self, S):
        seq = np.nan_to_num(S.seq, nan=-1.0)
        if self.q <= 0:
            return np.ones(len(seq), bool)
        if self.q >= 1:
            return np.zeros(len(seq), bool)
        return seq >= np.quantile(seq, self.q)

    def parts(self):
        return [(served(self.hi), served(self.lo))] + list(zip(own(self.hi), own(self.lo)))

    def lists(self, S, pair):
        m = self.mask(S)
        return np.where(m[:, None], S.tops[pair[0]], S.tops[pair[1]]), np.where(m, S.u(pair[0]), S.u(pair[1]))

    def stats(self, S):
        """(served nd, cov), own LightFM nd, own kNN nd."""
        out = []
        for pair in self.parts():
            t, u = self.lists(S, pair)
            out.append((float(u.mean()), len(np.unique(t[t >= 0])) / S.n_items))
        return out


def rule_seq(V, blends=("lin",)):
    """B's candidate (recency) as `hi`; the quantile q whose mixed list is >= its mixed parts and
    popular on both sets, best on 'latest' (none: q = 1, i.e. B's point without recency)."""
    hi = rule_guard(V, blends, 0.0)
    ok = []
    for q in Mixed.QS:
        m = Mixed(hi, q)
        st = {s: m.stats(V[s]) for s in V}
        if all(st[s][0][0] >= max(st[s][1][0], st[s][2][0], V[s].nd("popular")) for s in V):
            ok.append((st["latest"][0][0], m))
    return max(ok, key=lambda x: x[0])[1] if ok else Mixed(hi, 1.0)


def show_mixed(proto, name, m, V, T):
    (nd, cov), (l, _), (k, _) = m.stats(T)
    pop = T.nd("popular")
    ok = nd >= max(l, k, pop) - 1e-12
    print(f"{proto:8s} {name:34s} {nd:.4f} x{nd / ALS.get(proto, 1.0):.3f} cov {cov:.3f} | lf {l:.4f} knn {k:.4f} pop {pop:.4f} "
          f"{'OWN-OK' if ok else 'BELOW-OWN'} | q {m.q} hi {m.hi}")


def load(proto):
    res = pickle.load(open(f"/tmp/q/g10-{proto}.pkl", "rb"))
    n = res["n_items"]
    V = {s: Set(res, s, n) for s in ("latest", "older")}
    T = Set(res, "test", n)
    return V, T


def show(proto, name, p, V, T):
    lf, kn = own(p)
    sv = served(p)
    nd, cov = T.nd(sv), T.cov(sv)
    l, k, pop = T.nd(lf), T.nd(kn), T.nd("popular")
    ok = nd >= max(l, k, pop) - 1e-12
    vr = " ".join(f"{s}:{floor_ratio(V[s], p):.3f}" for s in V)
    print(f"{proto:8s} {name:34s} {nd:.4f} x{nd / ALS.get(proto, 1.0):.3f} cov {cov:.3f} | lf {l:.4f} knn {k:.4f} pop {pop:.4f} "
          f"{'OWN-OK' if ok else 'BELOW-OWN'} | val/own {vr} | lam {p[0]:.0f} {p[1]} w {p[4]} R {p[2]} KR,KP {p[3]}")


RULES = {}
for b in ("lin", "rrf10", "rrf60", "z", "mix"):
    RULES[f"latest [{b}]"] = (lambda b: lambda V: rule_latest(V, (b,)))(b)
    RULES[f"B guard m0 [{b}]"] = (lambda b: lambda V: rule_guard(V, (b,), 0.0))(b)
    for m in (0.01, 0.02, 0.03):
        RULES[f"F guard m{m} [{b}]"] = (lambda b, m: lambda V: rule_guard(V, (b,), m))(b, m)
    for z in (1.0, 1.64):
        RULES[f"G lcb z{z} [{b}]"] = (lambda b, z: lambda V: rule_lcb(V, (b,), z))(b, z)
        RULES[f"H two-step z{z} [{b}]"] = (lambda b, z: lambda V: rule_two_step(V, (b,), z))(b, z)

def rule_flat(V, blends=("lin",), guard=True):
    """K5: the kNN profile flat (KNN_RECENCY 1, recency on the LightFM side only); best 'latest'
    (guard: among points >= own parts and popular on both sets)."""
    pts = [p for p in points(V, blends) if p[3][0] == 1.0]
    if guard:
        pts = [p for p in pts if all(floor_ratio(V[s], p) >= 1 - 1e-12 for s in V)]
    return max(pts, key=lambda p: V["latest"].nd(served(p)))


for b in ("lin", "rrf10", "rrf60", "z", "mix"):
    RULES[f"K5 flat kNN + B guard [{b}]"] = (lambda b: lambda V: rule_flat(V, (b,)))(b)
    RULES[f"K5a flat kNN, latest [{b}]"] = (lambda b: lambda V: rule_flat(V, (b,), False))(b)


def paired(T, p):
    """Test: served - own part, mean and its standard error over shoppers."""
    out = []
    for part in own(p):
        d = T.u(served(p)) - T.u(part)
        out.append(f"{d.mean():+.4f}+-{d.std(ddof=1) / np.sqrt(len(d)):.4f}")
    return "vs lf " + out[0] + " vs knn " + out[1]


if __name__ == "__main__" and __import__("os").environ.get("COMPACT"):
    protos = sys.argv[1:]
    data = {p: load(p) for p in protos}
    want = __import__("os").environ["COMPACT"].split(",")
    for name, rule in RULES.items():
        if not any(name.startswith(w) for w in want):
            continue
        for proto in protos:
            V, T = data[proto]
            p = rule(V)
            show(proto, name, p, V, T)
            print("         paired on test:", paired(T, p))
    raise SystemExit

if __name__ == "__main__":
    protos = sys.argv[1:]
    data = {p: load(p) for p in protos}
    for proto in protos:
        V, T = data[proto]
        print(f"== {proto}: popular {T.nd('popular'):.4f}; lin check: latest-best {V['latest'].nd(served(rule_latest(V))):.4f}")
    for name, rule in RULES.items():
        for proto in protos:
            V, T = data[proto]
            show(proto, name, rule(V), V, T)
    for b in ("lin", "rrf10", "z", "mix"):
        for proto in protos:
            V, T = data[proto]
            show_mixed(proto, f"S per-shopper seq [{b}]", rule_seq(V, (b,)), V, T)
