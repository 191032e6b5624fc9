/* dz/output.h — what rank 0 writes for the user: metrics.csv and model.h5, always atomically.
 *
 * Atomic: every file is written under a temporary name in its final folder, flushed to disk
 * (fsync), then renamed over the final name and the folder fsynced, so a crash at any moment
 * leaves either the old file or the complete new one, never a half-written one.
 * metrics rows are appended to "<metrics>.partial" as training goes (so progress can be
 * followed) and renamed to <metrics> when training ends.
 * All functions here are Not collective (rank 0 calls them), except where noted.
 * Ownership: dz_metrics owns its arrays and FILE; dz_metrics_free(NULL) is safe.
 */
#ifndef DZ_OUTPUT_H
#define DZ_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "dz/config.h"
#include "dz/err.h"

/* Can a file be created in path's folder? Tries a temporary file there. */
int dz_out_check_writable(const char *path, const char *what, dz_err *e);

/* fsync tmp, rename it to final, fsync the folder. */
int dz_out_commit(const char *tmp, const char *final, dz_err *e);

/* A unique temporary name beside final ("<final>.tmp.<pid>"). */
void dz_out_tmpname(const char *final, char *out, size_t len);

/* metrics.csv columns: iteration, loss (J, penalty included), elapsed_s, grad_max (‖∇J‖∞,
 * empty when not evaluated), passes (cumulative data passes); with a test set (has_test) also
 * test_loss (mean loss on the test set, no penalty) and test_accuracy (a fraction), at the
 * same parameters as the row's loss (empty where not evaluated). */
typedef struct dz_metrics {
    int64_t n, cap;
    int has_test;               /* write the test columns (set before dz_metrics_open) */
    int64_t *iteration;
    double *loss, *elapsed, *grad_max, *passes, *test_loss, *test_acc;
    FILE *f;                    /* rank 0 only: the .partial file */
    char path[DZ_PATH_MAX + 16];
} dz_metrics;

/* Append one row in memory (every rank) and, when open, to the file. 0 ok, -1 no memory. */
int dz_metrics_add(dz_metrics *m, int64_t iteration, double loss, double grad_max,
                   double passes, double elapsed, double test_loss, double test_acc);
/* The growing file's name, "<final>.partial", into buf (len bytes). Not collective. */
void dz_metrics_partial_path(const char *final, char *buf, size_t len);
/* Open "<final>.partial" and write the header and the rows held so far. */
int dz_metrics_open(dz_metrics *m, const char *final, dz_err *e);
/* Close the partial file and rename it to final. */
int dz_metrics_commit(dz_metrics *m, const char *final, dz_err *e);
void dz_metrics_free(dz_metrics *m);

typedef struct dz_model_info {
    int64_t iterations;        /* updates / outer iterations applied */
    char optimizer[32];
    char stop_reason[32];      /* converged, stalled or iterations */
    double l2, l1;
    double passes;             /* data passes of the optimization */
    double grad_max;           /* ‖∇J‖∞ at the written parameters */
    double final_loss;         /* J(w, b) of the written model on the training set, penalty
                                  included */
    double train_accuracy;     /* percent */
    double test_accuracy;      /* percent, NaN without a test set */
    int64_t m, block_rows;
    double scale;
    uint64_t config_hash, data_checksum;
    const int64_t *confusion_train, *confusion_test; /* softmax: K × K counts, or NULL */
    const char *names_from;    /* the training file: its feature_names are copied (dz/names.h);
                                  its path is stored as train_data */
    const char *settings;      /* dz_config_describe: every setting of the run, or NULL */
    const double *mean, *std;  /* [data] standardize: μ and σ (d each), or NULL */
    const double *original;    /* with them: the parameters in the data's units (as p) */
} dz_model_info;

#define DZ_MODEL_FORMAT "dztrain-model-1" /* model.h5's format attribute (written, and checked
                                             when a model is read back) */

/* model.h5 from the parameters p (dz/objective.h's layout), attributes from info.  Atomic.
 * Binary (K = 0): w (d,) float64, b scalar float64.  Softmax: W (K, d) float64, b (K,)
 * float64, attribute classes = K, and confusion_train / confusion_test (K, K) int64 (rows
 * true class, columns predicted) when info has them. */
int dz_model_write(const char *path, int64_t d, int64_t K, const double *p,
                   const dz_model_info *info, dz_err *e);

/* An HDF5 file written atomically: begin creates "<final>.tmp.<pid>" (returns the file id, or
 * < 0 with e set); commit closes it and, unless bad or the close failed, renames it to final
 * (dz_out_commit); on failure the temporary file is removed. */
long long dz_h5_begin(const char *final, char *tmp, size_t len, const char *what, dz_err *e);
int dz_h5_commit(long long f, int bad, const char *tmp, const char *final, const char *what,
                 dz_err *e);

/* Small HDF5 attribute helpers shared with the checkpoint module. */
int dz_h5_attr_i64(long long loc, const char *name, int64_t v);
int dz_h5_attr_f64(long long loc, const char *name, double v);
int dz_h5_attr_u64(long long loc, const char *name, uint64_t v);
int dz_h5_attr_str(long long loc, const char *name, const char *v);
int dz_h5_write_f64(long long loc, const char *name, int64_t n, const double *v); /* n<0: scalar */
int dz_h5_write_i64(long long loc, const char *name, int64_t n, const int64_t *v);

#endif
