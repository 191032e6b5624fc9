"""Small helpers for scripts/test-slurm (run with /usr/bin/python3; needs numpy and h5py).

  helper.py data PATH M D        write a random uint8 data set (x, y) like the course's cat data
  helper.py digest MODEL METRICS print dztest.result_digest (sha256 of w, b, loss history)
  helper.py ckpt-iter CKPT       print the checkpoint's iteration attribute (-1 if unreadable)
  helper.py runs LOG             one line per run in a requeued job's log (sbatch --open-mode=append):
                                 "resumed=K stopped=I exit75=T requeued=R": --resume's iteration,
                                 the signal stop's iteration, how many ranks srun saw exit 75,
                                 1 if slurmstepd then cancelled the run for the requeue ("-": none)
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dztest  # noqa: E402

import h5py  # noqa: E402


def ntasks(spec):
    """srun's task list: "1", "0-1", "0,2-3" → how many tasks."""
    n = 0
    for part in spec.split(","):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def runs(path):
    """Each run starts with the trainer's start line ("dztrain: N rank(s) x ...")."""
    out, cur = [], None
    for line in open(path, errors="replace"):
        if re.match(r"dztrain: \d+ rank\(s\) x", line):
            cur = {"resumed": "-", "stopped": "-", "exit75": 0, "requeued": 0}
            out.append(cur)
        if cur is None:
            continue
        m = re.search(r"resuming from .* at iteration (\d+)$", line)
        if m:
            cur["resumed"] = m.group(1)
        m = re.search(r"stopped by a signal after iteration (\d+); checkpoint written", line)
        if m:
            cur["stopped"] = m.group(1)
        m = re.search(r"srun: error: .*: tasks? ([\d,-]+): Exited with exit code 75$", line)
        if m:
            cur["exit75"] += ntasks(m.group(1))
        if "DUE TO JOB REQUEUE" in line:
            cur["requeued"] = 1
    for r in out:
        print("resumed=%(resumed)s stopped=%(stopped)s exit75=%(exit75)d requeued=%(requeued)d" % r)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "data" and len(argv) == 5:
        dztest.make_dataset(argv[2], int(argv[3]), int(argv[4]), "uint8", seed=14)
    elif cmd == "digest" and len(argv) == 4:
        print(dztest.result_digest(argv[2], argv[3]))
    elif cmd == "ckpt-iter" and len(argv) == 3:
        try:
            with h5py.File(argv[2], "r") as f:
                print(int(f.attrs["iteration"]))
        except Exception:
            print(-1)
    elif cmd == "runs" and len(argv) == 3:
        runs(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
