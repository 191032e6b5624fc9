#!/usr/bin/python3
"""badinput — every bad input gives one clear error, the right exit code, and no hang.

Table-driven: each case builds its inputs in a scratch folder (h5py/numpy), runs
`mpirun -n N trainer ...` and asserts
  (a) the exit code,
  (b) a fragment (regex) of the message on stderr,
  (c) the run ends within TIME_LIMIT seconds (a timeout is a hang: the job is killed),
  (d) the message is printed exactly once: the fragment matches once in stdout+stderr, and
      exactly one "dztrain: rank R: ..." error line is printed (usage cases: one "usage:"),
  (e) no MPI_ABORT / signal / backtrace / HDF5 error-stack noise (unless the case allows
      an abort), and
  (f) no model (or pred.h5 / metrics JSON) file is written.
Each case counts once in the summary: "badinput: P passed, F failed".

Usage: test_badinput.py --ranks N [--only REGEX] [--list] [-v]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

import dztest
from dztest import Checker, make_dataset, workdir

TIME_LIMIT = 10.0   # seconds per run
THREADS = 2         # OpenMP threads per rank

# Noise that must not appear when the ranks agree on an error and leave normally.
# (mpirun's own "exited with non-zero status" banner is expected for any non-zero exit.)
NOISE = re.compile(r"MPI_ABORT|MPI_Abort|[Bb]acktrace|received signal|Segmentation fault|"
                   r"core dumped|exited on signal|HDF5-DIAG|\*\*\* Error|double free|"
                   r"Assertion .* failed|corrupted size|free\(\): ")
ERRLINE = re.compile(r"^dztrain: rank \d+: ", re.M)


# ---- running --------------------------------------------------------------------------

def descendants(pid):
    """Process ids below pid (from /proc), deepest last."""
    children = {}
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % ent) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(ent))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def run(nranks, args, cwd, extra_env=None):
    """mpirun the trainer; returns (code or None on timeout, stdout, stderr, seconds).
    On a timeout the job (mpirun and the processes it started) is killed by process id."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(THREADS)
    # After a rank exits non-zero, mpirun sends SIGCONT, waits 1 s, SIGTERM, waits 1 s, then
    # SIGKILL, even to processes that have already exited (strace shows ESRCH): 2 s of
    # mpirun's own per case, 2/3 of this suite's time.  0 skips those waits; the exit code
    # and the job's end are unchanged, and no case here relies on a signal's grace period.
    env["OMPI_MCA_odls_base_sigkill_timeout"] = "0"
    env.update(extra_env or {})
    cmd = ["mpirun", "-n", str(nranks), "--oversubscribe", "--bind-to", "none",
           "-x", "OMP_NUM_THREADS", dztest.TRAINER] + list(args)
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace", start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIME_LIMIT)
        return p.returncode, out, err, time.time() - t0
    except subprocess.TimeoutExpired:
        secs = time.time() - t0
        for pid in [p.pid] + descendants(p.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        return None, out, err, secs


# ---- inputs ---------------------------------------------------------------------------

M, D = 40, 4          # small training set; row 39 lies on the last rank at N = 3
X, Y = "train_set_x", "train_set_y"


def text(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(body)
    return path


BASE = "[data]\ntrain = train.h5\n[train]\niterations = 5\nlog_every = 1\n"


def cfg(d, body=BASE, name="c.ini"):
    """Config text → file; returns the argument list for the trainer."""
    text(d, name, body)
    return [name]


def good(d, name="train.h5", m=M, n=D, dtype="float32", xname=X, yname=Y, seed=0):
    return make_dataset(os.path.join(d, name), m, n, dtype=dtype, xname=xname, yname=yname,
                        seed=seed)


def h5(d, name="train.h5", **datasets):
    """Write datasets given as name=array (or name=callable(file))."""
    with h5py.File(os.path.join(d, name), "w") as f:
        for k, v in datasets.items():
            if callable(v):
                v(f, k)
            else:
                f.create_dataset(k, data=v)


def feats(m=M, n=D, dtype="float32", seed=1):
    return np.random.default_rng(seed).standard_normal((m, n)).astype(dtype)


def labels(m=M, dtype="uint8"):
    return (np.arange(m) % 2).astype(dtype)


def bad_labels(value, dtype):
    y = labels(dtype=dtype)
    y[M - 1] = value
    return y


def bad_feats(value, dtype):
    x = feats(dtype=dtype)
    x[M - 1, 2] = value
    return x


def unwritten(shape, dtype):
    return lambda f, k: f.create_dataset(k, shape=shape, dtype=dtype)


# ---- the cases ------------------------------------------------------------------------

class Case:
    def __init__(self, name, code, frag, setup, abort_ok=False, usage=False, skip=None,
                 after=None, env=None):
        self.name, self.code, self.frag, self.setup = name, code, frag, setup
        self.env = env or {}  # environment of the ranks, over the defaults
        self.abort_ok, self.usage, self.skip, self.after = abort_ok, usage, skip, after


CASES = []


def case(name, code, frag, **kw):
    def deco(fn):
        CASES.append(Case(name, code, frag, fn, **kw))
        return fn
    return deco


def simple(name, code, frag, body, data=True, **kw):
    """A config-only case: `body` is the config text."""
    def setup(d):
        if data:
            good(d)
        return cfg(d, body)
    CASES.append(Case(name, code, frag, setup, **kw))


# command line
case("cli_no_config", 2, r"usage: ", usage=True)(lambda d: [])
case("cli_bad_flag", 2, r"--bogus", usage=True)(lambda d: (good(d), ["--bogus"] + cfg(d))[1])
case("cli_two_configs", 2, r"usage: ", usage=True)(lambda d: (good(d), cfg(d) + ["c.ini"])[1])

# subcommands (issue 11): an unknown one, `info` of a missing file, `train` without its config
case("cli_unknown_command", 2, r"unknown command 'trian' \(commands: train, predict, evaluate, info; "
     r"or give a config file such as \./trian\)", usage=True)(lambda d: (good(d), ["trian"] + cfg(d))[1])
case("cli_info_missing_file", 3, r"model\.h5: cannot read file \(no such file\)")(
    lambda d: (good(d), ["info", "model.h5"])[1])
case("cli_info_no_file", 2, r"info needs FILE\.h5", usage=True)(lambda d: (good(d), ["info"])[1])
case("cli_train_no_config", 2, r"no config file given", usage=True)(
    lambda d: (good(d), ["train", "--quiet"])[1])
case("cli_train_two_configs", 2, r"more than one config file: 'c\.ini'", usage=True)(
    lambda d: (good(d), ["train"] + cfg(d) + ["c.ini"])[1])

# --set overrides: checked like a file line, the message names the override
case("cli_set_no_argument", 2, r"--set needs an argument SECTION\.KEY=VALUE", usage=True)(
    lambda d: (good(d), cfg(d) + ["--set"])[1])


def set_case(name, frag, sets, body=BASE, explicit=False):
    def setup(d):
        good(d)
        args = (["train"] if explicit else []) + cfg(d, body)
        for s_ in sets:
            args += ["--set", s_]
        return args
    CASES.append(Case(name, 2, frag, setup))


set_case("set_no_equals", r"--set 'train\.l2': expected section\.key=value \(for example "
         r"--set train\.l2=0\.5\)", ["train.l2"])
set_case("set_no_section", r"--set 'l2=0\.5': expected section\.key=value, the key with its "
         r"section \(did you mean --set train\.l2=\.\.\.\?\)", ["l2=0.5"])
set_case("set_unknown_key", r"--set train\.learnin_rate=0\.1: unknown key 'learnin_rate' in "
         r"\[train\] \(did you mean train\.learning_rate\?\)", ["train.learnin_rate=0.1"],
         explicit=True)
set_case("set_unknown_section", r"--set trian\.iterations=5: unknown section \[trian\] for key "
         r"'iterations' \(did you mean train\.iterations\?\)", ["trian.iterations=5"])
set_case("set_lr_abc", r"--set train\.learning_rate=abc: \[train\] learning_rate = 'abc': not a "
         r"number", ["train.l2=0.5", "train.learning_rate=abc"], explicit=True)
set_case("set_iterations_0", r"--set train\.iterations=0: \[train\] iterations = 0: out of "
         r"range", ["train.iterations=0"])
set_case("set_key_not_for_optimizer", r"--set train\.memory=5: \[train\] memory does not apply "
         r"to optimizer 'gd' \(it is for: lbfgs\)", ["train.memory=5"])
set_case("set_optimizer_strands_file_key", r"line 6: \[train\] learning_rate does not apply to "
         r"optimizer 'lbfgs' \(it is for: gd sgd momentum adam\) \(optimizer set by --set "
         r"train\.optimizer=lbfgs\)", ["train.optimizer=lbfgs"], body=BASE + "learning_rate = 0.1\n")

# the config file itself
case("cfg_missing_file", 2, r"cannot open config file 'nope\.ini': No such file or directory")(
    lambda d: ["nope.ini"])


def _unreadable_skip():
    return "running as root: chmod 000 does not stop root reading" if os.geteuid() == 0 else None


@case("cfg_unreadable_chmod000", 2, r"config file 'c\.ini'.*[Pp]ermission denied",
      skip=_unreadable_skip)
def _(d):
    args = cfg(d)
    os.chmod(os.path.join(d, "c.ini"), 0)
    return args


case("cfg_is_directory", 2, r"config file 'adir'.*(directory|not a regular file)")(
    lambda d: (os.mkdir(os.path.join(d, "adir")), ["adir"])[1])
simple("cfg_nul_byte", 2, r"contains a NUL byte", BASE + "\0\n")
simple("cfg_syntax_error", 2, r"line 3: syntax error", "[data]\ntrain = train.h5\nthis is not ini\n")
simple("cfg_unknown_section", 2, r"line 4: unknown section \[trian\] for key 'iterations'",
       "[data]\ntrain = train.h5\n[trian]\niterations = 5\n")
simple("cfg_unknown_key", 2,
       r"line 6: unknown key 'learnin_rate' in \[train\] \(did you mean \[train\] learning_rate\?\)",
       BASE + "learnin_rate = 0.1\n")
simple("cfg_duplicate_key", 2, r"line 6: duplicate key \[train\] iterations \(first set on line 4\)",
       BASE + "iterations = 7\n")
simple("cfg_missing_train", 2, r"missing required key \[data\] train",
       "[data]\ntest = train.h5\n[train]\niterations = 5\n")
simple("cfg_empty_file", 2, r"missing required key \[data\] train", "")
simple("cfg_empty_dataset_name", 2, r"line 2: \[data\] train_x: empty dataset name",
       "[data]\ntrain_x =\ntrain = train.h5\n")
simple("cfg_lr_abc", 2, r"line 6: \[train\] learning_rate = 'abc': not a number",
       BASE + "learning_rate = abc\n")
simple("cfg_iterations_1.5", 2, r"line 4: \[train\] iterations = '1\.5': not an integer",
       BASE.replace("iterations = 5", "iterations = 1.5"))
simple("cfg_reproducible_maybe", 2, r"line 6: \[train\] reproducible = 'maybe': expected true or false",
       BASE + "reproducible = maybe\n")
for v in ["0", "-1", "nan", "inf"]:
    simple("cfg_lr_%s" % v, 2, r"line 6: \[train\] learning_rate = '%s': must be" % v,
           BASE + "learning_rate = %s\n" % v)
simple("cfg_iterations_0", 2, r"line 4: \[train\] iterations = 0: out of range",
       BASE.replace("iterations = 5", "iterations = 0"))
simple("cfg_iterations_huge", 2, r"line 4: \[train\] iterations = '99999999999999999999999'",
       BASE.replace("iterations = 5", "iterations = 99999999999999999999999"))
for v in ["-1", "0"]:
    simple("cfg_scale_%s" % v, 2, r"line 3: \[data\] scale = '%s': must be" % v,
           "[data]\ntrain = train.h5\nscale = %s\n" % v)
simple("cfg_log_every_0", 2, r"line 5: \[train\] log_every = 0: out of range",
       BASE.replace("log_every = 1", "log_every = 0"))
simple("cfg_block_rows_neg", 2, r"line 6: \[train\] block_rows = -1: out of range",
       BASE + "block_rows = -1\n")
simple("cfg_dtype_invalid", 2, r"line 3: \[data\] dtype = 'int7': expected native, uint8",
       "[data]\ntrain = train.h5\ndtype = int7\n")
simple("cfg_optimizer_unknown", 2, r"line 6: \[train\] optimizer = 'adagrad': not supported "
       r"\(supported: gd sgd momentum adam lbfgs newton\)", BASE + "optimizer = adagrad\n")
# solver settings: out of range, NaN, and settings of one optimizer given to another
for key, val in [("l2", "-1"), ("l2", "nan"), ("l1", "-0.5"), ("l1", "nan"), ("tolerance", "-1e-6"),
                 ("tolerance", "inf"), ("decay", "-1")]:
    simple("cfg_%s_%s" % (key, val), 2, r"line 6: \[train\] %s = '%s': must be a finite number >= 0"
           % (key, val), BASE + "%s = %s\n" % (key, val))
simple("cfg_progress_neg", 2, r"line 7: \[output\] progress = '-1': must be a finite number >= 0",
       BASE + "[output]\nprogress = -1\n")
for val in ("-1", "nan", "inf"):
    simple("cfg_collective_timeout_%s" % val, 2, r"line 6: \[train\] collective_timeout = '%s': "
           r"must be in \[0, 1e\+09\]" % val, BASE + "collective_timeout = %s\n" % val)
simple("cfg_newton_l1", 2, r"line 7: \[train\] l1 = 1: optimizer newton needs a twice-differentiable",
       BASE + "optimizer = newton\nl1 = 1\n")
simple("cfg_batch_size_neg", 2, r"line 7: \[train\] batch_size = -5: out of range",
       BASE + "optimizer = sgd\nbatch_size = -5\n")
simple("cfg_memory_0", 2, r"line 7: \[train\] memory = 0: out of range",
       BASE + "optimizer = lbfgs\nmemory = 0\n")
simple("cfg_momentum_1", 2, r"line 7: \[train\] momentum = '1': must be in \[0, 1\)",
       BASE + "optimizer = momentum\nmomentum = 1\n")
simple("cfg_epsilon_0", 2, r"line 7: \[train\] epsilon = '0': must be a finite number > 0",
       BASE + "optimizer = adam\nepsilon = 0\n")
for name, body, line, key, opt, forr in [
        ("memory_gd", "optimizer = gd\nmemory = 5\n", 7, "memory", "gd", "lbfgs"),
        ("lr_lbfgs", "optimizer = lbfgs\nlearning_rate = 0.1\n", 7, "learning_rate", "lbfgs",
         "gd sgd momentum adam"),
        ("batch_gd", "batch_size = 8\n", 6, "batch_size", "gd", "sgd momentum adam"),
        ("beta1_momentum", "beta1 = 0.5\noptimizer = momentum\n", 6, "beta1", "momentum", "adam"),
        ("nesterov_adam", "optimizer = adam\nnesterov = true\n", 7, "nesterov", "adam", "momentum")]:
    simple("cfg_key_not_for_" + name, 2, r"line %d: \[train\] %s does not apply to optimizer '%s' "
           r"\(it is for: %s\)" % (line, key, opt, forr), BASE + body)
simple("cfg_model_type_unknown", 2, r"line 7: \[model\] type = 'svm': not supported",
       BASE + "[model]\ntype = svm\n")
simple("cfg_ckpt_every_without_file", 2, r"\[checkpoint\] every = 5 needs \[checkpoint\] file",
       BASE + "[checkpoint]\nevery = 5\n")

# the ranks' environment
for v in ["0", "abc", "-2", "4x"]:
    simple("env_omp_num_threads_%s" % v, 2, r"OMP_NUM_THREADS = '%s': must be a positive integer" % v,
           BASE, env={"OMP_NUM_THREADS": v})

# paths named by the config
simple("data_file_missing", 3, r"nope\.h5: cannot read data file \(no such file\)",
       "[data]\ntrain = nope.h5\n", data=False)
case("test_file_missing", 3, r"nope\.h5: cannot read data file \(no such file\)")(
    lambda d: (good(d), cfg(d, "[data]\ntrain = train.h5\ntest = nope.h5\n"))[1])
simple("output_folder_missing", 5, r"\[output\] model '.*nodir/model\.h5': cannot create files in "
       r"folder '.*nodir': No such file or directory", BASE + "[output]\nmodel = nodir/model.h5\n")
simple("metrics_folder_missing", 5, r"\[output\] metrics '.*nodir/m\.csv': cannot create files",
       BASE + "[output]\nmetrics = nodir/m.csv\n")
case("output_under_regular_file", 5, r"\[output\] model '.*afile/model\.h5': cannot create files "
     r"in folder '.*afile': Not a directory")(
    lambda d: (good(d), text(d, "afile", "x\n"),
               cfg(d, BASE + "[output]\nmodel = afile/model.h5\n"))[2])
simple("ckpt_folder_missing", 5, r"\[checkpoint\] file '.*nodir/ck\.h5': cannot create files",
       BASE + "[checkpoint]\nfile = nodir/ck.h5\nevery = 2\n")
case("resume_without_ckpt_config", 2, r"--resume needs \[checkpoint\] file")(
    lambda d: (good(d), ["--resume"] + cfg(d))[1])
case("resume_ckpt_missing", 5, r"checkpoint '.*ck\.h5' not found")(
    lambda d: (good(d), ["--resume"] + cfg(d, BASE + "[checkpoint]\nfile = ck.h5\n"))[1])
case("resume_ckpt_not_hdf5", 5, r"checkpoint '.*ck\.h5' is not an HDF5 file")(
    lambda d: (good(d), text(d, "ck.h5", "not a checkpoint\n"),
               ["--resume"] + cfg(d, BASE + "[checkpoint]\nfile = ck.h5\n"))[2])


# HDF5 inputs
def data_case(name, code, frag, make, body=BASE, **kw):
    def setup(d):
        make(d)
        return cfg(d, body)
    CASES.append(Case(name, code, frag, setup, **kw))


data_case("h5_text_file", 3, r"train\.h5: not an HDF5 file",
          lambda d: text(d, "train.h5", "x,y\n1,0\n"))
data_case("h5_empty_file", 3, r"train\.h5: not an HDF5 file", lambda d: text(d, "train.h5", ""))
data_case("h5_is_directory", 3, r"train\.h5: not an HDF5 file",
          lambda d: os.mkdir(os.path.join(d, "train.h5")))


def _truncated(d):
    good(d, "full.h5", m=2000, n=50, dtype="float64")
    size = os.path.getsize(os.path.join(d, "full.h5"))
    with open(os.path.join(d, "full.h5"), "rb") as f, open(os.path.join(d, "train.h5"), "wb") as g:
        g.write(f.read(size // 2))


data_case("h5_truncated", 3, r"train\.h5: .*(truncated|corrupt)", _truncated)
data_case("h5_x_missing", 3, r"features dataset 'train_set_x' not found",
          lambda d: h5(d, **{Y: labels()}))
data_case("h5_y_missing", 3, r"labels dataset 'train_set_y' not found",
          lambda d: h5(d, **{X: feats()}))
data_case("h5_x_is_group", 3, r"train\.h5: CSR group 'train_set_x' has no attribute 'shape'",
          lambda d: h5(d, **{X: lambda f, k: f.create_group(k), Y: labels()}))
data_case("h5_x_scalar", 3, r"features dataset 'train_set_x' is a scalar",
          lambda d: h5(d, **{X: np.float32(1.5), Y: labels()}))
data_case("h5_x_string", 3, r"features dataset 'train_set_x' has type string",
          lambda d: h5(d, **{X: np.array([[b"ab"] * D] * M), Y: labels()}))
data_case("h5_x_compound", 3, r"features dataset 'train_set_x' has type compound",
          lambda d: h5(d, **{X: np.zeros(M, dtype=[("a", "f4"), ("b", "f4")]), Y: labels()}))
data_case("h5_m_mismatch", 3, r"labels 'train_set_y' shape \(39,\) does not fit features "
          r"'train_set_x' shape \(40, 4\)", lambda d: h5(d, **{X: feats(), Y: labels(39)}))
data_case("h5_m_zero", 3, r"shape \(0, 4\) has no rows \(m = 0\)",
          lambda d: h5(d, **{X: feats(0), Y: labels(0)}))
data_case("h5_d_zero", 3, r"shape \(5, 0\) has no features \(d = 0\)",
          lambda d: h5(d, **{X: feats(5, 0), Y: labels(5)}))
for tag, v, dt, shown in [("2", 2, "uint8", "2"), ("minus1", -1, "int8", "-1"),
                          ("0.5", 0.5, "float64", "0.5"), ("nan", np.nan, "float32", "nan")]:
    data_case("h5_label_%s" % tag, 3,
              r"label train_set_y\[39\] = %s; labels must be 0 or 1" % re.escape(shown),
              lambda d, v=v, dt=dt: h5(d, **{X: feats(), Y: bad_labels(v, dt)}))
data_case("h5_labels_m_by_2", 3, r"labels 'train_set_y' shape \(40, 2\) does not fit",
          lambda d: h5(d, **{X: feats(), Y: np.zeros((M, 2), "uint8")}))
for tag, v, dt, shown in [("nan_f32", np.nan, "float32", "nan"), ("inf_f32", np.inf, "float32", "inf"),
                          ("inf_f64", np.inf, "float64", "inf"),
                          ("neginf_f64", -np.inf, "float64", "-inf")]:
    data_case("h5_feature_%s" % tag, 3,
              r"feature train_set_x\[39\] \(flattened column 2\) = %s; features must be finite"
              % re.escape(shown),
              lambda d, v=v, dt=dt: h5(d, **{X: bad_feats(v, dt), Y: labels()}))
data_case("h5_dims_overflow", 3, r"shape \(1099511627776, 1099511627776\): the element count "
          r"overflows", lambda d: h5(d, **{X: unwritten((2**40, 2**40), "u1"),
                                          Y: unwritten((2**40,), "u1")}))
data_case("h5_larger_than_memory", 3, r"data set too large: 1000000 rows x 1000000 features as "
          r"float64 need [0-9.]+ GiB.*only [0-9.]+ GiB",
          lambda d: h5(d, **{X: unwritten((10**6, 10**6), "f8"), Y: unwritten((10**6,), "u1")}))
data_case("h5_test_d_differs", 3, r"test features have 3 values per row, training features 4",
          lambda d: (good(d), good(d, "test.h5", m=20, n=3, xname="test_set_x",
                                    yname="test_set_y")),
          body="[data]\ntrain = train.h5\ntest = test.h5\n")
data_case("h5_test_bad_label", 3, r"test\.h5: label test_set_y\[19\] = 7",
          lambda d: (good(d), h5(d, "test.h5", test_set_x=feats(20), test_set_y=np.array(
              [0, 1] * 9 + [0, 7], "uint8"))),
          body="[data]\ntrain = train.h5\ntest = test.h5\n")
data_case("dtype_uint8_on_float", 2, r"\[data\] dtype = uint8 needs unsigned 8-bit features, but "
          r".*train\.h5:train_set_x is float32", good,
          body="[data]\ntrain = train.h5\ndtype = uint8\n")



# CSR features (an HDF5 group: data, indices, indptr; attributes shape, encoding-type).
# Every row i holds columns 0 and 2, stored at data[2i], data[2i + 1]; each case spoils one
# thing.  Rows 37-39 lie on the last rank at N = 3; row 16 starts the second block.
class Csr:
    def __init__(self, m=M, n=D):
        self.shape = (m, n)
        self.indptr = np.arange(0, 2 * m + 1, 2, dtype=np.int64)
        self.indices = np.tile([0, 2], m).astype(np.int64)
        self.data = np.arange(1, 2 * m + 1, dtype=np.float64) / m


def csr(d, edit=None, name="train.h5", m=M, n=D, xname=X, yname=Y, y=None, after=None, **kw):
    """train.h5 (or name) with CSR features; edit(Csr) changes the arrays before writing,
    after(group) the written group."""
    a = Csr(m, n)
    if edit:
        edit(a)
    dztest.make_csr(os.path.join(d, name), a, labels(m) if y is None else y, xname, yname, **kw)
    if after:
        with h5py.File(os.path.join(d, name), "r+") as f:
            after(f[xname])


def csr_case(name, frag, edit=None, code=3, body=BASE, **kw):
    CASES.append(Case("csr_" + name, code, frag, lambda d: (csr(d, edit, **kw), cfg(d, body))[1]))


def _set(attr, index, value):
    def edit(a):
        getattr(a, attr)[index] = value
    return edit


def _grow(a, k=1):  # one more stored value at the end (indptr[m] left alone)
    a.data, a.indices = np.append(a.data, [1.0] * k), np.append(a.indices, [3] * k)


def _del(member):
    def after(g):
        if member in g.attrs:
            del g.attrs[member]
        else:
            del g[member]
    return after


def _attr(key, value):
    def after(g):
        g.attrs[key] = value
    return after


csr_case("indptr_short", r"train\.h5: CSR group 'train_set_x': indptr has 40 entries; shape "
         r"\(40, 4\) needs m \+ 1 = 41", lambda a: setattr(a, "indptr", a.indptr[:-1]))
csr_case("indptr_start_1", r"train_set_x/indptr\[0\] = 1; CSR offsets start at 0",
         lambda a: (_grow(a), setattr(a, "indptr", a.indptr + 1)))
csr_case("indptr_decreasing", r"train\.h5: train_set_x/indptr at row 37: offsets 74, 73 are not "
         r"non-decreasing", _set("indptr", 38, 73))
csr_case("indptr_down_at_block", r"train_set_x/indptr at row 16: offsets 35, 34 are not "
         r"non-decreasing", _set("indptr", 16, 35))
csr_case("indptr_end_short", r"train_set_x/indptr\[40\] = 80, but data holds 81 values", _grow)
csr_case("indices_data_lengths", r"CSR group 'train_set_x': indices has 79 entries but data has 80",
         lambda a: setattr(a, "indices", a.indices[:-1]))
csr_case("index_negative", r"train\.h5: train_set_x row 39 has column index -1, outside "
         r"\[0, d = 4\)", _set("indices", 78, -1))
csr_case("index_is_d", r"train_set_x row 39 has column index 4, outside \[0, d = 4\)",
         _set("indices", 79, 4))
csr_case("index_beyond_int32", r"train_set_x row 39 has column index 4294967298, outside "
         r"\[0, d = 4\)", _set("indices", 79, 2**32 + 2), idx_dtype="int64")
csr_case("indices_unsorted", r"train_set_x row 39: column indices are not strictly ascending",
         lambda a: a.indices.__setitem__(slice(78, 80), [2, 0]))
csr_case("indices_duplicate", r"train_set_x row 39: column indices are not strictly ascending",
         _set("indices", 78, 2))
csr_case("value_nan", r"train\.h5: train_set_x row 39, column 2 has value nan; features must be "
         r"finite", _set("data", 79, np.nan))
csr_case("value_neginf_f32", r"train_set_x row 39, column 2 has value -inf; features must be finite",
         _set("data", 79, -np.inf), data_dtype="float32")
csr_case("no_shape", r"train\.h5: CSR group 'train_set_x' has no attribute 'shape'",
         after=_del("shape"))
csr_case("shape_3", r"CSR group 'train_set_x': attribute 'shape' must be two non-negative "
         r"integers", after=_attr("shape", np.array([40, 4, 1])))
csr_case("shape_float", r"CSR group 'train_set_x': attribute 'shape' must be two non-negative "
         r"integers", after=_attr("shape", np.array([40.0, 4.0])))
csr_case("encoding_csc", r"train\.h5: group 'train_set_x' has encoding-type 'csc_matrix'",
         after=_attr("encoding-type", "csc_matrix"))
for member in ("data", "indices", "indptr"):
    csr_case("no_" + member, r"train\.h5: .*'train_set_x/%s'.*not found" % member,
             after=_del(member))
csr_case("indices_float", r"CSR dataset 'train_set_x/indices' has type float64; expected an "
         r"integer type", after=lambda g: (_del("indices")(g), g.create_dataset(
             "indices", data=np.tile([0.0, 2.0], M))))
csr_case("labels_m_mismatch", r"labels 'train_set_y' shape \(39,\) does not fit", y=labels(39))
csr_case("dtype_uint8", r"\[data\] dtype = uint8 is for dense features; the CSR values of "
         r".*train\.h5:train_set_x are held as float32 or float64", code=2,
         body="[data]\ntrain = train.h5\ndtype = uint8\n", data_dtype="uint8")
TEST_CSR = "[data]\ntrain = train.h5\ntest = test.h5\n"
CASES.append(Case("csr_test_row_unsorted", 3, r"test\.h5: test_set_x row 19: column indices are "
                  r"not strictly ascending", lambda d: (
                      csr(d), csr(d, lambda a: a.indices.__setitem__(slice(38, 40), [2, 0]),
                                  "test.h5", m=20, xname="test_set_x", yname="test_set_y"),
                      cfg(d, TEST_CSR))[2]))
CASES.append(Case("csr_test_d_differs", 3, r"test features have 3 values per row, training "
                  r"features 4", lambda d: (csr(d), csr(d, name="test.h5", m=20, n=3,
                                                         xname="test_set_x", yname="test_set_y"),
                                            cfg(d, TEST_CSR))[2]))

# softmax labels and sizes
SOFTMAX = BASE + "[model]\ntype = softmax\n"
for tag, v, dt, shown in [("minus1", -1, "int8", "-1"), ("2.5", 2.5, "float64", "2.5"),
                          ("nan", np.nan, "float32", "nan")]:
    data_case("softmax_label_%s" % tag, 3, r"label train_set_y\[39\] = %s; softmax labels must be "
              r"integers 0, 1, 2, \.\.\." % re.escape(shown),
              lambda d, v=v, dt=dt: h5(d, **{X: feats(), Y: bad_labels(v, dt)}), body=SOFTMAX)
data_case("softmax_label_ge_classes", 3, r"label train_set_y\[39\] = 3; softmax labels must be "
          r"integers 0 \.\.\. 2 \(the model has 3 classes\)",
          lambda d: h5(d, **{X: feats(), Y: bad_labels(3, "int32")}), body=SOFTMAX + "classes = 3\n")
data_case("softmax_one_class", 3, r"every label in train_set_y is 0: softmax needs at least 2 "
          r"classes", lambda d: h5(d, **{X: feats(), Y: np.zeros(M, "uint8")}), body=SOFTMAX)
data_case("softmax_test_label_ge_K", 3, r"test\.h5: label test_set_y\[19\] = 2; softmax labels "
          r"must be integers 0 \.\.\. 1 \(the model has 2 classes\)",
          lambda d: (good(d), h5(d, "test.h5", test_set_x=feats(20), test_set_y=np.array(
              [0, 1] * 9 + [0, 2], "uint8"))),
          body="[data]\ntrain = train.h5\ntest = test.h5\n[model]\ntype = softmax\n")
simple("softmax_classes_1", 2, r"line 8: \[model\] classes = 1: softmax needs at least 2 classes",
       SOFTMAX + "classes = 1\n")
simple("softmax_classes_on_logistic", 2, r"line 7: \[model\] classes applies to type = softmax",
       BASE + "[model]\nclasses = 4\n")
# K·(d + 1) sums beyond one allreduce's int count (2^24 classes x 65), and beyond memory
data_case("softmax_too_large_reduction", 2, r"softmax model too large: 16777216 classes x \(64 "
          r"features \+ 1\) = 1090519041 sums, but one allreduce carries at most",
          lambda d: h5(d, **{X: feats(M, 64), Y: labels()}), body=SOFTMAX + "classes = 16777216\n")
def _memory_skip():
    """The case needs a node with less memory than its work space (2^20 x 301 x 8 B x 39)."""
    need = 2**20 * 301 * 8.0 * (6 * THREADS + 2 * 10 + 7)
    have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return "the node has %.0f GiB, not less than the %.0f GiB the case needs" % (
        have / 2**30, need / 2**30) if have >= need else None


data_case("softmax_too_large_memory", 2, r"softmax model too large: 1048576 classes x \(300 "
          r"features \+ 1\) parameters need about [0-9.]+ GiB of work space \(2 threads\), the "
          r"node has [0-9.]+ GiB", lambda d: h5(d, **{X: feats(M, 300), Y: labels()}),
          body=SOFTMAX + "classes = 1048576\n", skip=_memory_skip)


# predict and evaluate: a model file written here as the trainer writes one (no training)
def model_file(d, name="m.h5", n=D, K=0, drop=None):
    with h5py.File(os.path.join(d, name), "w") as f:
        if K:
            f["W"] = np.ones((K, n))
            f["b"] = np.zeros(K)
            f.attrs.create("classes", K, dtype="int64")
        else:
            f["w"] = np.ones(n)
            f["b"] = np.float64(0)
        f.attrs["format"] = np.bytes_("dztrain-model-1")
        f.attrs.create("scale", 1.0, dtype="float64")
        f.attrs.create("config_hash", 1, dtype="uint64")
        f.attrs.create("data_checksum", 2, dtype="uint64")
        if drop:
            del f[drop]


def scoring_case(name, code, frag, args, model=None, data=None):
    """`trainer predict|evaluate ...` on good data (train.h5) and model m.h5 unless given."""
    def setup(d):
        (data or good)(d)
        (model or model_file)(d)
        return args
    CASES.append(Case(name, code, frag, setup))


PRED = ["predict", "--model", "m.h5", "--data", "train.h5", "--x", X, "--out", "pred.h5"]
EVAL = ["evaluate", "--model", "m.h5", "--data", "train.h5", "--x", X, "--y", Y]
scoring_case("predict_model_missing_b", 3, r"model dataset 'b' \(a scalar\) is missing", PRED,
             model=lambda d: model_file(d, drop="b"))
scoring_case("predict_model_missing_W", 3, r"model dataset 'W' \(K, d\) is missing", PRED,
             model=lambda d: model_file(d, K=3, drop="W"))
scoring_case("predict_wrong_d", 3, r"have d = 4 values per row, but the model 'm\.h5' has d = 5",
             PRED, model=lambda d: model_file(d, n=5))
scoring_case("predict_not_a_model", 3, r"not a dztrain model file: its format attribute is missing",
             PRED, model=lambda d: good(d, "m.h5"))
scoring_case("predict_out_unwritable", 5, r"predict --out 'nodir/pred\.h5': cannot create files",
             PRED[:-1] + ["nodir/pred.h5"])
scoring_case("evaluate_labels_gt1_logistic", 3, r"label train_set_y\[39\] = 2; labels must be 0 "
             r"or 1 \(the model 'm\.h5' is a binary logistic model\)", EVAL,
             data=lambda d: h5(d, **{X: feats(), Y: bad_labels(2, "uint8")}))
scoring_case("evaluate_label_ge_K", 3, r"label train_set_y\[39\] = 3; softmax labels must be "
             r"integers 0 \.\.\. 2", EVAL, model=lambda d: model_file(d, K=3),
             data=lambda d: h5(d, **{X: feats(), Y: bad_labels(3, "uint8")}))

scoring_case("csr_predict_value_nan", 3, r"train\.h5: train_set_x row 39, column 2 has value nan",
             PRED, data=lambda d: csr(d, _set("data", 79, np.nan)))
scoring_case("csr_evaluate_unsorted", 3, r"train\.h5: train_set_x row 39: column indices "
             r"are not strictly ascending", EVAL,
             data=lambda d: csr(d, lambda a: a.indices.__setitem__(slice(78, 80), [2, 0])))

def named(d, path, names, vlen=False):
    """Add a feature_names dataset (fixed-length, or variable-length strings) to d/path."""
    with h5py.File(os.path.join(d, path), "a") as f:
        if vlen:
            f.create_dataset("feature_names", data=names, dtype=h5py.string_dtype())
        else:
            f["feature_names"] = np.array([n.encode() for n in names])


NAMES = ["age", "height", "weight", "income"]
scoring_case("evaluate_feature_names_differ", 3, r"train\.h5: feature 1 is 'weight', the model "
             r"'m\.h5' was trained with 'height' there \(feature_names differ", EVAL,
             model=lambda d: (model_file(d), named(d, "m.h5", NAMES)),
             data=lambda d: (good(d), named(d, "train.h5", [NAMES[0], NAMES[2], NAMES[1], NAMES[3]],
                                            vlen=True)))
scoring_case("predict_feature_names_count", 3, r"train\.h5: 3 feature names, the model 'm\.h5' "
             r"has 4", PRED, model=lambda d: (model_file(d), named(d, "m.h5", NAMES, vlen=True)),
             data=lambda d: (good(d), named(d, "train.h5", NAMES[:3])))
scoring_case("evaluate_json_unwritable", 5, r"evaluate --json 'nodir/e\.json': cannot create files",
             EVAL + ["--json", "nodir/e.json"])


# converter inputs (issue 11): build/dzconvert must refuse the bad row by FILE:LINE with exit 3
# and leave no output, so training on the file it would have written finds none.  If the
# converter misbehaves, the trainer is given an option naming what went wrong: the case then
# fails on its exit code and message, with the reason in the excerpt.
CONVERT = os.path.join(os.path.dirname(os.path.abspath(dztest.TRAINER)), "dzconvert")


def convert_case(name, src, body, args, conv_frag):
    def setup(d):
        text(d, src, body)
        p = subprocess.run([CONVERT, src, "conv.h5"] + args, cwd=d, capture_output=True,
                           text=True, timeout=TIME_LIMIT)
        left = [f for f in os.listdir(d) if f.startswith("conv.h5")]
        if p.returncode != 3 or not re.search(conv_frag, p.stderr) or left:
            return ["--dzconvert-failed: exit %d (expected 3), left %s, stderr %r, expected /%s/"
                    % (p.returncode, left, p.stderr[-300:], conv_frag)]
        return cfg(d, "[data]\ntrain = conv.h5\n")
    CASES.append(Case(name, 3, r"conv\.h5: cannot read data file \(no such file\)", setup,
                      skip=lambda: None if os.access(CONVERT, os.X_OK) else "no dzconvert"))


convert_case("convert_csv_ragged_row", "ragged.csv", "a,b,y\n1,2,0\n3,4,1\n5,6\n7,8,0\n",
             ["--label", "y"], r"ragged\.csv:4: 2 fields, but the header has 3 columns")
convert_case("convert_libsvm_bad_token", "bad.svm", "1 1:0.5 2:1\n0 2:3\n1 1:2 three\n", [],
             r"bad\.svm:3: 'three' is not index:value")


# training
# Features 1e150, mostly positive labels, lr 1e300: J(w_0) = log 2 and the gradient
# (about -2.5e149 per weight) are finite, the first update overflows w, so iteration 1 is NaN/Inf.
data_case("train_diverges", 4, r"training diverged at iteration 1\b",
          lambda d: h5(d, **{X: np.full((M, D), 1e150), Y: (np.arange(M) % 4 != 0).astype("u1")}),
          body=BASE + "learning_rate = 1e300\n")


# ---- driver ---------------------------------------------------------------------------

def judge(c, code, out, err, secs, d):
    """List of problems (empty = pass)."""
    probs = []
    both = out + err
    if code is None:
        return ["HANG: no exit within %.0f s (killed)" % TIME_LIMIT]
    if code != c.code:
        probs.append("exit code %d, expected %d" % (code, c.code))
    if secs > TIME_LIMIT:
        probs.append("took %.1f s > %.0f s" % (secs, TIME_LIMIT))
    rx = re.compile(c.frag)
    if not rx.search(err):
        probs.append("stderr lacks /%s/" % c.frag)
    n = len(rx.findall(both))
    if n > 1:
        probs.append("message printed %d times" % n)
    if c.usage:
        nu = both.count("usage:")
        if nu != 1:
            probs.append("usage printed %d times" % nu)
    nerr = len(ERRLINE.findall(both))
    if (not c.usage and nerr != 1) or (c.usage and nerr > 1):
        probs.append("%d 'dztrain: rank R:' error lines, expected %s" % (nerr, "<= 1" if c.usage else 1))
    noise = NOISE.findall(both)
    if noise and not c.abort_ok:
        probs.append("noise in output: %s" % sorted(set(noise)))
    left = [f for f in os.listdir(d) if f.startswith(("model.h5", "pred.h5"))]
    if left:
        probs.append("output file(s) written: %s" % left)
    return probs


def excerpt(s, n=400):
    s = "\n".join(l for l in s.strip().splitlines() if l.strip() and not l.startswith("-----"))
    return s if len(s) <= n else s[:n] + " ..."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--only", default=None, help="regex over case names")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    cases = [c for c in CASES if not a.only or re.search(a.only, c.name)]
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if a.list:
        for c in cases:
            print("%-28s exit %d  /%s/" % (c.name, c.code, c.frag))
        print("%d cases" % len(cases))
        return
    if not os.access(dztest.TRAINER, os.X_OK):
        print("trainer not found: %s" % dztest.TRAINER)
        sys.exit(dztest.SKIP)
    print("badinput: %d cases at N = %d rank(s), %d thread(s) each, %.0f s limit per run"
          % (len(cases), a.ranks, THREADS, TIME_LIMIT), flush=True)
    root = workdir("badinput_n%d" % a.ranks)
    ck = Checker("badinput")
    aborted, skipped, failed = [], [], []
    for c in cases:
        why = c.skip() if c.skip else None
        if why:
            skipped.append(c.name)
            print("skip %-28s (%s)" % (c.name, why), flush=True)
            continue
        d = os.path.join(root, c.name)
        os.makedirs(d)
        args = c.setup(d)
        code, out, err, secs = run(a.ranks, args, d, c.env)
        probs = judge(c, code, out, err, secs, d)
        if re.search(r"MPI_ABORT|MPI_Abort", out + err):
            aborted.append(c.name)
        shown = "hang" if code is None else "exit %d" % code
        if probs:
            failed.append(c.name)
            ck.check(False, "%s (N=%d): %s; %s, %.1f s; stderr: %s"
                     % (c.name, a.ranks, "; ".join(probs), shown, secs, excerpt(err)))
        else:
            ck.check(True, c.name)
            print("ok   %-28s %s, %.1f s" % (c.name, shown, secs), flush=True)
        if a.verbose:
            print("  $ trainer %s\n  stdout: %s\n  stderr: %s" % (" ".join(args), excerpt(out),
                                                                 excerpt(err, 2000)))
    print("ended by MPI_Abort (info): %s" % (", ".join(aborted) or "none"))
    if skipped:
        print("skipped: %s" % ", ".join(skipped))
    if failed:
        print("failed cases: %s" % ", ".join(failed))
    ck.finish()


if __name__ == "__main__":
    main()
