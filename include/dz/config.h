/* dz/config.h — the run configuration: INI text → validated dz_config.
 *
 * Contract: dz_config_parse() is pure (no MPI, no file I/O): it parses INI text, applies
 * defaults, checks every value and returns DZ_OK or DZ_ECONFIG with a message that names the
 * line (unknown section/key with the nearest valid key, duplicate key, wrong type, out of
 * range) — before anything is allocated for training.  dz_config_parse_sets() then applies
 * command-line overrides ("section.key=value", from --set) in order, each checked exactly like
 * a file line; their messages name the override instead of a line.  dz_config_load() reads
 * the file on rank 0, broadcasts the text, and parses it with the overrides on every rank, so
 * all ranks agree (Collective).  Relative paths in the file are resolved against the config
 * file's folder; relative paths in an override are kept relative to the current directory.
 * The struct owns no heap memory: copy it freely.
 */
#ifndef DZ_CONFIG_H
#define DZ_CONFIG_H

#include <stdint.h>
#include <mpi.h>

#include "dz/err.h"

#define DZ_PATH_MAX 4096
#define DZ_NAME_MAX 256

typedef enum { DZ_DTYPE_NATIVE = 0, DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64 } dz_dtype;

typedef struct dz_config {
    /* [data] */
    char train[DZ_PATH_MAX];        /* required */
    char train_x[DZ_NAME_MAX];      /* "train_set_x" */
    char train_y[DZ_NAME_MAX];      /* "train_set_y" */
    char test[DZ_PATH_MAX];         /* "" = no test set */
    char test_x[DZ_NAME_MAX];       /* "test_set_x" */
    char test_y[DZ_NAME_MAX];       /* "test_set_y" */
    double scale;                   /* 1: features are divided by it; > 0, finite */
    dz_dtype dtype;                 /* native: in-memory feature type (see README) */
    int standardize;                /* 0: 1 = train on (x/scale − μ)/σ per feature (dz/standardize.h) */
    /* [model] */
    char model_type[32];            /* "logistic" or "softmax" */
    int64_t classes;                /* 0: softmax K = the largest training label + 1; or K >= 2 */
    /* [train] */
    char optimizer[32];             /* "gd": gd sgd momentum adam lbfgs newton */
    double learning_rate;           /* 0.005 (first-order optimizers) */
    int64_t iterations;             /* 2000: the maximum number of updates / outer iterations */
    double tolerance;               /* 0 = off: stop when ||grad J||inf <= tolerance */
    double l2, l1;                  /* 0, 0: J = mean loss + l2/(2m)||w||^2 + l1/m ||w||_1 */
    double decay;                   /* 0: lr_t = learning_rate / (1 + decay t) */
    int64_t batch_size;             /* 0 = full batch (sgd, momentum, adam) */
    int64_t seed;                   /* 0: mini-batch order */
    double momentum;                /* 0.9 */
    int nesterov;                   /* 0 */
    double beta1, beta2, epsilon;   /* 0.9, 0.999, 1e-8 (adam) */
    int64_t memory;                 /* 10 (lbfgs pairs) */
    int64_t log_every;              /* 100 */
    int reproducible;               /* 1: result independent of ranks × threads */
    int64_t block_rows;             /* 0 = automatic; rows per fixed reduction block */
    double collective_timeout;      /* -1 (unset) = automatic, 0 = off, > 0 seconds: the
                                       watchdog's limit on one allreduce (dz/watchdog.h) */
    /* [output] */
    char model_out[DZ_PATH_MAX];    /* "model.h5" */
    char metrics_out[DZ_PATH_MAX];  /* "metrics.csv" */
    double progress;                /* 10: seconds between progress lines (0 = off; see
                                       dz/progress.h) */
    /* [checkpoint] */
    char ckpt_file[DZ_PATH_MAX];    /* "" = no checkpoints */
    int64_t ckpt_every;             /* 0 = only on SIGTERM/SIGUSR1 (when file is set) */
} dz_config;

/* Fill cfg with defaults (train path empty). Not collective. */
void dz_config_defaults(dz_config *cfg);

/* Parse INI text; base_dir resolves relative paths ("" = as given). Not collective. */
int dz_config_parse(const char *text, const char *base_dir, dz_config *cfg, dz_err *e);

/* Parse INI text as dz_config_parse() does, then apply the overrides sets[0 .. nsets-1], each
 * "section.key=value" (spaces around the parts are dropped, like in the file), in order:
 * an override replaces the file's value, and a later override of the same key replaces an
 * earlier one.  Each value gets the file's checks (type, range, unknown section or key with
 * the nearest key suggested); the checks between keys (a key for another optimizer, classes
 * without softmax, ...) run once, after the overrides.  A message about an override starts
 * "--set <the override>: ", e.g. "--set train.learning_rate=abc: [train] learning_rate =
 * 'abc': not a number".  The result, and so dz_config_hash(), is the same as for the file
 * with the values written in it.  sets may be NULL when nsets is 0.  Not collective. */
int dz_config_parse_sets(const char *text, const char *base_dir, const char *const *sets,
                         int nsets, dz_config *cfg, dz_err *e);

/* Read path on rank 0, broadcast, parse everywhere with the overrides (the same on every
 * rank: they come from the command line). Collective; errors agreed.  Messages about the file
 * are prefixed with its path, messages about an override are not. */
int dz_config_load(MPI_Comm comm, const char *path, const char *const *sets, int nsets,
                   dz_config *cfg, dz_err *e);

/* 64-bit hash of the settings that change the trained result (data names, scale, dtype,
 * model, optimizer and its settings, l2, l1, reproducible, block_rows), not iterations,
 * tolerance or outputs (they change where a run stops, not its path).
 * Not collective. */
uint64_t dz_config_hash(const dz_config *cfg);

/* Write "key = value" lines of the training-relevant settings into buf (for the checkpoint,
 * so a refused resume can say what differs). Not collective. */
void dz_config_describe(const dz_config *cfg, char *buf, int len);

#endif
