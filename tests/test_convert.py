"""convert — build/dzconvert turns CSV/TSV, LIBSVM and .npy pairs into the trainer's HDF5 layout.

Checks: CSV and TSV equal numpy.loadtxt of the same file bit for bit (float64; float32 equals
loadtxt's values rounded), feature names = the header minus the label column; LIBSVM equals
sklearn.datasets.load_svmlight_file's dense matrix (d found by a first pass, or --features);
LIBSVM --sparse writes the CSR group (data, int32 indices, int64 indptr, shape and encoding
attributes) equal to the dense conversion and to load_svmlight_file's arrays, sorts a line's
pairs given in any order, refuses an index twice in a line, and converts an index of 3e6
under an address-space limit the dense path fails under; an .npy pair round trips; chunked
datasets, --compress (shuffle + deflate) reads back equal and smaller; dzgen --sparse (m 2000,
d 5000, 20 per row) writes the same CSR group (data, indices, indptr, y, w_true, b_true) on 1
and 3 ranks, with sorted unique indices, unit row norms, skewed column counts (top 1 % of
columns > 10 % of nnz) and both classes, and --empty-frac / --dtype float64 / the uint8
refusal; bad rows exit 3 naming FILE:LINE and leave no output (an existing OUTPUT is kept as
it was), usage errors exit 2; a CSV larger than the address-space limit (prlimit --as)
converts (streaming), while reading it whole under that limit fails; and the README's path
CSV -> dzconvert -> trainer train -> evaluate -> predict on the shipped breast-cancer data,
which gives the example's own model bit for bit.
"""
import io
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

import dztest

c = dztest.Checker("convert")
CONVERT = os.path.join(os.path.dirname(os.path.abspath(dztest.TRAINER)), "dzconvert")
if not os.access(CONVERT, os.X_OK):
    print("dzconvert not found: %s" % CONVERT)
    sys.exit(dztest.SKIP)
W = dztest.workdir("convert")
RNG = np.random.default_rng(11)


def path(name):
    return os.path.join(W, name)


def convert(*args, limit=None):
    """Run dzconvert in W; returns (exit code, stdout + stderr)."""
    cmd = ([] if limit is None else ["prlimit", "--as=%d" % limit]) + [CONVERT] + list(args)
    p = subprocess.run(cmd, cwd=W, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def read(name, x="train_set_x", y="train_set_y"):
    with h5py.File(path(name), "r") as f:
        names = [s.decode() for s in f["feature_names"][...]] if "feature_names" in f else None
        return f[x][...], f[y][...], names


def leftovers(stem):
    return [f for f in os.listdir(W) if f.startswith(stem)]


def tricky_values(n, f32=False):
    """Decimal strings that test correct rounding: random doubles at 17 digits, short
    decimals, halfway-looking and huge/tiny exponents, subnormals, -0."""
    fixed = ["0.1", "-0", "1e23", "8.98846567431158e307", "2.2250738585072011e-308",
             "4.9e-324", "9007199254740993", "0.30000000000000004", "1.7976931348623157e308",
             "123456789012345678901234567890", "5e-310", "-7.0E+02", "3.", ".5", "+2"]
    rnd = ["%.17g" % v for v in RNG.standard_normal(n) * 10.0 ** RNG.integers(-30, 30, n)]
    rnd += ["%.3f" % v for v in RNG.standard_normal(n)]
    vals = [v for v in fixed + rnd if not f32 or abs(float(v)) < 3e38]
    return [vals[i % len(vals)] for i in RNG.permutation(max(n, len(vals)))]


# ---- CSV / TSV against numpy.loadtxt --------------------------------------------------------

def csv_text(m, cols, label_at, delim, crlf=False, bom=False, f32=False):
    header = ['"%s"' % s if i % 2 else s for i, s in enumerate(cols)]
    vals = tricky_values(m * (len(cols) - 1), f32)
    lines = [("\ufeff" if bom else "") + delim.join(header)]
    for i in range(m):
        row = vals[i * (len(cols) - 1):(i + 1) * (len(cols) - 1)]
        row.insert(label_at, str(i % 2))
        lines.append(delim.join(row))
        if i == m // 2:
            lines.append("")  # a blank line is skipped, by loadtxt too
    nl = "\r\n" if crlf else "\n"
    return nl.join(lines) + nl


def check_text_table(name, delim, extra_args, f32=False, **kw):
    """name converted (float64, or float32 with f32) equals loadtxt of it, bit for bit."""
    cols = ["age", "blood pressure", "y", "x,with comma", "z"]
    with open(path(name), "w", newline="") as f:
        f.write(csv_text(301, cols, 2, delim, f32=f32, **kw))
    ref = np.loadtxt(path(name), delimiter=delim, skiprows=1, encoding="utf-8")
    out = name + ".h5"
    rc, msg = convert(name, "--label", "y", out, *extra_args, *(["--type", "float32"] * f32))
    if not c.check(rc == 0, "%s: dzconvert exit %d: %s" % (name, rc, msg)):
        return
    x, y, names = read(out)
    want = np.delete(ref, 2, axis=1).astype(np.float32 if f32 else np.float64)
    c.check(x.dtype == want.dtype and x.shape == want.shape and x.tobytes() == want.tobytes(),
            "%s: features equal loadtxt's bit for bit (%s)" % (name, want.dtype))
    c.check(y.tobytes() == ref[:, 2].tobytes(), "%s: labels equal loadtxt's column" % name)
    c.check(names == ["age", "blood pressure", "x,with comma", "z"],
            "%s: feature names = header minus label: %s" % (name, names))


check_text_table("data.csv", ",", [], crlf=True, bom=True)
check_text_table("data32.csv", ",", [], f32=True)
check_text_table("data.tsv", "\t", [])
check_text_table("data.txt", ";", ["--format", "csv", "--delim", ";"])
with h5py.File(path("data.csv.h5"), "r") as f:
    c.check(f["train_set_x"].chunks is not None and f["train_set_y"].chunks is not None and
            f.attrs["label_column"] == b"y" and f.attrs["source_format"] == b"csv",
            "chunked datasets and provenance attributes")

# ---- LIBSVM against scikit-learn ------------------------------------------------------------


def svm_text(m, d):
    vals = tricky_values(m * d)
    lines = ["# a comment line", ""]
    for i in range(m):
        idx = np.sort(RNG.choice(np.arange(1, d + 1), RNG.integers(0, d // 2 + 1), replace=False))
        toks = ["%d:%s" % (j, vals[i * d + j - 1]) for j in idx]
        if i == 3:
            toks.insert(0, "qid:7")
        lines.append(" ".join([("+1" if i % 3 else "-1") if i % 2 else "0"] + toks) +
                     ("  # trailing comment" if i == 5 else ""))
    return "\n".join(lines) + "\n"


with open(path("data.svm"), "w") as f:
    f.write(svm_text(257, 40))
for args, n_features in [([], None), (["--features", "45"], 45)]:
    out = "svm%s.h5" % (n_features or "")
    rc, msg = convert("data.svm", out, *args)
    ok = c.check(rc == 0, "libsvm %s: exit %d: %s" % (args, rc, msg))
    Xs, ys = load_svmlight_file(path("data.svm"), zero_based=False,
                                **({"n_features": n_features} if n_features else {}))
    x, y, names = read(out) if ok else (None, None, None)
    ref = Xs.toarray()
    c.check(ok and x.shape == ref.shape and x.tobytes() == ref.tobytes() and
            y.tobytes() == ys.astype(np.float64).tobytes(),
            "libsvm %s: equals load_svmlight_file's dense matrix and labels (shape %s vs %s)"
            % (args, None if x is None else x.shape, ref.shape))
    c.check(ok and names == [str(j) for j in range(1, ref.shape[1] + 1)],
            "libsvm %s: feature names are the indices 1..d" % args)

# --pm1: the usual binary LIBSVM labels -1/+1 become 0/1 (data.svm also holds 0: refused)
with open(path("pm.svm"), "w") as f:
    for i in range(60):
        f.write("%s %d:%.3f %d:1\n" % ("+1" if i % 3 else "-1", 1 + i % 5, i / 7, 6 + i % 3))
rc, msg = convert("--pm1", "pm.svm", "pm.h5")
Xs, ys = load_svmlight_file(path("pm.svm"), zero_based=False)
_, y, _ = read("pm.h5") if rc == 0 else (None, None, None)
c.check(rc == 0 and y is not None and y.tobytes() == (ys > 0).astype(np.float64).tobytes(),
        "libsvm --pm1: labels -1/+1 become 0/1: exit %d %s" % (rc, msg))
rc, msg = convert("--pm1", "data.svm", "pm0.h5")
with open(path("data.svm")) as f:
    first0 = 1 + [i for i, l in enumerate(f.read().splitlines()) if l.split(" ")[0] == "0"][0]
c.check(rc == 3 and "data.svm:%d: label '0': --pm1 expects -1 or +1" % first0 in msg and
        not leftovers("pm0.h5"), "libsvm --pm1 refuses a 0 label by its line: exit %d %s" % (rc, msg))
rc, msg = convert("--pm1", "--label", "a", "x.csv", "o.h5")
c.check(rc == 2 and "--pm1 applies to LIBSVM input only" in msg, "--pm1 with CSV: exit %d %s"
        % (rc, msg))

# ---- LIBSVM --sparse: the CSR group (anndata's layout) -------------------------------------


def read_csr(name, x="train_set_x", y="train_set_y", extra=()):
    """(scipy CSR matrix, {dataset: array} of the group, y and extra, the group's attributes)."""
    with h5py.File(path(name), "r") as f:
        g = f[x]
        arrs = {k: g[k][...] for k in ("data", "indices", "indptr")}
        arrs.update({k: f[k][...] for k in (y,) + tuple(extra)})
        attrs = {k: g.attrs[k] for k in g.attrs}
    X = sp.csr_matrix((arrs["data"], arrs["indices"], arrs["indptr"]), shape=tuple(attrs["shape"]))
    return X, arrs, attrs


def attr_text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def csr_layout_ok(a, at, shape, dtype):
    return (a["data"].dtype == dtype and a["indices"].dtype == np.int32 and
            a["indptr"].dtype == np.int64 and attr_text(at["encoding-type"]) == "csr_matrix" and
            attr_text(at["encoding-version"]) == "0.1.0" and at["shape"].dtype == np.int64 and
            tuple(at["shape"]) == shape and a["indptr"][0] == 0 and
            a["indptr"][-1] == len(a["data"]) == len(a["indices"]))


# data.svm (explicit zeros "-0", empty rows, qid, comments) against its dense conversion and
# load_svmlight_file's CSR arrays; shuffled.svm holds the same lines with each line's pairs
# in random order (which the dense path and sklearn refuse): --sparse sorts them.
with open(path("data.svm")) as f, open(path("shuffled.svm"), "w") as g:
    for line in f.read().splitlines():
        body, hash_, comment = line.partition("#")
        toks = body.split()
        head = toks[:2] if len(toks) > 1 and toks[1].startswith("qid:") else toks[:1]
        pairs = toks[len(head):]
        g.write(" ".join(head + [pairs[i] for i in RNG.permutation(len(pairs))]) +
                (" " + hash_ + comment if hash_ else "") + "\n")
Xs, ys = load_svmlight_file(path("data.svm"), zero_based=False)
rc, msg = convert("--sparse", "data.svm", "svmcsr.h5")
X, a, at = read_csr("svmcsr.h5", extra=("feature_names",)) if rc == 0 else (None, None, None)
dense, _, _ = read("svm.h5")
c.check(rc == 0 and csr_layout_ok(a, at, dense.shape, np.float64) and
        X.toarray().tobytes() == dense.tobytes() and a["train_set_y"].tobytes() == ys.tobytes() and
        [s.decode() for s in a["feature_names"]] == [str(j) for j in range(1, 41)],
        "libsvm --sparse: the CSR group (float64 data, int32 indices, int64 indptr, shape, "
        "encoding attributes) equals the dense conversion, labels and names too: %s" % msg)
c.check(rc == 0 and np.array_equal(a["indptr"], Xs.indptr) and
        np.array_equal(a["indices"], Xs.indices) and a["data"].tobytes() == Xs.data.tobytes(),
        "libsvm --sparse: indptr, indices and data equal load_svmlight_file's (explicit zeros "
        "kept): nnz %s vs %d" % (None if X is None else X.nnz, Xs.nnz))
rc, msg = convert("--sparse", "shuffled.svm", "shufcsr.h5")
X2, a2, _ = read_csr("shufcsr.h5") if rc == 0 else (None, None, None)
c.check(rc == 0 and a is not None and X2.has_sorted_indices and
        all(a2[k].tobytes() == a[k].tobytes() for k in a2),
        "libsvm --sparse: a line's pairs in any order are sorted: the same arrays: %s" % msg)
rc, msg = convert("--sparse", "--type", "float32", "--features", "45", "pm.svm", "pmcsr32.h5")
X3, a3, at3 = read_csr("pmcsr32.h5") if rc == 0 else (None, None, None)
Xp, yp = load_svmlight_file(path("pm.svm"), zero_based=False, n_features=45)
c.check(rc == 0 and csr_layout_ok(a3, at3, (60, 45), np.float32) and
        a3["data"].tobytes() == Xp.data.astype(np.float32).tobytes() and
        np.array_equal(a3["indices"], Xp.indices) and np.array_equal(a3["indptr"], Xp.indptr) and
        a3["train_set_y"].tobytes() == yp.tobytes() and "CSR with %d values" % Xp.nnz in msg,
        "libsvm --sparse --type float32 --features 45: float32 values, shape (60, 45): %s" % msg)

# compression: the mostly-zero dense LIBSVM matrix, deflate 6 with shuffle
rc, msg = convert("data.svm", "svmz.h5", "--compress", "6")
with h5py.File(path("svmz.h5"), "r") as f, h5py.File(path("svm.h5"), "r") as g:
    dx = f["train_set_x"]
    c.check(rc == 0 and dx.compression == "gzip" and dx.compression_opts == 6 and dx.shuffle and
            f["train_set_y"].compression == "gzip" and
            np.array_equal(dx[...], g["train_set_x"][...]) and
            dx.id.get_storage_size() < g["train_set_x"].id.get_storage_size() / 2,
            "--compress 6: gzip 6 + shuffle, same values, under half the bytes: %s" % msg)

# ---- dzgen --sparse: an RCV1-like CSR set, the same for any number of ranks -----------------
DZGEN = os.path.join(os.path.dirname(CONVERT), "dzgen")


def dzgen(n, threads, *args):
    """build/dzgen on n ranks x threads in W (n = 0: one rank without mpirun, which is
    seconds faster to fail); returns (exit code, stdout + stderr)."""
    mpi = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", "-x",
           "OMP_NUM_THREADS"] if n else []
    p = subprocess.run(mpi + [DZGEN] + list(args), cwd=W, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return p.returncode, p.stdout + p.stderr


if c.check(os.access(DZGEN, os.X_OK), "dzgen built beside dzconvert: %s" % DZGEN):
    gen = {}
    for n, threads in [(1, 2), (3, 1)]:
        rc, msg = dzgen(n, threads, "--out", "sparse%d.h5" % n, "--m", "2000", "--d", "5000",
                        "--sparse", "20")
        c.check(rc == 0 and '"nnz":' in msg, "dzgen --sparse 20 on %d ranks: exit %d %s" % (n, rc, msg))
        gen[n] = read_csr("sparse%d.h5" % n, "x", "y", ("w_true", "b_true")) if rc == 0 else None
    if gen[1] and gen[3]:
        X, a1, at = gen[1]
        a3 = gen[3][1]
        c.check(all(a1[k].dtype == a3[k].dtype and a1[k].tobytes() == a3[k].tobytes() for k in a1),
                "dzgen --sparse: data, indices, indptr, y, w_true, b_true equal on 1 and 3 ranks")
        c.check(csr_layout_ok(a1, at, (2000, 5000), np.float32) and a1["y"].dtype == np.uint8,
                "dzgen --sparse: the CSR group's layout (float32 data, int32 indices, int64 "
                "indptr, shape and encoding attributes): %s" % at)
        nnz = X.nnz
        Xd = X.copy()
        Xd.sum_duplicates()
        c.check(X.has_sorted_indices and Xd.nnz == nnz,
                "dzgen --sparse: indices sorted and unique in every row")
        lens = np.diff(X.indptr)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        c.check(lens.min() >= 1 and lens.max() <= 39 and abs(nnz / 2000 - 20) < 1 and
                np.all(X.data > 0) and np.allclose(norms, 1, rtol=0, atol=1e-6),
                "dzgen --sparse: rows of 1..39 values (mean %.2f), positive, unit norms (%.8f "
                "... %.8f)" % (nnz / 2000, norms.min(), norms.max()))
        counts = np.sort(np.bincount(X.indices, minlength=5000))[::-1]
        c.check(counts[:50].sum() > 0.1 * nnz,
                "dzgen --sparse: column counts are skewed (the top 1%% of columns hold %.1f%% "
                "of nnz)" % (100 * counts[:50].sum() / nnz))
        y = a1["y"]
        p = 1 / (1 + np.exp(-(X @ a1["w_true"] + a1["b_true"])))
        acc = np.mean((p > 0.5) == y)
        c.check(0.2 < y.mean() < 0.8 and 0.6 < acc < 0.99 and 0 < np.mean(a1["w_true"] != 0) < 0.2,
                "dzgen --sparse: both classes (%.3f positive), the sparse true model predicts "
                "%.3f of them (learnable, not separable)" % (y.mean(), acc))
    rc, msg = dzgen(2, 1, "--out", "sparse64.h5", "--m", "3001", "--d", "700", "--sparse", "5",
                    "--dtype", "float64", "--empty-frac", "0.2")
    X64, a64, _ = read_csr("sparse64.h5", "x", "y") if rc == 0 else (None, None, None)
    empty = np.mean(np.diff(X64.indptr) == 0) if rc == 0 else -1
    c.check(rc == 0 and a64["data"].dtype == np.float64 and 0.17 < empty < 0.23 and
            X64.has_sorted_indices, "dzgen --sparse --dtype float64 --empty-frac 0.2: float64 "
            "values, %.3f of the rows empty: exit %d %s" % (empty, rc, msg))
    rc, msg = dzgen(0, 1, "--out", "sparse8.h5", "--m", "10", "--d", "10", "--sparse", "3",
                    "--dtype", "uint8")
    c.check(rc == 2 and "--sparse needs --dtype float32 or float64" in msg,
            "dzgen --sparse --dtype uint8 is a usage error: exit %d %s" % (rc, msg))

# ---- .npy pairs -----------------------------------------------------------------------------
for xdt, ydt, extra in [("float32", "int64", []), ("uint8", "uint8", ["--type", "float32"]),
                        ("int16", "float64", []), ("float64", "bool", ["--x-name", "X", "--y-name", "Y"])]:
    X = (RNG.standard_normal((203, 7)) * 100).astype(xdt)
    yv = (RNG.random(203) < 0.5).astype(ydt)
    np.save(path("X.npy"), X)
    np.save(path("y.npy"), yv)
    rc, msg = convert("--x", "X.npy", "--y", "y.npy", "npy.h5", *extra)
    names_x = ("X", "Y") if "--x-name" in extra else ("train_set_x", "train_set_y")
    ok = c.check(rc == 0, "npy %s/%s: exit %d: %s" % (xdt, ydt, rc, msg))
    x, y, names = read("npy.h5", *names_x) if ok else (None, None, None)
    want = X.astype(np.float32 if extra[:1] == ["--type"] else np.float64)
    c.check(ok and x.dtype == want.dtype and x.tobytes() == want.tobytes() and
            y.tobytes() == yv.astype(np.float64).tobytes() and names == [str(j) for j in range(7)],
            "npy %s/%s %s: round trip equal" % (xdt, ydt, extra))

# ---- bad rows and usage errors --------------------------------------------------------------
BAD = [
    ("ragged.csv", "a,b,y\n1,2,0\n3,4,1\n5,6\n", ["--label", "y"],
     r"ragged\.csv:4: 2 fields, but the header has 3 columns"),
    ("word.csv", "a,b,y\n1,2,0\n\n3,abc,1\n", ["--label", "y"],
     r"word\.csv:4: column 2 'b': 'abc' is not a number"),
    ("empty.csv", "a,b,y\n1,,0\n", ["--label", "y"], r"empty\.csv:2: column 2 'b': '' is empty"),
    ("nan.tsv", "a\tb\ty\n1\tnan\t0\n", ["--label", "y"], r"nan\.tsv:2: column 2 'b': 'nan' is "
     r"not a finite number"),
    ("f32.csv", "a,y\n1e39,0\n", ["--label", "y", "--type", "float32"],
     r"f32\.csv:2: column 1 'a': '1e39' is beyond float32's range"),
    ("nolabel.csv", "a,b,y\n1,2,0\n", ["--label", "target"], r"nolabel\.csv:1: no column 'target'"),
    ("norows.csv", "a,b,y\n", ["--label", "y"], r"norows\.csv: no data rows"),
    ("token.svm", "1 1:2 3:4\n0 2:1.5\n# c\n1 2=3\n", [], r"token\.svm:4: '2=3' is not index:value"),
    ("badval.svm", "1 1:2 3:x\n", [], r"badval\.svm:1: index 3: value 'x' is not a number"),
    ("range.svm", "1 1:2\n0 5:1\n", ["--features", "4"],
     r"range\.svm:2: index 5 out of range 1 \.\.\. 4 \(--features\)"),
    ("zero.svm", "1 1:2\n\n0 0:1\n", [], r"zero\.svm:3: index 0 out of range \(indices are 1-based\)"),
    ("order.svm", "1 3:2 2:1\n", [], r"order\.svm:1: index 2 after 3: indices must increase"),
    ("label.svm", "1 1:2\nyes 2:1\n", [], r"label\.svm:2: label 'yes' is not a number"),
    ("dup.svm", "1 1:2 3:4\n0 3:1 2:2 3:5\n", ["--sparse"],
     r"dup\.svm:2: index 3 appears twice in the line"),
    ("int32.svm", "1 1:2\n0 2147483648:1\n", ["--sparse"],
     r"int32\.svm:2: index 2147483648 out of range 1 \.\.\. 2147483647"),
    ("nofeat.svm", "1\n0 # none\n", ["--sparse"], r"nofeat\.svm: no feature index in any row \(2 rows\)"),
    ("rangecsr.svm", "1 1:2\n0 5:1\n", ["--sparse", "--features", "4"],
     r"rangecsr\.svm:2: index 5 out of range 1 \.\.\. 4 \(--features\)"),
]
for name, body, args, frag in BAD:
    with open(path(name), "w") as f:
        f.write(body)
    with open(path("keep.h5"), "wb") as f:
        f.write(b"previous output")
    rc, msg = convert(name, "keep.h5", *args)
    c.check(rc == 3 and re.search(r"^dzconvert: " + frag, msg, re.M) and msg.count("\n") == 1,
            "%s: exit 3 and one line /%s/, got exit %d: %r" % (name, frag, rc, msg))
    with open(path("keep.h5"), "rb") as f:
        c.check(f.read() == b"previous output" and leftovers("keep.h5") == ["keep.h5"],
                "%s: existing output untouched, no temporary file left: %s"
                % (name, leftovers("keep.h5")))
np.save(path("Xbe.npy"), np.ones((3, 2), ">f8"))
np.save(path("X.npy"), np.ones((3, 2)))
np.save(path("y4.npy"), np.ones(4))
for args, code, frag in [
        (["--x", "Xbe.npy", "--y", "y4.npy", "o.h5"], 3, r"Xbe\.npy: element type '>f8' not supported"),
        (["--x", "X.npy", "--y", "y4.npy", "o.h5"], 3, r"y4\.npy: labels must be a 1-D array of 3"),
        (["--x", "nope.npy", "--y", "y4.npy", "o.h5"], 3, r"cannot read input 'nope\.npy'"),
        (["ragged.csv", "o.h5"], 2, r"CSV/TSV input needs --label NAME"),
        (["data.dat", "o.h5"], 2, r"cannot tell the format of 'data\.dat'"),
        (["data.svm", "--label", "y", "o.h5"], 2, r"--label and --delim apply to CSV/TSV input only"),
        (["--sparse", "ragged.csv", "--label", "y", "o.h5"], 2, r"--sparse applies to LIBSVM input only"),
        (["--bogus", "data.svm", "o.h5"], 2, r"--bogus: unknown option"),
        (["data.svm", "o.h5", "--compress", "12"], 2, r"--compress '12': expected an integer in 0"),
        (["data.svm"], 2, r"expected INPUT and OUTPUT\.h5"),
        (["data.svm", "nodir/o.h5"], 5, r"output 'nodir/o\.h5': cannot create files in folder")]:
    rc, msg = convert(*args)
    c.check(rc == code and re.search(r"^dzconvert: " + frag, msg, re.M) and not leftovers("o.h5"),
            "%s: exit %d and /%s/, got exit %d: %r" % (" ".join(args), code, frag, rc, msg))

# ---- streaming: a CSV larger than the address-space limit -----------------------------------
# The limit is the tool's own need (~32 MB of mappings for its libraries) + 32 MB: a program
# that held the 96 MB input would fail.  ASan reserves terabytes of address space, so the
# sanitizer build converts a smaller file without the limit.
with open(CONVERT, "rb") as f:
    asan = b"libasan" in f.read()
LIMIT = 64 << 20
block = io.StringIO()
Xb = RNG.standard_normal((2000, 20))
yb = (RNG.random(2000) < 0.5).astype(int)
np.savetxt(block, np.column_stack([Xb, yb]), fmt=["%.15g"] * 20 + ["%d"], delimiter=",")
block = block.getvalue()
reps = (8 << 20 if asan else 96 << 20) // len(block) + 1
with open(path("big.csv"), "w") as f:
    f.write(",".join(["f%d" % j for j in range(20)] + ["label"]) + "\n")
    for _ in range(reps):
        f.write(block)
size = os.path.getsize(path("big.csv"))
if not asan:
    p = subprocess.run(["prlimit", "--as=%d" % LIMIT, "/usr/bin/python3", "-c",
                        "open(%r, 'rb').read()" % path("big.csv")], capture_output=True)
    c.check(size > LIMIT and p.returncode != 0,
            "control: reading the %d-byte file whole under --as=%d fails (exit %d)"
            % (size, LIMIT, p.returncode))
rc, msg = convert("big.csv", "--label", "label", "big.h5", limit=None if asan else LIMIT)
print("streaming: %d-byte CSV under %s: %s" % (size, "no limit (ASan)" if asan else
                                                "prlimit --as=%d" % LIMIT, msg.strip()))
if c.check(rc == 0, "big.csv under the limit: exit %d: %s" % (rc, msg)):
    ref = np.loadtxt(io.StringIO(block), delimiter=",")
    with h5py.File(path("big.h5"), "r") as f:
        x, y = f["train_set_x"], f["train_set_y"]
        ok = x.shape == (2000 * reps, 20)
        for r0 in range(0, x.shape[0] if ok else 0, 100000):   # 100000 = 50 blocks
            n = min(100000, x.shape[0] - r0)
            ok = ok and x[r0:r0 + n].tobytes() == np.tile(ref[:, :20], (n // 2000, 1)).tobytes()
            ok = ok and y[r0:r0 + n].tobytes() == np.tile(ref[:, 20], n // 2000).tobytes()
        c.check(ok, "big.h5: %s rows, all equal to loadtxt of the repeated block" % (x.shape,))

# LIBSVM --sparse holds neither a dense row nor the d names: an index of 3,000,000 (dense: a
# 24 MB row buffer and 3e6 name strings) converts under the same limit; the dense path fails.
with open(path("wide.svm"), "w") as f:
    for i in range(1000):
        f.write("%d %d:1.5 %d:2\n" % (i % 2, 1 + i, 3000000 - i))
if not asan:
    rc, msg = convert("wide.svm", "wide_dense.h5", limit=LIMIT)
    c.check(rc != 0, "control: the dense conversion of wide.svm fails under --as=%d: exit %d %s"
            % (LIMIT, rc, msg))
rc, msg = convert("--sparse", "wide.svm", "wide.h5", limit=None if asan else LIMIT)
if c.check(rc == 0, "wide.svm --sparse under the limit: exit %d: %s" % (rc, msg)):
    Xw, _, _ = read_csr("wide.h5")
    with h5py.File(path("wide.h5"), "r") as f:
        last = f["feature_names"][-1]
    c.check(Xw.shape == (1000, 3000000) and Xw.nnz == 2000 and Xw[999, 2999000] == 2 and
            last == b"3000000", "wide.h5: shape %s, nnz %d, last name %s" % (Xw.shape, Xw.nnz, last))

# ---- the README's path: CSV -> convert -> train -> evaluate -> predict ------------------------
# The shipped breast-cancer split written as CSV (float32 values at 9 digits, label first,
# the real feature names), converted with --type float32: the same bits as the shipped HDF5,
# so training must give the shipped example's model.
src = os.path.join(dztest.SOURCE, "configs", "data")
for part, xn, yn in [("train", "train_set_x", "train_set_y"), ("test", "test_set_x", "test_set_y")]:
    with h5py.File(os.path.join(src, "breast_cancer_%s.h5" % part), "r") as f:
        X, y = f["x"][...], f["y"][...]
    with h5py.File(os.path.join(src, "breast_cancer_train.h5"), "r") as f:
        cols = [s.decode() for s in f["feature_names"][...]]
    with open(path("bc_%s.csv" % part), "w") as f:
        f.write(",".join(["diagnosis"] + cols) + "\n")
        for xi, yi in zip(X, y):
            f.write(",".join([str(yi)] + ["%.9g" % v for v in xi]) + "\n")
    rc, msg = convert("bc_%s.csv" % part, "--label", "diagnosis", "--type", "float32",
                      "--x-name", xn, "--y-name", yn, "bc_%s.h5" % part)
    x, yy, names = read("bc_%s.h5" % part, xn, yn)
    c.check(rc == 0 and x.tobytes() == X.tobytes() and np.array_equal(yy, y) and names == cols,
            "bc_%s.csv converts to the shipped data's bits and names: %s" % (part, msg))
dztest.write_config(path("config.ini"), {
    "data": {"train": "bc_train.h5", "test": "bc_test.h5"},
    "train": {"learning_rate": 0.01, "iterations": 2000},
    "output": {"model": "model.h5", "metrics": "metrics.csv"}})
rc, out, err, _ = dztest.mpirun(2, 1, ["train", "config.ini", "--quiet"], cwd=W)
c.check(rc == 0 and "train accuracy: 97.807017543859644 %" in out and
        "test accuracy: 99.115044247787608 %" in out,
        "train on the converted CSV: the README's example accuracies: %s" % (out + err)[-600:])
rrc, _, rerr, _ = dztest.mpirun(1, 1, [os.path.join(dztest.SOURCE, "configs", "example.ini"),
                                       "--quiet", "--set", "output.model=" + path("ref_model.h5"),
                                       "--set", "output.metrics=" + path("ref_metrics.csv")])
if rc == 0 and c.check(rrc == 0, "the shipped example trains: %s" % rerr[-400:]):
    w, b, _ = dztest.read_model(path("model.h5"))
    w0, b0, _ = dztest.read_model(path("ref_model.h5"))
    c.check(w.tobytes() == w0.tobytes() and b == b0,
            "the CSV path's model equals the shipped example's bit for bit")
    with h5py.File(path("model.h5"), "r") as f:
        mnames = [s.decode() for s in f["feature_names"][...]] if "feature_names" in f else None
    c.check(mnames is not None and mnames == read("bc_train.h5")[2],
            "model.h5 carries the training file's feature_names: %s" % (mnames or [])[:3])
rc, out, err, _ = dztest.mpirun(2, 1, ["evaluate", "--model", "model.h5", "--data", "bc_test.h5",
                                       "--json", "eval.json"], cwd=W)
ev = json.load(open(path("eval.json"))) if rc == 0 else {}
c.check(rc == 0 and ev.get("accuracy") == 112 / 113 and ev.get("m") == 113,
        "evaluate on the converted test CSV: accuracy 112/113: %s" % (ev or (out + err)[-600:]))
rc, out, err, _ = dztest.mpirun(2, 1, ["predict", "--model", "model.h5", "--data", "bc_test.h5",
                                       "--out", "pred.h5"], cwd=W)
if c.check(rc == 0, "predict on the converted test CSV: %s" % (out + err)[-600:]):
    w, b, _ = dztest.read_model(path("model.h5"))
    x, y, _ = read("bc_test.h5", "test_set_x", "test_set_y")
    with h5py.File(path("pred.h5"), "r") as f:
        proba, label = f["proba"][...], f["label"][...]
    p_ref = 1 / (1 + np.exp(-(x.astype(np.float64) @ w + b)))
    c.check(np.allclose(proba, p_ref, rtol=1e-12, atol=0) and
            np.array_equal(label, (p_ref > 0.5).astype(label.dtype)) and
            np.mean(label == y) == ev.get("accuracy"),
            "pred.h5: proba = sigmoid(x w + b) to 1e-12, labels agree with evaluate's accuracy")
c.finish()
