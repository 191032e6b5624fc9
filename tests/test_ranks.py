"""Ranks × threads: the same training at N ∈ {1, 2, 3, 4, 8} ranks × T ∈ {1, 2, 3} threads
gives bit-identical w, b and loss history (reproducible = true, the default), on data whose
row count is not a multiple of N·T, with ranks that own no rows (m < N), in every in-memory
dtype, for the softmax model with every optimizer, on sparse (CSR) features with empty rows
and a rank that owns only empty rows, and on the course's cat data when present.  With
reproducible = false the results must still agree to 1e-12 relative.  Also checks against an
independent numpy float64 gradient descent."""
import os
import subprocess

import h5py
import numpy as np

import dztest

c = dztest.Checker("ranks")
w = dztest.workdir("ranks")
env = {"OMP_WAIT_POLICY": "passive"}  # 24 threads on 2 cores: don't spin
GRID = [(n, t) for n in (1, 2, 3, 4, 8) for t in (1, 2, 3)]
if dztest.SMALL:  # the grid's corners (see dztest.SMALL)
    GRID = [(1, 1), (3, 2), (8, 1)]


def numpy_gd(X, y, scale, lr, iters, log_every):
    X = X.reshape(X.shape[0], -1).astype(np.float64) / scale
    m, d = X.shape
    wv, b, losses = np.zeros(d), 0.0, []
    for i in range(iters):
        z = X @ wv + b
        a = 1 / (1 + np.exp(-z))
        if i % log_every == 0:
            losses.append(np.mean(np.logaddexp(0, z) - y * z))
        wv -= lr * (X.T @ (a - y)) / m
        b -= lr * np.mean(a - y)
    return wv, b, np.array(losses)


def kernel_paths():
    """The kernel paths this build has and this CPU runs (from trainer --version)."""
    p = subprocess.run([dztest.TRAINER, "--version"], capture_output=True, text=True)
    line = [l for l in p.stdout.splitlines() if l.startswith("kernel paths:")]
    names = line[0].split(":", 1)[1].split(";")[0].split(",") if line else []
    return [n.strip() for n in names if "not on this CPU" not in n]


PATHS = kernel_paths()


def run_grid(name, h5, sections, grid, X=None, y=None, scale=1.0, repro=True, paths=("",)):
    """Every (N, T) of grid, under each kernel path in paths ("" = the default choice)."""
    digests, results = {}, {}
    for (n, t), isa in [(g, p) for g in grid for p in paths]:
        d = os.path.join(w, "%s_n%d_t%d_%s%s" % (name, n, t, "r" if repro else "p", isa))
        os.makedirs(d)
        s = {k: dict(v) for k, v in sections.items()}
        s["data"]["train"] = h5
        s.setdefault("train", {})["reproducible"] = "true" if repro else "false"
        cfg = dztest.write_config(os.path.join(d, "c.ini"), s)
        rc, out, err, secs = dztest.mpirun(n, t, [cfg, "--quiet"],
                                           env=dict(env, DZ_ISA=isa) if isa else env)
        if not c.check(rc == 0, "%s %dx%d %s: exit %d: %s" % (name, n, t, isa, rc, err[-2000:])):
            continue
        digests[(n, t, isa)] = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))
        wv, b, _ = dztest.read_model(os.path.join(d, "model.h5"))
        _, rows = dztest.read_metrics(os.path.join(d, "metrics.csv"))
        results[(n, t, isa)] = (wv, b, np.array([r[1] for r in rows]))
    if repro:
        distinct = set(digests.values())
        c.check(len(distinct) == 1 and len(digests) == len(grid) * len(paths),
                "%s: %d distinct results over %d runs: %s" % (name, len(distinct), len(digests),
                                                               sorted(digests.items())))
        print("%s: %d runs, %d distinct digest(s) %s" % (name, len(digests), len(distinct),
                                                        list(distinct)[:1]))
    else:
        base = results.get(grid[0] + ("",))
        for key, (wv, b, losses) in results.items():
            ok = base is not None and np.allclose(wv, base[0], rtol=1e-12, atol=1e-15) and \
                abs(b - base[1]) <= 1e-12 * max(1, abs(b)) and np.allclose(losses, base[2], rtol=1e-12, atol=0)
            c.check(ok, "%s plain %dx%d differs from 1x1 by more than 1e-12" % (name, key[0], key[1]))
    if X is not None and results:
        it = int(sections["train"]["iterations"])
        le = int(sections["train"].get("log_every", 100))
        lr = float(sections["train"]["learning_rate"])
        wr, br, lr_losses = numpy_gd(X, y.astype(np.float64), scale, lr, it, le)
        wv, b, losses = results[grid[0] + ("",)]
        err_w = np.max(np.abs(wv - wr)) / max(1e-300, np.max(np.abs(wr)))
        err_l = np.max(np.abs(losses - lr_losses) / np.abs(lr_losses))
        c.check(err_w < 1e-12 and abs(b - br) < 1e-12 * max(1, abs(br)) and err_l < 1e-12,
                "%s vs numpy: w rel %.3g, b %.17g vs %.17g, loss rel %.3g" % (name, err_w, b, br, err_l))
        print("%s vs numpy float64 GD: max |w - w_np| / max|w_np| = %.3g, loss rel %.3g" % (name, err_w, err_l))


train = {"learning_rate": 0.1, "iterations": 60, "log_every": 7}

# A: m = 203 rows (prime), d = 13, float32, small blocks so every rank and thread has several
h5 = os.path.join(w, "a.h5")
X, y = dztest.make_dataset(h5, 203, 13, "float32", seed=1)
run_grid("f32_m203", h5, {"data": {"train_x": "x", "train_y": "y"},
                         "train": dict(train, block_rows=4)}, GRID, X, y)
run_grid("f32_m203", h5, {"data": {"train_x": "x", "train_y": "y"},
                         "train": dict(train, block_rows=4)}, [(1, 1), (2, 1), (3, 2), (4, 3)], X, y, repro=False)
# Every optimizer, on the same data: mini-batches (sgd, adam), l1 (momentum's proximal step,
# OWL-QN), l2 with lbfgs and newton stopping at a tolerance.  A smaller grid: N = 8 > blocks
# per batch leaves ranks out of some batches.
SUB = [(1, 1), (2, 1), (3, 2), (4, 3), (8, 1)] if not dztest.SMALL else [(1, 1), (3, 2)]
# (sgd_batch and softmax_gd also have a test set: metrics.csv's test columns enter the digest)
data_a = {"train_x": "x", "train_y": "y"}
data_at = dict(data_a, test=h5, test_x="x", test_y="y")
for name, opt in [
        ("sgd_batch", dict(optimizer="sgd", learning_rate=0.2, decay=0.01, batch_size=16, seed=7,
                           iterations=60, log_every=5, block_rows=4)),
        ("momentum_l1", dict(optimizer="momentum", learning_rate=0.05, nesterov="true", l1=0.5,
                             l2=0.1, iterations=60, log_every=7, block_rows=4)),
        ("adam_batch", dict(optimizer="adam", learning_rate=0.01, batch_size=12, iterations=60,
                            log_every=6, block_rows=4)),
        ("lbfgs_l2", dict(optimizer="lbfgs", l2=1.0, tolerance=1e-9, iterations=200, log_every=1,
                          block_rows=4)),
        ("owlqn_l1", dict(optimizer="lbfgs", l1=0.5, memory=4, tolerance=1e-8, iterations=200,
                          log_every=1, block_rows=4)),
        ("newton_l2", dict(optimizer="newton", l2=0.5, tolerance=1e-10, iterations=50,
                           log_every=1, block_rows=4))]:
    run_grid(name, h5, {"data": data_at if name == "sgd_batch" else data_a, "train": opt}, SUB)
# Softmax (K = 4, one class with few rows; float64 labels): every optimizer on the same grid.
h5s = os.path.join(w, "s.h5")
dztest.make_multiclass(h5s, 203, 13, 4, "float32", ydtype="float64", seed=5)
data_s = {"train_x": "x", "train_y": "y"}
for name, opt in [
        ("softmax_gd", dict(train, block_rows=4)),
        ("softmax_adam_batch", dict(optimizer="adam", learning_rate=0.01, batch_size=12,
                                    iterations=40, log_every=6, block_rows=4)),
        ("softmax_owlqn_l1", dict(optimizer="lbfgs", l1=0.5, memory=4, tolerance=1e-8,
                                  iterations=100, log_every=1, block_rows=4)),
        ("softmax_lbfgs_l2", dict(optimizer="lbfgs", l2=1.0, tolerance=1e-9, iterations=200,
                                  log_every=1, block_rows=4)),
        ("softmax_newton_l2", dict(optimizer="newton", l2=0.5, tolerance=1e-10, iterations=50,
                                   log_every=1, block_rows=4))]:
    data = dict(data_s, test=h5s, test_x="x", test_y="y") if name == "softmax_gd" else data_s
    run_grid(name, h5s, {"data": data, "model": {"type": "softmax"}, "train": opt}, SUB)
# Sparse (CSR) features: m = 389 (prime), d = 17, float32 values, ~10 % of the rows empty
# (scattered) and the last 130 in one run.  Ranks own runs of whole blocks balanced by
# non-zeros + 4·rows (src/shard_csr.c), so at N = 8 the last rank owns only empty rows;
# csr_owners() replays that cut to show it.  gd (also against numpy), lbfgs and softmax gd, each
# with a test set (the same file); a 5-row CSR set with N > blocks leaves ranks without rows.


def csr_owners(indptr, m, B, N):
    """(first row, end row, non-zeros) of each rank under shard_csr.c's cut: block k costs its
    non-zeros + 4·rows; rank r starts at the first block where the cost before it reaches
    r/N of the total."""
    nb = -(-m // B)
    bnd = [int(indptr[min(k * B, m)]) for k in range(nb + 1)]
    cost = [bnd[k + 1] - bnd[k] + 4 * min(B, m - k * B) for k in range(nb)]
    starts, acc = [0] + [None] * (N - 1) + [nb], 0
    for k in range(nb + 1):
        for r in range(1, N):
            if starts[r] is None and acc * N >= sum(cost) * r:
                starts[r] = k
        acc += cost[k] if k < nb else 0
    return [(starts[r] * B, min(starts[r + 1] * B, m),
             bnd[starts[r + 1]] - bnd[starts[r]]) for r in range(N)]


rng = np.random.default_rng(11)
m_sp, L_sp = 389, 130
Xsp = rng.standard_normal((m_sp, 17)).astype(np.float32) * (rng.random((m_sp, 17)) < 0.3)
Xsp[rng.choice(m_sp - L_sp, (m_sp - L_sp) // 10, replace=False)] = 0
Xsp[m_sp - L_sp:] = 0
ysp = (rng.random(m_sp) < 1 / (1 + np.exp(-(Xsp @ rng.standard_normal(17) + 0.2)))).astype(np.uint8)
Z3 = Xsp @ rng.standard_normal((17, 3)) * 1.5
y3 = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in Z3]).astype(np.int32)
h5sp = os.path.join(w, "sparse.h5")
Xsp_d, _ = dztest.make_csr(h5sp, Xsp, ysp, data_dtype="float32")
with h5py.File(h5sp, "a") as f:
    f.create_dataset("y3", data=y3)
nnz_sp = (Xsp != 0).sum(1)
owners = csr_owners(np.concatenate([[0], np.cumsum(nnz_sp)]), m_sp, 4, 8)
print("sparse: %d of %d rows empty; at N = 8 (block_rows 4) the ranks own rows/non-zeros %s"
      % (int(np.sum(nnz_sp == 0)), m_sp, ["%d-%d/%d" % o for o in owners]))
c.check(any(a < b and z == 0 for a, b, z in owners),
        "sparse: no rank owns only empty rows at N = 8: %s" % owners)
data_sp = {"train_x": "x", "train_y": "y", "test": h5sp, "test_x": "x", "test_y": "y"}
run_grid("sparse_gd", h5sp, {"data": data_sp, "train": dict(train, block_rows=4)}, GRID,
         Xsp_d, ysp)
run_grid("sparse_lbfgs", h5sp, {"data": data_sp, "train": dict(
    optimizer="lbfgs", l2=1.0, tolerance=1e-9, iterations=100, log_every=1, block_rows=4)}, SUB)
run_grid("sparse_softmax_gd", h5sp, {"data": dict(data_sp, train_y="y3", test_y="y3"),
                                     "model": {"type": "softmax"},
                                     "train": dict(train, block_rows=4)}, SUB)
h5sp5 = os.path.join(w, "sparse5.h5")
dztest.make_csr(h5sp5, Xsp[:5] + np.eye(5, 17, dtype=np.float32), np.array([0, 1, 1, 0, 1], "u1"))
run_grid("sparse_m5", h5sp5, {"data": {"train_x": "x", "train_y": "y"},
                              "train": dict(train, block_rows=1)}, SUB)
# Every kernel path this CPU runs (DZ_ISA) gives the same bits as well: the grid's corners
# under each path, for a first-order and a second-order run and on the cat data below.
print("kernel paths on this CPU: %s" % ", ".join(PATHS))
if dztest.SMALL:  # the paths' bits are compared by test isa; the trainer's choice once here
    PATHS = PATHS[-1:]
c.check(len(PATHS) >= 1 and "generic" in PATHS, "trainer --version lists the kernel paths: %s" % PATHS)
run_grid("f32_paths", h5, {"data": data_a, "train": dict(train, block_rows=4)},
         [(1, 1), (3, 2)], paths=[""] + PATHS)
run_grid("newton_paths", h5, {"data": data_a, "train": dict(optimizer="newton", l2=0.5,
         tolerance=1e-10, iterations=50, log_every=1, block_rows=4)}, [(1, 1), (3, 2)],
         paths=[""] + PATHS)
run_grid("sparse_lbfgs_paths", h5sp, {"data": data_sp, "train": dict(
    optimizer="lbfgs", l2=1.0, tolerance=1e-9, iterations=100, log_every=1, block_rows=4)},
    [(1, 1), (3, 2)], paths=[""] + PATHS)
run_grid("softmax_newton_paths", h5s, {"data": data_s, "model": {"type": "softmax"},
         "train": dict(optimizer="newton", l2=0.5, tolerance=1e-10, iterations=50, log_every=1,
                       block_rows=4)}, [(1, 1), (3, 2)], paths=[""] + PATHS)
# B: m = 3 < N for N = 4, 8: ranks with no rows; labels shaped (1, m); 3-D features
h5 = os.path.join(w, "b.h5")
X, y = dztest.make_dataset(h5, 3, 6, "float64", seed=2, yshape=(1, 3), shape=(3, 2, 3))
run_grid("f64_m3", h5, {"data": {"train_x": "x", "train_y": "y"},
                       "train": dict(train, block_rows=1)}, GRID, X, y)
# Softmax with m = 5 < N: ranks with no rows, labels (m, 1) int64, K = 3
h5 = os.path.join(w, "s5.h5")
dztest.make_multiclass(h5, 5, 6, 3, "float64", ydtype="int64", seed=6, yshape=(5, 1))
run_grid("softmax_m5", h5, {"data": {"train_x": "x", "train_y": "y"}, "model": {"type": "softmax"},
                           "train": dict(train, block_rows=1)}, GRID)
# C: uint8 features scaled by 255, automatic block size, labels (m, 1)
h5 = os.path.join(w, "c.h5")
X, y = dztest.make_dataset(h5, 301, 40, "uint8", seed=3, yshape=(301, 1))
run_grid("u8_m301", h5, {"data": {"train_x": "x", "train_y": "y", "scale": 255},
                        "train": train}, GRID, X, y, scale=255.0)

cat = os.path.normpath(os.path.join(dztest.SOURCE, "..", "shared", "data", "train_catvnoncat.h5"))
if os.path.exists(cat):
    cat_cfg = {"data": {"scale": 255},
               "train": {"learning_rate": 0.005, "iterations": 300, "log_every": 50}}
    run_grid("cat", cat, cat_cfg, GRID if not dztest.SMALL else [(2, 1)])
    if not dztest.SMALL:
        run_grid("cat_paths", cat, cat_cfg, [(1, 1), (2, 1)], paths=[""] + PATHS)
else:
    print("cat data absent: that part skipped")
c.finish()
