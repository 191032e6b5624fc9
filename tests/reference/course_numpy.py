#!/usr/bin/python3
"""Independent numpy reference ("oracle") for dztrain.

Reproduces the DeepLearning.AI "Logistic Regression with a Neural Network
mindset" assignment code faithfully (vectorized, float64, np.dot):

    X: (m, ...) -> reshape(m, -1).T -> (d, m), divided by --scale
    Y: (1, m) float64
    w = zeros((d, 1)), b = 0
    for i in range(iterations):
        A    = sigmoid(np.dot(w.T, X) + b)
        cost = -1/m * np.sum(Y*np.log(A) + (1-Y)*np.log(1-A))
        dw   = 1/m * np.dot(X, (A - Y).T)
        db   = 1/m * np.sum(A - Y)
        if i % log_every == 0: record cost
        w = w - lr*dw ; b = b - lr*db
    predict: A > 0.5 ; accuracy = 100 - mean(|Yhat - Y|)*100

Besides the course cost (which can be inf/nan when A saturates to 0 or 1),
a numerically stable cost mean(logaddexp(0, z) - y*z) of the same w, b is
recorded as "costs_stable".

Usage (must be run with /usr/bin/python3):
  course_numpy.py --train F --train-x NAME --train-y NAME
                  [--test F --test-x NAME --test-y NAME]
                  --scale S --lr LR --iterations N --log-every K --out JSON
  course_numpy.py ... --time-iterations N --out JSON   (timing only)
"""
import argparse
import json
import math
import sys
import time

import h5py
import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def load(path, xname, yname, scale):
    with h5py.File(path, "r") as f:
        x_orig = np.array(f[xname][:])
        y_orig = np.array(f[yname][:])
    m = x_orig.shape[0]
    # course: train_set_x_orig.reshape(train_set_x_orig.shape[0], -1).T / 255
    x = x_orig.reshape(m, -1).T.astype(np.float64) / np.float64(scale)
    # course: train_set_y_orig.reshape((1, train_set_y_orig.shape[0]))
    y = y_orig.reshape(-1).astype(np.float64).reshape((1, m))
    if y.shape[1] != m:
        raise SystemExit(f"{path}: {xname} has {m} examples, {yname} has {y.shape[1]}")
    return x, y


def course_cost(w, b, X, Y):
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return float(np.squeeze(np.array(cost)))


def stable_cost(w, b, X, Y):
    z = np.dot(w.T, X) + b
    return float(np.mean(np.logaddexp(0.0, z) - Y * z))


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    cost = np.squeeze(np.array(cost))
    return {"dw": dw, "db": db}, cost


def predict(w, b, X):
    A = sigmoid(np.dot(w.T, X) + b)
    return (A > 0.5).astype(np.float64)


def accuracy(w, b, X, Y):
    Yhat = predict(w, b, X)
    return float(100 - np.mean(np.abs(Yhat - Y)) * 100)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--train-x", default="train_set_x")
    p.add_argument("--train-y", default="train_set_y")
    p.add_argument("--test")
    p.add_argument("--test-x", default="test_set_x")
    p.add_argument("--test-y", default="test_set_y")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--time-iterations", type=int, default=0,
                   help="only time N training iterations (excluding load)")
    p.add_argument("--out", required=True)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    if a.log_every <= 0 or a.iterations < 0 or a.time_iterations < 0:
        raise SystemExit("bad --log-every/--iterations/--time-iterations")

    X, Y = load(a.train, a.train_x, a.train_y, a.scale)
    d, m = X.shape
    lr = a.lr

    if a.time_iterations > 0:
        w = np.zeros((d, 1))
        b = 0.0
        per_iter = []
        for i in range(a.time_iterations):
            t0 = time.perf_counter()
            grads, cost = propagate(w, b, X, Y)
            w = w - lr * grads["dw"]
            b = b - lr * grads["db"]
            per_iter.append(time.perf_counter() - t0)
        res = {"numpy_iter_s": float(np.median(per_iter)),
               "numpy_iter_mean_s": float(np.mean(per_iter)),
               "numpy_iter_min_s": float(np.min(per_iter)),
               "iterations": a.time_iterations, "d": d, "m": m,
               "numpy_version": np.__version__}
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        if not a.quiet:
            print(f"numpy: {res['numpy_iter_s']:.6g} s/iteration (median of {a.time_iterations}; "
                  f"mean {res['numpy_iter_mean_s']:.6g}), d={d} m={m}")
        return 0

    # --- the course's optimize() ---
    w = np.zeros((d, 1))
    b = 0.0
    costs = []
    costs_stable = []
    for i in range(a.iterations):
        if i % a.log_every == 0:
            costs_stable.append([i, stable_cost(w, b, X, Y)])
        grads, cost = propagate(w, b, X, Y)
        dw = grads["dw"]
        db = grads["db"]
        w = w - lr * dw
        b = b - lr * db
        if i % a.log_every == 0:
            costs.append([i, float(cost)])
            if not a.quiet:
                print(f"Cost after iteration {i}: {float(cost):.17g}")

    train_acc = accuracy(w, b, X, Y)
    test_acc = None
    if a.test:
        Xt, Yt = load(a.test, a.test_x, a.test_y, a.scale)
        if Xt.shape[0] != d:
            raise SystemExit(f"test set has d={Xt.shape[0]}, train d={d}")
        test_acc = accuracy(w, b, Xt, Yt)
    if not a.quiet:
        print(f"train accuracy: {train_acc!r} %")
        print(f"test accuracy: {test_acc!r} %")

    def jnum(v):  # JSON has no inf/nan: store them as strings
        return v if math.isfinite(v) else str(v)

    res = {
        "costs": [[i, jnum(c)] for i, c in costs],
        "costs_stable": costs_stable,
        "w": w.reshape(-1).tolist(),
        "b": float(b),
        "final_loss": jnum(course_cost(w, b, X, Y)),
        "final_loss_stable": stable_cost(w, b, X, Y),
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "d": d, "m": m,
        "iterations": a.iterations, "log_every": a.log_every,
        "lr": lr, "scale": a.scale,
    }
    with open(a.out, "w") as f:
        json.dump(res, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
