"""The shipped example (configs/example.ini) trains at 2 ranks, writes a readable model and
metrics, reaches a sensible accuracy, and agrees with the independent numpy oracle."""
import json
import os
import subprocess
import sys

import dztest

c = dztest.Checker("example")
w = dztest.workdir("example")
cfgdir = os.path.join(dztest.SOURCE, "configs")
os.symlink(os.path.join(cfgdir, "data"), os.path.join(w, "data"))
with open(os.path.join(cfgdir, "example.ini")) as f:
    text = f.read()
cfg = os.path.join(w, "example.ini")
with open(cfg, "w") as f:
    f.write(text)

rc, out, err, secs = dztest.mpirun(2, 1, [cfg])
c.check(rc == 0, "example exit code %d\n%s\n%s" % (rc, out, err))
model = os.path.join(w, "example_model.h5")
metrics = os.path.join(w, "example_metrics.csv")
c.check(os.path.exists(model) and os.path.exists(metrics), "model and metrics written")
wv, b, attrs = dztest.read_model(model)
c.check(wv.shape == (30,) and wv.dtype.name == "float64", "w is float64 (30,): %s %s" % (wv.shape, wv.dtype))
c.check(attrs["test_accuracy"] >= 95.0, "test accuracy %.3f >= 95" % attrs["test_accuracy"])
c.check("test accuracy: " in out and "train accuracy: " in out, "accuracies printed")
# h5dump can read it too
p = subprocess.run(["h5dump", "-a", "/final_loss", model], capture_output=True, text=True)
c.check(p.returncode == 0 and "final_loss" in p.stdout, "h5dump reads the model")

oracle = os.path.join(w, "oracle.json")
data = os.path.join(cfgdir, "data")
subprocess.run([sys.executable, os.path.join(dztest.SOURCE, "tests/reference/course_numpy.py"),
                "--train", os.path.join(data, "breast_cancer_train.h5"), "--train-x", "x", "--train-y", "y",
                "--test", os.path.join(data, "breast_cancer_test.h5"), "--test-x", "x", "--test-y", "y",
                "--scale", "1", "--lr", "0.01", "--iterations", "2000", "--log-every", "100",
                "--out", oracle, "--quiet"], check=True)
p = subprocess.run([sys.executable, os.path.join(dztest.SOURCE, "tests/reference/compare_run.py"),
                    "--oracle", oracle, "--model", model, "--metrics", metrics, "--rtol", "1e-12",
                    "--acc-exact"], capture_output=True, text=True)
print(p.stdout)
c.check(p.returncode == 0, "example agrees with the numpy oracle to 1e-12")
c.finish()
