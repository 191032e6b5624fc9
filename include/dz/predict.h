/* dz/predict.h — a trained model read back, per-row predictions, and the `predict` command.
 *
 * Model (dz_model_load, Collective): rank 0 reads model.h5 with the serial HDF5 driver and
 * checks it: the format attribute "dztrain-model-1"; binary: w (d,) and a scalar b; softmax:
 * the attribute classes = K >= 2, W (K, d) and b (K,); the attributes scale (finite, > 0),
 * config_hash and data_checksum; every parameter finite.  All ranks agree on the verdict (a
 * refusal is DZ_EDATA with a message naming the file and what is missing or wrong), then the
 * parameters are broadcast in dz/objective.h's layout (the weights row by row, then the biases).
 * No rank but 0 opens the model file.
 *
 * Predictions (dz_predict_rows, Not collective): every local row through the kernel's per-row
 * arithmetic (dz_kernel_predict): the same z, σ and softmax as training, so a row's proba and
 * label are the same bits whatever N × T or its block.  Binary: proba = σ(z), label = proba >
 * 0.5; softmax: proba = the K class probabilities, label = argmax of the logits (ties to the
 * lowest class).
 *
 * The command (dz_predict_main, Collective):
 *   trainer predict --model M --data F [--x DATASET] [--out pred.h5]
 * Every rank loads only its rows of F (features only: dz_shard_load_req without labels; a d
 * other than the model's is refused before any row is read), scores them, and writes its own
 * hyperslab of `proba` ((m,) float64, or (m, K) for softmax) and `label` ((m,) int64) with one
 * collective parallel-HDF5 write per dataset: no rank ever holds more than its own rows.  The
 * file is created as "<out>.tmp.<pid of rank 0>", and rank 0 renames it to <out> after every
 * rank has closed it (dz_out_commit), so a failed run leaves no half-written pred.h5.  Its
 * attributes name the model and the input (README, "pred.h5").
 *
 * Ownership: dz_model and dz_pred own their arrays; the free functions accept NULL.
 */
#ifndef DZ_PREDICT_H
#define DZ_PREDICT_H

#include <stdint.h>
#include <stdio.h>
#include <mpi.h>

#include "dz/config.h"
#include "dz/err.h"
#include "dz/kernel.h"
#include "dz/shard.h"

typedef struct dz_model {
    int64_t d;                  /* features */
    int64_t K;                  /* 0: binary logistic; >= 2: softmax classes */
    int64_t n;                  /* parameters: nk·(d + 1), nk = max(K, 1) */
    double *p;                  /* n: weights (nk × d) then the nk biases, as the kernels use
                                   them (a standardised model's w_original, b_original) */
    double scale;               /* features are divided by it */
    uint64_t config_hash;       /* the training run's identity (copied into pred.h5) */
    uint64_t data_checksum;     /* the training data's checksum */
    char path[DZ_PATH_MAX];
} dz_model;

/* Collective: rank 0 reads and checks path, every rank returns the agreed code and, on
 * success, the same model. */
int dz_model_load(MPI_Comm comm, const char *path, dz_model *mo, dz_err *e);
void dz_model_free(dz_model *mo);

typedef struct dz_pred {
    int64_t rows;               /* this rank's rows (the shard's) */
    int64_t ncol;               /* proba values per row: 1 (binary) or K */
    double *proba;              /* rows × ncol, row-major */
    int64_t *label;             /* rows */
} dz_pred;

/* Not collective.  Scores every local row of s (OpenMP over the shard's blocks, nthreads
 * threads, kernel path isa).  Returns DZ_OK; DZ_ERUNTIME when memory is short; DZ_EDATA
 * when a row's probability is not finite (a logit beyond float64: the message names the global
 * row).  The caller agrees on the code. */
int dz_predict_rows(const dz_model *mo, const dz_shard *s, const dz_kernel_isa *isa,
                    int nthreads, dz_pred *pr, dz_err *e);
void dz_pred_free(dz_pred *pr);

/* Collective: the common start of predict and evaluate — threads (dz_binding_setup), the
 * kernel path, the model, this rank's rows of data (labels yname, or none when NULL) and
 * their predictions.  On failure everything is freed and the agreed code returned. */
int dz_predict_setup(MPI_Comm comm, const char *model, const char *data, const char *xname,
                     const char *yname, dz_model *mo, dz_shard *s, dz_pred *pr, int *nthreads,
                     dz_err *e);

/* Not collective: "--key value" options of a subcommand (argv[0] is its name) into vals
 * (vals[k] for keys[k]; unset options keep the caller's default).  Returns 0; 1 when --help
 * or -h is among them (then nothing else is parsed); -1 with msg for an unknown option or a
 * missing value. */
int dz_cmd_args(int argc, char **argv, const char *const *keys, const char **vals, int nkeys,
                char *msg, size_t len);

/* Collective: `trainer predict ...`; argv[0] is "predict".  Returns the exit code (usage
 * errors: DZ_ECONFIG, printed by rank 0 with the usage; --help: the usage on stdout, 0).
 * Usage errors are found from argv alone, the same on every rank, so every rank returns
 * without communicating. */
int dz_predict_main(MPI_Comm comm, int argc, char **argv);
void dz_predict_usage(FILE *f);

#endif
