#!/usr/bin/python3
"""validation — the test-set columns of metrics.csv (issue 11, "Watching a run").

  1. With [data] test, metrics.csv has the header ...,passes,test_loss,test_accuracy; without,
     the five columns as before.
  2. Row 0 (w = 0, b = 0): test_loss = log 2 and test_accuracy = the fraction of 0 labels
     (a = 0.5 predicts 0) — for logistic; for softmax log K and the fraction of class 0.
  3. The row of iteration 20 equals `trainer evaluate` of the model trained for exactly 20
     iterations: cross_entropy to 1e-12, accuracy exactly (the row's parameters are the ones
     before that iteration's update).
  4. The same bytes at 1 x 1 and 3 x 2 (ranks x threads), test columns included.
  6. The end-of-training lines "train metrics: …" / "test metrics: …" print what `trainer
     evaluate` gives for the written model on the same sets (to their 6 digits).
  5. A run checkpointed at iteration 15 and resumed at another N gives the uninterrupted
     run's metrics.csv, test columns included (elapsed_s aside).
"""
import json
import math
import os

import numpy as np

from dztest import Checker, make_dataset, make_multiclass, mpirun, workdir, write_config

c = Checker("validation")
w = workdir("validation")
_, _ = make_dataset(os.path.join(w, "train.h5"), 400, 8, seed=5)
_, yt = make_dataset(os.path.join(w, "test.h5"), 103, 8, seed=6)
make_multiclass(os.path.join(w, "train_k.h5"), 300, 6, 4, seed=7)
_, ytk = make_multiclass(os.path.join(w, "test_k.h5"), 101, 6, 4, seed=8)


def table(path):
    """(header columns, rows as lists of strings)."""
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[0].split(","), [l.split(",") for l in lines[1:]]


def config(name, iterations, model="logistic", test=True, ckpt=None):
    sfx = "_k" if model == "softmax" else ""
    data = {"train": "train%s.h5" % sfx, "train_x": "x", "train_y": "y"}
    if test:
        data.update({"test": "test%s.h5" % sfx, "test_x": "x", "test_y": "y"})
    cfg = {"data": data, "model": {"type": model},
           "train": {"learning_rate": 0.5, "iterations": iterations, "log_every": 5},
           "output": {"model": name + ".h5", "metrics": name + ".csv"}}
    if ckpt:
        cfg["checkpoint"] = {"file": ckpt, "every": 15}
    return write_config(os.path.join(w, name + ".ini"), cfg)


def run(n, t, args):
    rc, out, err, _ = mpirun(n, t, ["--quiet"] + list(args), cwd=w)
    c.check(rc == 0, "trainer %s at %dx%d: exit %d %s" % (" ".join(args), n, t, rc, err[-400:]))
    return out


def evaluate(model, data, js):
    """`trainer evaluate` of model on data (x, y) at N = 2; its JSON."""
    rc, out, err, _ = mpirun(2, 1, ["evaluate", "--model", model, "--data", data, "--x", "x",
                                    "--y", "y", "--json", js], cwd=w)
    c.check(rc == 0, "evaluate %s on %s: exit %d %s" % (model, data, rc, err[-300:]))
    with open(os.path.join(w, js)) as f:
        return json.load(f)


for model, y, K in (("logistic", yt, 2), ("softmax", ytk, 4)):
    tag = model[:4]
    out = run(1, 1, [config(tag + "_a", 30, model)])
    sfx = "_k" if K > 2 else ""
    for part in ("train", "test"):
        ev = evaluate(tag + "_a.h5", part + sfx + ".h5", tag + "_" + part + ".json")
        v = [ev[k]["macro"] if isinstance(ev[k], dict) else ev[k]  # softmax: the macro means
             for k in ("precision", "recall", "f1", "roc_auc")]
        want = "%s metrics: precision %.6g, recall %.6g, f1 %.6g, roc_auc %.6g (" % (part, *v)
        c.check(want in out, "%s: the end-of-training line %r is in the output:\n%s"
                % (model, want, out[-500:]))
    head, rows = table(os.path.join(w, tag + "_a.csv"))
    c.check(head[5:] == ["test_loss", "test_accuracy"], "%s: header %s" % (model, head))
    r0 = rows[0]
    c.check(abs(float(r0[5]) - math.log(K)) <= 1e-15 * math.log(K) and
            float(r0[6]) == np.mean(y == 0),
            "%s: row 0 test_loss %s (log %d = %r), accuracy %s (fraction of class 0: %r)"
            % (model, r0[5], K, math.log(K), r0[6], np.mean(y == 0)))
    # the row of iteration 20 against evaluate on the model of exactly 20 iterations
    run(1, 1, [config(tag + "_20", 20, model, test=False)])
    ev = evaluate(tag + "_20.h5", "test%s.h5" % sfx, tag + "_20.json")
    r20 = [r for r in rows if r[0] == "20"][0]
    c.check(abs(float(r20[5]) - ev["cross_entropy"]) <= 1e-12 * ev["cross_entropy"] and
            float(r20[6]) == ev["accuracy"],
            "%s: row 20 (%s, %s) = evaluate of the 20-iteration model (%r, %r)"
            % (model, r20[5], r20[6], ev["cross_entropy"], ev["accuracy"]))
    head0, _ = table(os.path.join(w, tag + "_20.csv"))
    c.check(len(head0) == 5, "%s: no test set, five columns: %s" % (model, head0))
    # the same bytes at 3 x 2
    run(3, 2, [config(tag + "_b", 30, model)])
    _, rows_b = table(os.path.join(w, tag + "_b.csv"))
    strip = lambda rs: [r[:2] + r[3:] for r in rs]  # elapsed_s aside
    c.check(strip(rows_b) == strip(rows), "%s: metrics at 3x2 equal 1x1, test columns included"
            % model)
    # checkpoint at 15, resumed at 2 x 1
    ck = tag + "_ck.h5"
    run(3, 1, [config(tag + "_c", 15, model, ckpt=ck)])
    run(2, 1, ["--resume", "--force", config(tag + "_c", 30, model, ckpt=ck)])
    _, rows_c = table(os.path.join(w, tag + "_c.csv"))
    c.check(strip(rows_c) == strip(rows), "%s: resumed at iteration 15 (3x1 -> 2x1) equals the "
            "uninterrupted metrics, test columns included:\n%s\n%s" % (model, rows_c, rows))
c.finish()
