"""sparse — CSR features: `[data] train_x` (and test_x, predict/evaluate's --x) may name an HDF5
group in the anndata/scipy CSR layout (datasets data, indices, indptr; attributes shape = (m, d)
and encoding-type = "csr_matrix"; see dztest.make_csr).  A CSR file trains, predicts and
evaluates like the dense file of the same matrix: w, b, the loss history and metrics.csv's test
columns agree to 1e-13 relative (not bitwise: the dense kernel sums a row's dot product in 8
lanes, the sparse one in index order), and the results meet independent numpy / scikit-learn
references:

 (a) sparse vs dense, and vs the references
     - breast cancer (configs/data, standardised, |x| < 0.5 zeroed: ~41 % zeros; the test set
       the same way) and a random 600 x 40 matrix, 30 % non-zeros, 10 % empty rows (scale 2):
       gd + l2 for 300 iterations (and the exact numpy float64 GD iterates to 1e-12); newton +
       l2 to tolerance 1e-9 (and J <= J*(1 + 1e-9), J* the least of scikit-learn's
       newton-cholesky and lbfgs on the same objective, C = 1/l2); lbfgs + l2 for 12
       iterations, and lbfgs to tolerance 1e-10 (CSR only) against J*.  L-BFGS run to its
       tolerance is too sensitive to rounding for 1e-13: a 1-ulp change of the dense data
       moved its stalled point by 2e-8 relative, and the breast-cancer CSR and dense paths
       differ by 4e-14 after 15 iterations, 3e-16 after 12.  On the random matrix also OWL-QN
       (l1, 12 iterations), momentum (Nesterov, l1 + l2), sgd with decay and adam on
       mini-batches of fixed block_rows (the CSR runs at 2 ranks);
     - softmax on scikit-learn's digits (uint8, ~49 % zeros, scale 16) as CSR with uint8 data
       vs the shipped dense file: gd (with the test set; and numpy's softmax GD to 1e-12) and
       lbfgs + l2 for 12 iterations.
 (b) predict and evaluate on CSR test files give the dense files' outputs (proba to 1e-13,
     labels exactly, every evaluate number to 1e-13), predict's proba equals numpy's to 1e-13,
     and predict on CSR gives the same bytes at 1 and 2 ranks.
 (c) input types: float32 data + int64 indices + int32 indptr; int16 data + uint16 indices +
     uint32 indptr (scale 10); uint8 data + int8 indices + uint16 indptr; int32 data (held as
     float64); float64 data with [data] dtype = float32; explicit zeros in data with d larger
     than any column used (the unused columns' weights stay 0): each equals its dense twin.
 (d) no hang: every run ends within TIMEOUT seconds (the job is killed otherwise).
Runs go 2 at a time in the background.  Run with /usr/bin/python3 (numpy, scipy, h5py, sklearn).
"""
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

import dztest

try:
    from scipy.special import expit, logsumexp
    from sklearn.linear_model import LogisticRegression
except ImportError as ex:  # Debian: python3-scipy, python3-sklearn
    print("skipped: %s" % ex)
    sys.exit(dztest.SKIP)

T0 = time.time()
c = dztest.Checker("sparse")
W = dztest.workdir("sparse")
DATA = os.path.join(dztest.SOURCE, "configs", "data")
TIMEOUT = 60  # seconds per run; a run still going then is a hang
TOL = 1e-13   # sparse vs dense
POOL = ThreadPoolExecutor(max_workers=2)
RUNS = []     # (name, seconds, timed out)


rel, relew = dztest.rel, dztest.relew


def path(name):
    return os.path.join(W, name)


# ---- running ------------------------------------------------------------------------------

def mpirun(name, args, n=1, t=2):
    """The trainer under mpirun in its own session; (exit code or None on a hang, out, err)."""
    e = dict(os.environ, OMP_NUM_THREADS=str(t), OMP_WAIT_POLICY="passive")
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS",
           "-x", "OMP_WAIT_POLICY", dztest.TRAINER] + list(args)
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=e, cwd=W, start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = None
    RUNS.append((name, time.time() - t0, rc is None))
    c.check(rc is not None, "%s: no exit within %d s (killed): %s" % (name, TIMEOUT, cmd))
    return rc, out, err


def _train(name, sections, n, t):
    d = path(name)
    os.makedirs(d)
    cfg = dztest.write_config(os.path.join(d, "c.ini"), sections)
    return d, mpirun(name, ["--quiet", cfg], n, t)


def train(name, data, train, model=None, n=1, t=2):
    """Start a training run in the background; result() collects it."""
    secs = {"data": dict(data), "train": dict(train)}
    if model:
        secs["model"] = dict(model)
    return name, POOL.submit(_train, name, secs, n, t)


def result(job):
    """dict(w, b, attrs, it, loss, test columns), or None when the run failed."""
    name, fut = job
    d, (rc, out, err) = fut.result()
    if not c.check(rc == 0, "%s: exit %s: %s" % (name, rc, (out + err)[-1500:])):
        return None
    wv, b, attrs = dztest.read_model(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "metrics.csv")) as f:
        header = f.readline().strip().split(",")
        rows = [l.strip().split(",") for l in f]
    col = {k: i for i, k in enumerate(header)}
    r = {"name": name, "w": np.asarray(wv, np.float64), "b": np.asarray(b, np.float64),
         "attrs": attrs, "it": [int(x[0]) for x in rows],
         "loss": np.array([float(x[1]) for x in rows])}
    if "test_loss" in col:
        r["test_loss"] = np.array([float(x[col["test_loss"]]) for x in rows])
        r["test_acc"] = [x[col["test_accuracy"]] for x in rows]
    return r


def params(r):
    return np.append(np.ravel(r["w"]), np.ravel(r["b"]))


def attr(r, k):
    v = r["attrs"].get(k)
    return v.decode() if isinstance(v, bytes) else v


def same(name, sp, de, tol=TOL):
    """A CSR run against its dense twin: parameters, loss history, test columns, stop."""
    if sp is None or de is None:
        return
    e_p = rel(params(sp), params(de))
    e_l = relew(sp["loss"], de["loss"]) if sp["it"] == de["it"] else np.inf
    c.check(e_p <= tol, "%s: CSR w, b differ from dense by %.3g relative (> %g)" % (name, e_p, tol))
    c.check(e_l <= tol, "%s: CSR loss history differs from dense: %.3g relative, logged at %s vs %s"
            % (name, e_l, sp["it"][:8], de["it"][:8]))
    c.check(attr(sp, "iterations") == attr(de, "iterations") and
            attr(sp, "stop_reason") == attr(de, "stop_reason"),
            "%s: CSR stopped after %s (%s), dense after %s (%s)" % (
                name, attr(sp, "iterations"), attr(sp, "stop_reason"), attr(de, "iterations"),
                attr(de, "stop_reason")))
    c.check(("test_loss" in sp) == ("test_loss" in de), "%s: test columns in one metrics.csv only"
            % name)
    e_t = 0.0
    if "test_loss" in sp and "test_loss" in de:
        e_t = relew(sp["test_loss"], de["test_loss"])
        c.check(e_t <= tol and sp["test_acc"] == de["test_acc"],
                "%s: CSR test_loss differs by %.3g relative or test_accuracy differs" % (name, e_t))
    print("%-20s CSR vs dense: w, b %.2g, losses %.2g, test_loss %.2g (%s iterations, %s)"
          % (name, e_p, e_l, e_t, attr(sp, "iterations"), attr(sp, "stop_reason")))


# ---- independent references -----------------------------------------------------------------

class Prob:
    """The binary objective of include/dz/objective.h on dense X (raw) / scale."""

    def __init__(self, X, y, scale=1.0, l2=0.0, l1=0.0):
        self.X = np.asarray(X, np.float64) / scale
        self.y = np.asarray(y, np.float64)
        self.m = len(self.y)
        self.l2, self.l1 = l2, l1

    def J(self, p):
        w, b = p[:-1], p[-1]
        z = self.X @ w + b
        return (np.mean(np.logaddexp(0.0, z) - self.y * z) + self.l2 / (2 * self.m) * (w @ w)
                + self.l1 / self.m * np.sum(np.abs(w)))

    def gd(self, lr, iters, log_every):
        """The exact float64 gradient-descent iterates from 0; (p, logged J)."""
        p, losses = np.zeros(self.X.shape[1] + 1), []
        for i in range(iters):
            if i % log_every == 0:
                losses.append(self.J(p))
            r = expit(self.X @ p[:-1] + p[-1]) - self.y
            g = np.append(self.X.T @ r / self.m + self.l2 / self.m * p[:-1], np.mean(r))
            p = p - lr * g
        return p, np.array(losses)

    def jstar(self):
        """The least J of scikit-learn's newton-cholesky and lbfgs (C = 1/l2)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = [LogisticRegression(C=1 / self.l2, solver=s, tol=1e-12, max_iter=100000).fit(
                self.X, self.y) for s in ("newton-cholesky", "lbfgs")]
        return min(self.J(np.append(e.coef_.ravel(), e.intercept_[0])) for e in est)


def softmax_gd(X, y, K, scale, lr, iters, log_every):
    """numpy float64 softmax GD from W = 0, b = 0; (W, b, logged J)."""
    X = np.asarray(X, np.float64) / scale
    m = len(y)
    Y = np.eye(K)[np.asarray(y, np.int64)]
    Wm, b, losses = np.zeros((K, X.shape[1])), np.zeros(K), []
    for i in range(iters):
        Z = X @ Wm.T + b
        lse = logsumexp(Z, axis=1)
        if i % log_every == 0:
            losses.append(np.mean(lse - Z[np.arange(m), np.asarray(y, np.int64)]))
        G = np.exp(Z - lse[:, None]) - Y
        Wm, b = Wm - lr * (G.T @ X) / m, b - lr * G.mean(0)
    return Wm, b, np.array(losses)


def check_gd_oracle(name, r, P, lr, iters, log_every):
    if r is None:
        return
    p, losses = P.gd(lr, iters, log_every)
    e_p, e_l = rel(params(r), p), relew(r["loss"], losses)
    c.check(e_p <= 1e-12 and e_l <= 1e-12, "%s vs numpy GD: w, b %.3g, losses %.3g (> 1e-12)"
            % (name, e_p, e_l))
    print("%-20s vs numpy GD: w, b %.2g, losses %.2g" % (name, e_p, e_l))


def check_optimum(name, r, P, Jstar):
    if r is None:
        return
    J = P.J(params(r))
    c.check(J <= Jstar * (1 + 1e-9), "%s: J = %.17g > J*(1 + 1e-9), J* = %.17g" % (name, J, Jstar))
    c.check(attr(r, "stop_reason") in ("converged", "stalled"), "%s: stop_reason %s"
            % (name, attr(r, "stop_reason")))
    print("%-20s J = %.17g, J* (sklearn) = %.17g, gap %.2g, %s after %s" % (
        name, J, Jstar, (J - Jstar) / Jstar, attr(r, "stop_reason"), attr(r, "iterations")))


# ---- data ---------------------------------------------------------------------------------

def pair(name, X, y, data_dtype="float64", **csr):
    """The dense file (x, y) of X stored as data_dtype and its CSR twin; (dense path, CSR path,
    stored values as float64)."""
    dense, sparse = path(name + "_dense.h5"), path(name + "_csr.h5")
    Xs, _ = dztest.make_csr(sparse, X, y, data_dtype=data_dtype, **csr)
    with h5py.File(dense, "w") as f:
        f.create_dataset("x", data=np.asarray(X).astype(data_dtype))
        f.create_dataset("y", data=y)
    return dense, sparse, Xs


def dataset(h5, test=None, **kw):
    d = {"train": h5, "train_x": "x", "train_y": "y"}
    if test:
        d.update(test=test, test_x="x", test_y="y")
    d.update(kw)
    return d


# Breast cancer: standardised float32, |x| < 0.5 zeroed, stored as float64.
def bc(split):
    with h5py.File(os.path.join(DATA, "breast_cancer_%s.h5" % split), "r") as f:
        X, y = f["x"][...].astype(np.float64), f["y"][...]
    X[np.abs(X) < 0.5] = 0.0
    return X, y


Xb, yb = bc("train")
Xbt, ybt = bc("test")
bc_d, bc_s, _ = pair("bc", Xb, yb)
bct_d, bct_s, _ = pair("bc_test", Xbt, ybt)

# Random: 600 x 40, 30 % non-zeros, 10 % empty rows (two of them in a run at the end)
rng = np.random.default_rng(42)
Xr = rng.standard_normal((600, 40)) * (rng.random((600, 40)) < 0.3)
Xr[rng.choice(598, 58, replace=False)] = 0.0
Xr[598:] = 0.0
yr = (rng.random(600) < expit(Xr @ rng.standard_normal(40) / 2 + 0.3)).astype(np.uint8)
rn_d, rn_s, _ = pair("rnd", Xr, yr)
print("data: breast %d x %d, %.0f %% zeros; random %d x %d, %.0f %% zeros, %d empty rows"
      % (Xb.shape + (100 * np.mean(Xb == 0),) + Xr.shape + (100 * np.mean(Xr == 0),
                                                              int(np.sum(~Xr.any(1))))))

# Digits: the shipped dense uint8 files and their CSR twins (uint8 data)
dg_d, dgt_d = os.path.join(DATA, "digits_train.h5"), os.path.join(DATA, "digits_test.h5")
with h5py.File(dg_d, "r") as f:
    Xd, yd = f["x"][...], f["y"][...]
with h5py.File(dgt_d, "r") as f:
    Xdt, ydt = f["x"][...], f["y"][...]
dg_s, dgt_s = path("digits_csr.h5"), path("digits_test_csr.h5")
dztest.make_csr(dg_s, Xd, yd, data_dtype="uint8")
dztest.make_csr(dgt_s, Xdt, ydt, data_dtype="uint8")

# ---- (a) training runs, launched up front -------------------------------------------------

J = {}  # name -> job
GD_BC = dict(optimizer="gd", learning_rate=0.5, l2=1.0, iterations=300, log_every=10)
GD_RN = dict(optimizer="gd", learning_rate=1.0, l2=0.5, iterations=300, log_every=25)
LB12 = dict(optimizer="lbfgs", l2=1.0, iterations=12, log_every=1)
LBOPT = dict(optimizer="lbfgs", l2=1.0, tolerance=1e-10, iterations=500, log_every=50)
NEWTON = dict(optimizer="newton", l2=1.0, tolerance=1e-9, iterations=100, log_every=1)
for tag, dense, sparse, extra in (("dense", bc_d, None, {}), ("csr", None, bc_s, {})):
    h5 = dense or sparse
    test = bct_d if dense else bct_s
    J["bc_gd_" + tag] = train("bc_gd_" + tag, dataset(h5, test), GD_BC)
    J["bc_lbfgs12_" + tag] = train("bc_lbfgs12_" + tag, dataset(h5, test), LB12)
    J["bc_newton_" + tag] = train("bc_newton_" + tag, dataset(h5), NEWTON)
J["bc_lbfgs_opt_csr"] = train("bc_lbfgs_opt_csr", dataset(bc_s), LBOPT)

FIRST = {  # first-order runs on mini-batches and l1 on the random matrix (block_rows fixed)
    "sgd_batch": dict(optimizer="sgd", learning_rate=0.2, decay=0.01, batch_size=32, seed=7,
                      iterations=60, log_every=5, block_rows=16),
    "momentum_l1": dict(optimizer="momentum", learning_rate=0.05, nesterov="true", l1=0.5,
                        l2=0.1, iterations=60, log_every=7, block_rows=16),
    "adam_batch": dict(optimizer="adam", learning_rate=0.01, batch_size=48, iterations=60,
                       log_every=6, block_rows=16),
    "owlqn_l1": dict(optimizer="lbfgs", l1=1.0, iterations=12, log_every=1),
}
for tag, h5 in (("dense", rn_d), ("csr", rn_s)):
    J["rnd_gd_" + tag] = train("rnd_gd_" + tag, dataset(h5, scale=2), GD_RN)
    J["rnd_lbfgs12_" + tag] = train("rnd_lbfgs12_" + tag, dataset(h5), LB12)
    J["rnd_newton_" + tag] = train("rnd_newton_" + tag, dataset(h5), NEWTON)
    for k, tr in FIRST.items():
        n, t = (2, 1) if tag == "csr" and "batch" in k else (1, 2)
        J["rnd_%s_%s" % (k, tag)] = train("rnd_%s_%s" % (k, tag), dataset(h5), tr, n=n, t=t)
J["rnd_lbfgs_opt_csr"] = train("rnd_lbfgs_opt_csr", dataset(rn_s), LBOPT)

SOFTMAX = {"type": "softmax"}
SM_GD = dict(optimizer="gd", learning_rate=0.5, iterations=100, log_every=10)
for tag, h5, test in (("dense", dg_d, dgt_d), ("csr", dg_s, dgt_s)):
    J["dg_gd_" + tag] = train("dg_gd_" + tag, dataset(h5, test, scale=16), SM_GD, SOFTMAX)
    J["dg_lbfgs12_" + tag] = train("dg_lbfgs12_" + tag, dataset(h5, scale=16), LB12, SOFTMAX)

# ---- (c) input types: each CSR file against its dense twin --------------------------------

rng = np.random.default_rng(7)
mask = rng.random((300, 25)) < 0.3
mask[::13] = False  # some empty rows
yt = rng.integers(0, 2, 300).astype(np.uint8)
GD_T = dict(optimizer="gd", learning_rate=0.5, l2=0.5, iterations=100, log_every=10)
TYPES = []  # (name, dense data, CSR data, extra [data] keys)
Xf = rng.standard_normal((300, 25)) * mask
d_, s_, _ = pair("t_f32", Xf, yt, "float32", idx_dtype="int64", ptr_dtype="int32")
TYPES.append(("f32_i64_i32", d_, s_, {}))
Xi = rng.integers(-50, 51, (300, 25)) * mask
d_, s_, _ = pair("t_i16", Xi, yt, "int16", idx_dtype="uint16", ptr_dtype="uint32")
TYPES.append(("i16_u16_u32", d_, s_, {"scale": 10}))
Xu = rng.integers(1, 256, (300, 25)) * mask
d_, s_, _ = pair("t_u8", Xu, yt, "uint8", idx_dtype="int8", ptr_dtype="uint16")
TYPES.append(("u8_i8_u16", d_, s_, {"scale": 255}))
d_, s_, _ = pair("t_i32", Xi * 1000003, yt, "int32")
TYPES.append(("i32_as_f64", d_, s_, {"scale": 5e7}))
Xg = rng.standard_normal((300, 25)) * mask / 3
d_, s_, _ = pair("t_f64_as_f32", Xg, yt)
TYPES.append(("f64_dtype_f32", d_, s_, {"dtype": "float32"}))
# explicit zeros (every tenth stored value) and d = 32 > the largest column used (24)
rows, cols = np.nonzero(mask)
vals = np.round(rng.standard_normal(len(rows)), 3)
vals[::10] = 0.0


class _Csr:  # what make_csr reads of a scipy CSR matrix
    def __init__(self, data, indices, indptr, shape):
        self.data, self.indices, self.indptr, self.shape = data, indices, indptr, shape


wide = _Csr(vals, cols, np.concatenate([[0], np.cumsum(mask.sum(1))]), (300, 32))
s_ = path("t_zeros_csr.h5")
Xz, _ = dztest.make_csr(s_, wide, yt)
d_ = path("t_zeros_dense.h5")
with h5py.File(d_, "w") as f:
    f.create_dataset("x", data=Xz)
    f.create_dataset("y", data=yt)
TYPES.append(("zeros_wide", d_, s_, {}))
for name, d_, s_, kw in TYPES:
    J["t_%s_dense" % name] = train("t_%s_dense" % name, dataset(d_, **kw), GD_T)
    J["t_%s_csr" % name] = train("t_%s_csr" % name, dataset(s_, **kw), GD_T)

# ---- (a) results ---------------------------------------------------------------------------

R = {k: result(j) for k, j in J.items()}
print("-- (a) breast cancer, sparsified")
for k in ("bc_gd", "bc_lbfgs12", "bc_newton"):
    same(k, R[k + "_csr"], R[k + "_dense"])
Pb = Prob(Xb, yb, l2=1.0)
check_gd_oracle("bc_gd_csr", R["bc_gd_csr"], Pb, 0.5, 300, 10)
Jb = Pb.jstar()
check_optimum("bc_newton_csr", R["bc_newton_csr"], Pb, Jb)
check_optimum("bc_lbfgs_opt_csr", R["bc_lbfgs_opt_csr"], Pb, Jb)

print("-- (a) random 600 x 40, 30 % non-zeros, empty rows")
for k in ["rnd_gd", "rnd_lbfgs12", "rnd_newton"] + ["rnd_" + f for f in FIRST]:
    same(k, R[k + "_csr"], R[k + "_dense"])
check_gd_oracle("rnd_gd_csr", R["rnd_gd_csr"], Prob(Xr, yr, 2.0, l2=0.5), 1.0, 300, 25)
Pr = Prob(Xr, yr, l2=1.0)
Jr = Pr.jstar()
check_optimum("rnd_newton_csr", R["rnd_newton_csr"], Pr, Jr)
check_optimum("rnd_lbfgs_opt_csr", R["rnd_lbfgs_opt_csr"], Pr, Jr)

print("-- (a) softmax, digits as CSR (uint8 data)")
same("dg_gd", R["dg_gd_csr"], R["dg_gd_dense"])
same("dg_lbfgs12", R["dg_lbfgs12_csr"], R["dg_lbfgs12_dense"])
r = R["dg_gd_csr"]
if r is not None:
    Wn, bn, ln = softmax_gd(Xd, yd, 10, 16.0, 0.5, 100, 10)
    e_p, e_l = rel(params(r), np.append(Wn.ravel(), bn)), relew(r["loss"], ln)
    c.check(e_p <= 1e-12 and e_l <= 1e-12, "dg_gd_csr vs numpy softmax GD: W, b %.3g, losses %.3g"
            % (e_p, e_l))
    print("%-20s vs numpy softmax GD: W, b %.2g, losses %.2g" % ("dg_gd_csr", e_p, e_l))

print("-- (c) input types")
for name, _, _, _ in TYPES:
    same("t_" + name, R["t_%s_csr" % name], R["t_%s_dense" % name])
r = R["t_zeros_wide_csr"]
if r is not None:
    c.check(not np.any(r["w"][25:]), "zeros_wide: the unused columns' weights are not 0: %s"
            % r["w"][25:])

# ---- (b) predict and evaluate on CSR files --------------------------------------------------

print("-- (b) predict and evaluate")


def read_pred(p):
    with h5py.File(p, "r") as f:
        return np.array(f["proba"][...]), np.array(f["label"][...])


def numbers(js, prefix=""):
    """Every number in evaluate's JSON, by its path."""
    out = {}
    if isinstance(js, dict):
        for k, v in js.items():
            out.update(numbers(v, prefix + "/" + k))
    elif isinstance(js, list):
        for i, v in enumerate(js):
            out.update(numbers(v, "%s[%d]" % (prefix, i)))
    elif isinstance(js, (int, float)) and not isinstance(js, bool):
        out[prefix] = float(js)
    return out


def scoring(name, model, dense, sparse, X, K=0, scale=1.0):
    wv, b, _ = dztest.read_model(model)
    Z = np.asarray(X, np.float64) / scale @ (wv.T if K else wv) + b
    P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True)) if K else expit(Z)
    pred = {}
    for tag, h5, n in (("dense", dense, 1), ("csr", sparse, 1), ("csr_n2", sparse, 2)):
        out = path("%s_%s_pred.h5" % (name, tag))
        rc, so, err = mpirun("%s predict %s" % (name, tag), ["predict", "--model", model, "--data",
                             h5, "--x", "x", "--out", out], n=n, t=1)
        if c.check(rc == 0, "%s predict on %s at N=%d: exit %s %s" % (name, h5, n, rc, err[-1000:])):
            pred[tag] = read_pred(out)
    if len(pred) == 3:
        (pd, ld), (ps, ls), (p2, l2) = pred["dense"], pred["csr"], pred["csr_n2"]
        e = float(np.max(np.abs(ps - pd))) if ps.shape == pd.shape else np.inf
        e_np = float(np.max(np.abs(ps - P))) if ps.shape == P.shape else np.inf
        c.check(e <= TOL and np.array_equal(ls, ld), "%s: predict on CSR vs dense: proba %.3g, "
                "%d labels differ" % (name, e, int(np.sum(ls != ld)) if ls.shape == ld.shape else -1))
        c.check(e_np <= TOL, "%s: predict on CSR vs numpy: proba %.3g" % (name, e_np))
        c.check(ps.tobytes() == p2.tobytes() and ls.tobytes() == l2.tobytes(),
                "%s: predict on CSR: N=2 gives other bytes than N=1" % name)
        print("%-20s predict CSR vs dense: proba %.2g, vs numpy %.2g; labels equal: %s"
              % (name, e, e_np, np.array_equal(ls, ld)))
    ev = {}
    for tag, h5 in (("dense", dense), ("csr", sparse)):
        js = path("%s_%s.json" % (name, tag))
        rc, so, err = mpirun("%s evaluate %s" % (name, tag), ["evaluate", "--model", model, "--data",
                             h5, "--x", "x", "--y", "y", "--json", js], t=1)
        if c.check(rc == 0, "%s evaluate on %s: exit %s %s" % (name, h5, rc, err[-1000:])):
            ev[tag] = numbers(json.load(open(js)))
    if len(ev) == 2:
        ks = sorted(set(ev["dense"]) | set(ev["csr"]))
        bad = [k for k in ks if k not in ev["dense"] or k not in ev["csr"] or
               abs(ev["csr"][k] - ev["dense"][k]) > TOL * max(abs(ev["dense"][k]), abs(ev["csr"][k]))]
        c.check(not bad, "%s: evaluate on CSR differs from dense in %s" % (
            name, ["%s: %r vs %r" % (k, ev["csr"].get(k), ev["dense"].get(k)) for k in bad[:6]]))
        print("%-20s evaluate CSR vs dense: %d numbers, %d differ by more than %g" % (
            name, len(ks), len(bad), TOL))


if R["bc_newton_csr"] is not None:
    scoring("bc_newton", os.path.join(W, "bc_newton_csr", "model.h5"), bct_d, bct_s, Xbt)
if R["dg_gd_csr"] is not None:
    scoring("dg_gd", os.path.join(W, "dg_gd_csr", "model.h5"), dgt_d, dgt_s, Xdt, K=10, scale=16.0)

# ---- (d) no hang -------------------------------------------------------------------------------

POOL.shutdown()
hung = [n for n, s, h in RUNS if h]
c.check(not hung, "runs that hung: %s" % hung)
slow = max(RUNS, key=lambda x: x[1])
print("sparse: %d runs, none hung (%s), the longest %.1f s (%s); %.1f s wall" % (
    len(RUNS), "limit %d s" % TIMEOUT if not hung else "HUNG: %s" % hung, slow[1], slow[0],
    time.time() - T0))
c.finish()
