"""Multi-node runs on a cluster made of network namespaces (tests/cluster/cluster.sh): ranks on
separate "nodes" that talk only over TCP (btl tcp,self), launched by mpirun in node 0 through
an rsh agent.  Skipped (77) where namespaces can't be made (not root, no `ip`).

a. Same bits: 2 nodes x 2 ranks x 1 thread and 3 nodes x 1 rank x 2 threads give the model
   hash of 1 rank on one host, for gd and lbfgs (after a check that the ranks really land
   on those nodes).
b/d. Signals: SIGTERM to every rank on every node (what Slurm does to its tasks at the time
   limit) makes rank 0 write the checkpoint and every rank exit 75; that checkpoint,
   written on 2 nodes, resumed on 3 nodes gives the uninterrupted bits.  SIGTERM to mpirun
   alone: Open MPI passes it on to the ranks but SIGKILLs them 1 s later
   (odls_base_sigkill_timeout), before they can exit, and mpirun exits 1, not 75; the
   checkpoint written at the stop must still be there and resume to the same bits.
c. A node stops answering (needs [train] collective_timeout, the watchdog; skipped, with a
   message, while the trainer does not know the key): one node's link taken down, and
   separately one remote rank SIGSTOPped.  mpirun must end within collective_timeout + 10 s
   with exit 4 and a message from a surviving rank naming the iteration and the timeout; the
   last checkpoint loads and resumes to the uninterrupted bits; after the link is up again
   no trainer process, half-written output or temporary file is left.
   cluster.sh lowers the nodes' net.ipv4.tcp_retries2 (see `up` there): with the kernel's
   default, mpirun waits ~15 minutes for the daemon on a cut-off node after MPI_Abort.
e. A node that does not answer at start-up (its link down before mpirun starts; the issue's
   bad-input case): the job ends within collective_timeout + 10 s with a non-zero exit and
   Open MPI's message that a daemon could not be started, and leaves no trainer process and
   no output behind.  (Open MPI's launch, before any trainer code runs; cluster.sh's
   orte_leave_session_attached is what makes mpirun see the daemon fail.)
Jobs that only wait on the network run at once (the four of a., the two of b/d, the two of
c. on two clusters) to keep the test near 40 s on 2 cores.  The clusters are torn down at
the end, also when a check fails or the test is interrupted."""
import atexit
import os
import re
import signal
import subprocess
import sys
import time


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
        self.state = p.stdout.strip().split("=", 1)[1]
        self.env = dict(os.environ, DZ_CLUSTER=self.state)
        atexit.register(self.down)

    def sh(self, *args):
        return subprocess.run(["bash", CLUSTER_SH] + [str(a) for a in args], capture_output=True,
                              text=True, env=self.env)

    def mpirun_cmd(self, nodes, per_node, args):
        """mpirun in node 0: per_node ranks on each of the first `nodes` nodes."""
        return ["bash", CLUSTER_SH, "mpirun", "-n", str(nodes * per_node), "--map-by",
                "ppr:%d:node" % per_node, "--bind-to", "none", "-x", "OMP_NUM_THREADS", "-x",
                "OMP_WAIT_POLICY"] + [str(a) for a in args]

    def run_env(self, threads):
        return dict(self.env, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="passive")

    def run(self, nodes, per_node, threads, args, timeout=120):
        t0 = time.time()
        p = subprocess.run(self.mpirun_cmd(nodes, per_node, args), capture_output=True,
                           text=True, env=self.run_env(threads), timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.time() - t0

    def start(self, nodes, per_node, threads, args):
        return subprocess.Popen(self.mpirun_cmd(nodes, per_node, args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.run_env(threads), start_new_session=True)

    def trainer_pids(self, node, cfg):
        """The trainer processes of the run with config cfg in one node's namespace."""
        pids = []
        for pid in self.sh("pids", node).stdout.split():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().decode().split("\0")
                if argv[0] == TRAINER and cfg in argv:
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
    "gd": {"learning_rate": 0.1, "iterations": 60, "log_every": 5, "block_rows": 8},
    "lbfgs": {"optimizer": "lbfgs", "l2": 1.0, "memory": 5, "tolerance": 1e-9,
              "iterations": 100, "log_every": 1, "block_rows": 8},
}
# The four cluster runs go at once (their time is mostly waiting on TCP round trips).
runs = []
for solver, train in SOLVERS.items():
    sections = {"data": DATA, "train": train}
    ref = local_reference("%s_1x1" % solver, sections)
    for nodes, per_node, threads in ((2, 2, 1), (3, 1, 2)):
        name = "%s_%dnodes_x%d_x%d" % (solver, nodes, per_node, threads)
        d, cfg = folder(name, sections)
        runs.append((name, d, ref, cl.start(nodes, per_node, threads, [TRAINER, "--quiet", cfg])))
for name, d, ref, p in runs:
    out, err = p.communicate(timeout=120)
    if c.check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, err[-1000:])):
        got = digest(d)
        c.check(got == ref, "%s: model hash %s differs from 1 rank on one host %s"
                % (name, got[:16], ref and ref[:16]))
        print("%s: same bits as 1 rank on one host: %s" % (name, got == ref))

# b/d. Signals, and a checkpoint moved from 2 nodes to 3.  Both signal cases run at once on
# nodes 0 and 1 (Open MPI takes ~4 s to end a job after SIGTERM to mpirun).
print("same bits done: %.1f s" % (time.time() - t_start))
ITER = 200
ck_sections = {"data": DATA,
               "train": {"learning_rate": 0.05, "iterations": ITER, "log_every": 50, "block_rows": 8},
               "checkpoint": {"file": "ckpt.h5", "every": 50}}
ck_ref = local_reference("ckpt_ref", ck_sections)
# The runs resumed on one host are long, so that a stop that takes a while to arrive still
# comes mid-run; the rest of the run costs little there.
LONG_ITER = 1000
long_sections = {k: dict(v) for k, v in ck_sections.items()}
long_sections["train"]["iterations"] = LONG_ITER
long_ref = local_reference("long_ref", long_sections)


def finish(name, p, limit):
    """(stdout, stderr, seconds) of a started job; one still running after `limit` s is
    killed, and the caller's time check fails."""
    t0 = time.time()
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        print("%s: mpirun still running at its time limit: killed" % name)
    return out, err, time.time() - t0


def stop_checks(name, d, err):
    """One stop message, the checkpoint written at the stop, no final outputs or temporaries."""
    m = re.search(r"stopped by a signal after iteration (\d+)", err)
    at = dztest.ckpt_iteration(os.path.join(d, "ckpt.h5"))
    c.check(err.count("stopped by a signal after iteration") == 1 and m and at == int(m.group(1)) + 1,
            "%s: one stop message and the checkpoint at the stop (iteration %d): %s" % (name, at, err[-800:]))
    c.check(leftovers(d) == [], "%s: no model, final metrics or temporary files: %s" % (name, leftovers(d)))
    return at


# SIGTERM to every rank on both nodes; each rank's exit code is written to rc.<rank>.
# (orte_abort_on_non_zero_status 0: mpirun would otherwise kill the ranks still running as
# soon as the first one exits 75, before their exit codes are written; mpirun then exits 0.)
d_r, cfg_r = folder("sigterm_ranks", ck_sections)
record = 'r=$OMPI_COMM_WORLD_RANK; "$0" "$@"; e=$?; echo $e > %s/rc.$r; exit $e' % d_r
p_r = cl.start(2, 2, 1, ["--mca", "orte_abort_on_non_zero_status", "0", "sh", "-c", record, TRAINER,
                         "--quiet", cfg_r])
# SIGTERM to mpirun alone.
d_m, cfg_m = folder("sigterm_mpirun", long_sections)
p_m = cl.start(2, 2, 1, [TRAINER, "--quiet", cfg_m])

c.check(dztest.wait_for_ckpt(os.path.join(d_r, "ckpt.h5"), p_r, ITER // 4), "sigterm_ranks: a checkpoint appeared")
c.check(dztest.wait_for_ckpt(os.path.join(d_m, "ckpt.h5"), p_m, ITER // 4), "sigterm_mpirun: a checkpoint appeared")
pids = {n: cl.trainer_pids(n, cfg_r) for n in (0, 1)}
c.check(all(len(v) == 2 for v in pids.values()), "sigterm_ranks: 2 trainer processes on each node: %s" % pids)
for v in pids.values():
    for pid in v:
        os.kill(pid, signal.SIGTERM)
p_m.send_signal(signal.SIGTERM)
t_sig = time.time()

out, err, secs = finish("sigterm_ranks", p_r, 30)
out_m, err_m, _ = finish("sigterm_mpirun", p_m, 30)
secs_m = time.time() - t_sig  # (both jobs got their signal at t_sig)
codes = {}
for r in range(4):
    try:
        codes[r] = int(open(os.path.join(d_r, "rc.%d" % r)).read())
    except (OSError, ValueError):
        codes[r] = None
c.check(all(v == 75 for v in codes.values()),
        "sigterm_ranks: exit codes of the ranks %s (all 75 expected): %s" % (codes, err[-800:]))
at = stop_checks("sigterm_ranks", d_r, err)
# b. resume on 3 nodes x 1 rank x 2 threads
rc, out, err, secs = cl.run(3, 1, 2, [TRAINER, "--quiet", "--resume", cfg_r])
if c.check(rc == 0, "resume on 3 nodes: exit %d: %s" % (rc, err[-1000:])):
    c.check(digest(d_r) == ck_ref, "checkpoint from 2 nodes (iteration %d) resumed on 3 nodes: "
            "result differs from the uninterrupted run" % at)
print("sigterm to the ranks: exits %s, checkpoint at %d resumed on 3 nodes" % (codes, at))

c.check(p_m.returncode != 0 and secs_m < 10, "sigterm_mpirun: exit %s %.1f s after the signal "
        "(non-zero within 10 s)" % (p_m.returncode, secs_m))
at = stop_checks("sigterm_mpirun", d_m, err_m)
resume_local("sigterm_mpirun", d_m, cfg_m, long_ref)
print("sigterm to mpirun: exit %s, checkpoint at %d" % (p_m.returncode, at))


# c. A node stops answering: node 2's link goes down on one cluster while, on a second
# cluster, node 2's rank is stopped; both jobs run at once.
def fault_start(cluster, name, fault, sections):
    """3 nodes x 1 rank; node 2 fails by `fault` ("link" or "stop") once a checkpoint exists."""
    d, cfg = folder(name, sections)
    p = cluster.start(3, 1, 1, [TRAINER, "--quiet", cfg])
    c.check(dztest.wait_for_ckpt(os.path.join(d, "ckpt.h5"), p, 50), "%s: a checkpoint appeared" % name)
    victim = cluster.trainer_pids(2, cfg)
    c.check(len(victim) == 1, "%s: one trainer on node 2: %s" % (name, victim))
    if fault == "link":
        c.check(cluster.sh("link", "down", 2).returncode == 0, "%s: link down" % name)
    else:
        for pid in victim:
            os.kill(pid, signal.SIGSTOP)
    return dict(cluster=cluster, name=name, fault=fault, d=d, cfg=cfg, p=p, victim=victim,
                t0=time.time())


def fault_finish(f, ref):
    """mpirun ends in time with exit 4 and the watchdog's message; the node comes back; nothing
    is left behind; the checkpoint resumes to the uninterrupted bits."""
    name, cluster, d = f["name"], f["cluster"], f["d"]
    limit = TIMEOUT + 10
    out, err, _ = finish(name, f["p"], max(0.1, f["t0"] + limit - time.time()))
    ended = time.time() - f["t0"]
    c.check(ended < limit and f["p"].returncode == 4,
            "%s: mpirun ended %.1f s after the fault (limit %d) with exit %s (expected 4)"
            % (name, ended, limit, f["p"].returncode))
    msg = re.search(r"rank ([01]): iteration (\d+): .*collective_timeout %g s" % TIMEOUT, err)
    c.check(msg is not None, "%s: a surviving rank names the iteration and the timeout: %s"
            % (name, err[-1500:]))
    at = dztest.ckpt_iteration(os.path.join(d, "ckpt.h5"))
    c.check(0 < at < LONG_ITER, "%s: the last checkpoint loads (iteration %d)" % (name, at))
    if f["fault"] == "link":
        cluster.sh("link", "up", 2)
    else:
        for pid in f["victim"]:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    t1 = time.time()  # the cut-off rank must go as well (its own watchdog or its daemon)
    while time.time() - t1 < 10 and any(cluster.trainer_pids(n, f["cfg"]) for n in range(3)):
        time.sleep(0.2)
    gone = time.time() - t1
    left = {n: cluster.trainer_pids(n, f["cfg"]) for n in range(3)}
    c.check(not any(left.values()), "%s: trainer processes left 10 s after the node came back: %s"
            % (name, left))
    c.check(leftovers(d) == [], "%s: no half-written output or temporary files: %s" % (name, leftovers(d)))
    resume_local(name, d, f["cfg"], ref)
    print("%s: mpirun ended %.1f s after the fault, exit %s; checkpoint at %d; the cut-off rank "
          "gone %.1f s after the node came back" % (name, ended, f["p"].returncode, at, gone))


print("signals done: %.1f s" % (time.time() - t_start))
wd_sections = {k: dict(v) for k, v in long_sections.items()}
wd_sections["train"]["collective_timeout"] = TIMEOUT  # not part of the result: long_ref's bits
cl2 = Cluster(3)
faults = [fault_start(cl, "link_down", "link", wd_sections),
          fault_start(cl2, "sigstop", "stop", wd_sections)]
for f in faults:
    fault_finish(f, long_ref)
cl2.down()

# e. A node that does not answer at start-up.
d_s, cfg_s = folder("startup_link_down", wd_sections)
c.check(cl.sh("link", "down", 2).returncode == 0, "startup: link down")
t0 = time.time()
p_s = cl.start(3, 1, 1, [TRAINER, "--quiet", cfg_s])
out, err, _ = finish("startup_link_down", p_s, TIMEOUT + 10)
ended = time.time() - t0
c.check(ended < TIMEOUT + 10 and p_s.returncode not in (0, None),
        "startup: mpirun ended %.1f s after the launch (limit %d) with exit %s (expected non-zero)"
        % (ended, TIMEOUT + 10, p_s.returncode))
c.check("unable to reliably start one or more daemons" in err or
        "failed after launch" in err, "startup: Open MPI says a daemon did not start: %s" % err[-1500:])
cl.sh("link", "up", 2)
left = {n: cl.trainer_pids(n, cfg_s) for n in range(3)}
c.check(not any(left.values()), "startup: trainer processes left: %s" % left)
c.check(sorted(os.listdir(d_s)) == ["c.ini"], "startup: files left: %s" % sorted(os.listdir(d_s)))
print("startup with node 2 cut off: mpirun ended %.1f s after the launch, exit %s"
      % (ended, p_s.returncode))

cl.down()
print("cluster test: %.1f s" % (time.time() - t_start))
c.finish()
