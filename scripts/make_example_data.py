#!/usr/bin/python3
"""Build dztrain's example data sets: UCI breast cancer (binary) and UCI digits (10 classes).

1. Breast cancer. Reads the WDBC CSV that Debian's python3-sklearn ships (no network access),
   makes a deterministic stratified ~80/20 train/test split, standardizes the 30 features with
   the TRAIN mean and population std, and writes

       configs/data/breast_cancer_train.h5
       configs/data/breast_cancer_test.h5

   each with datasets  x  float32 (m, 30)  and  y  uint8 (m,)  (1 = malignant, 0 = benign).
   The train file also holds  feature_names, mean, std  (mean/std float64, (30,)).

2. Digits. Reads the optical-digits CSV that Debian's python3-sklearn ships (the data of
   sklearn.datasets.load_digits: 1797 8x8 images, pixel counts 0..16, labels 0..9), makes a
   deterministic stratified 1437/360 train/test split, and writes the pixels unchanged:

       configs/data/digits_train.h5
       configs/data/digits_test.h5

   each with datasets  x  uint8 (m, 64)  (row-major 8x8; use scale = 16)  and  y  uint8 (m,)
   (the digit 0..9).

Usage (from the repository root):
    /usr/bin/python3 scripts/make_example_data.py [--csv PATH] [--digits-csv PATH] [--out-dir DIR]

The output is reproducible: the split uses a self-contained splitmix64 shuffle (independent of
numpy's RNG), and HDF5 files are written with libver='earliest' and track_times=False, so two
runs give byte-identical files.

Data: Wolberg, W., Mangasarian, O., Street, N., & Street, W. (1993). Breast Cancer Wisconsin
(Diagnostic) [Dataset]. UCI Machine Learning Repository. https://doi.org/10.24432/C5DW2B
License: CC BY 4.0.
Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits [Dataset].
UCI Machine Learning Repository. https://doi.org/10.24432/C50P49
License: CC BY 4.0.
"""

import argparse
import csv
import gzip
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

DEFAULT_DIGITS_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
DIGITS_SPLIT_SEED = 20240611
DIGITS_N_TEST = 360
DIGITS_SOURCE = ("UCI Machine Learning Repository: Optical Recognition of Handwritten Digits, "
                 "E. Alpaydin, C. Kaynak (1998); the 1797-row test set (optdigits.tes) as "
                 "shipped with scikit-learn (load_digits)")
DIGITS_URL = "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits"
DIGITS_DOI = "10.24432/C50P49"
DIGITS_LABELS = "y: the digit, 0..9"


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


def split(y, seed, n_test_of_class):
    """Stratified split: for each class c in ascending order, shuffle its row indices (one
    splitmix64 stream shared by all classes) and send the first n_test_of_class[c] to test."""
    rng = splitmix64_stream(seed)
    train_idx, test_idx = [], []
    for c in sorted(n_test_of_class):
        idx = shuffled(np.flatnonzero(y == c).tolist(), rng)
        n_test = n_test_of_class[c]
        test_idx += idx[:n_test]
        train_idx += idx[n_test:]
    # Keep the original CSV order inside each split.
    return np.array(sorted(train_idx)), np.array(sorted(test_idx))


def n_test_by_fraction(y, classes, test_fraction):
    """round(test_fraction * n_class) test rows per class."""
    return {c: int(round(test_fraction * int(np.sum(y == c)))) for c in classes}


def n_test_by_total(y, classes, n_test):
    """Exactly n_test test rows, shared out in proportion to the class sizes by the largest-
    remainder rule: class c first gets floor(n_test * n_c / m) rows, and the rows still missing
    go one each to the classes with the largest remainders (ties: the smaller class label).
    Integer arithmetic only."""
    m = len(y)
    sizes = {c: int(np.sum(y == c)) for c in classes}
    counts = {c: n_test * sizes[c] // m for c in classes}
    by_remainder = sorted(classes, key=lambda c: (-(n_test * sizes[c] % m), c))
    for c in by_remainder[:n_test - sum(counts.values())]:
        counts[c] += 1
    return counts


def load_digits_csv(path):
    """sklearn's digits.csv.gz: no header, 1797 rows of 64 pixel counts then the digit."""
    with gzip.open(path, "rt", newline="") as f:
        rows = [[float(v) for v in r] for r in csv.reader(f)]
    a = np.array(rows, dtype=np.float64)
    if a.shape != (1797, 65) or np.any(a != np.round(a)):
        sys.exit("unexpected shape or non-integer values in %s" % path)
    x, t = a[:, :64], a[:, 64]
    if x.min() < 0 or x.max() > 16 or not set(np.unique(t)) <= set(range(10)):
        sys.exit("unexpected pixel or label values in %s" % path)
    return x.astype(np.uint8), t.astype(np.uint8)


def write_h5(path, x, y, attrs, extra=None, x_dtype=np.float32, labels=LABELS):
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        f.create_dataset("x", data=x, dtype=x_dtype, track_times=False)
        f.create_dataset("y", data=y, dtype=np.uint8, track_times=False)
        f["y"].attrs["labels"] = labels
        for name, data in (extra or {}).items():
            f.create_dataset(name, data=data, track_times=False)
        for k, v in attrs.items():
            f.attrs[k] = v


def make_breast_cancer(args):
    x, y = load_csv(args.csv)
    tr, te = split(y, SPLIT_SEED, n_test_by_fraction(y, (0, 1), TEST_FRACTION))

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
        print("breast cancer %s: %d rows (%d malignant, %d benign)"
              % (part, len(yy), int(yy.sum()), int(len(yy) - yy.sum())))


def make_digits(args):
    x, y = load_digits_csv(args.digits_csv)
    tr, te = split(y, DIGITS_SPLIT_SEED, n_test_by_total(y, range(10), DIGITS_N_TEST))
    common = {
        "source": DIGITS_SOURCE,
        "url": DIGITS_URL,
        "doi": DIGITS_DOI,
        "license": LICENSE,
        "labels": DIGITS_LABELS,
        "split_seed": np.int64(DIGITS_SPLIT_SEED),
        "split": "stratified per class, test = 360 rows shared out by the largest-remainder rule "
                 "(ties: smaller label), splitmix64 Fisher-Yates shuffle per class in label order, "
                 "rows kept in original CSV order",
        "features": "x[i, 8*r + c] = pixel (row r, column c) of the 8x8 image, the count 0..16 of "
                    "set pixels in a 4x4 block of the 32x32 bitmap; unchanged, so use scale = 16",
        "generator": "scripts/make_example_data.py",
    }
    os.makedirs(args.out_dir, exist_ok=True)
    for part, idx in (("train", tr), ("test", te)):
        write_h5(os.path.join(args.out_dir, "digits_%s.h5" % part), x[idx], y[idx],
                 dict(common, split_part=part), x_dtype=np.uint8, labels=DIGITS_LABELS)
        print("digits %s: %d rows, per digit 0..9: %s"
              % (part, len(idx), " ".join(str(n) for n in np.bincount(y[idx], minlength=10))))


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=DEFAULT_CSV, help="WDBC CSV from scikit-learn")
    ap.add_argument("--digits-csv", default=DEFAULT_DIGITS_CSV,
                    help="optical digits CSV (gzip) from scikit-learn")
    ap.add_argument("--out-dir", default=os.path.join(repo, "configs", "data"))
    args = ap.parse_args()
    make_breast_cancer(args)
    make_digits(args)


if __name__ == "__main__":
    main()
