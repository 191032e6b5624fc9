"""The course's cat / non-cat data with the course's settings (scale 255, learning rate 0.005,
2000 iterations): dztrain's losses, w, b and accuracies against an independent numpy run of
the course's own code (tests/reference/course_numpy.py) to 1e-12 relative, and against the
values the course prints (6 decimals).  Skips when ../shared/data is absent."""
import json
import os
import subprocess
import sys

import dztest

data = os.path.normpath(os.path.join(dztest.SOURCE, "..", "shared", "data"))
train = os.path.join(data, "train_catvnoncat.h5")
test = os.path.join(data, "test_catvnoncat.h5")
if not (os.path.exists(train) and os.path.exists(test)):
    print("SKIP: %s not found (the course data is not shipped with dztrain)" % train)
    sys.exit(dztest.SKIP)

c = dztest.Checker("course_cat")
w = dztest.workdir("course_cat")
oracle = os.path.join(w, "oracle.json")
subprocess.run([sys.executable, os.path.join(dztest.SOURCE, "tests/reference/course_numpy.py"),
                "--train", train, "--test", test, "--scale", "255", "--lr", "0.005",
                "--iterations", "2000", "--log-every", "100", "--out", oracle, "--quiet"], check=True)
# The numbers the course prints (Cost after iteration i: ..., accuracies).
published = {0: 0.693147, 100: 0.584508, 200: 0.466949, 300: 0.376007, 400: 0.331463,
             500: 0.303273, 600: 0.279880, 700: 0.260042, 800: 0.242941, 900: 0.228004,
             1000: 0.214820, 1100: 0.203078, 1200: 0.192544, 1300: 0.183033, 1400: 0.174399,
             1500: 0.166521, 1600: 0.159305, 1700: 0.152667, 1800: 0.146542, 1900: 0.140872}

for nranks, threads in [(1, 1), (2, 1), (1, 2), (3, 2)] if not dztest.SMALL else [(3, 2)]:
    run = os.path.join(w, "n%dt%d" % (nranks, threads))
    os.makedirs(run)
    cfg = dztest.write_config(os.path.join(run, "cat.ini"), {
        "data": {"train": train, "test": test, "scale": 255},
        "train": {"learning_rate": 0.005, "iterations": 2000, "log_every": 100}})
    rc, out, err, secs = dztest.mpirun(nranks, threads, [cfg],
                                       env={"OMP_WAIT_POLICY": "passive"} if nranks * threads > 2 else None)
    if not c.check(rc == 0, "%dx%d: exit %d\n%s" % (nranks, threads, rc, err)):
        continue
    p = subprocess.run([sys.executable, os.path.join(dztest.SOURCE, "tests/reference/compare_run.py"),
                        "--oracle", oracle, "--model", os.path.join(run, "model.h5"),
                        "--metrics", os.path.join(run, "metrics.csv"), "--rtol", "1e-12", "--acc-exact"],
                       capture_output=True, text=True)
    print("%d rank(s) x %d thread(s):\n%s" % (nranks, threads, p.stdout))
    c.check(p.returncode == 0, "%dx%d: differs from the numpy oracle" % (nranks, threads))
    _, rows = dztest.read_metrics(os.path.join(run, "metrics.csv"))
    for it, loss, *_ in rows:
        c.check(round(loss, 6) == published[it], "%dx%d: iteration %d loss %.6f, course prints %.6f"
                % (nranks, threads, it, loss, published[it]))
    c.check("train accuracy: 99.043062200956939 %" in out and "test accuracy: 70 %" in out,
            "%dx%d: accuracies 99.04306220095694 / 70 as in the course" % (nranks, threads))
c.finish()
