/* dz/train.h — one training run, from a validated config to the model file.
 *
 * Data flows one way: config → shard (dz_shard_load) → kernel (dz_kernel_pass) → one
 * allreduce per step (dz_acc_allreduce) → update (dz_optim_step) → output (metrics, model,
 * checkpoint).  Collective over comm: every rank calls dz_train with the same config and
 * returns the same code (an error anywhere is agreed on, or ends the job — dz/err.h).
 */
#ifndef DZ_TRAIN_H
#define DZ_TRAIN_H

#include <signal.h>
#include <mpi.h>

#include "dz/config.h"
#include "dz/err.h"

typedef struct dz_run_opts {
    int resume;   /* continue from [checkpoint] file */
    int force;    /* allow a resume with changed training settings or iterations */
    int quiet;    /* no per-iteration printing */
} dz_run_opts;

/* Set by the SIGTERM/SIGUSR1 handler; read once per step. */
extern volatile sig_atomic_t dz_stop_signal;

int dz_train(MPI_Comm comm, const dz_config *cfg, const dz_run_opts *opts, dz_err *e);

#endif
