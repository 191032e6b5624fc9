"""The shipped examples train at 2 ranks: configs/example.ini (logistic) writes a readable
model and metrics, reaches a sensible accuracy, and agrees with the independent numpy oracle;
configs/digits.ini (softmax, 10 classes) converges and its stored confusion matrices and
accuracies agree with numpy predictions from the written W, b."""
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

# the softmax example
import h5py
import numpy as np
with open(os.path.join(cfgdir, "digits.ini")) as f:
    text = f.read()
cfg = os.path.join(w, "digits.ini")
with open(cfg, "w") as f:
    f.write(text)
rc, out, err, secs = dztest.mpirun(2, 1, [cfg])
c.check(rc == 0 and "dztrain: converged" in out, "digits exit code %d, converged\n%s\n%s" % (rc, out, err))
c.check("confusion matrix (test; rows: true class, columns: predicted class)" in out,
        "digits: confusion matrices printed")
model = os.path.join(w, "digits_model.h5")
if c.check(os.path.exists(model), "digits model written"):
    with h5py.File(model, "r") as f:
        W, b, attrs = f["W"][...], f["b"][...], dict(f.attrs)
        conf = {k: f["confusion_" + k][...] for k in ("train", "test")}
    c.check(W.shape == (10, 64) and b.shape == (10,) and attrs["classes"] == 10,
            "digits: W (10, 64), b (10,), classes 10: %s %s %s" % (W.shape, b.shape, attrs.get("classes")))
    for k in ("train", "test"):
        with h5py.File(os.path.join(data, "digits_%s.h5" % k), "r") as f:
            x, y = f["x"][...].astype(np.float64) / 16, f["y"][...].astype(int)
        pred = np.argmax(x @ W.T + b, axis=1)
        ref = np.zeros((10, 10), np.int64)
        np.add.at(ref, (y, pred), 1)
        acc = 100.0 * np.mean(pred == y)
        c.check(np.array_equal(ref, conf[k]) and abs(acc - attrs[k + "_accuracy"]) < 1e-12,
                "digits %s: confusion matrix and accuracy %.4f (stored %.4f) from numpy argmax"
                % (k, acc, attrs[k + "_accuracy"]))
    c.check(attrs["test_accuracy"] >= 95.0, "digits test accuracy %.3f >= 95" % attrs["test_accuracy"])
    print("digits: train %.3f %%, test %.3f %%, %d iterations" % (
        attrs["train_accuracy"], attrs["test_accuracy"], attrs["iterations"]))
c.finish()
