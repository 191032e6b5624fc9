"""Checkpoint and resume (reproducible mode): a run stopped by kill -9 of one rank, or by
SIGTERM to the job, and resumed with a different N × T, ends with the same bits (w, b, loss
history) as an uninterrupted run; the stop leaves a loadable checkpoint and exit code 75 for
SIGTERM; a corrupt or truncated checkpoint, changed settings or changed data are refused
with a message saying what differs (--force accepts settings and iterations, never data).
Optimizer state (lbfgs, OWL-QN, newton, adam) and the softmax model resume bit for bit too, and
so do runs on sparse (CSR) features; a CSR checkpoint is refused for a changed stored value."""
import os
import re
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np

import dztest

c = dztest.Checker("checkpoint")
w = dztest.workdir("checkpoint")
data = os.path.join(w, "d.h5")
dztest.make_dataset(data, 1500, 400, "float64", seed=5)
ITER = 6000
base = {"data": {"train": data, "train_x": "x", "train_y": "y"},
        "train": {"learning_rate": 0.05, "iterations": ITER, "log_every": 50, "block_rows": 16},
        "checkpoint": {"file": "ckpt.h5", "every": 200}}


def folder(name, sections=base):
    d = os.path.join(w, name)
    os.makedirs(d)
    return d, dztest.write_config(os.path.join(d, "c.ini"), sections)


def start(n, t, cfg, extra=()):
    e = dict(os.environ, OMP_NUM_THREADS=str(t), OMP_WAIT_POLICY="passive")
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", "-x", "OMP_NUM_THREADS",
           "-x", "OMP_WAIT_POLICY", dztest.TRAINER, "--quiet"] + list(extra) + [cfg]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                            start_new_session=True)


def trainer_pids(cfg):
    out = subprocess.run(["pgrep", "-f", "^%s --quiet.*%s" % (dztest.TRAINER, cfg)],
                         capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


# 1. uninterrupted reference, 2 ranks x 1 thread
ref_dir, ref_cfg = folder("ref")
rc, out, err, _ = dztest.mpirun(2, 1, ["--quiet", ref_cfg])
c.check(rc == 0, "reference run: exit %d %s" % (rc, err))
ref = dztest.result_digest(os.path.join(ref_dir, "model.h5"), os.path.join(ref_dir, "metrics.csv"))

# 2. kill -9 one rank once a checkpoint exists; the job must end within 10 s; resume at 3 x 2
d, cfg = folder("kill9")
p = start(2, 1, cfg)
ck = os.path.join(d, "ckpt.h5")
c.check(dztest.wait_for_ckpt(ck, p, 400), "kill9: a checkpoint appeared")
pids = trainer_pids(cfg)
c.check(len(pids) == 2, "kill9: found the 2 rank processes: %s" % pids)
t_kill = time.time()
os.kill(pids[-1], signal.SIGKILL)
try:
    p.wait(timeout=30)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
ended = time.time() - t_kill
print("kill -9 of one rank: job ended after %.2f s, exit %s" % (ended, p.returncode))
c.check(ended < 10 and p.returncode != 0, "kill9: job ended in %.2f s (< 10) with non-zero exit" % ended)
c.check(not os.path.exists(os.path.join(d, "model.h5")), "kill9: no model written")
at = dztest.ckpt_iteration(ck)
c.check(0 < at < ITER, "kill9: checkpoint loadable at iteration %d" % at)
rc, out, err, _ = dztest.mpirun(3, 2, ["--quiet", "--resume", cfg], env={"OMP_WAIT_POLICY": "passive"})
c.check(rc == 0, "kill9: resume exit %d %s" % (rc, err))
if rc == 0:
    got = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))
    c.check(got == ref, "kill9: resumed (3x2 from iteration %d) result differs from uninterrupted" % at)

# 3. SIGTERM to the rank processes (as Slurm signals a job's tasks): exit 75 from every rank,
#    one message, a checkpoint, no model; resume at 1 x 3.  (A signal to mpirun alone is
#    Open MPI's to forward or not; README says how to signal the ranks under Slurm.)
def sigterm_case(name, to_mpirun, resume_n, resume_t):
    d, cfg = folder(name)
    p = start(2, 1, cfg)
    ck = os.path.join(d, "ckpt.h5")
    c.check(dztest.wait_for_ckpt(ck, p, 200), "%s: a checkpoint appeared" % name)
    time.sleep(0.3)
    for pid in ([p.pid] if to_mpirun else trainer_pids(cfg)):
        os.kill(pid, signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    if to_mpirun:
        c.check(p.returncode != 0, "%s: non-zero exit" % name)
    else:
        c.check(p.returncode == 75, "%s: exit code %s (expected 75): %s" % (name, p.returncode, err[-500:]))
    c.check(err.count("stopped by a signal after iteration") == 1, "%s: one message: %s" % (name, err[-500:]))
    c.check(not os.path.exists(os.path.join(d, "model.h5")), "%s: no model written" % name)
    c.check(not [f for f in os.listdir(d) if ".tmp." in f], "%s: no temporary files left" % name)
    at = dztest.ckpt_iteration(ck)
    # the checkpoint holds the state after the step the stop message names (not a periodic
    # one that happened to be there: "after iteration i" means i + 1 updates)
    mm = re.search(r"stopped by a signal after iteration (\d+)", err)
    c.check(mm is not None and 0 < at < ITER and at == int(mm.group(1)) + 1,
            "%s: checkpoint written at the stop (iteration %d, message %s)" % (name, at, mm and mm.group(0)))
    rc, out, err, _ = dztest.mpirun(resume_n, resume_t, ["--quiet", "--resume", cfg],
                                    env={"OMP_WAIT_POLICY": "passive"})
    c.check(rc == 0, "%s: resume exit %d %s" % (name, rc, err))
    if rc == 0:
        got = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))
        c.check(got == ref, "%s: resumed (%dx%d from iteration %d) result differs from uninterrupted"
                % (name, resume_n, resume_t, at))
    return d, ck


d, ck = sigterm_case("sigterm", False, 1, 3)
good = os.path.join(d, "good_ckpt.h5")
shutil.copy(ck, good)


def resume_expect(name, ckpt_src, sections, code, fragment, extra=()):
    d, cfg = folder(name, sections)
    shutil.copy(ckpt_src, os.path.join(d, "ckpt.h5"))
    for n in (1, 3):
        rc, out, err, secs = dztest.mpirun(n, 1, ["--quiet", "--resume"] + list(extra) + [cfg])
        c.check(rc == code and fragment in err and secs < 20,
                "%s at N=%d: expected exit %d with '%s', got %d in %.1f s: %s" % (name, n, code, fragment, rc, secs, err[-600:]))


# 4. corrupt / truncated checkpoints are refused
raw = open(good, "rb").read()
with h5py.File(good, "r") as f:
    off = f["params"].id.get_offset()
bad = bytearray(raw)
bad[off + 8] ^= 0x55
open(os.path.join(w, "flipped.h5"), "wb").write(bytes(bad))
resume_expect("corrupt", os.path.join(w, "flipped.h5"), base, 5, "corrupt (payload checksum mismatch)")
open(os.path.join(w, "trunc.h5"), "wb").write(raw[: len(raw) // 2])
resume_expect("truncated", os.path.join(w, "trunc.h5"), base, 5, "refusing to resume")
open(os.path.join(w, "text.h5"), "w").write("not a checkpoint\n")
resume_expect("garbage", os.path.join(w, "text.h5"), base, 5, "not an HDF5 file")

# 5. changed settings / iterations / data
changed = {k: dict(v) for k, v in base.items()}
changed["train"]["learning_rate"] = 0.07
resume_expect("changed_lr", good, changed, 2, "learning_rate=0.070000000000000007 (checkpoint: 0.050000000000000003)")
resume_expect("changed_lr_force", good, changed, 0, "", extra=["--force"])
more = {k: dict(v) for k, v in base.items()}
more["train"]["iterations"] = ITER + 100
resume_expect("changed_iterations", good, more, 2, "iterations is 6100, the checkpoint's run had 6000")
resume_expect("changed_iterations_force", good, more, 0, "", extra=["--force"])
data2 = os.path.join(w, "d2.h5")
shutil.copy(data, data2)
with h5py.File(data2, "r+") as f:
    f["x"][0, 0] += 1.0
other = {k: dict(v) for k, v in base.items()}
other["data"]["train"] = data2
resume_expect("changed_data", good, other, 3, "the training data differ from the checkpoint's")
resume_expect("changed_data_force", good, other, 3, "the training data differ", extra=["--force"])

# A logistic checkpoint resumed as a softmax model (same data: labels 0/1, K = 2): refused
# for the changed model, and with --force for the different parameter count.
sm = {k: dict(v) for k, v in base.items()}
sm["model"] = {"type": "softmax"}
resume_expect("logistic_as_softmax", good, sm, 2, "model=softmax (checkpoint: logistic)")
resume_expect("logistic_as_softmax_force", good, sm, 2, "the checkpoint holds 401 parameters, this "
              "model has 802", extra=["--force"])

# 6. Optimizers with state: a run checkpointed after K updates (a run of K iterations that
#    checkpoints at K) and resumed at another N x T with --force to the full count continues
#    bit for bit like the uninterrupted run (lbfgs: its pairs and cached J, g; newton: the
#    trust radius, with J, g and the curvature recomputed; adam: moments, mini-batch schedule).
#    The softmax model too (K = 5): gd, lbfgs, newton (its saved A recomputed), adam.
sdata = os.path.join(w, "s.h5")
dztest.make_multiclass(sdata, 700, 30, 5, "float64", seed=8)
# (with a test set: metrics.csv's test columns are checkpointed, resumed and digested too)
smodel = {"data": {"train": sdata, "train_x": "x", "train_y": "y", "test": sdata, "test_x": "x",
                   "test_y": "y"}, "model": {"type": "softmax"}}
# Sparse (CSR) features, 700 x 50, 20 % non-zeros, every seventh row and the last 60 empty;
# logistic and softmax (K = 4), with the same file as test set.
rng = np.random.default_rng(9)
Xsp = rng.standard_normal((700, 50)) * (rng.random((700, 50)) < 0.2)
Xsp[::7] = 0
Xsp[640:] = 0
ysp = (rng.random(700) < 1 / (1 + np.exp(-(Xsp @ rng.standard_normal(50) / 2)))).astype(np.uint8)
spdata = os.path.join(w, "sp.h5")
dztest.make_csr(spdata, Xsp, ysp)
with h5py.File(spdata, "a") as f:
    f.create_dataset("y4", data=(np.argmax(Xsp[:, :4], 1) + 2 * (Xsp[:, 4] > 0)) % 4)
spmodel = {"data": {"train": spdata, "train_x": "x", "train_y": "y", "test": spdata,
                    "test_x": "x", "test_y": "y"}}
spsoftmax = {"data": dict(spmodel["data"], train_y="y4", test_y="y4"), "model": {"type": "softmax"}}
sp_good = os.path.join(w, "sparse_good_ckpt.h5")
for name, opt, K, full, model in [
        ("lbfgs", dict(optimizer="lbfgs", l2=1.0, memory=5, tolerance=1e-9), 6, 40, None),
        ("owlqn", dict(optimizer="lbfgs", l1=2.0, tolerance=1e-8), 9, 60, None),
        ("newton", dict(optimizer="newton", l2=0.5, tolerance=1e-10), 2, 20, None),
        ("adam", dict(optimizer="adam", learning_rate=0.01, batch_size=64, seed=3), 37, 90, None),
        ("softmax_gd", dict(optimizer="gd", learning_rate=0.5), 23, 50, smodel),
        ("softmax_lbfgs", dict(optimizer="lbfgs", l2=1.0, memory=5, tolerance=1e-9), 7, 40, smodel),
        ("softmax_newton", dict(optimizer="newton", l2=0.5, tolerance=1e-10), 2, 20, smodel),
        ("softmax_adam", dict(optimizer="adam", learning_rate=0.01, batch_size=64, seed=3), 29, 60,
         smodel),
        ("sparse_gd", dict(optimizer="gd", learning_rate=0.5), 23, 50, spmodel),
        ("sparse_lbfgs", dict(optimizer="lbfgs", l2=1.0, memory=5, tolerance=1e-9), 6, 40, spmodel),
        ("sparse_adam", dict(optimizer="adam", learning_rate=0.01, batch_size=64, seed=3), 37, 90,
         spmodel),
        ("sparse_softmax_newton", dict(optimizer="newton", l2=0.5, tolerance=1e-10), 2, 20,
         spsoftmax)]:
    train = dict(opt, iterations=full, log_every=1, block_rows=16)
    secs = dict(model or {"data": base["data"]}, train=train)
    rd, rcfg = folder(name + "_ref", secs)
    rc, out, err, _ = dztest.mpirun(1, 2, ["--quiet", rcfg])
    c.check(rc == 0, "%s reference: exit %d %s" % (name, rc, err[-500:]))
    ref_opt = dztest.result_digest(os.path.join(rd, "model.h5"), os.path.join(rd, "metrics.csv"))
    d, cfg = folder(name + "_part", dict(secs, train=dict(train, iterations=K),
                                         checkpoint={"file": "ckpt.h5", "every": K}))
    rc, out, err, _ = dztest.mpirun(2, 1, ["--quiet", cfg])
    c.check(rc == 0 and dztest.ckpt_iteration(os.path.join(d, "ckpt.h5")) == K,
            "%s: first part of %d iterations checkpointed at %d: exit %d %s" % (
                name, K, dztest.ckpt_iteration(os.path.join(d, "ckpt.h5")), rc, err[-500:]))
    if name == "sparse_lbfgs":
        shutil.copy(os.path.join(d, "ckpt.h5"), sp_good)
        sp_part = dict(secs, train=dict(train, iterations=K), checkpoint={"file": "ckpt.h5", "every": K})
    dztest.write_config(cfg, dict(secs, checkpoint={"file": "ckpt.h5", "every": K}))
    rc, out, err, _ = dztest.mpirun(3, 2, ["--quiet", "--resume", "--force", cfg],
                                    env={"OMP_WAIT_POLICY": "passive"})
    c.check(rc == 0, "%s: resume exit %d %s" % (name, rc, err[-500:]))
    if rc == 0:
        got = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))
        c.check(got == ref_opt, "%s: resumed at 3x2 from iteration %d differs from the "
                "uninterrupted 1x2 run" % (name, K))
        with h5py.File(os.path.join(rd, "model.h5"), "r") as f:
            print("%s: uninterrupted run stopped after %d iterations (%s); resumed from %d: %s"
                  % (name, f.attrs["iterations"], f.attrs["stop_reason"].decode(), K,
                     "identical" if got == ref_opt else "DIFFERENT"))

# A CSR checkpoint with one stored value of the training data changed: refused (exit 3).
spdata2 = os.path.join(w, "sp2.h5")
shutil.copy(spdata, spdata2)
with h5py.File(spdata2, "r+") as f:
    f["x/data"][0] += 1.0
sp_other = dict(sp_part, data=dict(sp_part["data"], train=spdata2))
resume_expect("sparse_changed_data", sp_good, sp_other, 3,
              "the training data differ from the checkpoint's")
c.finish()
