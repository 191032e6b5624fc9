"""cmake --install: the installed trainer runs from another folder with the installed example
config (its data paths are relative to the config) and reports its version and kernel
paths; the installed dzconvert converts a CSV there; the man page holds every line of
--help (and renders, where man is installed)."""
import os
import shutil
import subprocess
import sys

import dztest

c = dztest.Checker("install")
build = sys.argv[1]
w = dztest.workdir("install")
prefix = os.path.join(w, "prefix")
p = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True)
c.check(p.returncode == 0, "cmake --install: %s" % p.stderr[-1000:])
trainer = os.path.join(prefix, "bin", "trainer")
example = os.path.join(prefix, "share", "dztrain", "configs", "example.ini")
c.check(os.access(trainer, os.X_OK) and os.path.exists(example) and
        os.path.exists(os.path.join(prefix, "share", "dztrain", "README.md")),
        "installed bin/trainer, share/dztrain/configs/example.ini and README.md")
v = subprocess.run([trainer, "--version"], capture_output=True, text=True, cwd=w)
c.check(v.returncode == 0 and "kernel paths:" in v.stdout and "HDF5" in v.stdout,
        "installed trainer --version: %s" % (v.stdout + v.stderr)[-500:])
# train from an unrelated folder; outputs land beside the installed config
run = os.path.join(w, "elsewhere")
os.makedirs(run)
dztest.TRAINER = trainer
rc, out, err, _ = dztest.mpirun(2, 1, ["--quiet", example], cwd=run)
model = os.path.join(prefix, "share", "dztrain", "configs", "example_model.h5")
c.check(rc == 0 and os.path.exists(model), "installed example trains from another folder: %s" % err[-800:])
# the installed converter runs beside it: a CSV from another folder into an HDF5 file
conv = os.path.join(prefix, "bin", "dzconvert")
with open(os.path.join(run, "t.csv"), "w") as f:
    f.write("a,label,b\n1.5,0,2\n3,1,4\n")
p = subprocess.run([conv, "t.csv", "--label", "label", "t.h5"], capture_output=True, text=True,
                   cwd=run)
c.check(p.returncode == 0 and os.path.exists(os.path.join(run, "t.h5")) and
        "2 rows x 2 features" in p.stdout,
        "installed bin/dzconvert converts a CSV: %s" % (p.stdout + p.stderr)[-500:])
# the man page: made from this binary's --help, so every command and exit code is in it
page = os.path.join(prefix, "share", "man", "man1", "trainer.1")
helptext = subprocess.run([trainer, "--help"], capture_output=True, text=True).stdout
troff = open(page).read() if os.path.exists(page) else ""
c.check(troff.startswith(".TH TRAINER 1") and all(
            line.replace("\\", "\\e") in troff for line in helptext.splitlines() if line.strip()),
        "installed share/man/man1/trainer.1 holds every line of --help: %s" % troff[:300])
if shutil.which("man"):  # rendered (not on a minimal Debian, which has no man-db)
    p = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0"))
    c.check(p.returncode == 0 and "trainer - data-parallel logistic" in p.stdout and
            "75 stopped by SIGTERM" in p.stdout, "man -l trainer.1 renders: %s" % p.stdout[:400])
print(v.stdout.strip())
c.finish()
