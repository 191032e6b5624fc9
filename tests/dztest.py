"""dztest — shared helpers for dztrain's integration tests (run with /usr/bin/python3).

Contract: every test script is a plain program registered with CTest; it exits 0 on pass,
1 on failure (after printing what differed) and 77 to skip (CTest SKIP_RETURN_CODE).
Paths come from the environment CTest sets: DZ_TRAINER (the binary), DZ_SOURCE_DIR,
DZ_WORK (a scratch folder for this test).  Data sets are made here with h5py.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

TRAINER = os.environ.get("DZ_TRAINER", "build/trainer")
# DZ_TEST_SMALL=1 (the sanitizer stage sets it): the same code paths, fewer repetitions of
# them (grid corners instead of whole N x T grids), since the release stage already ran them.
SMALL = os.environ.get("DZ_TEST_SMALL") == "1"
SOURCE = os.environ.get("DZ_SOURCE_DIR", os.getcwd())
SKIP = 77

os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
# Quiet Open MPI's "not enough slots" and fork warnings in oversubscribed runs.
os.environ.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
os.environ.setdefault("OMPI_MCA_hwloc_base_binding_policy", "none")
os.environ.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")


def workdir(name):
    """A fresh scratch folder for one test."""
    base = os.environ.get("DZ_WORK") or os.path.join(os.getcwd(), "dztest-work")
    d = os.path.join(base, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def mpirun(nranks, threads, args, timeout=120, env=None, cwd=None):
    """Run the trainer under mpirun; returns (exit code, stdout, stderr, seconds)."""
    e = dict(os.environ)
    e["OMP_NUM_THREADS"] = str(threads)
    if env:
        e.update(env)
    cmd = ["mpirun", "-n", str(nranks), "--oversubscribe", "--bind-to", "none",
           "-x", "OMP_NUM_THREADS", TRAINER] + list(args)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def write_config(path, sections):
    """sections: {"data": {"train": ...}, ...} → INI file."""
    with open(path, "w") as f:
        for sec, kv in sections.items():
            f.write("[%s]\n" % sec)
            for k, v in kv.items():
                f.write("%s = %s\n" % (k, v))
    return path


def make_dataset(path, m, d, dtype="float32", seed=0, xname="x", yname="y", yshape=None,
                 shape=None):
    """Random features (given dtype) and labels from a random true w; returns (X, y)."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "ui":
        X = rng.integers(0, 256 if dtype == "uint8" else 100, size=(m, d)).astype(dtype)
        Xs = X.astype(np.float64) / 255.0
    else:
        X = rng.standard_normal((m, d)).astype(dtype)
        Xs = X.astype(np.float64)
    w = rng.standard_normal(d) / np.sqrt(max(d, 1))
    p = 1 / (1 + np.exp(-(Xs @ w - 0.1)))
    y = (rng.random(m) < p).astype(np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset(xname, data=X.reshape(shape) if shape else X)
        f.create_dataset(yname, data=y.reshape(yshape) if yshape else y)
    return X, y


def make_multiclass(path, m, d, K, dtype="float32", ydtype="int32", seed=0, yshape=None):
    """Random features and labels 0..K-1 from a random true softmax model; returns (X, y)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d)).astype(dtype)
    W = rng.standard_normal((K, d)) * 1.5 / np.sqrt(max(d, 1))
    Z = X.astype(np.float64) @ W.T
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P])
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X)
        f.create_dataset("y", data=(y.reshape(yshape) if yshape else y).astype(ydtype))
    return X, y


def make_csr(path, X, y, xname="x", yname="y", data_dtype="float64", idx_dtype="int32",
             ptr_dtype="int64", attrs=True, mode="w"):
    """Write features X as an HDF5 group `xname` in the anndata/scipy CSR layout (datasets
    data, indices, indptr; attributes shape = (m, d), encoding-type = "csr_matrix",
    encoding-version = "0.1.0"; attrs=False leaves the attributes out) and labels y (None: no
    labels) as the 1-D dataset `yname`.  X is dense (its zeros are not stored) or anything
    with scipy's CSR fields (data, indices, indptr, shape), written as it is: explicit zeros,
    unsorted or duplicate indices stay.  mode "a" adds to an existing file.  Returns the
    dense float64 matrix of the stored values (after the cast to data_dtype; None when the
    layout is malformed) and y."""
    if hasattr(X, "indptr"):
        m, d = X.shape
        data, indices, indptr = np.asarray(X.data), np.asarray(X.indices), np.asarray(X.indptr)
    else:
        X = np.asarray(X)
        m, d = X.shape
        rows, cols = np.nonzero(X)  # row-major order: columns ascending within a row
        data, indices = X[rows, cols], cols
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))])
    data = data.astype(data_dtype)
    dense = None  # (None for a malformed layout)
    if len(indptr) == m + 1 and indptr[0] == 0 and np.all(np.diff(indptr) >= 0) and \
            indptr[-1] == len(data) == len(indices) and np.all((indices >= 0) & (indices < d)):
        dense = np.zeros((m, d))
        np.add.at(dense, (np.repeat(np.arange(m), np.diff(indptr)), indices.astype(np.int64)),
                  data.astype(np.float64))
    with h5py.File(path, mode) as f:
        g = f.create_group(xname)
        g.create_dataset("data", data=data)
        g.create_dataset("indices", data=indices.astype(idx_dtype))
        g.create_dataset("indptr", data=indptr.astype(ptr_dtype))
        if attrs:
            g.attrs["shape"] = np.array([m, d], dtype=np.int64)
            g.attrs["encoding-type"] = "csr_matrix"
            g.attrs["encoding-version"] = "0.1.0"
        if y is not None:
            f.create_dataset(yname, data=y)
    return dense, y


def read_model(path):
    """(w, b, attrs); softmax models: (W (K, d), b (K,), attrs)."""
    with h5py.File(path, "r") as f:
        if "W" in f:
            return np.array(f["W"][...]), np.array(f["b"][...]), dict(f.attrs)
        return np.array(f["w"][...]), float(f["b"][()]), dict(f.attrs)


def read_metrics(path):
    """(header, rows): rows of (iteration, loss, elapsed_s, grad_max or nan, passes)."""
    rows = []
    with open(path) as f:
        header = f.readline().strip()
        for line in f:
            it, loss, el, gm, ps = line.strip().split(",")[:5]  # (+ test_loss, test_accuracy)
            rows.append((int(it), float(loss), float(el), float(gm) if gm else float("nan"),
                         float(ps)))
    return header, rows


def ckpt_iteration(path):
    """The iteration a checkpoint file holds, or -1 when it is absent or unreadable."""
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs["iteration"])
    except Exception:
        return -1


def wait_for_ckpt(path, proc, at_least=1, limit=60):
    """Wait (up to limit s, while proc runs) for a checkpoint at iteration >= at_least."""
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        if ckpt_iteration(path) >= at_least:
            return True
        time.sleep(0.05)
    return False


def result_digest(model_path, metrics_path):
    """sha256 over the bytes of w, b and the loss history (not the timings); with a test set
    also over metrics.csv's test_loss and test_accuracy columns (their %.17g text is exact)."""
    w, b, _ = read_model(model_path)
    header, rows = read_metrics(metrics_path)
    h = hashlib.sha256()
    if header.endswith(",test_loss,test_accuracy"):
        with open(metrics_path) as f:
            h.update("".join(",".join(l.rstrip("\n").split(",")[5:]) + "\n"
                             for l in f.readlines()[1:]).encode())
    h.update(np.ascontiguousarray(w, dtype="<f8").tobytes())
    h.update(np.float64(b).tobytes())
    h.update(np.array([r[1] for r in rows], dtype="<f8").tobytes())
    h.update(np.array([r[0] for r in rows], dtype="<i8").tobytes())
    return h.hexdigest()


def rel(a, b):
    """max |a − b| / max |b| (arrays of the same shape; inf when the shapes differ)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return np.inf
    den = max(np.max(np.abs(b)) if b.size else 0.0, 1e-300)
    return float(np.max(np.abs(a - b))) / den if a.size else 0.0


def relew(a, b):
    """max over elements of |a − b| / |b| (inf when the shapes differ)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return np.inf
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) if a.size else 0.0


class Checker:
    """Collects failures; finish() prints a summary and exits 1 if any check failed."""

    def __init__(self, name):
        self.name, self.failed, self.passed = name, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s" % what, flush=True)
        return ok

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
