"""[data] standardize = true: training on (x/scale − μ)/σ without a copy of the data.

Independent checks, from the specification (include/dz/standardize.h, README):
 1. μ and σ in model.h5 equal the correctly rounded moments (math.fsum; 2e-16 and 1e-15
    relative: a few roundings of both) and scikit-learn's StandardScaler (population std, a constant feature gets 1)
    to 1e-13, on the raw breast-cancer data (scale 2 as well) and on
    raw digits (constant pixels: the note names how many);
 2. the optimum: lbfgs and newton at l2 ∈ {1, 0.01} reach J <= J*(1 + 1e-9), J* = our
    objective at scikit-learn's StandardScaler + LogisticRegression pipeline (newton-cholesky,
    tol 1e-12; C = 1/l2 with the mean loss scaled by m), binary and softmax (digits);
 3. w_original, b_original score raw rows exactly as w, b score standardised ones (1e-12),
    and `predict` gives the pipeline's predict_proba with our coefficients (1e-12);
 4. the same bits for 1 × 1, 2 × 1 and 3 × 2 (gd and newton), dense and CSR; CSR and dense
    storage agree to 1e-12; a checkpointed lbfgs run resumed at another N × T equals the
    uninterrupted one; the config hash differs from the unstandardised run's;
 5. `standardize = maybe` is a config error (exit 2).
Run with /usr/bin/python3 (numpy, h5py, sklearn)."""
import math
import os
import re
import sys
import warnings

import h5py
import numpy as np

import dztest

try:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
except ImportError as ex:  # Debian: python3-sklearn
    print("skipped: %s" % ex)
    sys.exit(dztest.SKIP)

c = dztest.Checker("standardize")
W = dztest.workdir("standardize")
ENV = {"OMP_WAIT_POLICY": "passive"}

Xb, yb = load_breast_cancer(return_X_y=True)
Xd, yd = load_digits(return_X_y=True)
with h5py.File(os.path.join(W, "bc.h5"), "w") as f:
    f["x"], f["y"] = Xb, yb.astype(np.uint8)
with h5py.File(os.path.join(W, "digits.h5"), "w") as f:
    f["x"], f["y"] = Xd.astype(np.uint8), yd.astype(np.int32)
Xs = Xb.copy()
Xs[Xs < np.median(Xs, axis=0)] = 0  # half zeros: a CSR set and its dense twin
dztest.make_csr(os.path.join(W, "csr.h5"), Xs, yb)
with h5py.File(os.path.join(W, "twin.h5"), "w") as f:
    f["x"], f["y"] = Xs, yb.astype(np.uint8)


def run(name, data, n=1, t=1, model="logistic", extra=None, args=(), ckpt=None):
    """Train with standardize = true; returns (rc, stdout, stderr, model path, metrics path)."""
    d = os.path.join(W, name)
    os.makedirs(d, exist_ok=True)
    s = {"data": {"train": os.path.join(W, data), "train_x": "x", "train_y": "y",
                  "standardize": "true"},
         "model": {"type": model}, "train": {"iterations": 200, "log_every": 1},
         "output": {"model": os.path.join(d, "model.h5"), "metrics": os.path.join(d, "m.csv")}}
    for sec, kv in (extra or {}).items():
        s.setdefault(sec, {}).update(kv)
    if ckpt:
        s["checkpoint"] = {"file": ckpt[0], "every": ckpt[1]}
    cfg = dztest.write_config(os.path.join(d, "c.ini"), s)
    rc, out, err, _ = dztest.mpirun(n, t, [cfg] + list(args), env=ENV)
    return rc, out, err, os.path.join(d, "model.h5"), os.path.join(d, "m.csv")


def J_ours(Z, y, w, b, l2, K=0):
    """Our objective in standardised units: mean loss + l2/(2m)‖w‖²."""
    m = len(y)
    if K:
        z = Z @ w.T + b
        zm = z.max(axis=1, keepdims=True)
        lse = (zm[:, 0] + np.log(np.exp(z - zm).sum(axis=1)))
        return np.mean(lse - z[np.arange(m), y]) + l2 / (2 * m) * np.sum(w * w)
    z = Z @ w + b
    return np.mean(np.logaddexp(0, z) - y * z) + l2 / (2 * m) * (w @ w)


def pipeline_optimum(Z, y, l2, K=0):
    """J* at scikit-learn's optimum of the same objective (C = 1/l2: sklearn minimises
    C·Σ loss + ½‖w‖² = (m/l2)·J)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lr = LogisticRegression(C=1.0 / l2, tol=1e-12, max_iter=100000,
                                solver="newton-cholesky" if not K else "lbfgs").fit(Z, y)
    w = lr.coef_ if K else lr.coef_[0]
    b = lr.intercept_ if K else lr.intercept_[0]
    return J_ours(Z, y, w, b, l2, K)


def exact_moments(X):
    """Mean and population std per column, each sum correctly rounded (math.fsum; the mean
    rounded once, then the squared deviations from it), constant columns given std 1."""
    mu = np.array([math.fsum(col) / len(col) for col in X.T])
    sd = np.array([math.sqrt(math.fsum((col - m) ** 2) / len(col)) for col, m in zip(X.T, mu)])
    return mu, np.where(sd > 0, sd, 1.0)


# 1 + 2: moments and the optimum, binary (scale 1 and 2) and softmax
for data, X, y, K, scale in (("bc.h5", Xb, yb, 0, 1.0), ("bc.h5", Xb, yb, 0, 2.0),
                             ("digits.h5", Xd, yd, 10, 1.0)):
    sc = StandardScaler().fit(X / scale)
    Z = sc.transform(X / scale)
    for l2 in (1.0, 0.01):
        Jstar = pipeline_optimum(Z, y, l2, K)
        for opt in ("lbfgs", "newton"):
            name = "opt_%s_%s_%g_%g" % (data[:-3], opt, l2, scale)
            rc, out, err, mp, _ = run(name, data, 2, 1, "softmax" if K else "logistic",
                                      {"data": {"scale": scale},
                                       "train": {"optimizer": opt, "l2": l2, "tolerance": 1e-10,
                                                 "iterations": 500}})
            if not c.check(rc == 0, "%s: exit %d %s" % (name, rc, err[-800:])):
                continue
            with h5py.File(mp, "r") as f:
                mu, sd = f["mean"][...], f["std"][...]
                w, b = (f["W"][...], f["b"][...]) if K else (f["w"][...], f["b"][()])
                wo, bo = (f["W_original"][...], f["b_original"][...]) if K else \
                    (f["w_original"][...], f["b_original"][()])
            mu_x, sd_x = exact_moments(X / scale)
            c.check(dztest.relew(mu[mu_x != 0], mu_x[mu_x != 0]) <= 2e-16 and
                    np.all(mu[mu_x == 0] == 0) and dztest.relew(sd, sd_x) <= 1e-15,
                    "%s: mean/std against exact (fsum) moments: %g %g" % (
                        name, dztest.relew(mu[mu_x != 0], mu_x[mu_x != 0]), dztest.relew(sd, sd_x)))
            c.check(dztest.relew(mu[sc.mean_ != 0], sc.mean_[sc.mean_ != 0]) <= 1e-13 and
                    dztest.relew(sd, sc.scale_) <= 1e-13,
                    "%s: mean/std against StandardScaler: %g %g" % (
                        name, dztest.relew(mu[sc.mean_ != 0], sc.mean_[sc.mean_ != 0]),
                        dztest.relew(sd, sc.scale_)))
            Jo = J_ours(Z, y, w, b, l2, K)
            c.check(Jo <= Jstar * (1 + 1e-9), "%s: J %.17g > J* %.17g (1 + %.2g)" % (
                name, Jo, Jstar, Jo / Jstar - 1))
            raw = (X / scale) @ (wo.T if K else wo) + bo
            std = Z @ (w.T if K else w) + b
            c.check(dztest.rel(raw, std) <= 1e-12, "%s: w_original scores raw rows as w scores "
                    "standardised ones: %g" % (name, dztest.rel(raw, std)))
            nconst = int(np.sum(X.std(axis=0) == 0))
            note = re.search(r"note: (\d+) of %d features are constant" % X.shape[1], err)
            c.check((nconst == 0 and not note) or (note and int(note.group(1)) == nconst),
                    "%s: the constant-feature note (%d constant): %r" % (name, nconst, err[-300:]))

# 3. predict applies the standardisation: the pipeline's predict_proba with our coefficients
rc, out, err, mp, _ = run("pred", "bc.h5", 1, 1, extra={"train": {"optimizer": "newton", "l2": 1}})
pp = os.path.join(W, "pred", "pred.h5")
rc2, out2, err2, _ = dztest.mpirun(2, 1, ["predict", "--model", mp, "--data",
                                          os.path.join(W, "bc.h5"), "--x", "x", "--out", pp])
if c.check(rc == 0 and rc2 == 0, "predict: exit %d/%d %s" % (rc, rc2, (err + err2)[-600:])):
    with h5py.File(mp, "r") as f:
        lr = LogisticRegression()
        lr.classes_, lr.coef_, lr.intercept_ = np.array([0, 1]), f["w"][...][None, :], \
            np.array([f["b"][()]])
    sc = StandardScaler().fit(Xb)
    want = lr.predict_proba(sc.transform(Xb))[:, 1]
    with h5py.File(pp, "r") as f:
        got = f["proba"][...]
    c.check(dztest.rel(got, want) <= 1e-12, "predict = pipeline predict_proba: %g" %
            dztest.rel(got, want))

# 4. bits over N x T, dense and CSR; CSR = dense; resume; the config hash
for data in ("twin.h5", "csr.h5"):
    for opt in ("gd", "newton"):
        # newton: 3 iterations, before the optimum's flat floor (where rounding decides)
        ex = {"train": {"optimizer": opt, "l2": 0.1, "iterations": 40 if opt == "gd" else 3}}
        if opt == "gd":
            ex["train"]["learning_rate"] = 0.5
        digests = set()
        for n, t in ((1, 1), (2, 1), (3, 2)):
            name = "bits_%s_%s_%dx%d" % (data[:-3], opt, n, t)
            rc, out, err, mp, mc = run(name, data, n, t, extra=ex)
            if c.check(rc == 0, "%s: exit %d %s" % (name, rc, err[-600:])):
                digests.add(dztest.result_digest(mp, mc))
        c.check(len(digests) == 1, "%s %s: %d different results over N x T" % (
            data, opt, len(digests)))
for opt in ("gd", "newton"):
    a = dztest.read_model(os.path.join(W, "bits_twin_%s_1x1" % opt, "model.h5"))
    b = dztest.read_model(os.path.join(W, "bits_csr_%s_1x1" % opt, "model.h5"))
    c.check(dztest.rel(a[0], b[0]) <= 1e-12 and dztest.rel(a[1], b[1]) <= 1e-12,
            "%s: CSR = dense to 1e-12: %g %g" % (opt, dztest.rel(a[0], b[0]), dztest.rel(a[1], b[1])))
ck = os.path.join(W, "ck.h5")
ex = {"train": {"optimizer": "lbfgs", "l2": 0.01, "iterations": 30}}
rc, _, err, ref_m, ref_c = run("ref", "bc.h5", 2, 1, extra=ex)
rc1, _, err1, _, _ = run("first", "bc.h5", 1, 1, extra=ex, ckpt=(ck, 12))  # the last: 24
at = dztest.ckpt_iteration(ck)
rc2, _, err2, res_m, res_c = run("resumed", "bc.h5", 3, 2, extra=ex, args=["--resume"], ckpt=(ck, 12))
if c.check(rc == 0 and rc1 == 0 and rc2 == 0 and at == 24, "resume: exits %d %d %d, checkpoint "
           "at %d %s" % (rc, rc1, rc2, at, (err + err1 + err2)[-800:])):
    c.check(dztest.result_digest(ref_m, ref_c) == dztest.result_digest(res_m, res_c),
            "resume: lbfgs resumed at 3x2 from iteration 24 differs from the uninterrupted run")
plain = os.path.join(W, "plain")
os.makedirs(plain, exist_ok=True)
cfg = dztest.write_config(os.path.join(plain, "c.ini"), {
    "data": {"train": os.path.join(W, "bc.h5"), "train_x": "x", "train_y": "y"},
    "train": {"optimizer": "lbfgs", "l2": 0.01, "iterations": 30},
    "output": {"model": os.path.join(plain, "model.h5"), "metrics": os.path.join(plain, "m.csv")}})
rc, _, err, _ = dztest.mpirun(1, 1, [cfg, "--quiet"], env=ENV)
if c.check(rc == 0, "plain: exit %d %s" % (rc, err[-400:])):
    ha = dztest.read_model(ref_m)[2]["config_hash"]
    hb = dztest.read_model(os.path.join(plain, "model.h5"))[2]["config_hash"]
    with h5py.File(os.path.join(plain, "model.h5"), "r") as f:
        c.check(ha != hb and "mean" not in f and "w_original" not in f,
                "the standardised run has its own config hash (%x vs %x); a plain model has no "
                "mean or w_original" % (ha, hb))

# 5. a bad value
rc, out, err, _, _ = run("bad", "bc.h5", 1, 1, extra={"data": {"standardize": "maybe"}})
c.check(rc == 2 and "standardize" in err, "standardize = maybe: exit %d (want 2) %s" % (rc, err[-300:]))
c.finish()
