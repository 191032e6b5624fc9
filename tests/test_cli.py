#!/usr/bin/python3
"""cli — the command line (issue 11): --set overrides, the explicit `train` subcommand, --help
and --version, each as a user meets them under mpirun.

  1. `--set train.iterations=6 --set train.l2=0.5` ends exactly like a config file with those
     values written in it (metrics rows, w, b, loss history, config_hash), and not like the
     file without them; `--set=K=V` is the same as `--set K=V`; the last --set of a key wins.
  2. A checkpoint written under --set resumes from a config that has the same values in the
     file, and is refused (exit 2, naming l2) without them: the hash compares like the file.
  3. A relative path in --set is relative to the current directory, not the config's folder.
  4. `trainer train c.ini` and `trainer c.ini` give the same model bit for bit.
  5. --help (exit 0, printed once at N = 2) names the subcommand, every option and where the
     config keys are documented; --version names the version, commit, compiler, kernel
     paths, Open MPI and HDF5.
  6. The progress line: under mpirun (rank stderr is a pipe) plain lines every [output]
     progress seconds (0.05 here), with increasing iterations, the limit, J, it/s and the time left; none
     with --quiet, with progress = 0, or on a run shorter than the default 10 s; on a terminal
     (a 1-rank run with stderr on a pty) one line rewritten in place ("\r" … ESC[K), ended by
     a newline.
  7. `trainer info FILE`: a data file's datasets with shapes, types and label counts (against
     h5py/numpy), a model's kind and provenance (optimizer, stop reason, settings, checksum),
     a checkpoint's kind; a missing or non-HDF5 file exits 3 with one message.
"""
import os
import pty
import re
import shutil
import subprocess

import h5py
import numpy as np

import dztest
from dztest import Checker, make_dataset, mpirun, read_metrics, result_digest, workdir, write_config

c = Checker("cli")
w = workdir("cli")
make_dataset(os.path.join(w, "train.h5"), 300, 6, xname="train_set_x", yname="train_set_y", seed=3)
N = 2


def attrs(path):
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def train(args, cwd=w, n=N):
    rc, out, err, _ = mpirun(n, 1, ["--quiet"] + list(args), cwd=cwd)
    return rc, out, err


base = {"data": {"train": "train.h5"}, "train": {"iterations": 20, "log_every": 1}}
write_config(os.path.join(w, "c.ini"), base)
inline = {"data": {"train": "train.h5"},
          "train": {"iterations": 6, "log_every": 1, "l2": 0.5},
          "output": {"model": "m_file.h5", "metrics": "m_file.csv"},
          "checkpoint": {"file": "ck_set.h5", "every": 2}}
write_config(os.path.join(w, "inline.ini"), inline)

# 1. --set against the same values in the file
rc, _, err = train(["inline.ini", "--set", "checkpoint.file=ck_file.h5"])
c.check(rc == 0, "file values: exit %d %s" % (rc, err[-600:]))
sets = ["--set", "train.iterations=6", "--set", "train.l2=0.25", "--set=train.l2=0.5",
        "--set", "output.model=m_set.h5", "--set", "output.metrics=m_set.csv",
        "--set", "checkpoint.file=ck_set.h5", "--set", "checkpoint.every=2"]
rc, _, err = train(["c.ini"] + sets)
c.check(rc == 0, "--set values: exit %d %s" % (rc, err[-600:]))
rc, _, err = train(["c.ini", "--set", "output.model=m_plain.h5", "--set", "output.metrics=m_plain.csv"])
c.check(rc == 0, "plain file: exit %d %s" % (rc, err[-600:]))
P = lambda name: os.path.join(w, name)
if c.check(all(os.path.exists(P(f)) for f in ["m_file.h5", "m_set.h5", "m_plain.h5"]),
           "the three runs wrote their models where the config and --set name them"):
    _, rows_set = read_metrics(P("m_set.csv"))
    _, rows_file = read_metrics(P("m_file.csv"))
    _, rows_plain = read_metrics(P("m_plain.csv"))
    its = [r[0] for r in rows_set]
    c.check(its == [r[0] for r in rows_file] and its and max(its) < 6 and
            max(r[0] for r in rows_plain) >= 6,
            "--set train.iterations=6 logs the rows of iterations = 6 in the file: %s (file %s, "
            "without --set up to %d)" % (its, [r[0] for r in rows_file], max(r[0] for r in rows_plain)))
    c.check(result_digest(P("m_set.h5"), P("m_set.csv")) == result_digest(P("m_file.h5"), P("m_file.csv")),
            "--set run equals the run with the values in the file (w, b, losses)")
    c.check(result_digest(P("m_set.h5"), P("m_set.csv")) != result_digest(P("m_plain.h5"), P("m_plain.csv")),
            "--set run differs from the run without the overrides")
    a_set, a_file, a_plain = attrs(P("m_set.h5")), attrs(P("m_file.h5")), attrs(P("m_plain.h5"))
    c.check(a_set["config_hash"] == a_file["config_hash"] != a_plain["config_hash"],
            "config_hash: --set %x, file %x, without %x" % (a_set["config_hash"], a_file["config_hash"],
                                                             a_plain["config_hash"]))
    c.check(float(a_set["l2"]) == 0.5, "the last --set of train.l2 wins: l2 = %r" % a_set.get("l2"))

# 2. resume a checkpoint written under --set
if c.check(os.path.exists(P("ck_set.h5")), "--set checkpoint.file=ck_set.h5 wrote the checkpoint in the cwd"):
    rc, _, err = train(["--resume", "c.ini", "--set", "checkpoint.file=ck_set.h5",
                        "--set", "train.iterations=6"])
    c.check(rc == 2 and re.search(r"training settings changed since the checkpoint: l2=0 \(checkpoint: 0\.5", err)
            and len(re.findall(r"dztrain: rank \d+:", err)) == 1,
            "resume without --set train.l2 is refused, naming l2: exit %d %s" % (rc, err[-600:]))
    rc, _, err = train(["--resume", "inline.ini"])  # the same values, in the file
    c.check(rc == 0, "resume of the --set checkpoint from the file with the same values: exit %d %s"
            % (rc, err[-600:]))

# 3. relative paths in --set: the current directory; in the file: the config's folder
sub = P("sub")
os.makedirs(sub)
write_config(os.path.join(sub, "c.ini"), {"data": {"train": "nope.h5"}, "train": {"iterations": 3}})
rc, _, err = train(["sub/c.ini", "--set", "data.train=train.h5", "--set", "output.model=cwd_model.h5"])
c.check(rc == 0 and os.path.exists(P("cwd_model.h5")) and not os.path.exists(os.path.join(sub, "cwd_model.h5"))
        and os.path.exists(os.path.join(sub, "metrics.csv")),
        "--set paths are relative to the cwd, the file's default metrics stay in its folder: exit %d %s"
        % (rc, err[-600:]))

# 4. `trainer train c.ini` is `trainer c.ini`, bit for bit
d4 = {}
for tag, pre in [("implicit", []), ("explicit", ["train"])]:
    rc, _, err = train(pre + ["c.ini", "--set", "output.model=m_%s.h5" % tag,
                              "--set", "output.metrics=m_%s.csv" % tag], n=3)
    c.check(rc == 0, "%s: exit %d %s" % (tag, rc, err[-600:]))
    if rc == 0:
        d4[tag] = (result_digest(P("m_%s.h5" % tag), P("m_%s.csv" % tag)),
                   attrs(P("m_%s.h5" % tag))["config_hash"])
c.check(len(d4) == 2 and d4["implicit"] == d4["explicit"],
        "trainer train c.ini == trainer c.ini (digest, config_hash): %s" % d4)

# 5. --help and --version
rc, out, err, _ = mpirun(N, 1, ["--help"], cwd=w)
c.check(rc == 0 and out.count("usage:") == 1 and not err.strip(),
        "--help: exit %d, printed %d times, stderr %r" % (rc, out.count("usage:"), err[-300:]))
for word in ["train ", "--set SECTION.KEY=VALUE", "--resume", "--force", "--quiet", "--version",
             "--help", "Configuration", "README.md", "info", "FILE.h5"]:
    c.check(word in out, "--help mentions %r" % word)
for f in ("model.h5", "metrics.csv"):
    if os.path.exists(os.path.join(w, f)):
        os.remove(os.path.join(w, f))
rc, out, err, _ = mpirun(N, 1, ["train", "c.ini", "--help"], cwd=w)
c.check(rc == 0 and out.count("usage:") == 1 and not os.path.exists(os.path.join(w, "model.h5")),
        "train c.ini --help prints the help and trains nothing")
rc, out, err, _ = mpirun(N, 1, ["--version"], cwd=w)
m = re.search(r"^dztrain (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,40}|unknown) at configure time\)$", out, re.M)
c.check(rc == 0 and m and out.count("dztrain ") == 1, "--version: first line, once: %r" % out[:300])
for rx in [r"^compiler: (gcc|clang) \S+", r"^kernel paths: .*generic.*this CPU runs: \w+ \(8 float64 lanes",
           r"^MPI: Open MPI v\d+\.\d+", r"^HDF5: \d+\.\d+\.\d+$"]:
    c.check(re.search(rx, out, re.M), "--version has /%s/: %r" % (rx, out[-400:]))
if m and m.group(2) != "unknown" and shutil.which("git"):
    # the configure-time commit is in this checkout's history (HEAD may be newer)
    g = subprocess.run(["git", "-C", dztest.SOURCE, "merge-base", "--is-ancestor", m.group(2), "HEAD"],
                       capture_output=True, text=True)
    c.check(g.returncode == 0, "--version commit %s is an ancestor of HEAD: %s" % (m.group(2), g.stderr))

# 6. the progress line
PROG = re.compile(r"^dztrain: progress: iteration (\d+)/(\d+) \(\d+ %\), J [-+.e\d]+"
                  r"(, \|grad J\|inf [-+.e\d]+ \(iteration \d+\))?, [.e+\d]+ it/s, left (<= )?"
                  r"\d+:\d\d:\d\d$", re.M)  # it/s: "%.0f" from 10 up
write_config(os.path.join(w, "prog.ini"), {
    "data": {"train": "train.h5"}, "train": {"iterations": 20000, "log_every": 5000},
    "output": {"model": "m_prog.h5", "metrics": "m_prog.csv", "progress": 0.05}})
rc, out, err, secs = mpirun(N, 1, ["prog.ini"], cwd=w)
lines = [l for l in err.splitlines() if l.startswith("dztrain: progress:")]
its = [int(m.group(1)) for m in PROG.finditer(err)]
print("progress: %d lines in %.1f s at progress = 0.05" % (len(lines), secs))
c.check(rc == 0 and len(lines) >= 3 and len(its) == len(lines),
        "progress = 0.05 under mpirun: %d lines, %d well-formed (exit %d): %s"
        % (len(lines), len(its), rc, lines[:3]))
c.check(its == sorted(its) and all(0 < i <= 20000 for i in its) and "\r" not in err,
        "progress lines count up, within the limit, no in-place rewriting in a pipe: %s" % its)
c.check(err.count("dztrain: rank") == 0, "a progress line is not an error line")
for extra, why in ((["--quiet"], "--quiet"), (["--set", "output.progress=0"], "progress = 0"),
                   (["--set", "output.progress=10", "--set", "train.iterations=2000"], "a run shorter than 10 s")):
    rc, out, err, _ = mpirun(N, 1, extra + ["prog.ini"], cwd=w)
    c.check(rc == 0 and "progress:" not in err, "no progress line with %s: %s" % (why, err[-300:]))
# on a terminal: 1 rank without mpirun, stderr on a pty
master, slave = pty.openpty()
p = subprocess.Popen([dztest.TRAINER, "--set", "output.progress=0", "--set", "train.iterations=150000",
                      "--set", "train.log_every=1000000", "prog.ini"], cwd=w,
                     stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ, OMP_NUM_THREADS="1"))
os.close(slave)
tty = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO: the other side closed
        break
    if not chunk:
        break
    tty += chunk
out = p.communicate(timeout=120)[0]
os.close(master)
tty = tty.decode(errors="replace").replace("\r\n", "\n")  # the pty's own output translation
shown = tty.split("\r")
print("progress on a terminal: %d in-place updates" % (len(shown) - 1))
c.check(p.returncode == 0 and len(shown) >= 3 and all(PROG.match(x.split("\x1b[K")[0])
                                                     for x in shown[1:]),
        "on a terminal (even with progress = 0) the line is rewritten in place: %r" % tty[-300:])
c.check(tty.endswith("\x1b[K\n"),
        "the in-place line ends with a newline: %r" % tty[-40:])

# 7. trainer info
rc, out, err, _ = mpirun(N, 1, ["info", "train.h5"], cwd=w)
with h5py.File(os.path.join(w, "train.h5"), "r") as f:
    X, Y = f["train_set_x"], f["train_set_y"][...]
    want_x = "train_set_x        float32  (%d, %d)" % X.shape
    vals, cnts = np.unique(Y, return_counts=True)
want_y = "value counts: " + ", ".join("%d: %d" % (v, k) for v, k in zip(vals, cnts))
c.check(rc == 0 and "train.h5: data (not a dztrain" in out and want_x in out and want_y in out
        and out.count("train.h5: data") == 1,
        "info on data: kind, %r, %r: %s" % (want_x, want_y, (out + err)[-600:]))
rc, out, err, _ = mpirun(1, 1, ["info", "m_prog.h5"], cwd=w)
a = attrs(os.path.join(w, "m_prog.h5"))
c.check(rc == 0 and "a dztrain model (format dztrain-model-1)" in out and
        re.search(r"optimizer += gd\n", out) and re.search(r"stop_reason += iterations\n", out)
        and "data_checksum      = %d" % a["data_checksum"] in out
        and "settings           = train_x=train_set_x" in out and "optimizer=gd" in out,
        "info on a model: its provenance: %s" % (out + err)[-800:])
rc, out, err, _ = mpirun(1, 1, ["info", "ck_set.h5"], cwd=w)
c.check(rc == 0 and "a dztrain checkpoint" in out and re.search(r"iteration += \d+\n", out),
        "info on a checkpoint: %s" % (out + err)[-400:])
# a CSR group: shape, stored values, density; a malformed one: the trainer's refusal
Xc = np.zeros((6, 40))
Xc[0, 3], Xc[2, 39], Xc[5, 0] = 1.5, -2.0, 0.25
dztest.make_csr(os.path.join(w, "csr.h5"), Xc, np.array([0, 1, 0, 1, 1, 0]), data_dtype="float32")
with h5py.File(os.path.join(w, "csr.h5"), "a") as f:
    g = f.create_group("bad")
    g["data"], g["indices"], g["indptr"] = np.ones(2), np.array([0, 1]), np.array([0, 1, 2, 2])
    g.attrs["shape"] = (2, 5)
rc, out, err, _ = mpirun(1, 1, ["info", "csr.h5"], cwd=w)
c.check(rc == 0 and re.search(r"\n  x +CSR group +\(6, 40\), 3 stored float32 values \(1\.25 % of the "
                              r"cells\)\n", out)
        and re.search(r"\n  bad +CSR group, refused by the trainer: .*indptr has 4 entries", out),
        "info on CSR groups: shape, stored values, density; the refusal: %s" % (out + err)[-800:])
with open(os.path.join(w, "text.h5"), "w") as f:
    f.write("not hdf5\n")
for name, frag in (("missing.h5", "missing.h5: cannot read file (no such file)"),
                   ("text.h5", "text.h5: not an HDF5 file")):
    rc, out, err, _ = mpirun(N, 1, ["info", name], cwd=w)
    c.check(rc == 3 and err.count(frag) == 1, "info %s: exit 3, once: %s (exit %d)" % (name, frag, rc))

c.finish()
