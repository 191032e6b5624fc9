#!/usr/bin/python3
"""Build dztrain's example data set from the UCI Wisconsin Diagnostic Breast Cancer data.

Reads the WDBC CSV that Debian's python3-sklearn ships (no network access), makes a
deterministic stratified ~80/20 train/test split, standardizes the 30 features with the
TRAIN mean and population std, and writes

    configs/data/breast_cancer_train.h5
    configs/data/breast_cancer_test.h5

each with datasets  x  float32 (m, 30)  and  y  uint8 (m,)  (1 = malignant, 0 = benign).
The train file also holds  feature_names, mean, std  (mean/std float64, (30,)).

Usage (from the repository root):
    /usr/bin/python3 scripts/make_example_data.py [--csv PATH] [--out-dir DIR]

The output is reproducible: the split uses a self-contained splitmix64 shuffle (independent of
numpy's RNG), and HDF5 files are written with libver='earliest' and track_times=False, so two
runs give byte-identical files.

Data: Wolberg, W., Mangasarian, O., Street, N., & Street, W. (1993). Breast Cancer Wisconsin
(Diagnostic) [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5DW2B
License: CC BY 4.0.
"""

import argparse
import csv
import os
import sys

import h5py
import numpy as np

DEFAULT_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv"
SPLIT_SEED = 20240611
TEST_FRACTION = 0.2

# Column order of the CSV (same names scikit-learn uses for load_breast_cancer()).
FEATURE_NAMES = [
    "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
    "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
    "mean fractal dimension",
    "radius error", "texture error", "perimeter error", "area error", "smoothness error",
    "compactness error", "concavity error", "concave points error", "symmetry error",
    "fractal dimension error",
    "worst radius", "worst texture", "worst perimeter", "worst area", "worst smoothness",
    "worst compactness", "worst concavity", "worst concave points", "worst symmetry",
    "worst fractal dimension",
]

SOURCE = ("UCI Machine Learning Repository: Breast Cancer Wisconsin (Diagnostic), "
          "W. H. Wolberg, W. N. Street, O. L. Mangasarian; CSV copy shipped with scikit-learn")
URL = "https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic"
DOI = "10.24432/C5DW2B"
LICENSE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
LABELS = "y: 1 = malignant, 0 = benign"


def splitmix64_stream(seed):
    """Endless stream of 64-bit ints (splitmix64); pure Python so it never changes."""
    mask = (1 << 64) - 1
    state = seed & mask
    while True:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        yield z ^ (z >> 31)


def shuffled(items, rng):
    """Fisher-Yates shuffle driven by rng (modulo bias is negligible for 2**64 vs < 1000)."""
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = next(rng) % (i + 1)
        items[i], items[j] = items[j], items[i]
    return items


def load_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    n_samples, n_features = int(header[0]), int(header[1])
    class_names = header[2:]
    # sklearn's CSV codes the target as an index into class_names: 0 = malignant, 1 = benign.
    if class_names != ["malignant", "benign"]:
        sys.exit("unexpected class names in %s: %r" % (path, class_names))
    body = rows[1:]
    if len(body) != n_samples or n_features != len(FEATURE_NAMES):
        sys.exit("unexpected shape in %s" % path)
    x = np.array([[float(v) for v in r[:n_features]] for r in body], dtype=np.float64)
    t = np.array([int(r[n_features]) for r in body], dtype=np.int64)
    if not set(np.unique(t)) <= {0, 1}:
        sys.exit("unexpected target values in %s" % path)
    y = (t == 0).astype(np.uint8)  # relabel: 1 = malignant, 0 = benign
    return x, y


def split(y, seed, test_fraction):
    """Stratified split: per class, shuffle the row indices and take round(frac*n) for test."""
    rng = splitmix64_stream(seed)
    train_idx, test_idx = [], []
    for c in (0, 1):
        idx = shuffled(np.flatnonzero(y == c).tolist(), rng)
        n_test = int(round(test_fraction * len(idx)))
        test_idx += idx[:n_test]
        train_idx += idx[n_test:]
    # Keep the original CSV order inside each split.
    return np.array(sorted(train_idx)), np.array(sorted(test_idx))


def write_h5(path, x, y, attrs, extra=None):
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        f.create_dataset("x", data=x, dtype=np.float32, track_times=False)
        f.create_dataset("y", data=y, dtype=np.uint8, track_times=False)
        f["y"].attrs["labels"] = LABELS
        for name, data in (extra or {}).items():
            f.create_dataset(name, data=data, track_times=False)
        for k, v in attrs.items():
            f.attrs[k] = v


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=DEFAULT_CSV, help="WDBC CSV from scikit-learn")
    ap.add_argument("--out-dir", default=os.path.join(repo, "configs", "data"))
    args = ap.parse_args()

    x, y = load_csv(args.csv)
    tr, te = split(y, SPLIT_SEED, TEST_FRACTION)

    mean = x[tr].mean(axis=0)
    std = x[tr].std(axis=0)  # population std (ddof=0)
    if np.any(std == 0):
        sys.exit("constant feature in training split")
    x_train = ((x[tr] - mean) / std).astype(np.float32)
    x_test = ((x[te] - mean) / std).astype(np.float32)

    common = {
        "source": SOURCE,
        "url": URL,
        "doi": DOI,
        "license": LICENSE,
        "labels": LABELS,
        "split_seed": np.int64(SPLIT_SEED),
        "split": "stratified per class, splitmix64 Fisher-Yates shuffle, test = round(0.2 * n_class), "
                 "rows kept in original CSV order",
        "standardization": "x = (raw - mean) / std with mean and population std (ddof=0) of the "
                           "TRAIN split, computed in float64, stored as float32; mean/std are "
                           "datasets in breast_cancer_train.h5",
        "generator": "scripts/make_example_data.py",
    }
    os.makedirs(args.out_dir, exist_ok=True)
    names = np.array([n.encode("ascii") for n in FEATURE_NAMES])  # fixed-length ASCII strings
    write_h5(os.path.join(args.out_dir, "breast_cancer_train.h5"), x_train, y[tr],
             dict(common, split_part="train"),
             extra={"feature_names": names, "mean": mean, "std": std})
    write_h5(os.path.join(args.out_dir, "breast_cancer_test.h5"), x_test, y[te],
             dict(common, split_part="test"))

    for part, yy in (("train", y[tr]), ("test", y[te])):
        print("%s: %d rows (%d malignant, %d benign)"
              % (part, len(yy), int(yy.sum()), int(len(yy) - yy.sum())))


if __name__ == "__main__":
    main()
