#!/usr/bin/python3
"""plot — scripts/plot-metrics draws a metrics.csv as a PNG (skipped without matplotlib).

  1. The shipped example, trained here at 1 rank with its outputs in the work folder (the
     same file as configs/example_metrics.csv after `bash scripts/example`: test columns and
     grad_max filled): exit 0, OUT.png is a PNG (signature), > 10 kB, and its pixels read back
     with matplotlib.image.imread hold many colours; its Figure has 3 log-y panels with J and
     the test loss (all 20 rows) against the iteration and the elapsed seconds, and ‖∇J‖∞.
  2. A made-up file with the test columns and empty cells (test columns empty on the first
     rows as after a resume from an older checkpoint, grad_max and elapsed_s empty on one row,
     an empty test_accuracy) and values a log scale cannot show (loss 0 and nan, grad_max 0,
     test_loss inf): exit 0 with the default OUT (METRICS with .png), one note a column on
     stderr with the count left out, and exactly the drawable points on each line.
  3. Without the test columns and with grad_max all empty (2 panels, 1 line each), and with
     the test columns present but all empty (3 panels, J alone on the loss panels).
  4. Errors: a missing file, an empty file, a CSV that is not dztrain's and a malformed row
     exit 3 with one `plot-metrics: FILE: …` line; a wrong command line, and OUT = METRICS,
     exit 2; an output folder that does not exist exits 5; no PNG or temporary file is left
     behind; without matplotlib, exit 2 naming the package to install.  --help exits 0.
"""
import glob
import importlib.machinery
import importlib.util
import os
import subprocess
import sys

import numpy as np

import dztest
from dztest import Checker, mpirun, workdir

try:
    import matplotlib.image
except ImportError:
    print("skip: python3-matplotlib is not installed (scripts/install-deps --test installs it)")
    sys.exit(dztest.SKIP)

c = Checker("plot")
w = workdir("plot")
SCRIPT = os.path.join(dztest.SOURCE, "scripts", "plot-metrics")
P = lambda name: os.path.join(w, name)

loader = importlib.machinery.SourceFileLoader("plot_metrics", SCRIPT)
pm = importlib.util.module_from_spec(importlib.util.spec_from_loader("plot_metrics", loader))
loader.exec_module(pm)


def plot(args, env=None):
    """Run the script as a user does; returns (exit code, stderr)."""
    p = subprocess.run([SCRIPT] + list(args), capture_output=True, text=True, timeout=60,
                       cwd=w, env=env)
    return p.returncode, p.stderr


def check_png(path, what):
    """The file is a non-trivial PNG whose pixels vary."""
    if not c.check(os.path.isfile(path), "%s: %s written" % (what, path)):
        return
    with open(path, "rb") as f:
        head = f.read(8)
    size = os.path.getsize(path)
    c.check(head == b"\x89PNG\r\n\x1a\n" and size > 10000,
            "%s: a PNG of more than 10 kB: %r, %d bytes" % (what, head, size))
    px = (matplotlib.image.imread(path) * 255).round().astype(np.uint8)
    colours = len(np.unique(px.reshape(-1, px.shape[-1]), axis=0))
    c.check(px.shape[0] > 400 and px.shape[1] > 400 and colours > 50,
            "%s: %dx%d pixels with %d distinct colours" % (what, px.shape[1], px.shape[0], colours))
    left = glob.glob(path + ".tmp.*")
    c.check(not left, "%s: no temporary file left: %s" % (what, left))


def shape(csv):
    """[(y scale, [points on each line]) for each panel] of the script's Figure for csv, its
    notes and its title (the suptitle is the figure's one text)."""
    fig, notes = pm.figure(pm.read_metrics(csv))
    return ([(ax.get_yscale(), [len(l.get_xdata()) for l in ax.get_lines()]) for ax in fig.axes],
            notes, " ".join(t.get_text() for t in fig.texts))


def write(name, lines):
    with open(P(name), "w") as f:
        f.write("\n".join(lines) + "\n")
    return P(name)


# 1. the example
rc, _, err, _ = mpirun(1, 1, ["--quiet", os.path.join(dztest.SOURCE, "configs", "example.ini"),
                              "--set", "output.metrics=example_metrics.csv",
                              "--set", "output.model=example_model.h5"], cwd=w)
if c.check(rc == 0 and os.path.exists(P("example_metrics.csv")),
           "the example trains: exit %d %s" % (rc, err[-600:])):
    rc, err = plot(["example_metrics.csv", "example.png"])
    c.check(rc == 0 and err == "", "example: exit %d, stderr %r" % (rc, err))
    check_png(P("example.png"), "example")
    got, notes, title = shape(P("example_metrics.csv"))
    c.check(got == [("log", [20, 20]), ("log", [20, 20]), ("log", [20])] and notes == [],
            "example: 3 log panels, J and test loss on 20 rows, ‖∇J‖∞: %s %s" % (got, notes))
    c.check(title.startswith("example_metrics.csv: J = 0.0948829") and "iteration 1900" in title,
            "the title names the file, the last row's J and its iteration: %r" % title)

# 2. test columns, empty cells and values a log scale cannot show
H7 = "iteration,loss,elapsed_s,grad_max,passes,test_loss,test_accuracy"
write("synthetic.csv", [H7,
                        "0,0.69314718055994529,0.000100,0.375,1.000000,,",
                        "10,0.5,0.001000,,11.000000,,",
                        "20,0.3,0.002000,0.1,21.000000,0.35,0.8",
                        "30,0,0.003000,0.05,31.000000,0.3,0.85",
                        "40,nan,0.004000,0.02,41.000000,0.28,0.9",
                        "50,0.1,0.005000,0,51.000000,0.27,0.9",
                        "60,0.05,,0.01,61.000000,inf,0.9",
                        "70,0.04,0.007000,0.009,71.000000,0.25,"])
rc, err = plot(["synthetic.csv"])
want = ["plot-metrics: synthetic.csv: note: %s point(s) not drawn (<= 0, NaN or Inf: log scale)" % s
        for s in ["2 loss", "1 test_loss", "1 grad_max"]]
c.check(rc == 0 and err.splitlines() == want, "synthetic: exit %d, notes %r" % (rc, err))
check_png(P("synthetic.png"), "synthetic (default OUT)")
got, _, _ = shape(P("synthetic.csv"))
# J: rows 0, 10, 20, 50, 60, 70 (row 60 has no elapsed_s); test: 20, 30, 40, 50, 70; ‖∇J‖∞: 6
c.check(got == [("log", [6, 5]), ("log", [5, 5]), ("log", [6])],
        "synthetic: the drawable points of each line: %s" % got)

# 3. panels that are left out
write("old.csv", ["iteration,loss,elapsed_s,grad_max,passes",
                  "0,0.69,0.001,,1.000000", "5,0.4,0.002,,6.000000", "9,0.3,0.003,,10.000000"])
got, notes, _ = shape(P("old.csv"))
c.check(got == [("log", [3]), ("log", [3])] and notes == [],
        "no test columns, grad_max all empty: 2 panels, J alone: %s %s" % (got, notes))
write("notest.csv", [H7, "0,0.69,0.001,0.3,1.000000,,", "5,0.4,0.002,0.2,6.000000,,"])
got, _, _ = shape(P("notest.csv"))
c.check(got == [("log", [2]), ("log", [2]), ("log", [2])],
        "test columns all empty: J alone on the loss panels: %s" % got)

# 4. errors
write("empty.csv", [])
write("foreign.csv", ["a,b,c", "1,2,3"])
write("badrow.csv", ["iteration,loss,elapsed_s,grad_max,passes", "0,0.69,0.001,,1", "1,x,0.002,,2"])
for args, code, frag in [(["missing.csv"], 3, "missing.csv: cannot read: No such file"),
                         (["empty.csv"], 3, "empty.csv: empty file"),
                         (["foreign.csv"], 3, "foreign.csv: not a dztrain metrics.csv: header 'a,b,c'"),
                         (["badrow.csv"], 3, "badrow.csv: line 3: loss 'x' is not a number"),
                         (["old.csv", "no/such/folder/out.png"], 5, "cannot write in"),
                         (["synthetic.csv", "synthetic.csv"], 2, "is the input itself")]:
    before = sorted(os.listdir(w))
    rc, err = plot(args)
    c.check(rc == code and err.startswith("plot-metrics: ") and frag in err and len(err.splitlines()) == 1,
            "%s: exit %d (want %d), %r" % (" ".join(args), rc, code, err))
    c.check(sorted(os.listdir(w)) == before, "%s: nothing written" % " ".join(args))
for args in [[], ["a.csv", "b.png", "c"], ["--bogus", "synthetic.csv"]]:
    rc, err = plot(args)
    c.check(rc == 2 and "usage: plot-metrics METRICS.csv [OUT.png]" in err,
            "usage %r: exit %d %r" % (args, rc, err))
rc = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
c.check(rc.returncode == 0 and "Exit codes" in rc.stdout, "--help: exit %d" % rc.returncode)
fake = P("nomatplotlib")
os.makedirs(os.path.join(fake, "matplotlib"))
with open(os.path.join(fake, "matplotlib", "__init__.py"), "w") as f:
    f.write("raise ImportError('No module named matplotlib (test)')\n")
env = dict(os.environ, PYTHONPATH=fake + os.pathsep + os.environ.get("PYTHONPATH", ""))
rc, err = plot(["synthetic.csv", "never.png"], env=env)
c.check(rc == 2 and err.strip() == pm.NEEDS and not os.path.exists(P("never.png")),
        "without matplotlib: exit %d %r" % (rc, err))

c.finish()
