#!/usr/bin/python3
"""predict — `trainer predict` and `trainer evaluate` (issue 11), against independent oracles.

Checks:
  * predict at N = 1, 2, 3 (and on every kernel path the CPU runs) writes byte-identical
    `proba` and `label` datasets; proba equals numpy's σ(x/scale·w + b) (softmax: softmax of
    W x/scale + b) from the model file to 1e-13, label = proba > 0.5 (softmax: numpy's argmax of
    the logits); pred.h5's attributes copy the model's identity; m < N (ranks without rows);
  * evaluate's numbers (stdout and --json) are identical at N = 1, 2, 3 and equal
    sklearn.metrics on pred.h5's predictions to 1e-12: the trained example (configs/example.ini),
    the trained softmax example (configs/digits.ini), and hand-made binary and softmax models on
    uint8 data with many tied scores; cross_entropy equals numpy's exact mean loss; saturated
    logits (log_loss clipped like scikit-learn's, cross_entropy not); one-class labels (AUC
    undefined: null);
  * bad inputs at N = 1 and 3: exit code, one message, within 10 s, no pred.h5 left behind.
"""
import json
import os
import re

import h5py
import numpy as np
import sklearn.metrics as skm

import dztest
from dztest import Checker, workdir

TOL = 1e-12
ERRLINE = re.compile(r"^dztrain: rank \d+: ", re.M)
NOISE = re.compile(r"MPI_ABORT|MPI_Abort|[Bb]acktrace|received signal|Segmentation fault|"
                   r"HDF5-DIAG|\*\*\* Error")

c = Checker("predict")
W = workdir("predict")
DATA = os.path.join(dztest.SOURCE, "configs", "data")


def run(n, args, env=None, timeout=120):
    return dztest.mpirun(n, 1, list(args), timeout=timeout, env=env, cwd=W)


def path(name):
    return os.path.join(W, name)


# ---- models -----------------------------------------------------------------------------

def train(name, ini):
    """Train configs/<ini> with its outputs in W; returns the model path."""
    src = open(os.path.join(dztest.SOURCE, "configs", ini)).read()
    src = src.replace("data/", DATA + "/")
    src = re.sub(r"(?m)^model\s*=.*$", "model = %s_model.h5" % name, src)
    src = re.sub(r"(?m)^metrics\s*=.*$", "metrics = %s_metrics.csv" % name, src)
    cfg = path(name + ".ini")
    open(cfg, "w").write(src)
    code, out, err, _ = run(2, ["--quiet", cfg], timeout=600)
    if not c.check(code == 0, "training %s: exit %s\n%s" % (ini, code, err[-2000:])):
        c.finish()
    return path(name + "_model.h5")


def write_model(p, w, b, scale=1.0, K=0, drop=None):
    """A model file as the trainer writes it (format, scale, identity)."""
    with h5py.File(p, "w") as f:
        if K:
            f.create_dataset("W", data=np.asarray(w, np.float64))
            f.create_dataset("b", data=np.asarray(b, np.float64))
            f.attrs.create("classes", K, dtype="int64")
        else:
            f.create_dataset("w", data=np.asarray(w, np.float64))
            f.create_dataset("b", data=np.float64(b))
        f.attrs["format"] = np.bytes_("dztrain-model-1")
        f.attrs.create("scale", scale, dtype="float64")
        f.attrs.create("config_hash", 1234567890123, dtype="uint64")
        f.attrs.create("data_checksum", 987654321, dtype="uint64")
        if drop:
            del f[drop]
    return p


def read_model(p):
    with h5py.File(p, "r") as f:
        K = int(f.attrs["classes"]) if "classes" in f.attrs else 0
        w = np.array(f["W" if K else "w"][...])
        b = np.array(f["b"][...])
        return w, b, float(f.attrs["scale"]), K, dict(f.attrs)


def oracle(model, x):
    """numpy: (proba, labels, logits) of features x."""
    w, b, scale, K, _ = read_model(model)
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    if not K:
        z = (x / scale) @ w + b
        p = 1 / (1 + np.exp(-z))
        return p, (p > 0.5).astype(np.int64), z
    Z = (x / scale) @ w.T + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return P, Z.argmax(1), Z


def read_pred(p):
    with h5py.File(p, "r") as f:
        return np.array(f["proba"][...]), np.array(f["label"][...]), dict(f.attrs)


# ---- predict ------------------------------------------------------------------------------

def check_predict(name, model, data, xname, ranks=(1, 2, 3)):
    """predict at each N: identical bytes, numpy's values, the model's identity."""
    with h5py.File(data, "r") as f:
        x = np.array(f[xname][...])
    P, L, _ = oracle(model, x)
    ref = None
    for n in ranks:
        out = path("%s_n%d.h5" % (name, n))
        code, so, err, _ = run(n, ["predict", "--model", model, "--data", data, "--x", xname,
                                   "--out", out])
        if not c.check(code == 0, "%s N=%d: exit %s\n%s" % (name, n, code, err[-1500:])):
            continue
        pr, lb, at = read_pred(out)
        got = (pr.tobytes(), lb.tobytes(), pr.shape, pr.dtype.str, lb.dtype.str)
        if ref is None:
            ref = got
            _, _, _, _, mat = read_model(model)
            c.check(pr.shape == P.shape and lb.shape == (len(x),) and pr.dtype == np.float64
                    and lb.dtype == np.int64, "%s: shapes/types %s %s %s %s" %
                    (name, pr.shape, pr.dtype, lb.shape, lb.dtype))
            err_p = float(np.abs(pr - P).max())
            c.check(err_p <= 1e-13, "%s: proba differs from numpy by %.3g" % (name, err_p))
            c.check(np.array_equal(lb, L), "%s: labels differ from numpy's in %d rows" %
                    (name, int((lb != L).sum())))
            c.check(at.get("config_hash") == mat["config_hash"] and
                    at.get("data_checksum") == mat["data_checksum"] and
                    at.get("format") == b"dztrain-pred-1" and int(at.get("m", -1)) == len(x) and
                    int(at.get("d", -1)) == x.reshape(len(x), -1).shape[1] and
                    at.get("model_type") in (b"logistic", b"softmax") and
                    at.get("input_checksum") is not None,
                    "%s: pred.h5 attributes %s" % (name, at))
            ref_ck = at.get("input_checksum")
        else:
            c.check(got == ref, "%s: N=%d gives other bytes than N=%d" % (name, n, ranks[0]))
            c.check(at.get("input_checksum") == ref_ck, "%s: input checksum differs at N=%d" %
                    (name, n))
        c.check(not [f for f in os.listdir(W) if ".tmp." in f], "%s: temporary file left" % name)
    return ref


def check_isa_paths(name, model, data, xname, ref):
    """Every kernel path this CPU runs gives the same bytes."""
    for isa in ("generic", "avx2", "avx512"):
        out = path("%s_%s.h5" % (name, isa))
        code, _, err, _ = run(2, ["predict", "--model", model, "--data", data, "--x", xname,
                                  "--out", out], env={"DZ_ISA": isa})
        if code == 2 and "cannot run" in err:
            continue
        if c.check(code == 0, "%s DZ_ISA=%s: exit %s %s" % (name, isa, code, err[-500:])):
            pr, lb, _ = read_pred(out)
            c.check((pr.tobytes(), lb.tobytes()) == ref[:2],
                    "%s: DZ_ISA=%s gives other bytes" % (name, isa))


# ---- evaluate -----------------------------------------------------------------------------

def evaluate(name, n, model, data, xname="x", yname="y"):
    js = path("%s_n%d.json" % (name, n))
    code, out, err, _ = run(n, ["evaluate", "--model", model, "--data", data, "--x", xname,
                                "--y", yname, "--json", js])
    if not c.check(code == 0, "%s evaluate N=%d: exit %s\n%s" % (name, n, code, err[-1500:])):
        return None, None
    return json.load(open(js)), out


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOL * max(1.0, abs(b))


def sk_metrics(y, proba, label, K):
    """scikit-learn's numbers on the same predictions (None where it refuses)."""
    r = {"accuracy": skm.accuracy_score(y, label),
         "log_loss": skm.log_loss(y, proba, labels=list(range(max(K, 2)))),
         "confusion_matrix": skm.confusion_matrix(y, label, labels=list(range(max(K, 2))))}
    kw = dict(zero_division=0)
    if not K:
        r["precision"] = skm.precision_score(y, label, **kw)
        r["recall"] = skm.recall_score(y, label, **kw)
        r["f1"] = skm.f1_score(y, label, **kw)
        r["roc_auc"] = skm.roc_auc_score(y, proba) if len(set(y)) == 2 else None
        return r
    for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                    ("f1", skm.f1_score)):
        r[key] = {"macro": fn(y, label, average="macro", **kw),
                  "weighted": fn(y, label, average="weighted", **kw),
                  "per_class": list(fn(y, label, average=None, labels=list(range(K)), **kw))}
    try:
        r["roc_auc"] = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    except ValueError:
        r["roc_auc"] = None
    r["roc_auc_per_class"] = [skm.roc_auc_score(y == k, proba[:, k]) if 0 < (y == k).sum() < len(y)
                              else None for k in range(K)]
    return r


def compare(name, got, ref):
    for key, v in ref.items():
        g = got.get(key)
        if key == "confusion_matrix":
            ok = np.array_equal(np.array(g), v)
        elif isinstance(v, dict):
            ok = all(close(g[k], v[k]) for k in ("macro", "weighted")) and \
                len(g["per_class"]) == len(v["per_class"]) and \
                all(close(a, b) for a, b in zip(g["per_class"], v["per_class"]))
        elif isinstance(v, list):
            ok = len(g) == len(v) and all(close(a, b) for a, b in zip(g, v))
        else:
            ok = close(g, v)
        c.check(ok, "%s: %s = %s, scikit-learn %s" % (name, key, g, v))


def exact_cross_entropy(model, x, y):
    """numpy's mean training loss from the logits (no clipping)."""
    _, _, z = oracle(model, x)
    if z.ndim == 1:
        return float(np.mean(np.logaddexp(0, z) - y * z))
    zm = z.max(1)
    return float(np.mean(zm + np.log(np.exp(z - zm[:, None]).sum(1)) - z[np.arange(len(y)), y]))


def check_evaluate(name, model, data, xname="x", yname="y", ranks=(1, 2, 3), undefined=False):
    with h5py.File(data, "r") as f:
        x = np.array(f[xname][...])
        y = np.array(f[yname][...]).reshape(-1).astype(np.int64)
    K = read_model(model)[3]
    got = {}
    for n in ranks:
        got[n] = evaluate(name, n, model, data, xname, yname)
    if any(g[0] is None for g in got.values()):
        return None
    first = got[ranks[0]]
    for n in ranks[1:]:  # the same text apart from the JSON file's name, which names N
        c.check(got[n][0] == first[0] and got[n][1].replace("_n%d.json" % n, "") ==
                first[1].replace("_n%d.json" % ranks[0], ""),
                "%s: evaluate at N=%d differs from N=%d" % (name, n, ranks[0]))
    # scikit-learn on pred.h5's predictions of the same data
    pfile = path(name + "_eval_pred.h5")
    code, _, err, _ = run(2, ["predict", "--model", model, "--data", data, "--x", xname,
                              "--out", pfile])
    if not c.check(code == 0, "%s: predict exit %s %s" % (name, code, err[-500:])):
        return None
    proba, label, _ = read_pred(pfile)
    ref = sk_metrics(y, proba, label, K)
    compare(name, first[0], ref)
    ce = exact_cross_entropy(model, x, y)
    c.check(abs(first[0]["cross_entropy"] - ce) <= TOL * max(1, ce),
            "%s: cross_entropy %r, numpy %r" % (name, first[0]["cross_entropy"], ce))
    c.check((first[0]["roc_auc"] is None) == undefined,
            "%s: roc_auc %r (undefined expected: %s)" % (name, first[0]["roc_auc"], undefined))
    for key in ("accuracy", "log_loss", "cross_entropy", "roc_auc"):
        v = first[0][key]
        line = "%-14s %s" % (key, "undefined" if v is None else "%.17g" % v)
        c.check(line in first[1], "%s: stdout lacks '%s':\n%s" % (name, line, first[1]))
    return first[0]


# ---- data with ties -------------------------------------------------------------------------

def tied_data(p, m, d, K, seed):
    """uint8 features with 3 values each (3^d distinct rows: many tied scores), labels drawn
    from a model; returns (x, y)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(m, d)).astype(np.uint8)
    if K:
        y = rng.integers(0, K, size=m)
        y[:K] = np.arange(K)
    else:
        y = (rng.random(m) < 1 / (1 + np.exp(-(x @ np.linspace(-1, 1, d))))).astype(np.uint8)
    with h5py.File(p, "w") as f:
        f["x"] = x
        f["y"] = y.astype(np.int32)
    return x, y


# ---- bad inputs -------------------------------------------------------------------------

def bad(name, expect, pattern, args, ranks=(1, 3)):
    for n in ranks:
        for f in os.listdir(W):
            if f.startswith("bad_out"):
                os.remove(path(f))
        code, out, err, secs = run(n, args, timeout=60)
        both = out + err
        usage = expect == 2 and "usage:" in err
        lines = len(ERRLINE.findall(err)) + (1 if usage and not ERRLINE.search(err) else 0)
        c.check(code == expect, "%s N=%d: exit %s, expected %s\n%s" % (name, n, code, expect, err[-800:]))
        c.check(secs < 10, "%s N=%d: took %.1f s" % (name, n, secs))
        c.check(len(re.findall(pattern, both)) == 1, "%s N=%d: message /%s/ not printed once:\n%s" %
                (name, n, pattern, both[-800:]))
        c.check(lines == 1, "%s N=%d: %d error lines:\n%s" % (name, n, lines, err[-800:]))
        c.check(not NOISE.search(both), "%s N=%d: abort/HDF5 noise:\n%s" % (name, n, both[-800:]))
        outs = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--out", "--json")]
        left = [f for f in os.listdir(W) if f.startswith("bad_out")] + [o for o in outs if os.path.exists(o)]
        for o in outs:  # temporary siblings of the target, where its folder exists
            folder = os.path.dirname(o) or "."
            if os.path.isdir(folder):
                left += [f for f in os.listdir(folder) if f.startswith(os.path.basename(o) + ".tmp.")]
        c.check(not left, "%s N=%d: output file(s) left: %s" % (name, n, left))


# ---- the runs ---------------------------------------------------------------------------------

example = train("example", "example.ini")
digits = train("digits", "digits.ini")
bc_test = os.path.join(DATA, "breast_cancer_test.h5")
dg_test = os.path.join(DATA, "digits_test.h5")

ref = check_predict("example", example, bc_test, "x")
if ref:
    check_isa_paths("example", example, bc_test, "x", ref)
ref = check_predict("digits", digits, dg_test, "x")
if ref:
    check_isa_paths("digits", digits, dg_test, "x", ref)
small = path("small.h5")
tied_data(small, 5, 4, 0, seed=3)   # m = 5 < N·B: ranks without rows
m5 = write_model(path("m5_model.h5"), [0.5, -1, 2, 0.25], -0.3)
check_predict("m5", m5, small, "x")
check_evaluate("m5", m5, small, ranks=(1, 3))  # the AUC ring through ranks without rows

check_evaluate("example", example, bc_test)
check_evaluate("digits", digits, dg_test)

# many tied scores: 3 values per feature, 4 features -> 81 distinct rows among 600
tie_bin = path("tie_bin.h5")
tied_data(tie_bin, 600, 4, 0, seed=1)
m_bin = write_model(path("tie_bin_model.h5"), [1.0, -0.5, 0.5, 0.0], 0.1, scale=2.0)
check_predict("tie_bin", m_bin, tie_bin, "x")
check_evaluate("tie_bin", m_bin, tie_bin)

tie_sm = path("tie_sm.h5")
tied_data(tie_sm, 500, 3, 4, seed=2)
m_sm = write_model(path("tie_sm_model.h5"), np.arange(12).reshape(4, 3) % 5 - 2.0,
                   [0.1, 0, -0.1, 0.2], K=4)
check_predict("tie_sm", m_sm, tie_sm, "x")
check_evaluate("tie_sm", m_sm, tie_sm)

# saturated logits: log_loss clips like scikit-learn, cross_entropy is exact
m_sat = write_model(path("sat_model.h5"), [30.0, -30.0, 20.0, 0.0], 1.0)
ev_sat = check_evaluate("saturated", m_sat, tie_bin, ranks=(1, 3))
c.check(ev_sat is not None and ev_sat["log_loss"] != ev_sat["cross_entropy"],
        "saturated: scikit-learn's clipping makes log_loss differ from the exact cross_entropy: %s"
        % (ev_sat and [ev_sat["log_loss"], ev_sat["cross_entropy"]],))

# one class in the labels: ROC AUC undefined (null), the rest as scikit-learn
one = path("one_class.h5")
with h5py.File(one, "w") as f:
    f["x"] = np.random.default_rng(5).integers(0, 3, size=(50, 4)).astype(np.uint8)
    f["y"] = np.zeros(50, np.uint8)
check_evaluate("one_class", m_bin, one, ranks=(1, 2), undefined=True)
one_sm = path("one_class_sm.h5")
with h5py.File(one_sm, "w") as f:
    f["x"] = np.random.default_rng(6).integers(0, 3, size=(50, 3)).astype(np.uint8)
    f["y"] = np.random.default_rng(6).integers(0, 3, size=50).astype(np.int32)  # no class 3
check_evaluate("missing_class_sm", m_sm, one_sm, ranks=(1, 3), undefined=True)

# bad inputs
nob = write_model(path("no_b.h5"), [1.0, 2, 3, 4], 0.0, drop="b")
now = write_model(path("no_W.h5"), np.ones((4, 3)), np.zeros(4), K=4, drop="W")
labels3 = path("labels3.h5")
tied_data(labels3, 40, 4, 3, seed=4)
afile = path("afile")
open(afile, "w").write("x")
P = ["predict", "--x", "x", "--out", path("bad_out.h5")]
bad("missing_b", 3, r"model dataset 'b' \(a scalar\) is missing", P + ["--model", nob, "--data", tie_bin])
bad("missing_W", 3, r"model dataset 'W' \(K, d\) is missing", P + ["--model", now, "--data", tie_sm])
bad("wrong_d", 3, r"have d = 64 values per row, but the model '.*example_model\.h5' has d = 30",
    P + ["--model", example, "--data", dg_test])
bad("not_a_model", 3, r"not a dztrain model file: its format attribute is missing",
    P + ["--model", dg_test, "--data", dg_test])
bad("model_missing", 3, r"nothere\.h5: cannot read model file \(no such file\)",
    P + ["--model", path("nothere.h5"), "--data", dg_test])
bad("labels_gt1_logistic", 3, r"label y\[\d+\] = 2; labels must be 0 or 1 \(the model "
    r"'.*tie_bin_model\.h5' is a binary logistic model\)",
    ["evaluate", "--model", m_bin, "--data", labels3, "--x", "x", "--y", "y"])
k2 = write_model(path("k2.h5"), np.ones((2, 4)), [0.0, 0.0], K=2)
bad("label_ge_K", 3, r"label y\[\d+\] = 2; softmax labels must be integers 0 \.\.\. 1",
    ["evaluate", "--model", k2, "--data", labels3, "--x", "x", "--y", "y"])
bad("out_folder_missing", 5, r"predict --out '.*nodir/bad_out\.h5': cannot create files in folder",
    ["predict", "--model", m_bin, "--data", tie_bin, "--x", "x", "--out", path("nodir/bad_out.h5")])
bad("out_under_file", 5, r"predict --out '.*afile/bad_out\.h5': cannot create files in folder",
    ["predict", "--model", m_bin, "--data", tie_bin, "--x", "x", "--out", afile + "/bad_out.h5"])
bad("json_folder_missing", 5, r"evaluate --json '.*nodir/bad_out\.json': cannot create files",
    ["evaluate", "--model", m_bin, "--data", tie_bin, "--x", "x", "--y", "y", "--json",
     path("nodir/bad_out.json")])
bad("no_data_option", 2, r"--model and --data are required", ["predict", "--model", m_bin])
bad("unknown_option", 2, r"unknown option '--bogus'", ["evaluate", "--bogus", "1"])

code, out, err, _ = run(1, ["--help"])
c.check(code == 0 and re.search(r"(?m)^  predict  --model", out) and
        re.search(r"(?m)^  evaluate --model", out), "trainer --help lists predict and evaluate:\n" + out)
bad("subcommand_not_first", 2, r"'predict' must be the first argument",
    ["--quiet", "predict", "--model", m_bin, "--data", tie_bin])
for sub in ("predict", "evaluate"):
    code, out, err, _ = run(2, [sub, "--help"])
    c.check(code == 0 and out.count("usage: mpirun -n N trainer %s --model" % sub) == 1 and
            not ERRLINE.search(err), "%s --help: exit %s\n%s%s" % (sub, code, out, err[-500:]))

c.finish()
