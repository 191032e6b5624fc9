"""Solvers: an independent numpy oracle for the regularised objective and every optimizer.

  J(w, b) = (1/m) Σ [softplus(z_i) − y_i z_i] + l2/(2m)‖w‖² + l1/m ‖w‖₁,  z_i = w·x_i/scale + b

Written from the specification (include/dz/objective.h, include/dz/optim.h, the module
comments of src/optim_*.c and include/dz/batch.h), never calling into dztrain:

 1. Step by step, first-order methods: the logged J of every iteration (log_every = 1), the
    logged ‖∇J‖∞ and the final w, b after a short run agree with numpy to 1e-12 relative, for
    gd + l2 (scale 4), gd + l1 (ISTA), sgd + decay, momentum (classic; nesterov + l1), adam
    (l2 + l1 with its per-coordinate prox), sgd on mini-batches of whole blocks (the
    splitmix64 Fisher–Yates schedule reimplemented with python ints; `passes` too), and sgd
    with batch_size = m is bit-identical to gd.
 2. lbfgs (two-loop + strong Wolfe, including a search that zooms), OWL-QN (lbfgs + l1,
    orthant projection and backtracking) and newton (TRON, trust-region boundary hits): the
    logged J of the first 10-12 iterations to 1e-10 relative, ‖∇J‖∞ and the final w, b to
    1e-8, and `passes` (the count of J/∇J and H·v passes, i.e. the line-search and CG path)
    exactly.  The path is replicated in full; the few line-search details the module
    comment leaves open are taken from the C source and marked [src] below.
 3. The optimum: lbfgs and newton on the shipped breast-cancer data and on scikit-learn's
    digits (even vs odd, standardised) at l2 ∈ {1, 0.01} reach J <= J*(1 + 1e-9), J* = the
    least J (ours, at their w, b) of sklearn's newton-cholesky and lbfgs; OWL-QN at l1 = 1
    reaches J <= J*(1 + 1e-7), J* from liblinear (intercept_scaling 1e4) and saga; each stops
    converged or stalled, and model.h5's final_loss is our J to 1e-12.
 Plus: a mini-batch sgd run and a newton run at 2 ranks × 1 thread are bit-identical to
 1 rank × 2 threads.  All runs start up front, 3 at a time (they are short: mostly mpirun
 start-up), then the oracles compare.  Run with /usr/bin/python3 (numpy, scipy, h5py, sklearn)."""
import os
import resource
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

import dztest

try:
    from scipy.special import expit
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
except ImportError as ex:  # Debian: python3-scipy, python3-sklearn
    print("skipped: %s" % ex)
    sys.exit(dztest.SKIP)

T0 = time.time()
c = dztest.Checker("solvers")
W = dztest.workdir("solvers")
ENV = {"OMP_WAIT_POLICY": "passive"}


rel = dztest.rel
RUN_SECS = []
POOL = ThreadPoolExecutor(max_workers=3)  # the runs are short: mostly mpirun start-up


def _run(name, h5, train, nranks, threads, scale):
    d = os.path.join(W, name)
    os.makedirs(d)
    data = {"train": h5, "train_x": "x", "train_y": "y"}
    if scale is not None:
        data["scale"] = scale
    train = dict(train)
    train.setdefault("log_every", 1)
    cfg = dztest.write_config(os.path.join(d, "c.ini"), {"data": data, "train": train})
    return d, dztest.mpirun(nranks, threads, [cfg, "--quiet"], env=ENV)


def launch(name, h5, train, nranks=1, threads=2, scale=None):
    """Start a training run in the background; result(job) collects it."""
    return (name, POOL.submit(_run, name, h5, train, nranks, threads, scale))


def result(job):
    """dict(w, b, attrs, it, loss, gmax, passes, digest), or None when the run failed."""
    name, fut = job
    d, (rc, out, err, secs) = fut.result()
    RUN_SECS.append(secs)
    if not c.check(rc == 0, "%s: exit %d: %s" % (name, rc, (out + err)[-2000:])):
        return None
    wv, b, attrs = dztest.read_model(os.path.join(d, "model.h5"))
    _, rows = dztest.read_metrics(os.path.join(d, "metrics.csv"))
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return {"w": wv, "b": b, "attrs": attrs, "it": a[:, 0].astype(int), "loss": a[:, 1],
            "gmax": a[:, 3], "passes": a[:, 4], "secs": secs,
            "digest": dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))}


def attr_str(attrs, k):
    v = attrs.get(k)
    return v.decode() if isinstance(v, bytes) else str(v)


# ---------------------------------------------------------------------------------------------
# The objective, from the formula (parameters p = (w, b), n = d + 1)

class Prob:
    def __init__(self, X, y, scale=1.0, l2=0.0, l1=0.0):
        self.X = np.asarray(X, np.float64).reshape(len(y), -1) / scale
        self.y = np.asarray(y, np.float64).ravel()
        self.m, self.d = self.X.shape
        self.n = self.d + 1
        self.l2, self.l1 = float(l2), float(l1)

    def J(self, p):
        w, b = p[:-1], p[-1]
        z = self.X @ w + b
        return (np.mean(np.logaddexp(0.0, z) - self.y * z) + self.l2 / (2 * self.m) * (w @ w)
                + self.l1 / self.m * np.sum(np.abs(w)))

    def fg(self, p, rows=None):
        """J over all rows, and the smooth gradient over `rows` (all by default): the mean of
        (a − y)·(x, 1) over those rows plus (l2/m)·w."""
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        r = expit(X @ p[:-1] + p[-1]) - y
        g = np.empty(self.n)
        g[:-1] = X.T @ r / len(y) + self.l2 / self.m * p[:-1]
        g[-1] = np.mean(r)
        return self.J(p), g

    def hess(self, p):
        """The full Hessian of the smooth part (small n only)."""
        z = self.X @ p[:-1] + p[-1]
        D = expit(z) * expit(-z)
        Xa = np.hstack([self.X, np.ones((self.m, 1))])
        H = Xa.T @ (D[:, None] * Xa) / self.m
        H[np.arange(self.d), np.arange(self.d)] += self.l2 / self.m
        return H

    def pseudo(self, p, g):
        """Minimum-norm subgradient of J (= g when l1 = 0); b unpenalised."""
        lam = self.l1 / self.m
        if lam == 0:
            return g.copy()
        w, gw = p[:-1], g[:-1]
        pg = g.copy()
        sub = np.where(gw + lam < 0, gw + lam, np.where(gw - lam > 0, gw - lam, 0.0))
        pg[:-1] = np.where(w > 0, gw + lam, np.where(w < 0, gw - lam, sub))
        return pg


def soft(x, thr):
    return np.sign(x) * np.maximum(np.abs(x) - thr, 0.0)


# ---------------------------------------------------------------------------------------------
# The mini-batch schedule of include/dz/batch.h with python ints

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def below(x, n):
    """Uniform in [0, n): Lemire's multiply-shift with rejection of the low word < 2^64 mod n."""
    thresh = ((1 << 64) - n) % n
    while True:
        x, r = splitmix64(x)
        prod = r * n
        if (prod & M64) >= thresh:
            return x, prod >> 64


def epoch_order(seed, epoch, nblocks):
    x = (seed ^ ((0xD1B54A32D192ED03 * (epoch + 1)) & M64)) & M64
    perm = list(range(nblocks))
    for k in range(nblocks - 1, 0, -1):
        x, j = below(x, k + 1)
        perm[k], perm[j] = perm[j], perm[k]
    return perm


class Schedule:
    def __init__(self, m, B, batch_size, seed):
        self.m, self.B, self.seed = m, B, seed
        self.nb = -(-m // B)
        self.k = min(-(-batch_size // B), self.nb)
        self.P = -(-self.nb // self.k)
        self.cache = {}

    def rows(self, t):
        """Row indices of update t, or None when the batch covers every block."""
        if self.k == self.nb:
            return None
        epoch, pos = divmod(t, self.P)
        if epoch not in self.cache:
            self.cache[epoch] = epoch_order(self.seed, epoch, self.nb)
        blocks = self.cache[epoch][pos * self.k:min((pos + 1) * self.k, self.nb)]
        return np.concatenate([np.arange(g * self.B, min((g + 1) * self.B, self.m))
                               for g in blocks])


# ---------------------------------------------------------------------------------------------
# First-order methods (src/optim_first.c module comment)

def first_order(P, method, iters, lr, decay=0.0, mu=0.9, nesterov=False, b1=0.9, b2=0.999,
                eps=1e-8, sched=None):
    n, d, lam = P.n, P.d, P.l1 / P.m
    p, v, m1, m2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    losses, gmax, passes, ps = [], [], [], 0.0
    for t in range(iters):
        f, g = P.fg(p)
        losses.append(f)
        gmax.append(np.max(np.abs(P.pseudo(p, g))))
        ps += 1.0
        rows = sched.rows(t) if sched else None
        if rows is not None:
            _, g = P.fg(p, rows)
            ps += len(rows) / P.m
        passes.append(ps)
        lr_t = lr / (1.0 + decay * t)
        if method in ("gd", "sgd"):
            p = p - lr_t * g
            p[:d] = soft(p[:d], lr_t * lam)
        elif method == "momentum":
            v = mu * v + g
            p = p - lr_t * (g + mu * v if nesterov else v)
            p[:d] = soft(p[:d], lr_t * lam)
        elif method == "adam":
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g * g
            step = lr_t / (np.sqrt(m2 / (1 - b2 ** (t + 1))) + eps)
            p = p - step * (m1 / (1 - b1 ** (t + 1)))
            p[:d] = soft(p[:d], step[:d] * lam)
    return p, np.array(losses), np.array(gmax), np.array(passes)


def compare_path(name, r, p, losses, gmax, passes, tol=1e-12, gtol=1e-12, wtol=1e-12):
    """The trainer's log (J, ‖∇J‖∞, passes per iteration) and final w, b vs the oracle's."""
    if r is None:
        return
    k = len(losses)
    if not c.check(list(r["it"]) == list(range(k)), "%s: logged iterations %s, expected 0..%d"
                   % (name, list(r["it"])[:5], k - 1)):
        return
    el, eg = rel(r["loss"], losses), rel(r["gmax"], gmax)
    ew, eb = rel(r["w"], p[:-1]), abs(r["b"] - p[-1]) / max(1.0, abs(p[-1]))
    c.check(el <= tol, "%s: J per iteration vs numpy: rel %.3g > %g (first: %r vs %r)"
            % (name, el, tol, list(r["loss"][:3]), list(losses[:3])))
    c.check(eg <= gtol, "%s: grad_max per iteration vs numpy: rel %.3g > %g" % (name, eg, gtol))
    c.check(ew <= wtol and eb <= wtol, "%s: final w rel %.3g, b %.17g vs %.17g"
            % (name, ew, r["b"], p[-1]))
    # metrics.csv prints passes with 6 decimals
    ep = float(np.max(np.abs(r["passes"] - passes)))
    c.check(ep <= 6e-7, "%s: passes %r vs numpy %r" % (name, list(r["passes"][:6]), list(passes[:6])))
    print("%-20s %3d its: J rel %.2g, grad_max rel %.2g, w rel %.2g, b err %.2g, passes err %.2g"
          % (name, k, el, eg, ew, eb, ep))


# ---------------------------------------------------------------------------------------------
# L-BFGS / OWL-QN (src/optim_lbfgs.c module comment; Nocedal & Wright alg. 3.5, 3.6, 7.4;
# Andrew & Gao 2007).  Details the comment leaves open are taken from the C source and marked
# [src]: the bracketing phase doubles α; the cubic step (N&W 3.59) is kept only inside
# [lo + 0.1w, hi − 0.1w] of the bracket of width w, else the midpoint; zoom also ends when the
# bracket is narrower than 1e-15·max(α_lo, α_hi).  These only matter when the search zooms.

C1, C2, MAXEV = 1e-4, 0.9, 25


def cubic(lo, hi):
    (a, fa, da), (b, fb, db) = lo, hi
    w = abs(b - a)
    mid, lo_lim, hi_lim = 0.5 * (a + b), min(a, b) + 0.1 * w, max(a, b) - 0.1 * w  # [src]
    if not (np.isfinite(fb) and np.isfinite(db)):
        return mid
    d1 = da + db - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not disc >= 0:
        return mid
    d2 = np.copysign(np.sqrt(disc), b - a)
    den = db - da + 2 * d2
    if den == 0:
        return mid
    x = b - (b - a) * (db + d2 - d1) / den
    return x if np.isfinite(x) and lo_lim <= x <= hi_lim else mid


class LbfgsNp:
    def __init__(self, P, M=10):
        self.P, self.M = P, M
        self.p = np.zeros(P.n)
        self.f, self.g = P.fg(self.p)
        self.passes = 1.0
        self.pairs = []  # (s, y, rho), oldest first
        self.zooms = 0

    def direction(self, q):
        al = []
        r = q.copy()
        for s, y, rho in reversed(self.pairs):
            a = rho * (s @ r)
            r -= a * y
            al.append(a)
        if self.pairs:
            s, y, _ = self.pairs[-1]
            r *= (s @ y) / (y @ y)
        for (s, y, rho), a in zip(self.pairs, reversed(al)):
            r += (a - rho * (y @ r)) * s
        return -r

    def phi(self, a, dirn, pg):
        x = self.p + a * dirn
        if self.P.l1 > 0:  # project onto the orthant of p (of −pg where p_j = 0); b free
            xi = np.where(self.p[:-1] != 0, np.sign(self.p[:-1]), -np.sign(pg[:-1]))
            xw = x[:-1]
            xw[(np.sign(xw) != xi) | (xi == 0)] = 0.0
        self.passes += 1
        f, g = self.P.fg(x)
        return x, f, g

    def wolfe(self, dirn, d0, a0):
        f0 = self.f
        prev, best, evals, a = (0.0, f0, d0), None, 0, a0
        while True:  # bracketing (N&W 3.5)
            if evals >= MAXEV:
                return best
            evals += 1
            x, f, g = self.phi(a, dirn, None)
            cur = (a, f, g @ dirn)
            if not (f <= f0 + C1 * a * d0) or (prev[0] > 0 and f >= prev[1]):
                lo, hi = prev, cur
                break
            best = (x, f, g)
            if abs(cur[2]) <= -C2 * d0:
                return best
            if cur[2] >= 0:
                lo, hi = cur, prev
                break
            prev, a = cur, 2.0 * a  # [src]
        self.zooms += 1
        while True:  # zoom (N&W 3.6)
            if evals >= MAXEV or abs(hi[0] - lo[0]) <= 1e-15 * max(lo[0], hi[0]):  # [src]
                return best
            evals += 1
            a = cubic(lo, hi)
            x, f, g = self.phi(a, dirn, None)
            cur = (a, f, g @ dirn)
            if not np.isfinite(f) or f > f0 + C1 * a * d0 or f >= lo[1]:
                hi = cur
                continue
            best = (x, f, g)
            if abs(cur[2]) <= -C2 * d0:
                return best
            if cur[2] * (hi[0] - lo[0]) >= 0:
                hi = lo
            lo = cur

    def backtrack(self, dirn, pg, a0):
        a = a0
        for _ in range(MAXEV):
            x, f, g = self.phi(a, dirn, pg)
            if f <= self.f + C1 * (pg @ (x - self.p)):
                return x, f, g
            a *= 0.5
        return None

    def iterate(self):
        """One iteration; returns (J before, ‖◇J‖∞ before, stalled)."""
        P = self.P
        pg = P.pseudo(self.p, self.g)
        f_before, gm = self.f, np.max(np.abs(pg))
        for _attempt in range(2):
            dirn = self.direction(pg)
            if P.l1 > 0:
                dirn[:-1][dirn[:-1] * pg[:-1] >= 0] = 0.0
            d0 = pg @ dirn
            if not d0 < 0:
                self.pairs, dirn = [], -pg
                d0 = pg @ dirn
            a0 = 1.0 if self.pairs else min(1.0, 1.0 / np.sqrt(-d0))
            res = self.backtrack(dirn, pg, a0) if P.l1 > 0 else self.wolfe(dirn, d0, a0)
            if res is not None:
                x, f, g = res
                s, y = x - self.p, g - self.g
                if s @ y > 1e-16 * (y @ y):
                    self.pairs = (self.pairs + [(s, y, 1.0 / (s @ y))])[-self.M:]
                self.p, self.f, self.g = x, f, g
                return f_before, gm, False
            if not self.pairs:
                break
            self.pairs = []
        return f_before, gm, True


def lbfgs_np(P, iters, M=10):
    o = LbfgsNp(P, M)
    losses, gm, passes = [], [], []
    for _ in range(iters):
        f, g, stalled = o.iterate()
        assert not stalled
        losses.append(f)
        gm.append(g)
        passes.append(o.passes)
    return o.p, np.array(losses), np.array(gm), np.array(passes), o.zooms


# ---------------------------------------------------------------------------------------------
# TRON (src/optim_newton.c module comment; Lin, Weng & Keerthi 2008, liblinear's tron.cpp).
# [src]: CG makes at most n + 1 steps (never reached here: CG ends far earlier).

def trcg(H, g, delta):
    n = len(g)
    s, r = np.zeros(n), -g.copy()
    dvec, rtr = r.copy(), r @ r
    cgtol, its = 0.1 * np.sqrt(g @ g), 0

    def boundary(s, dvec):  # τ >= 0 with ‖s + τd‖ = Δ
        sd, ss, dd = s @ dvec, s @ s, dvec @ dvec
        return (-sd + np.sqrt(sd * sd + dd * (delta * delta - ss))) / dd

    while np.sqrt(rtr) > cgtol and its <= n:
        its += 1
        hd = H @ dvec
        dhd = dvec @ hd
        if not dhd > 0:
            tau = boundary(s, dvec)
            return s + tau * dvec, r - tau * hd, its
        alpha = rtr / dhd
        if np.linalg.norm(s + alpha * dvec) > delta:
            tau = boundary(s, dvec)
            return s + tau * dvec, r - tau * hd, its
        s, r = s + alpha * dvec, r - alpha * hd
        rnew = r @ r
        dvec, rtr = r + (rnew / rtr) * dvec, rnew
    return s, r, its


def tron_np(P, iters):
    e0, e1, e2, s1, s2, s3 = 1e-4, 0.25, 0.75, 0.25, 0.5, 4.0
    p = np.zeros(P.n)
    f, g = P.fg(p)
    H, ps, steps = P.hess(p), 1.0, 0
    delta = np.linalg.norm(g)
    losses, gm, passes, rejected = [], [], [], 0
    for _ in range(iters):
        losses.append(f)
        gm.append(np.max(np.abs(g)))
        for _try in range(50):
            s, r, its = trcg(H, g, delta)
            ps += its + 1
            x = p + s
            gs = g @ s
            prered = -0.5 * (gs - s @ r)
            fnew, gnew = P.fg(x)
            actred, snorm = f - fnew, np.linalg.norm(s)
            if steps == 0:
                delta = min(delta, snorm)
            alpha = s3 if fnew - f - gs <= 0 else max(s1, -0.5 * (gs / (fnew - f - gs)))
            if actred < e0 * prered:
                delta = min(max(alpha, s1) * snorm, s2 * delta)
            elif actred < e1 * prered:
                delta = max(s1 * delta, min(alpha * snorm, s2 * delta))
            elif actred < e2 * prered:
                delta = max(s1 * delta, min(alpha * snorm, s3 * delta))
            else:
                delta = max(delta, min(alpha * snorm, s3 * delta))
            if actred > e0 * prered:
                p, f, g, H, steps = x, fnew, gnew, P.hess(x), steps + 1
                break
            rejected += 1
        else:
            raise AssertionError("numpy TRON: no step accepted")
        passes.append(ps)
    return p, np.array(losses), np.array(gm), np.array(passes), rejected


# =============================================================================================
# Data, then every run is launched (3 at a time in the background) before the oracles compute.

h5a = os.path.join(W, "a.h5")
Xa, ya = dztest.make_dataset(h5a, 203, 13, "float64", seed=11)
h5u = os.path.join(W, "u.h5")  # uint8 0..255 at scale 16: badly scaled, the line search zooms
Xu, yu = dztest.make_dataset(h5u, 150, 20, "uint8", seed=0)
h5b = os.path.join(dztest.SOURCE, "configs", "data", "breast_cancer_train.h5")
with h5py.File(h5b, "r") as f:
    Xb, yb = f["x"][...].astype(np.float64), f["y"][...].astype(np.float64)
# nearly separable: long Newton steps, several trust-region boundary hits
rng = np.random.default_rng(0)
Xs = rng.standard_normal((120, 10))
ys = (Xs @ (3 * rng.standard_normal(10)) + 0.5 * rng.standard_normal(120) > 0).astype(np.uint8)
h5s = os.path.join(W, "s.h5")
with h5py.File(h5s, "w") as f:
    f.create_dataset("x", data=Xs)
    f.create_dataset("y", data=ys)
dg = load_digits()
Xd = StandardScaler().fit_transform(dg.data.astype(np.float64))
yd = (dg.target % 2 == 0).astype(np.uint8)
h5d = os.path.join(W, "digits.h5")
with h5py.File(h5d, "w") as f:
    f.create_dataset("x", data=Xd)
    f.create_dataset("y", data=yd)

# --- 3. the optimum (the longest runs first)
OPT = []
for dname, h5, X, y in (("digits", h5d, Xd, yd), ("breast", h5b, Xb, yb)):
    for pname, l2, l1 in (("l2=1", 1.0, 0.0), ("l2=0.01", 0.01, 0.0), ("l1=1", 0.0, 1.0)):
        for sv in (("lbfgs",) if l1 else ("lbfgs", "newton")):
            tr = {"optimizer": sv, "iterations": 5000, "tolerance": 1e-10, "log_every": 1000}
            if l2:
                tr["l2"] = l2
            if l1:
                tr["l1"] = l1
            OPT.append((dname, X, y, pname, l2, l1, sv,
                        launch("opt_%s_%s_%s" % (dname, pname, sv), h5, tr)))

# --- 1. first-order methods
K = 20
base = {"iterations": K, "block_rows": 8}
FIRST = [
    # name, train settings, numpy method kwargs, l2, l1, scale
    ("gd_l2_scale4", dict(optimizer="gd", learning_rate=2.0, l2=5.0, decay=0.1),
     dict(method="gd", lr=2.0, decay=0.1), 5.0, 0.0, 4.0),
    ("gd_l1", dict(optimizer="gd", learning_rate=0.5, l1=6.0), dict(method="gd", lr=0.5), 0.0, 6.0, None),
    ("sgd_decay_l2", dict(optimizer="sgd", learning_rate=0.8, decay=0.3, l2=1.0),
     dict(method="sgd", lr=0.8, decay=0.3), 1.0, 0.0, None),
    ("momentum", dict(optimizer="momentum", learning_rate=0.1, momentum=0.8, l2=2.0),
     dict(method="momentum", lr=0.1, mu=0.8), 2.0, 0.0, None),
    ("nesterov_l1", dict(optimizer="momentum", learning_rate=0.1, momentum=0.7, nesterov="true",
                         l1=3.0, decay=0.05),
     dict(method="momentum", lr=0.1, mu=0.7, nesterov=True, decay=0.05), 0.0, 3.0, None),
    ("adam_l2_l1", dict(optimizer="adam", learning_rate=0.05, beta1=0.8, beta2=0.95, epsilon=1e-3,
                        decay=0.1, l2=3.0, l1=4.0),
     dict(method="adam", lr=0.05, b1=0.8, b2=0.95, eps=1e-3, decay=0.1), 3.0, 4.0, None),
]
JOBS = {name: launch(name, h5a, dict(base, **tr), scale=scale) for name, tr, _, _, _, scale in FIRST}
# batch_size = m (26 blocks of 8 rows: every block) is the full batch: bit-identical to gd
JOBS["sgd_bs_m"] = launch("sgd_bs_m", h5a, dict(base, optimizer="sgd", learning_rate=2.0, l2=5.0, decay=0.1,
                                                 batch_size=203, seed=3), scale=4.0)
# Mini-batches of whole blocks: m = 203, B = 8 → 26 blocks (the last of 3 rows); batch_size 36
# → 5 blocks per batch, 6 batches per epoch (the last of 1 block); 20 updates = 4 epochs.
MB = {"iterations": K, "block_rows": 8, "batch_size": 36, "seed": 12345678901, "optimizer": "sgd",
      "learning_rate": 0.7, "decay": 0.02, "l2": 1.5}
JOBS["sgd_minibatch"] = launch("sgd_minibatch", h5a, MB)
JOBS["sgd_minibatch_2ranks"] = launch("sgd_minibatch_2ranks", h5a, MB, nranks=2, threads=1)

# --- 2. quasi-Newton and Newton
QN = [  # name, h5, (X, y), scale, l2, l1, memory, iterations
    ("lbfgs_zoom_m4", h5u, (Xu, yu), 16.0, 1.0, 0.0, 4, 12),  # the memory wraps after 4 pairs
    ("owlqn_l2_l1", h5u, (Xu, yu), 16.0, 0.1, 5.0, 10, 12),  # backtracks; zeros in w
]
for name, h5, _, scale, l2, l1, M, k in QN:
    tr = {"optimizer": "lbfgs", "iterations": k, "memory": M, "block_rows": 32}
    if l2:
        tr["l2"] = l2
    if l1:
        tr["l1"] = l1
    JOBS[name] = launch(name, h5, tr, scale=scale)
NT = [  # name, h5, (X, y), scale, l2, iterations, ranks, threads
    ("newton_sep", h5s, (Xs, ys), None, 0.01, 10, 1, 2),
    ("newton_sep_2ranks", h5s, (Xs, ys), None, 0.01, 10, 2, 1),  # the curvature is per local row
]
for name, h5, _, scale, l2, k, nr, th in NT:
    JOBS[name] = launch(name, h5, {"optimizer": "newton", "iterations": k, "l2": l2, "block_rows": 32},
                        nranks=nr, threads=th, scale=scale)

# =============================================================================================
# 1. First-order methods, step by step

for name, tr, kw, l2, l1, scale in FIRST:
    P = Prob(Xa, ya, scale or 1.0, l2, l1)
    r = result(JOBS[name])
    p, losses, gmax, passes = first_order(P, iters=K, **kw)
    compare_path(name, r, p, losses, gmax, passes)
    if name == "gd_l2_scale4":
        r_gd = r
    if r is not None and name == "gd_l1":
        c.check(np.sum(r["w"] == 0) >= 1 and np.sum(p[:-1] == 0) == np.sum(r["w"] == 0),
                "gd_l1: exact zeros in w: trainer %d, numpy %d (want >= 1 and equal)"
                % (np.sum(r["w"] == 0), np.sum(p[:-1] == 0)))
rs = result(JOBS["sgd_bs_m"])
if r_gd and rs:
    same = (np.array_equal(rs["w"], r_gd["w"]) and rs["b"] == r_gd["b"]
            and np.array_equal(rs["loss"], r_gd["loss"]) and np.array_equal(rs["passes"], r_gd["passes"]))
    c.check(same, "sgd with batch_size = m is not bit-identical to gd (w rel %.3g, loss rel %.3g)"
            % (rel(rs["w"], r_gd["w"]), rel(rs["loss"], r_gd["loss"])))
    print("sgd batch_size = m vs gd: bit-identical w, b, losses: %s" % same)

sched = Schedule(203, 8, 36, MB["seed"])
P = Prob(Xa, ya, 1.0, 1.5, 0.0)
r_mb = result(JOBS["sgd_minibatch"])
p, losses, gmax, passes = first_order(P, "sgd", K, 0.7, decay=0.02, sched=sched)
compare_path("sgd_minibatch", r_mb, p, losses, gmax, passes)
print("  schedule: batch 0 = blocks %s; epoch 1 starts %s"
      % (sorted(set((sched.rows(0) // 8).tolist())), epoch_order(MB["seed"], 1, 26)[:6]))
# the schedule matters: the next seed's order must give a different path
_, l_bad, _, _ = first_order(P, "sgd", K, 0.7, decay=0.02, sched=Schedule(203, 8, 36, MB["seed"] + 1))
c.check(rel(l_bad, losses) > 1e-9, "sgd_minibatch: the oracle cannot tell seeds apart")
r2 = result(JOBS["sgd_minibatch_2ranks"])
if r_mb and r2:
    c.check(r2["digest"] == r_mb["digest"], "sgd_minibatch: 2 ranks x 1 thread differs from 1 x 2")

# =============================================================================================
# 2. lbfgs, OWL-QN, newton: the first iterations (J to 1e-10, passes exactly; w after k
# iterations to 1e-8: the line searches may amplify rounding)

for name, h5, (X, y), scale, l2, l1, M, k in QN:
    P = Prob(X, y, scale or 1.0, l2, l1)
    r = result(JOBS[name])
    p, losses, gm, passes, zooms = lbfgs_np(P, k, M)
    compare_path(name, r, p, losses, gm, passes, tol=1e-10, gtol=1e-8, wtol=1e-8)
    print("  %s: %d searches zoomed, passes %s" % (name, zooms, list(passes.astype(int))))
    if l1 and r is not None:
        c.check(np.sum(r["w"] == 0) == np.sum(p[:-1] == 0),
                "%s: zeros in w: trainer %d, numpy %d" % (name, np.sum(r["w"] == 0), np.sum(p[:-1] == 0)))

for name, h5, (X, y), scale, l2, k, nr, th in NT:
    P = Prob(X, y, scale or 1.0, l2, 0.0)
    r = result(JOBS[name])
    p, losses, gm, passes, rejected = tron_np(P, k)
    compare_path(name, r, p, losses, gm, passes, tol=1e-10, gtol=1e-8, wtol=1e-8)
    print("  %s: %d steps refused, passes %s" % (name, rejected, list(passes.astype(int))))
    if name == "newton_sep":
        r_n1 = r
    if name == "newton_sep_2ranks" and r and r_n1:
        c.check(r["digest"] == r_n1["digest"], "newton: 2 ranks x 1 thread differs from 1 x 2")

# =============================================================================================
# 3. The optimum vs scikit-learn (J* = the least of their J, evaluated by Prob.J)

warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning for the capped saga
print("%-7s %-8s %-6s %-22s %-22s %-10s %5s %6s %-9s %s"
      % ("data", "penalty", "solver", "J", "J*", "rel gap", "its", "passes", "stop", "grad_max"))
refs = {}
for dname, X, y, pname, l2, l1, sv, job in OPT:
    P = Prob(X, y, 1.0, l2, l1)
    if (dname, pname) not in refs:
        if l1 == 0:
            est = [LogisticRegression(C=1 / l2, solver=s, tol=1e-12, max_iter=100000).fit(X, y)
                   for s in ("newton-cholesky", "lbfgs")]
        else:
            # liblinear penalises b / intercept_scaling: nearly free at 1e4.  That column makes
            # it slow near the end (on digits, 1000 outer iterations take ~100 s without
            # reaching tol); 60 iterations reach its final J on both sets here, in ~2 s.
            # saga (tol 1e-14) converges far more slowly on these (~1e-3 above J* after 300
            # epochs): it is kept in the min, capped, and is never the least here.
            est = [LogisticRegression(penalty="l1", C=1 / l1, solver="liblinear", intercept_scaling=1e4,
                                      tol=1e-8, max_iter=60, random_state=0).fit(X, y),
                   LogisticRegression(penalty="l1", C=1 / l1, solver="saga", tol=1e-14,
                                      max_iter=300, random_state=0).fit(X, y)]
        refs[(dname, pname)] = min(P.J(np.append(e.coef_.ravel(), e.intercept_[0])) for e in est)
    Jstar, slack = refs[(dname, pname)], (1e-7 if l1 else 1e-9)
    r = result(job)
    if r is None:
        continue
    Jt = P.J(np.append(r["w"], r["b"]))
    gap = (Jt - Jstar) / Jstar
    stop = attr_str(r["attrs"], "stop_reason")
    print("%-7s %-8s %-6s %-22.17g %-22.17g %-10.3g %5d %6.0f %-9s %.2g"
          % (dname, pname, sv, Jt, Jstar, gap, int(r["attrs"]["iterations"]),
             float(r["attrs"]["passes"]), stop, float(r["attrs"]["grad_max"])))
    c.check(Jt <= Jstar * (1 + slack), "%s %s %s: J = %.17g > J* (1 + %g), J* = %.17g"
            % (dname, pname, sv, Jt, slack, Jstar))
    c.check(stop in ("converged", "stalled"), "%s %s %s: stop_reason %s" % (dname, pname, sv, stop))
    # stalled = no step changes J in floating point: ‖∇J‖∞ ~ sqrt(eps·J·‖H‖) there, far below 1e-7
    c.check(float(r["attrs"]["grad_max"]) <= 1e-7, "%s %s %s: stopped (%s) at ||grad J||inf = %.3g"
            % (dname, pname, sv, stop, float(r["attrs"]["grad_max"])))
    fl = float(r["attrs"]["final_loss"])
    c.check(abs(fl - Jt) <= 1e-12 * Jt, "%s %s %s: final_loss attr %.17g vs numpy J %.17g"
            % (dname, pname, sv, fl, Jt))

POOL.shutdown()
ru_self, ru_kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("solvers: %.1f s wall; %d runs, %.1f s of run time (3 at a time); CPU: this script %.1f s, "
      "the runs %.1f s" % (time.time() - T0, len(RUN_SECS), sum(RUN_SECS),
                           ru_self.ru_utime + ru_self.ru_stime, ru_kids.ru_utime + ru_kids.ru_stime))
c.finish()
