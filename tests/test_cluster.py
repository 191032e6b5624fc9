"""Multi-node runs on a cluster made of network namespaces (tests/cluster/cluster.sh): ranks on
separate "nodes" that talk only over TCP (btl tcp,self), launched by mpirun in node 0 through
an rsh agent.  Skipped (77) where namespaces can't be made (not root, no `ip`).

a. Same bits: 2 nodes x 2 ranks x 1 thread and 3 nodes x 1 rank x 2 threads give the model
   hash of 1 rank on one host, for gd and lbfgs (after a check that the ranks really land
   on those nodes).
b/d. Signals: SIGTERM to every rank on every node (what Slurm does to its tasks at the time
   limit) makes every rank write its part of the stop (rank 0 the checkpoint) and exit 75;
   that checkpoint, written on 2 nodes, resumed on 3 nodes gives the uninterrupted bits.
   SIGTERM to mpirun alone: Open MPI forwards it and kills the ranks 1 s later
   (odls_base_sigkill_timeout), so mpirun exits 1, not 75; the checkpoint written at the
   stop must still be there and resume to the same bits.
c. A node stops answering (needs [train] collective_timeout, the watchdog; skipped, with a
   message, while the trainer does not know the key): one node's link taken down, and
   separately one remote rank SIGSTOPped.  mpirun must end within collective_timeout + 10 s
   with exit 4 and a message from a surviving rank naming the iteration and the timeout; the
   last checkpoint loads and resumes to the uninterrupted bits; after the link is up again
   no trainer process, half-written output or temporary file is left.
   cluster.sh lowers the nodes' net.ipv4.tcp_retries2 (see its header): with the kernel's
   default, mpirun waits ~15 minutes for the daemon on a cut-off node after MPI_Abort.
The cluster is torn down at the end, also when a check fails or the test is interrupted."""
import atexit
import os
import re
import signal
import subprocess
import sys
import time

import h5py

import dztest

CLUSTER_SH = os.path.join(dztest.SOURCE, "tests", "cluster", "cluster.sh")
TIMEOUT = 3  # [train] collective_timeout for part c, seconds

c = dztest.Checker("cluster")
w = dztest.workdir("cluster")
TRAINER = os.path.abspath(dztest.TRAINER)


class Cluster:
    """K namespace nodes made by cluster.sh; down() (also at exit or on SIGTERM) removes them."""

    def __init__(self, k):
        env = dict(os.environ, DZ_CLUSTER_OWNER=str(os.getpid()))
        p = subprocess.run(["bash", CLUSTER_SH, "up", str(k)], capture_output=True, text=True, env=env)
        if p.returncode == 77:
            print(p.stderr.strip())
            sys.exit(dztest.SKIP)
        if p.returncode != 0:
            print("FAIL: cluster.sh up %d: %s" % (k, p.stderr))
            sys.exit(1)
        self.k = k
        self.state = p.stdout.strip().split("=", 1)[1]
        self.env = dict(os.environ, DZ_CLUSTER=self.state)
        atexit.register(self.down)

    def sh(self, *args):
        return subprocess.run(["bash", CLUSTER_SH] + [str(a) for a in args], capture_output=True,
                              text=True, env=self.env)

    def mpirun_cmd(self, nodes, per_node, threads, args):
        """mpirun in node 0: per_node ranks on each of the first `nodes` nodes."""
        return ["bash", CLUSTER_SH, "mpirun", "-n", str(nodes * per_node), "--map-by",
                "ppr:%d:node" % per_node, "--bind-to", "none", "-x", "OMP_NUM_THREADS", "-x",
                "OMP_WAIT_POLICY"] + [str(a) for a in args]

    def run_env(self, threads):
        return dict(self.env, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive")

    def run(self, nodes, per_node, threads, args, timeout=120):
        t0 = time.time()
        p = subprocess.run(self.mpirun_cmd(nodes, per_node, threads, args), capture_output=True,
                           text=True, env=self.run_env(threads), timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - t0

    def start(self, nodes, per_node, threads, args):
        return subprocess.Popen(self.mpirun_cmd(nodes, per_node, threads, args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.run_env(threads), start_new_session=True)

    def trainer_pids(self, node):
        """The trainer processes running in one node's namespace."""
        pids = []
        for pid in self.sh("pids", node).stdout.split():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if f.read().split(b"\0")[0].decode() == TRAINER:
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    def down(self):
        if self.state:
            self.sh("down")
            self.state = None


def on_signal(sig, frame):  # CTest's or a user's interrupt: still tear the cluster down
    sys.exit(1)


for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, on_signal)


def folder(name, sections):
    d = os.path.join(w, name)
    os.makedirs(d)
    return d, dztest.write_config(os.path.join(d, "c.ini"), sections)


def digest(d):
    return dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv"))


def ckpt_iteration(path):
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs["iteration"])
    except Exception:
        return -1


def wait_for_ckpt(path, proc, at_least, limit=60):
    t0 = time.time()
    while time.time() - t0 < limit and proc.poll() is None:
        if ckpt_iteration(path) >= at_least:
            return True
        time.sleep(0.05)
    return False


def local_reference(name, sections):
    """1 rank x 1 thread on this host (shared memory, no cluster): the bits to match."""
    d, cfg = folder(name, sections)
    rc, out, err, _ = dztest.mpirun(1, 1, ["--quiet", cfg])
    c.check(rc == 0, "%s: exit %d: %s" % (name, rc, err[-1000:]))
    return digest(d) if rc == 0 else None


def leftovers(d):
    """Half-written outputs and temporary files a stopped run must not leave."""
    return sorted(f for f in os.listdir(d) if f in ("model.h5", "metrics.csv") or ".tmp." in f)


def resume_local(name, d, cfg, ref):
    rc, out, err, _ = dztest.mpirun(1, 1, ["--quiet", "--resume", cfg])
    if c.check(rc == 0, "%s: resume on one host: exit %d: %s" % (name, rc, err[-1000:])):
        c.check(digest(d) == ref, "%s: resumed result differs from the uninterrupted run" % name)


t_start = time.time()
data = os.path.join(w, "d.h5")
dztest.make_dataset(data, 301, 16, "float64", seed=11)
DATA = {"train": data, "train_x": "x", "train_y": "y"}
cl = Cluster(3)

print("cluster up: %.1f s" % (time.time() - t_start))
# a. Same bits.  First, that the mapping really spreads the ranks over the nodes.
for nodes, per_node in ((2, 2), (3, 1)):
    rc, out, err, _ = cl.run(nodes, per_node, 1, ["hostname"])
    names = sorted(out.split())
    want = sorted("node%d" % i for i in range(nodes) for _ in range(per_node))
    c.check(rc == 0 and names == want, "%d nodes x %d ranks land on %s (exit %d): %s"
            % (nodes, per_node, names, rc, err[-500:]))
SOLVERS = {
    "gd": {"learning_rate": 0.1, "iterations": 120, "log_every": 10, "block_rows": 8},
    "lbfgs": {"optimizer": "lbfgs", "l2": 1.0, "memory": 5, "tolerance": 1e-9,
              "iterations": 100, "log_every": 1, "block_rows": 8},
}
for solver, train in SOLVERS.items():
    sections = {"data": DATA, "train": train}
    ref = local_reference("%s_1x1" % solver, sections)
    for nodes, per_node, threads in ((2, 2, 1), (3, 1, 2)):
        name = "%s_%dnodes_x%d_x%d" % (solver, nodes, per_node, threads)
        d, cfg = folder(name, sections)
        rc, out, err, secs = cl.run(nodes, per_node, threads, [TRAINER, "--quiet", cfg])
        if c.check(rc == 0, "%s: exit %d: %s" % (name, rc, err[-1000:])):
            got = digest(d)
            c.check(got == ref, "%s: model hash %s differs from 1 rank on one host %s"
                    % (name, got[:16], ref and ref[:16]))
        print("%s: %.1f s, same bits as 1x1: %s" % (name, secs, rc == 0 and digest(d) == ref))

# b/d. Signals, and a checkpoint moved from 2 nodes to 3.
print("same bits done: %.1f s" % (time.time() - t_start))
ITER = 300
ck_sections = {"data": DATA,
               "train": {"learning_rate": 0.05, "iterations": ITER, "log_every": 50, "block_rows": 8},
               "checkpoint": {"file": "ckpt.h5", "every": 50}}
ck_ref = local_reference("ckpt_ref", ck_sections)

# SIGTERM to every rank on both nodes; each rank's exit code is written to rc.<rank>.
d, cfg = folder("sigterm_ranks", ck_sections)
record = 'r=$OMPI_COMM_WORLD_RANK; "$0" "$@"; e=$?; echo $e > %s/rc.$r; exit $e' % d
# (orte_abort_on_non_zero_status 0: mpirun would otherwise kill the ranks still running as
# soon as the first one exits 75, before their exit codes are written; mpirun then exits 0)
p = cl.start(2, 2, 1, ["--mca", "orte_abort_on_non_zero_status", "0", "sh", "-c", record, TRAINER,
                       "--quiet", cfg])
ck = os.path.join(d, "ckpt.h5")
c.check(wait_for_ckpt(ck, p, ITER // 2), "sigterm_ranks: a checkpoint appeared")
pids = {n: cl.trainer_pids(n) for n in (0, 1)}
c.check(all(len(v) == 2 for v in pids.values()), "sigterm_ranks: 2 trainer processes on each node: %s" % pids)
for v in pids.values():
    for pid in v:
        os.kill(pid, signal.SIGTERM)
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    out, err = p.communicate()
    c.check(False, "sigterm_ranks: mpirun still running 30 s after the SIGTERM")
codes = {}
for r in range(4):
    try:
        codes[r] = int(open(os.path.join(d, "rc.%d" % r)).read())
    except (OSError, ValueError):
        codes[r] = None
c.check(all(v == 75 for v in codes.values()),
        "sigterm_ranks: exit codes of the ranks %s (all 75 expected): %s" % (codes, err[-800:]))
m = re.search(r"stopped by a signal after iteration (\d+)", err)
at = ckpt_iteration(ck)
c.check(err.count("stopped by a signal after iteration") == 1 and m and at == int(m.group(1)) + 1,
        "sigterm_ranks: one stop message and the checkpoint at the stop (iteration %d): %s" % (at, err[-800:]))
c.check(leftovers(d) == [], "sigterm_ranks: no model, final metrics or temporary files: %s" % leftovers(d))
# b. resume on 3 nodes x 1 rank x 2 threads
rc, out, err, secs = cl.run(3, 1, 2, [TRAINER, "--quiet", "--resume", cfg])
if c.check(rc == 0, "resume on 3 nodes: exit %d: %s" % (rc, err[-1000:])):
    c.check(digest(d) == ck_ref, "checkpoint from 2 nodes (iteration %d) resumed on 3 nodes: "
            "result differs from the uninterrupted run" % at)
print("sigterm to the ranks: exits %s, checkpoint at %d resumed on 3 nodes in %.1f s" % (codes, at, secs))

# SIGTERM to mpirun alone.
print("sigterm to the ranks done: %.1f s" % (time.time() - t_start))
d, cfg = folder("sigterm_mpirun", ck_sections)
p = cl.start(2, 2, 1, [TRAINER, "--quiet", cfg])
ck = os.path.join(d, "ckpt.h5")
c.check(wait_for_ckpt(ck, p, ITER // 2), "sigterm_mpirun: a checkpoint appeared")
t0 = time.time()
p.send_signal(signal.SIGTERM)
try:
    out, err = p.communicate(timeout=30)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    out, err = p.communicate()
ended = time.time() - t0
m = re.search(r"stopped by a signal after iteration (\d+)", err)
at = ckpt_iteration(ck)
c.check(p.returncode != 0 and ended < 10, "sigterm_mpirun: exit %s after %.1f s (non-zero within 10 s)"
        % (p.returncode, ended))
c.check(m is not None and at == int(m.group(1)) + 1,
        "sigterm_mpirun: the ranks stopped and wrote the checkpoint (iteration %d): %s" % (at, err[-800:]))
c.check(leftovers(d) == [], "sigterm_mpirun: no model, final metrics or temporary files: %s" % leftovers(d))
resume_local("sigterm_mpirun", d, cfg, ck_ref)
print("sigterm to mpirun: exit %s after %.1f s, checkpoint at %d" % (p.returncode, ended, at))


# c. A node stops answering.
def watchdog_landed():
    d, cfg = folder("probe", {"data": DATA, "train": {"iterations": 1, "collective_timeout": TIMEOUT}})
    rc, out, err, _ = dztest.mpirun(1, 1, ["--quiet", cfg])
    return rc == 0


def node_fault(name, fault):
    """3 nodes x 1 rank; node 2 fails by `fault` ("link" or "stop") once a checkpoint exists."""
    sections = {k: dict(v) for k, v in ck_sections.items()}
    sections["train"]["collective_timeout"] = TIMEOUT
    ref = local_reference(name + "_ref", sections)
    d, cfg = folder(name, sections)
    p = cl.start(3, 1, 1, [TRAINER, "--quiet", cfg])
    ck = os.path.join(d, "ckpt.h5")
    c.check(wait_for_ckpt(ck, p, 50), "%s: a checkpoint appeared" % name)
    victim = cl.trainer_pids(2)
    c.check(len(victim) == 1, "%s: one trainer on node 2: %s" % (name, victim))
    t0 = time.time()
    if fault == "link":
        c.check(cl.sh("link", "down", 2).returncode == 0, "%s: link down" % name)
    else:
        for pid in victim:
            os.kill(pid, signal.SIGSTOP)
    try:
        out, err = p.communicate(timeout=TIMEOUT + 10)
    except subprocess.TimeoutExpired:  # the failure this test exists for: clean up and report
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    ended = time.time() - t0
    c.check(ended < TIMEOUT + 10 and p.returncode == 4,
            "%s: mpirun ended %.1f s after the fault (limit %d) with exit %s (expected 4)"
            % (name, ended, TIMEOUT + 10, p.returncode))
    msg = re.search(r"rank ([01]): iteration (\d+): .*collective_timeout %g s" % TIMEOUT, err)
    c.check(msg is not None, "%s: a surviving rank names the iteration and the timeout: %s"
            % (name, err[-1500:]))
    at = ckpt_iteration(ck)
    c.check(0 < at < ITER, "%s: the last checkpoint loads (iteration %d)" % (name, at))
    if fault == "link":
        cl.sh("link", "up", 2)
    else:
        for pid in victim:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    t1 = time.time()  # the cut-off rank must go as well (its own watchdog or its daemon)
    while time.time() - t1 < 10 and any(cl.trainer_pids(n) for n in range(3)):
        time.sleep(0.2)
    left = {n: cl.trainer_pids(n) for n in range(3)}
    c.check(not any(left.values()), "%s: trainer processes left 10 s after the node came back: %s"
            % (name, left))
    c.check(leftovers(d) == [], "%s: no half-written output or temporary files: %s" % (name, leftovers(d)))
    resume_local(name, d, cfg, ref)
    print("%s: mpirun ended %.1f s after the fault, exit %s; checkpoint at %d; the cut-off rank "
          "gone %.1f s after the node came back" % (name, ended, p.returncode, at, time.time() - t1))


print("signals done: %.1f s" % (time.time() - t_start))
if watchdog_landed():
    node_fault("link_down", "link")
    node_fault("sigstop", "stop")
else:
    print("part c skipped: this trainer does not know [train] collective_timeout (the watchdog)")

cl.down()
print("cluster test: %.1f s" % (time.time() - t_start))
c.finish()
