"""Node-level oversubscription: launches that put more threads on a node's cores than it has
get one warning from rank 0 naming the node, the numbers and the fix; with OMP_NUM_THREADS
unset each rank of a shared node runs floor(cores / local ranks) threads and the start line
says so; well-placed launches get no warning; and every launch gives the same bits."""
import os
import re
import subprocess

import dztest

c = dztest.Checker("binding")
w = dztest.workdir("binding")
data = os.path.join(dztest.SOURCE, "configs", "data", "breast_cancer_train.h5")
cores = len(os.sched_getaffinity(0))
WARN = re.compile(r"dztrain: warning: node \S+ is oversubscribed: (.*?)\. Threads that share")


def launch(name, n, mpi_args, env, prefix=()):
    """Run the trainer with exactly this environment for OpenMP (nothing set = unset)."""
    d = os.path.join(w, name)
    os.makedirs(d)
    cfg = dztest.write_config(os.path.join(d, "c.ini"), {
        "data": {"train": data, "train_x": "x", "train_y": "y"},
        "train": {"learning_rate": 0.05, "iterations": 40, "log_every": 10}})
    e = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    e.update(env)
    xs = sum((["-x", k] for k in env), [])
    cmd = list(prefix) + ["mpirun", "-n", str(n), "--oversubscribe"] + mpi_args + xs + \
        [dztest.TRAINER, cfg]
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=120)
    c.check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, p.stderr[-1500:]))
    warnings = WARN.findall(p.stderr)
    m = re.search(r"dztrain: \d+ rank\(s\) x (\d+) thread\(s\)( \(OMP_NUM_THREADS unset: (\d+) "
                  r"cores / (\d+) rank\(s\) on the node\))?", p.stdout)
    digest = dztest.result_digest(os.path.join(d, "model.h5"), os.path.join(d, "metrics.csv")) \
        if p.returncode == 0 else None
    return warnings, m, digest, p.stderr


ref = launch("reference", 1, ["--bind-to", "none"], {"OMP_NUM_THREADS": "1"})[2]


def expect(name, n, mpi_args, env, cause=None, threads=None, automatic=False, prefix=()):
    warnings, m, digest, err = launch(name, n, mpi_args, env, prefix)
    if cause:
        c.check(len(warnings) == 1 and re.search(cause, warnings[0]),
                "%s: one warning matching /%s/, got %s" % (name, cause, warnings))
        c.check("mpirun --map-by slot:PE=T" in err, "%s: the warning names mpirun's fix" % name)
    else:
        c.check(not warnings, "%s: no warning expected, got %s" % (name, warnings))
    if threads is not None:
        c.check(m is not None and int(m.group(1)) == threads and bool(m.group(2)) == automatic,
                "%s: start line with %d thread(s)%s: %s" % (
                    name, threads, " (automatic)" if automatic else "", m and m.group(0)))
    c.check(digest == ref, "%s: result differs from the 1 x 1 run" % name)
    print("%s: %s" % (name, warnings[0] if warnings else (m.group(0) if m else "?")))


if cores >= 2:
    # every rank sees both cores and runs 2 threads: 4 threads on 2 cores
    expect("bind_none_threads_2", 2, ["--bind-to", "none"], {"OMP_NUM_THREADS": str(cores)},
           cause=r"2 ranks run %d OpenMP threads on %d core" % (2 * cores, cores))
    # OMP_PROC_BIND without task binding: both ranks pin their thread to the first core
    expect("pinned_same_core", 2, ["--bind-to", "none"],
           {"OMP_PROC_BIND": "close", "OMP_PLACES": "cores"},
           cause=r"ranks 0 and 1 have threads pinned to the same core", threads=max(1, cores // 2),
           automatic=True)
    # OMP_NUM_THREADS unset, no binding: floor(cores / 2) threads each, no warning
    expect("auto_threads", 2, ["--bind-to", "none"], {}, threads=max(1, cores // 2), automatic=True)
    # one rank, unset: all its cores
    expect("auto_one_rank", 1, ["--bind-to", "none"], {}, threads=cores, automatic=True)
    # each rank bound to its own core (Open MPI's default): 1 thread each, no warning
    expect("default_binding", 2, [], {}, threads=1, automatic=True)
# two ranks confined to one core
expect("one_core_two_ranks", 2, ["--bind-to", "none"], {},
       cause=r"2 ranks run 2 OpenMP threads on 1 core", threads=1, automatic=True,
       prefix=["taskset", "-c", str(min(os.sched_getaffinity(0)))])
c.finish()
