"""Faults: (1) kill -9 of rank 0 at random moments while it writes a checkpoint every
iteration — every checkpoint that survives must load and resume (atomic write: temp file,
fsync, rename); (2) kill -9 of one rank at N = 3 ends the whole job within 10 s; (3) a run
that diverges stops with exit 4 naming the iteration, writes no model, and keeps its last
good checkpoint, which resumes."""
import os
import random
import signal
import subprocess
import time

import h5py

import dztest

c = dztest.Checker("faults")
w = dztest.workdir("faults")
data = os.path.join(w, "d.h5")
dztest.make_dataset(data, 64, 250000, "float32", seed=9)  # 64 MB: each checkpoint is 2 MB


def start(n, cfg, extra=()):
    e = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none", dztest.TRAINER,
           "--quiet"] + list(extra) + [cfg]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                            start_new_session=True)


def rank_pids(cfg):
    out = subprocess.run(["pgrep", "-f", "^%s --quiet.*%s" % (dztest.TRAINER, cfg)],
                         capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in out)


def finish(p, limit=30):
    try:
        p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()


# (1) random kills during checkpoint writes
rng = random.Random(1234)
d = os.path.join(w, "atomic")
os.makedirs(d)
cfg = dztest.write_config(os.path.join(d, "c.ini"), {
    "data": {"train": data, "train_x": "x", "train_y": "y"},
    "train": {"learning_rate": 0.01, "iterations": 100000, "log_every": 10},
    "checkpoint": {"file": "ckpt.h5", "every": 1}})
ck = os.path.join(d, "ckpt.h5")
loaded, absent, trials = 0, 0, 12
for k in range(trials):
    p = start(2, cfg, ["--resume"] if os.path.exists(ck) else [])
    t0 = time.time()
    pids = []
    while time.time() - t0 < 10 and len(pids) < 2:
        pids = rank_pids(cfg)
        time.sleep(0.02)
    time.sleep(rng.uniform(0.3, 1.5))
    if pids:
        os.kill(pids[0], signal.SIGKILL)  # the lower pid: rank 0, the writer, in practice
    finish(p)
    if not os.path.exists(ck):
        absent += 1
        continue
    try:
        with h5py.File(ck, "r") as f:
            it = int(f.attrs["iteration"])
            ok = f["params"].shape == (250001,)
    except Exception as ex:  # a broken checkpoint is a failure
        ok, it = False, str(ex)
    c.check(ok, "trial %d: checkpoint does not load: %s" % (k, it))
    loaded += ok
leftovers = [f for f in os.listdir(d) if ".tmp." in f]
print("atomic checkpoint: %d kills, %d checkpoints loaded, %d before any checkpoint, %d stale temp files (of killed writers, removed by the next successful write)"
      % (trials, loaded, absent, len(leftovers)))
# the last one must also resume and finish
cfg2 = dztest.write_config(os.path.join(d, "c2.ini"), {
    "data": {"train": data, "train_x": "x", "train_y": "y"},
    "train": {"learning_rate": 0.01, "iterations": 100000, "log_every": 10},
    "checkpoint": {"file": "ckpt.h5", "every": 1}})
if os.path.exists(ck):
    with h5py.File(ck, "r") as f:
        at = int(f.attrs["iteration"])
    more = dztest.write_config(os.path.join(d, "c3.ini"), {
        "data": {"train": data, "train_x": "x", "train_y": "y"},
        "train": {"learning_rate": 0.01, "iterations": at + 3, "log_every": 10},
        "checkpoint": {"file": "ckpt.h5", "every": 1}})
    rc, out, err, _ = dztest.mpirun(2, 1, ["--quiet", "--resume", "--force", more])
    c.check(rc == 0, "resume from the last surviving checkpoint: exit %d %s" % (rc, err[-500:]))

# (2) kill -9 of one rank at N = 3: the job ends within 10 s
d = os.path.join(w, "kill3")
os.makedirs(d)
cfg = dztest.write_config(os.path.join(d, "c.ini"), {
    "data": {"train": data, "train_x": "x", "train_y": "y"},
    "train": {"learning_rate": 0.01, "iterations": 100000, "log_every": 100}})
for victim in (0, 1, 2):
    p = start(3, cfg)
    t0 = time.time()
    pids = []
    while time.time() - t0 < 10 and len(pids) < 3:
        pids = rank_pids(cfg)
        time.sleep(0.02)
    time.sleep(1.0)
    t_kill = time.time()
    if c.check(len(pids) == 3, "kill3: 3 rank processes found: %s" % pids):
        os.kill(pids[victim], signal.SIGKILL)
    finish(p, 60)
    ended = time.time() - t_kill
    left = rank_pids(cfg)
    print("kill -9 of rank process %d of 3: job ended after %.2f s (exit %s)" % (victim, ended, p.returncode))
    c.check(ended < 10 and p.returncode != 0 and not left,
            "kill3: job ended after %.2f s, exit %s, leftover ranks %s" % (ended, p.returncode, left))

# (3) divergence: last good checkpoint kept, no model, exit 4 naming the iteration
d = os.path.join(w, "diverge")
os.makedirs(d)
big = os.path.join(d, "big.h5")
with h5py.File(big, "w") as f:
    f["x"] = [[1e150, -2e150], [3e150, 1e150], [-1e150, 1e150]]
    f["y"] = [1, 0, 1]
cfg = dztest.write_config(os.path.join(d, "c.ini"), {
    "data": {"train": big, "train_x": "x", "train_y": "y"},
    "train": {"learning_rate": 1e300, "iterations": 50, "log_every": 1},
    "checkpoint": {"file": "ckpt.h5", "every": 1}})
for n in (1, 3):
    for f in os.listdir(d):
        if f not in ("big.h5", "c.ini"):
            os.remove(os.path.join(d, f))
    rc, out, err, secs = dztest.mpirun(n, 1, [cfg])
    c.check(rc == 4 and "training diverged at iteration" in err and err.count("diverged") == 1,
            "diverge N=%d: exit %d: %s" % (n, rc, err[-400:]))
    c.check(not os.path.exists(os.path.join(d, "model.h5")), "diverge N=%d: no model written" % n)
    c.check(os.path.exists(os.path.join(d, "ckpt.h5")), "diverge N=%d: last checkpoint kept" % n)
c.finish()
