/* dz/checkpoint.h — everything needed to continue a run exactly, in one HDF5 file.
 *
 * Layout (format "dztrain-checkpoint-2"): datasets params (d + 1: w then b; softmax K·(d + 1): W row-major then b), optimizer_state
 * (the optimizer's whole state, dz/optim.h), metrics/iteration, metrics/loss,
 * metrics/elapsed_s, metrics/grad_max, metrics/passes; root attributes: iteration (updates
 * done), iterations (the run's target), elapsed_s, passes, config_hash, config (text of the
 * training settings), data fingerprint (data_m, data_d, data_dtype, data_file_type,
 * data_checksum, block_rows) and payload_checksum, a hash of all the arrays and the
 * iteration, so a corrupted file is refused instead of silently resumed.
 * Written atomically by rank 0 (dz/output.h).  Not collective.
 * Ownership: dz_ckpt owns its arrays; dz_ckpt_free(NULL) is safe.
 */
#ifndef DZ_CHECKPOINT_H
#define DZ_CHECKPOINT_H

#include <stdint.h>

#include "dz/config.h"
#include "dz/err.h"
#include "dz/output.h"

typedef struct dz_ckpt {
    int64_t iteration;     /* updates applied to params */
    int64_t iterations;    /* the run's [train] iterations */
    double elapsed;        /* training seconds so far */
    double passes;         /* data passes so far */
    int64_t n;             /* parameters: d + 1, or K·(d + 1) */
    double *params;
    int64_t nstate;
    double *state;
    dz_metrics metrics;    /* rows logged so far (no FILE) */
    uint64_t config_hash;
    char config[2048];
    int64_t data_m, data_d, block_rows;
    char data_dtype[16], data_file_type[64];
    uint64_t data_checksum;
} dz_ckpt;

int dz_ckpt_write(const char *path, const dz_ckpt *c, dz_err *e);
/* Read and verify (format, sizes, payload checksum); fills c (allocating). */
int dz_ckpt_read(const char *path, dz_ckpt *c, dz_err *e);
void dz_ckpt_free(dz_ckpt *c);

#endif
