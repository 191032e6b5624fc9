#!/usr/bin/python3
"""Compare a dztrain run (model.h5 + metrics.csv) with a course_numpy.py oracle JSON.

Usage (run with /usr/bin/python3):
  compare_run.py --oracle oracle.json --model model.h5 --metrics metrics.csv
                 [--rtol 1e-9] [--acc-exact]

Checks (exit 1 on any failure, 0 if all pass):
  * metrics.csv header starts with  iteration,loss,elapsed_s
  * logged iterations == oracle's logged iterations (same set, no duplicates)
  * every logged loss vs oracle costs_stable:  |l - o| <= rtol*|o|, l finite
  * elapsed_s finite, >= 0 and non-decreasing
  * dataset w (shape (d,)) and scalar dataset b vs oracle:
        |x - o| <= rtol*max(1,|o|) elementwise
  * attribute iterations == oracle iterations (if the oracle records it)
  * attribute final_loss vs oracle final_loss_stable, relative rtol
  * attributes train_accuracy / test_accuracy equal the oracle's exactly
    (test: NaN in model <-> null in oracle) when --acc-exact; otherwise they
    are only reported.
"""
import argparse
import csv
import json
import math
import sys

import h5py
import numpy as np


def to_float(v):
    if v is None:
        return float("nan")
    return float(v)  # also parses "inf"/"nan" strings written by the oracle


def sig_digits(rel):
    """agreeing significant digits from a relative difference"""
    if rel == 0:
        return 17.0
    if not math.isfinite(rel):
        return 0.0
    return max(0.0, min(17.0, -math.log10(rel)))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--oracle", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--metrics", required=True)
    p.add_argument("--rtol", type=float, default=1e-9)
    p.add_argument("--acc-exact", action="store_true")
    a = p.parse_args()
    rtol = a.rtol

    fails = []

    def fail(msg):
        fails.append(msg)
        print("FAIL: " + msg)

    with open(a.oracle) as f:
        o = json.load(f)
    o_costs = {int(i): to_float(c) for i, c in o["costs_stable"]}
    o_w = np.asarray(o["w"], dtype=np.float64)
    o_b = float(o["b"])

    # ---------------- metrics.csv ----------------
    rows = []
    try:
        with open(a.metrics, newline="") as f:
            r = csv.reader(f)
            header = next(r, None)
            if header is None or [h.strip() for h in header[:3]] != ["iteration", "loss", "elapsed_s"]:
                fail(f"metrics header is {header!r}, must start with iteration,loss,elapsed_s")
            for ln, row in enumerate(r, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                try:
                    rows.append((int(row[0]), float(row[1]), float(row[2])))
                except (ValueError, IndexError):
                    fail(f"metrics line {ln} unparsable: {row!r}")
    except OSError as e:
        fail(f"cannot read metrics: {e}")

    its = [r[0] for r in rows]
    if len(its) != len(set(its)):
        fail("metrics has duplicate iterations")
    if set(its) != set(o_costs):
        missing = sorted(set(o_costs) - set(its))
        extra = sorted(set(its) - set(o_costs))
        fail(f"logged iterations differ from oracle: missing {missing[:10]} extra {extra[:10]}")
    if its != sorted(its):
        fail("metrics iterations not increasing")

    worst_rel = 0.0
    worst_row = None
    prev_t = -math.inf
    for it, loss, el in rows:
        if not (math.isfinite(el) and el >= 0 and el >= prev_t):
            fail(f"iteration {it}: elapsed_s {el!r} not finite/non-negative/non-decreasing")
        prev_t = el if math.isfinite(el) else prev_t
        if it not in o_costs:
            continue
        ref = o_costs[it]
        rel = abs(loss - ref) / abs(ref) if ref != 0 else abs(loss - ref)
        if not math.isfinite(loss) or not math.isfinite(rel):
            rel = math.inf
        if rel > worst_rel or worst_row is None:
            worst_rel, worst_row = max(rel, worst_rel), (it, loss, ref)
        if not rel <= rtol:
            fail(f"loss at iteration {it}: {loss:.17g} vs oracle {ref:.17g} (rel diff {rel:.3g} > {rtol:g})")
    n_cmp = sum(1 for r in rows if r[0] in o_costs)
    if n_cmp:
        print(f"loss history: {n_cmp} rows compared, max rel diff {worst_rel:.3g} "
              f"(iteration {worst_row[0]}: {worst_row[1]:.17g} vs {worst_row[2]:.17g}); "
              f"agreeing significant digits (min over rows): {sig_digits(worst_rel):.2f}")
    else:
        fail("no loss rows to compare")

    # ---------------- model.h5 ----------------
    try:
        h = h5py.File(a.model, "r")
    except OSError as e:
        fail(f"cannot open model: {e}")
        h = None
    if h is not None:
        with h:
            def cmp_arr(name, got, ref):
                got = np.asarray(got, dtype=np.float64)
                diff = np.abs(got - ref)
                tol = rtol * np.maximum(1.0, np.abs(ref))
                bad = ~(diff <= tol)  # also catches NaN
                mad = float(np.max(diff)) if diff.size else 0.0
                rel = diff / np.where(ref != 0, np.abs(ref), 1.0)
                mrel = float(np.max(rel)) if rel.size else 0.0
                print(f"{name}: max abs diff {mad:.3g}, max rel diff {mrel:.3g} "
                      f"(agreeing significant digits ~{sig_digits(mrel):.2f})")
                if np.any(bad):
                    k = int(np.argmax(np.where(bad, diff / tol, -1)))
                    fail(f"{name}: {int(bad.sum())} element(s) outside rtol*max(1,|x|); "
                         f"worst index {k}: {got.reshape(-1)[k]:.17g} vs {ref.reshape(-1)[k]:.17g}")

            if "w" not in h:
                fail("model has no dataset w")
            else:
                w = h["w"][()]
                if w.shape != o_w.shape:
                    fail(f"w shape {w.shape}, expected {o_w.shape}")
                else:
                    cmp_arr("w", w, o_w)
            if "b" not in h:
                fail("model has no dataset b")
            else:
                b = h["b"][()]
                if np.shape(b) != ():
                    fail(f"b is not a scalar dataset (shape {np.shape(b)})")
                cmp_arr("b", np.reshape(b, -1)[:1], np.array([o_b]))

            at = h.attrs
            if "iterations" in o:
                if "iterations" not in at:
                    fail("model attribute iterations missing")
                elif int(np.reshape(at["iterations"], -1)[0]) != int(o["iterations"]):
                    fail(f"attribute iterations {at['iterations']} != oracle {o['iterations']}")
            if "final_loss" not in at:
                fail("model attribute final_loss missing")
            elif "final_loss_stable" in o:
                fl = float(np.reshape(at["final_loss"], -1)[0])
                ref = float(o["final_loss_stable"])
                rel = abs(fl - ref) / abs(ref) if ref else abs(fl)
                print(f"final_loss: {fl:.17g} vs oracle {ref:.17g} (rel diff {rel:.3g})")
                if not rel <= rtol:
                    fail(f"final_loss rel diff {rel:.3g} > {rtol:g}")

            for key in ("train_accuracy", "test_accuracy"):
                ref = to_float(o.get(key))
                if key not in at:
                    fail(f"model attribute {key} missing")
                    continue
                got = float(np.reshape(at[key], -1)[0])
                same = (got == ref) or (math.isnan(got) and math.isnan(ref))
                print(f"{key}: {got!r} vs oracle {ref!r} -> {'equal' if same else 'DIFFERENT'}")
                if a.acc_exact and not same:
                    fail(f"{key} {got!r} != oracle {ref!r}")

    if fails:
        print(f"RESULT: FAIL ({len(fails)} problem(s))")
        return 1
    print(f"RESULT: OK (rtol {rtol:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
