/* dz/batch.h — the mini-batch schedule: which global blocks form the batch of update t.
 *
 * A batch is k whole reduction blocks (k = ⌈batch_size / B⌉; with an automatic block size B
 * is at most batch_size, see dz_block_rows), so it is defined in global block numbers and
 * never depends on the number of ranks or threads: the bit-identity promise holds for
 * mini-batch runs too.  Each epoch visits every block once, in an order drawn from
 * ([train] seed, epoch) by a counter-based generator (splitmix64, Fisher–Yates); update t is
 * batch t mod P of epoch t / P (P batches per epoch, the last one may be short).  The whole
 * state is therefore (seed, t): a checkpoint that holds the iteration holds the schedule.
 * A batch that covers every block is reported as the full data set (batch NULL), so that
 * batch_size >= m gives exactly the full-batch computation.
 *
 * Memory: one int64 per global block on every rank (m / B).  Not collective.
 * Ownership: dz_sched owns its arrays; dz_sched_free(NULL) is safe.
 */
#ifndef DZ_BATCH_H
#define DZ_BATCH_H

#include <stdint.h>

#include "dz/objective.h"
#include "dz/shard.h"

typedef struct dz_sched {
    int64_t nblocks;        /* global blocks */
    int64_t per_batch;      /* k */
    int64_t per_epoch;      /* P = ⌈nblocks / k⌉ */
    int64_t m, B;
    int64_t first, count;   /* this rank's global blocks [first, first + count) */
    uint64_t seed;
    int64_t epoch;          /* epoch whose order is in perm, -1: none yet */
    int64_t *perm;          /* nblocks */
    int64_t *local;         /* this rank's blocks of the current batch (local numbers) */
    dz_batch batch;
} dz_sched;

/* batch_size 0 = full batch.  Returns 0, or -1 when memory is short. */
int dz_sched_init(dz_sched *sc, const dz_shard *s, int64_t batch_size, uint64_t seed);
void dz_sched_free(dz_sched *sc);

/* The batch of update t (0-based), or NULL for the full data set. */
const dz_batch *dz_sched_batch(dz_sched *sc, int64_t t);

/* Epoch and position of update t, for messages. */
void dz_sched_where(const dz_sched *sc, int64_t t, int64_t *epoch, int64_t *pos);

#endif
