"""Softmax: an independent numpy oracle for the multinomial model ([model] type = softmax).

  J(W, b) = (1/m) Σ_i −log softmax(z_i)[y_i] + l2/(2m)‖W‖_F²,   z_i = W·x_i/scale + b  (K logits)

Written from the specification (README: [model] type/classes, model.h5), never calling into
dztrain:

 1. Exactness: gd from W = 0, b = 0 agrees with a numpy float64 gradient descent to 1e-12
    relative on the loss of every logged iteration (log_every > 1, so the logged set is checked
    too), on ‖∇J‖∞ and `passes` per logged iteration, and on the final W, b, for
    (a) scikit-learn's digits (1797 x 64, 10 classes) as uint8 at scale 16, labels int64 (m,),
        with a noisy float64 test set (labels float64, shape (1, m));
    (b) a random 300 x 17 float32 set at scale 4 with K = 4 where class 2 is empty (labels
        float32, shape (m, 1); classes absent, so K = largest label + 1), and the same data with
        classes = 5 (classes 2 and 4 empty); the trainer must warn naming every empty class.
 2. The optimum: lbfgs and newton (tolerance 1e-10) on digits standardised reach
    J <= J*(1 + 1e-9) at l2 ∈ {1, 0.01}; J* = the least numpy J of scikit-learn's multinomial
    lbfgs and newton-cg (C = 1/l2: the same minimiser, their objective is m·C·J) and of two
    full-Hessian Newton steps polishing them.  W and the centred b (b is only determined up to
    a common shift: nothing penalises it) match that optimum to 1e-4 relative; stop_reason
    converged/stalled; grad_max <= 1e-7.
 3. model.h5: W float64 (K, d), b float64 (K,), int64 attribute classes = K, the usual
    attributes (final_loss = numpy J to 1e-12, grad_max = numpy ‖∇J‖∞); confusion_train (and
    confusion_test when a test set is configured) int64 (K, K) equal to
    sklearn.metrics.confusion_matrix(y, argmax(X/scale·Wᵀ + b)); train/test_accuracy =
    100·trace/m to 1e-12 and printed on stdout with %.17g as the attributes, final loss too;
    each confusion row printed on stdout (K <= 20).
 4. Ranks: digits gd and a newton run at 3 ranks x 1 thread are bit-identical (W, b, losses)
    to 1 rank x 2 threads.
 Plus: a label 10 with classes = 10 is refused with exit 3.
Run with /usr/bin/python3 (numpy, scipy, h5py, sklearn)."""
import inspect
import os
import re
import resource
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

import dztest

try:
    from scipy.special import logsumexp, softmax
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import confusion_matrix
    from sklearn.preprocessing import StandardScaler
except ImportError as ex:  # Debian: python3-scipy, python3-sklearn
    print("skipped: %s" % ex)
    sys.exit(dztest.SKIP)

T0 = time.time()
c = dztest.Checker("softmax")
WD = dztest.workdir("softmax")
ENV = {"OMP_WAIT_POLICY": "passive"}
SMALL = dztest.SMALL


rel, relew = dztest.rel, dztest.relew


# ---------------------------------------------------------------------------------------------
# The objective, from the formula

class Prob:
    def __init__(self, X, y, K, scale=1.0, l2=0.0):
        self.X = np.asarray(X, np.float64).reshape(len(y), -1) / scale
        self.y = np.asarray(y).ravel().astype(np.int64)
        self.m, self.d = self.X.shape
        self.K, self.l2 = K, float(l2)
        self.Y = np.zeros((self.m, K))
        self.Y[np.arange(self.m), self.y] = 1.0

    def J(self, W, b):
        Z = self.X @ W.T + b
        return (np.mean(logsumexp(Z, axis=1) - Z[np.arange(self.m), self.y])
                + self.l2 / (2 * self.m) * np.sum(W * W))

    def grad(self, W, b):
        R = softmax(self.X @ W.T + b, axis=1) - self.Y
        return R.T @ self.X / self.m + self.l2 / self.m * W, R.mean(axis=0)

    def gmax(self, W, b):
        gW, gb = self.grad(W, b)
        return max(np.max(np.abs(gW)), np.max(np.abs(gb)))

    def hess(self, W, b):
        """The full Hessian in the order (W[k], b[k]) for k = 0..K-1 (small K·d only)."""
        K, m, n = self.K, self.m, self.d + 1
        Xa = np.hstack([self.X, np.ones((m, 1))])
        A = softmax(self.X @ W.T + b, axis=1)
        H = np.zeros((K * n, K * n))
        for k in range(K):
            for l in range(k, K):
                cw = A[:, k] * ((k == l) - A[:, l])
                blk = Xa.T @ (cw[:, None] * Xa) / m
                H[k * n:(k + 1) * n, l * n:(l + 1) * n] = blk
                H[l * n:(l + 1) * n, k * n:(k + 1) * n] = blk.T
        H[np.diag_indices_from(H)] += np.tile(np.r_[np.full(self.d, self.l2 / m), 0.0], K)
        return H

    def polish(self, W, b, steps=2):
        """Full Newton steps (least squares: the Hessian is singular along the common shift of
        b); returns the best (J, W, b) seen."""
        best = (self.J(W, b), W, b)
        P = np.hstack([W, b[:, None]])
        for _ in range(steps):
            gW, gb = self.grad(P[:, :-1], P[:, -1])
            g = np.hstack([gW, gb[:, None]]).ravel()
            step = np.linalg.lstsq(self.hess(P[:, :-1], P[:, -1]), -g, rcond=None)[0]
            P = P + step.reshape(self.K, self.d + 1)
            f = self.J(P[:, :-1], P[:, -1])
            if f < best[0]:
                best = (f, P[:, :-1].copy(), P[:, -1].copy())
        return best

    def pred(self, W, b):
        """argmax of the logits, ties to the lowest index; also the least top-2 margin."""
        Z = self.X @ W.T + b
        s = np.sort(Z, axis=1)
        return np.argmax(Z, axis=1), float(np.min(s[:, -1] - s[:, -2]))


def gd_np(P, lr, iters, log_every):
    W, b = np.zeros((P.K, P.d)), np.zeros(P.K)
    its, losses, gmax, passes = [], [], [], []
    for i in range(iters):
        gW, gb = P.grad(W, b)
        if i % log_every == 0:
            its.append(i)
            losses.append(P.J(W, b))
            gmax.append(max(np.max(np.abs(gW)), np.max(np.abs(gb))))
            passes.append(i + 1.0)
        W = W - lr * gW
        b = b - lr * gb
    return W, b, its, np.array(losses), np.array(gmax), np.array(passes)


# ---------------------------------------------------------------------------------------------
# Running the trainer (3 runs at a time in the background: they are short)

RUN_SECS = []
POOL = ThreadPoolExecutor(max_workers=3)


def _run(name, data, model, train, nranks, threads):
    d = os.path.join(WD, name)
    os.makedirs(d)
    cfg = dztest.write_config(os.path.join(d, "c.ini"),
                              {"data": data, "model": model, "train": train})
    return d, dztest.mpirun(nranks, threads, [cfg], env=ENV)


def launch(name, data, train, model=None, nranks=1, threads=2):
    m = {"type": "softmax"}
    m.update(model or {})
    return (name, POOL.submit(_run, name, data, m, train, nranks, threads))


def attr_str(attrs, k):
    v = attrs.get(k)
    return v.decode() if isinstance(v, bytes) else str(v)


def result(job, want_rc=0):
    name, fut = job
    d, (rc, out, err, secs) = fut.result()
    RUN_SECS.append(secs)
    r = {"rc": rc, "out": out, "err": err, "dir": d, "name": name}
    if not c.check(rc == want_rc, "%s: exit %d (want %d): %s" % (name, rc, want_rc, (out + err)[-2000:])):
        return None
    if want_rc != 0:
        return r
    with h5py.File(os.path.join(d, "model.h5"), "r") as f:
        r["attrs"] = dict(f.attrs)
        r["ds"] = {k: (f[k].dtype, f[k].shape, np.array(f[k][...])) for k in f.keys()
                   if isinstance(f[k], h5py.Dataset)}
    _, rows = dztest.read_metrics(os.path.join(d, "metrics.csv"))
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    r.update(it=a[:, 0].astype(int), loss=a[:, 1], gmax=a[:, 3], passes=a[:, 4])
    r["W"] = r["ds"]["W"][2] if "W" in r["ds"] else None
    r["b"] = r["ds"]["b"][2] if "b" in r["ds"] else None
    return r


def check_layout(name, r, P, PT=None):
    """model.h5 datasets and attributes, confusion matrices, accuracies, stdout."""
    ds, at, K, d = r["ds"], r["attrs"], P.K, P.d
    for k, shape in (("W", (K, d)), ("b", (K,))):
        ok = k in ds and ds[k][0] == np.float64 and ds[k][1] == shape
        c.check(ok, "%s: dataset %s: %s, want float64 %s" % (name, k, ds.get(k, ("missing",))[:2], shape))
    if r["W"] is None or r["b"] is None or r["W"].shape != (K, d) or r["b"].shape != (K,):
        return False
    W, b = r["W"], r["b"]
    kc = at.get("classes")
    c.check(kc is not None and np.asarray(kc).dtype == np.int64 and int(kc) == K,
            "%s: attribute classes = %r (%s), want int64 %d"
            % (name, kc, None if kc is None else np.asarray(kc).dtype, K))
    missing = [k for k in ("optimizer", "stop_reason", "l2", "l1", "passes", "grad_max", "final_loss",
                           "train_accuracy", "test_accuracy", "scale", "m", "iterations") if k not in at]
    c.check(not missing, "%s: model.h5 lacks attributes %s" % (name, missing))
    if missing:
        return False
    c.check(int(at["m"]) == P.m, "%s: attribute m = %s, want %d" % (name, at["m"], P.m))
    Jn = P.J(W, b)
    fl = float(at["final_loss"])
    c.check(abs(fl - Jn) <= 1e-12 * Jn, "%s: final_loss attr %.17g vs numpy J %.17g (rel %.3g)"
            % (name, fl, Jn, abs(fl - Jn) / Jn))
    gm, gmn = float(at["grad_max"]), P.gmax(W, b)
    c.check(abs(gm - gmn) <= 1e-8 * gmn + 1e-15, "%s: grad_max attr %.17g vs numpy %.17g"
            % (name, gm, gmn))
    # stdout: the accuracies and the final loss with %.17g, as the attributes
    out = r["out"]
    for key, attr in (("train accuracy", "train_accuracy"), ("test accuracy", "test_accuracy"),
                      ("final loss", "final_loss")):
        if attr == "test_accuracy" and PT is None:
            c.check(np.isnan(float(at[attr])), "%s: test_accuracy %s without a test set, want NaN"
                    % (name, at[attr]))
            c.check(key not in out, "%s: prints a test accuracy without a test set" % name)
            continue
        mt = re.search(r"^%s: (\S+)" % key, out, re.M)
        c.check(mt is not None and float(mt.group(1)) == float(at[attr]),
                "%s: stdout '%s: %s' vs attribute %s = %.17g"
                % (name, key, mt.group(1) if mt else "(missing)", attr, float(at[attr])))
    lines = [[int(t) for t in re.findall(r"-?\d+", ln)] for ln in out.splitlines()]

    def printed(row):
        row = [int(v) for v in row]
        return any(row == ln[j:j + len(row)] for ln in lines for j in range(len(ln) - len(row) + 1))

    for tag, PP, acc_attr in (("train", P, "train_accuracy"), ("test", PT, "test_accuracy")):
        if PP is None:
            c.check("confusion_test" not in ds, "%s: confusion_test written without a test set" % name)
            continue
        key = "confusion_" + tag
        pred, margin = PP.pred(W, b)
        want = confusion_matrix(PP.y, pred, labels=range(K))
        if not c.check(key in ds and ds[key][0] == np.int64 and ds[key][1] == (K, K),
                       "%s: dataset %s: %s, want int64 (%d, %d)"
                       % (name, key, ds.get(key, ("missing",))[:2], K, K)):
            continue
        got = ds[key][2]
        c.check(np.array_equal(got, want), "%s: %s differs from sklearn's confusion_matrix "
                "(numpy argmax; least top-2 logit margin %.3g):\n%s\nwant\n%s"
                % (name, key, margin, got, want))
        acc, accw = float(at[acc_attr]), 100.0 * np.trace(want) / PP.m
        c.check(abs(acc - accw) <= 1e-12 * accw, "%s: %s %.17g, want 100·trace/m = %.17g"
                % (name, acc_attr, acc, accw))
        c.check(K > 20 or all(printed(row) for row in got),
                "%s: stdout does not show the rows of %s:\n%s" % (name, key, out[-3000:]))
        print("  %s %s: accuracy %.4f %%, diagonal %s, least logit margin %.2g"
              % (name, tag, acc, list(np.diag(got)), margin))
    return True


def compare_gd(name, r, P, lr, iters, log_every):
    W, b, its, losses, gmax, passes = gd_np(P, lr, iters, log_every)
    if r is None:
        return
    if not c.check(list(r["it"]) == its, "%s: logged iterations %s..., want %s..."
                   % (name, list(r["it"])[:6], its[:6])):
        return
    el, eg = relew(r["loss"], losses), relew(r["gmax"], gmax)
    c.check(el <= 1e-12, "%s: logged J vs numpy: rel %.3g > 1e-12 (it %d: %.17g vs %.17g)"
            % (name, el, its[-1], r["loss"][-1], losses[-1]))
    c.check(eg <= 1e-12, "%s: logged grad_max vs numpy: rel %.3g > 1e-12" % (name, eg))
    c.check(np.array_equal(r["passes"], passes), "%s: passes %s, want %s"
            % (name, r["passes"][:5], passes[:5]))
    if not check_layout(name, r, P, r.get("PT")):
        return
    ew, eb = rel(r["W"], W), rel(r["b"], b)
    c.check(ew <= 1e-12 and eb <= 1e-12, "%s: final W rel %.3g, b rel %.3g vs numpy (> 1e-12)"
            % (name, ew, eb))
    at = r["attrs"]
    c.check(attr_str(at, "optimizer") == "gd" and attr_str(at, "stop_reason") == "iterations"
            and int(at["iterations"]) == iters,
            "%s: optimizer %s, stop_reason %s, iterations %s" % (name, attr_str(at, "optimizer"),
                                                                 attr_str(at, "stop_reason"), at["iterations"]))
    c.check(float(at["l2"]) == P.l2, "%s: l2 attr %s, want %g" % (name, at["l2"], P.l2))
    print("%-14s gd K=%-2d %4d its: J %.17g -> %.17g; rel J %.2g, grad_max %.2g, W %.2g, b %.2g"
          % (name, P.K, iters, losses[0], losses[-1], el, eg, ew, eb))


# =============================================================================================
# Data

dg = load_digits()
Xd8 = dg.data.astype(np.uint8)  # 0..16
yd = dg.target.astype(np.int64)
h5d = os.path.join(WD, "digits.h5")
with h5py.File(h5d, "w") as f:
    f.create_dataset("x", data=Xd8)
    f.create_dataset("y", data=yd)
# test set: the last 400 rows with uniform noise in [0, 4), float64; labels float64 (1, m)
rng = np.random.default_rng(5)
Xdt = Xd8[-400:].astype(np.float64) + 4.0 * rng.random((400, 64))
ydt = yd[-400:].astype(np.float64)
h5dt = os.path.join(WD, "digits_test.h5")
with h5py.File(h5dt, "w") as f:
    f.create_dataset("tx", data=Xdt)
    f.create_dataset("ty", data=ydt.reshape(1, -1))
Xds = StandardScaler().fit_transform(dg.data.astype(np.float64))  # constant columns: std 1
h5ds = os.path.join(WD, "digits_std.h5")
with h5py.File(h5ds, "w") as f:
    f.create_dataset("x", data=Xds)
    f.create_dataset("y", data=yd.astype(np.int32))

# random 300 x 17, classes {0, 1, 3} (2 empty) from a random linear model
rng = np.random.default_rng(17)
Xr = rng.standard_normal((300, 17)).astype(np.float32)
Zr = Xr.astype(np.float64) @ rng.standard_normal((17, 3)) + rng.gumbel(size=(300, 3))
yr = np.array([0, 1, 3])[np.argmax(Zr, axis=1)]
h5r = os.path.join(WD, "rand.h5")
with h5py.File(h5r, "w") as f:
    f.create_dataset("x", data=Xr)
    f.create_dataset("y", data=yr.astype(np.float32).reshape(-1, 1))

# bad: a label 10 with classes = 10
h5bad = os.path.join(WD, "bad.h5")
with h5py.File(h5bad, "w") as f:
    f.create_dataset("x", data=rng.standard_normal((30, 3)))
    f.create_dataset("y", data=np.r_[np.arange(10), np.arange(10), np.arange(9), 10].astype(np.int16))

# =============================================================================================
# Launch every run up front (the longest first)

GD_ITERS = 60 if SMALL else 300
DIG = dict(train=h5d, train_x="x", train_y="y", scale=16, test=h5dt, test_x="tx", test_y="ty")
DIG_TR = {"optimizer": "gd", "learning_rate": 0.25, "iterations": GD_ITERS, "log_every": 5}
RND = dict(train=h5r, train_x="x", train_y="y", scale=4)
RND_TR = {"optimizer": "gd", "learning_rate": 0.5, "iterations": 200 if not SMALL else 50,
          "log_every": 7, "l2": 2.0}
RND5_TR = dict(RND_TR, iterations=40, log_every=3, l2=0.5)
STD = dict(train=h5ds, train_x="x", train_y="y")

OPT = []
for l2 in ((1.0,) if SMALL else (1.0, 0.01)):
    for sv in ("newton", "lbfgs"):
        tr = {"optimizer": sv, "iterations": 2000, "tolerance": 1e-10, "log_every": 100, "l2": l2}
        OPT.append((l2, sv, launch("opt_%s_l2_%g" % (sv, l2), STD, tr)))
JOBS = {
    "digits_gd": launch("digits_gd", DIG, DIG_TR),
    "digits_gd_3ranks": launch("digits_gd_3ranks", DIG, DIG_TR, nranks=3, threads=1),
    "newton_3ranks": launch("newton_3ranks", STD, {"optimizer": "newton", "iterations": 2000,
                                                   "tolerance": 1e-10, "log_every": 100, "l2": 1.0},
                            nranks=3, threads=1),
    "rand_k4": launch("rand_k4", RND, RND_TR),
    "rand_k5": launch("rand_k5", RND, RND5_TR, model={"classes": 5}),
    "bad_label": launch("bad_label", dict(train=h5bad, train_x="x", train_y="y"),
                        {"iterations": 5}, model={"classes": 10}),
}

# =============================================================================================
# 2 (reference first, while the runs go). J* per l2.

warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning / line-search warnings
MC = ({"multi_class": "multinomial"}
      if "multi_class" in inspect.signature(LogisticRegression).parameters else {})
REF = {}
for l2 in sorted({o[0] for o in OPT}, reverse=True):
    P = Prob(Xds, yd, 10, 1.0, l2)
    cands = []
    for solver, it in (("lbfgs", 10000), ("newton-cg", 60)):  # newton-cg's line search fails
        # near the optimum and would run to max_iter (600 s at 1e5); 60 reach ~1e-12 here
        e = LogisticRegression(C=1 / l2, solver=solver, tol=1e-12, max_iter=it, **MC).fit(Xds, yd)
        W0, b0 = e.coef_.astype(np.float64), e.intercept_.astype(np.float64)
        if W0.shape != (10, 64):
            c.check(False, "sklearn %s gave coef_ %s: not the multinomial model" % (solver, W0.shape))
            continue
        cands.append((P.J(W0, b0), "sklearn " + solver, W0, b0))
    if not cands:
        continue
    Jp, Wp, bp = P.polish(*min(cands, key=lambda t: t[0])[2:])
    cands.append((Jp, "polished", Wp, bp))
    best = min(cands, key=lambda t: t[0])
    REF[l2] = (P, best[0], best[2], best[3], best[1], P.gmax(best[2], best[3]))
    print("J* (l2 = %g) = %.17g from %s (grad_max %.2g); candidates %s"
          % (l2, best[0], best[1], REF[l2][5],
             ", ".join("%s %.17g" % (t[1], t[0]) for t in cands)))

# =============================================================================================
# 1 + 3. gd exactness and model.h5

Pd = Prob(Xd8, yd, 10, 16.0, 0.0)
PdT = Prob(Xdt, ydt, 10, 16.0, 0.0)
r = result(JOBS["digits_gd"])
if r:
    r["PT"] = PdT
compare_gd("digits_gd", r, Pd, 0.25, GD_ITERS, 5)
r3 = result(JOBS["digits_gd_3ranks"])
if r3:
    c.check(r3["W"] is not None and r3["b"] is not None, "digits_gd at 3 ranks: model.h5 has W and b")
if r and r3 and r["W"] is not None and r3["W"] is not None:
    same = (r3["W"].astype("<f8").tobytes() == r["W"].astype("<f8").tobytes()
            and r3["b"].astype("<f8").tobytes() == r["b"].astype("<f8").tobytes()
            and r3["loss"].tobytes() == r["loss"].tobytes())
    c.check(same, "digits_gd: 3 ranks x 1 thread not bit-identical to 1 x 2 (W rel %.3g, b rel %.3g)"
            % (rel(r3["W"], r["W"]), rel(r3["b"], r["b"])))
    print("digits_gd 3 ranks x 1 vs 1 x 2: bit-identical W, b, losses: %s" % same)
    for k in ("confusion_train", "confusion_test"):
        c.check(k in r3["ds"] and k in r["ds"] and np.array_equal(r3["ds"][k][2], r["ds"][k][2]),
                "digits_gd: %s differs (or is missing) at 3 ranks" % k)
    c.check(float(r3["attrs"]["test_accuracy"]) == float(r["attrs"]["test_accuracy"]),
            "digits_gd: test_accuracy at 3 ranks %s vs %s" % (r3["attrs"]["test_accuracy"],
                                                               r["attrs"]["test_accuracy"]))
if r:
    c.check(not any(re.search(r"warn", ln, re.I) and re.search(r"class", ln, re.I)
                    for ln in (r["out"] + r["err"]).splitlines()),
            "digits_gd: warns about a class though every class has rows:\n%s" % r["err"][-1000:])


def empty_warned(r, k):
    """A warning line naming class k."""
    for ln in (r["out"] + r["err"]).splitlines():
        if (re.search(r"warn", ln, re.I) and re.search(r"class", ln, re.I)
                and re.search(r"(?<![\d.])%d(?![\d.])" % k, ln)):
            return True
    return False


for name, K, tr in (("rand_k4", 4, RND_TR), ("rand_k5", 5, RND5_TR)):
    P = Prob(Xr, yr, K, 4.0, tr["l2"])
    r = result(JOBS[name])
    compare_gd(name, r, P, tr["learning_rate"], tr["iterations"], tr["log_every"])
    if r:
        # the warning names every empty class
        for k in sorted(set(range(K)) - set(yr.tolist())):
            c.check(empty_warned(r, k), "%s: no warning naming the empty class %d:\n%s"
                    % (name, k, (r["out"] + r["err"])[-1500:]))

r = result(JOBS["bad_label"], want_rc=3)
if r:
    c.check(re.search(r"label \S+\[\d+\] = 10; softmax labels must be integers 0 \.\.\. 9", r["err"]),
            "bad_label: the message names label 10 and the range 0 ... 9: %r" % r["err"][-400:])
    print("bad_label (label 10, classes = 10): exit 3: %s" % (r["out"] + r["err"]).strip().splitlines()[0][:200])

# =============================================================================================
# 2. The optimum

print("%-6s %-7s %-22s %-22s %-9s %5s %6s %-9s %-8s %s"
      % ("solver", "l2", "J", "J*", "rel gap", "its", "passes", "stop", "grad_max", "W rel / b rel"))
r_newton1 = None
for l2, sv, job in OPT:
    r = result(job)
    if r is None or l2 not in REF:
        continue
    P, Jstar, Ws, bs, _, _ = REF[l2]
    if not check_layout("opt_%s_l2_%g" % (sv, l2), r, P):
        continue
    if sv == "newton" and l2 == 1.0:
        r_newton1 = r
    Jt = P.J(r["W"], r["b"])
    gap = (Jt - Jstar) / Jstar
    at = r["attrs"]
    stop = attr_str(at, "stop_reason")
    ew = rel(r["W"], Ws)
    eb = rel(r["b"] - r["b"].mean(), bs - bs.mean())
    print("%-6s %-7g %-22.17g %-22.17g %-9.2g %5d %6.0f %-9s %-8.2g %.2g / %.2g"
          % (sv, l2, Jt, Jstar, gap, int(at["iterations"]), float(at["passes"]), stop,
             float(at["grad_max"]), ew, eb))
    c.check(Jt <= Jstar * (1 + 1e-9), "%s l2=%g: J = %.17g > J*(1 + 1e-9), J* = %.17g (rel gap %.3g)"
            % (sv, l2, Jt, Jstar, gap))
    c.check(stop in ("converged", "stalled"), "%s l2=%g: stop_reason %s" % (sv, l2, stop))
    c.check(float(at["grad_max"]) <= 1e-7, "%s l2=%g: stopped (%s) at grad_max %.3g"
            % (sv, l2, stop, float(at["grad_max"])))
    c.check(attr_str(at, "optimizer") == sv, "%s: optimizer attr %s" % (sv, attr_str(at, "optimizer")))
    c.check(ew <= 1e-4 and eb <= 1e-4, "%s l2=%g: W rel %.3g, centred b rel %.3g vs the optimum (> 1e-4)"
            % (sv, l2, ew, eb))

r3 = result(JOBS["newton_3ranks"])
if r3:
    c.check(r3["W"] is not None and r3["b"] is not None, "newton at 3 ranks: model.h5 has W and b")
if r3 and r_newton1 and r3["W"] is not None:
    same = (r3["W"].astype("<f8").tobytes() == r_newton1["W"].astype("<f8").tobytes()
            and r3["b"].astype("<f8").tobytes() == r_newton1["b"].astype("<f8").tobytes()
            and r3["loss"].tobytes() == r_newton1["loss"].tobytes()
            and np.array_equal(r3["passes"], r_newton1["passes"]))
    c.check(same, "newton l2=1: 3 ranks x 1 thread not bit-identical to 1 x 2 (W rel %.3g, b rel %.3g)"
            % (rel(r3["W"], r_newton1["W"]), rel(r3["b"], r_newton1["b"])))
    print("newton l2=1 3 ranks x 1 vs 1 x 2: bit-identical W, b, losses, passes: %s" % same)

POOL.shutdown()
ru_self, ru_kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("softmax: %.1f s wall; %d runs, %.1f s of run time (3 at a time); CPU: this script %.1f s, "
      "the runs %.1f s" % (time.time() - T0, len(RUN_SECS), sum(RUN_SECS),
                           ru_self.ru_utime + ru_self.ru_stime, ru_kids.ru_utime + ru_kids.ru_stime))
c.finish()
