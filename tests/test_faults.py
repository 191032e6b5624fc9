"""Faults: (1) kill -9 of rank 0 at random moments while it writes a checkpoint every
iteration — every checkpoint that survives must load and resume (atomic write: temp file,
fsync, rename); (2) kill -9 of one rank at N = 3 ends the whole job within 10 s; (3) a run
that diverges stops with exit 4 naming the iteration, writes no model, and keeps its last
good checkpoint, which resumes; (4) a rank that stops answering (SIGSTOP, a frozen node) inside
the step's allreduce: the collective watchdog ends the job with exit 4 within
collective_timeout + 10 s, naming the iteration and the timeout, leaves no temporary file, and
the last checkpoint resumes (at another N) to the same bits as a run never interrupted; a job
suspended (every rank stopped) for twice the timeout and continued does not time out."""
import os
import random
import re
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


def wait_ranks(cfg, n, limit=10):
    """The pids of the job's n rank processes, once all have started (fewer after limit s)."""
    t0 = time.time()
    pids = []
    while time.time() - t0 < limit and len(pids) < n:
        pids = rank_pids(cfg)
        time.sleep(0.02)
    return pids


def finish(p, limit=30):
    """Wait for the job (killing it after limit s); returns its stderr."""
    try:
        return p.communicate(timeout=limit)[1]
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        return p.communicate()[1]


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
    pids = wait_ranks(cfg, 2)
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
    pids = wait_ranks(cfg, 3)
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

# (4) a frozen rank: the watchdog ends the job; the checkpoint resumes to the same bits
d = os.path.join(w, "frozen")
os.makedirs(d)
base = {"data": {"train": data, "train_x": "x", "train_y": "y"},
        "train": {"learning_rate": 0.01, "iterations": 100000, "log_every": 7,
                  "collective_timeout": 2},
        "checkpoint": {"file": "ckpt.h5", "every": 10}}
cfg = dztest.write_config(os.path.join(d, "c.ini"), base)
ck = os.path.join(d, "ckpt.h5")
for victim in (2, 0):
    for f in os.listdir(d):
        if f != "c.ini":
            os.remove(os.path.join(d, f))
    p = start(3, cfg)
    pids = wait_ranks(cfg, 3)
    dztest.wait_for_ckpt(ck, p, limit=20)
    time.sleep(0.3)
    t_stop = time.time()
    if c.check(len(pids) == 3, "frozen: 3 rank processes found: %s" % pids):
        os.kill(pids[victim], signal.SIGSTOP)
    err = finish(p, 60)
    ended = time.time() - t_stop
    left = rank_pids(cfg)
    for q in left:  # should be none; never leave a stopped process behind
        os.kill(q, signal.SIGKILL)
    print("SIGSTOP of rank process %d of 3 (collective_timeout 2 s): job ended after %.2f s, exit %s"
          % (victim, ended, p.returncode))
    c.check(p.returncode == 4 and ended < 2 + 10 and not left,
            "frozen %d: exit %s after %.2f s (want 4 within 12 s), leftover ranks %s"
            % (victim, p.returncode, ended, left))
    c.check(re.search(r"rank \d+: iteration \d+: the allreduce has not completed after [\d.]+ s "
                      r"\(collective_timeout 2 s\)", err),
            "frozen %d: the message names the iteration and the timeout: %s" % (victim, err[-600:]))
    stale = [f for f in os.listdir(d) if ".tmp." in f or f.endswith(".partial")]
    c.check(not stale and not os.path.exists(os.path.join(d, "model.h5")),
            "frozen %d: no model and no temporary file left: %s" % (victim, os.listdir(d)))
at = dztest.ckpt_iteration(ck)  # the watchdog-ended run's (victim 0) last checkpoint
more = dict(base, train=dict(base["train"], iterations=at + 12))
cfg_more = dztest.write_config(os.path.join(d, "more.ini"), more)
rc, out, err, _ = dztest.mpirun(2, 1, ["--quiet", "--resume", "--force", cfg_more])
c.check(rc == 0, "frozen: resume at N = 2 from iteration %d: exit %d %s" % (at, rc, err[-500:]))
resumed = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))
ref = os.path.join(d, "ref")
os.makedirs(ref)
plain = dict(more, output={"model": "model.h5", "metrics": "metrics.csv"},
             checkpoint={"file": "ckpt.h5", "every": 0})
cfg_ref = dztest.write_config(os.path.join(ref, "c.ini"), plain)
rc, out, err, _ = dztest.mpirun(1, 1, ["--quiet", cfg_ref])
c.check(rc == 0 and dztest.result_digest(os.path.join(ref, "model.h5"),
                                          os.path.join(ref, "metrics.csv")) == resumed,
        "frozen: resumed run (checkpoint at %d, N = 2) equals the uninterrupted run (N = 1): exit %d"
        % (at, rc))

# a suspended job (every rank stopped, as by scontrol suspend, then continued) is not a timeout
d = os.path.join(w, "suspended")
os.makedirs(d)
cfg = dztest.write_config(os.path.join(d, "c.ini"), base)
p = start(3, cfg)
pids = wait_ranks(cfg, 3)
c.check(dztest.wait_for_ckpt(os.path.join(d, "ckpt.h5"), p), "suspended: training is under way")
try:
    for q in pids:
        os.kill(q, signal.SIGSTOP)
    time.sleep(4.0)  # twice the timeout
finally:  # never leave a stopped rank behind
    for q in pids:
        os.kill(q, signal.SIGCONT)
time.sleep(1.5)
for q in pids:
    os.kill(q, signal.SIGTERM)  # the ranks checkpoint and stop: exit 75, not the watchdog's 4
err = finish(p, 60)
for q in rank_pids(cfg):
    os.kill(q, signal.SIGKILL)
print("suspended 4 s with collective_timeout 2 s, continued, then SIGTERM: exit %s" % p.returncode)
c.check(p.returncode == 75 and "has not completed" not in err,
        "suspend/continue of every rank is not a timeout: exit %s (want 75): %s"
        % (p.returncode, err[-400:]))
c.finish()
