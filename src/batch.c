/* batch.c — mini-batch schedule (see dz/batch.h). */
#include "dz/batch.h"

#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias (Lemire's multiply-shift with rejection). */
static uint64_t below(uint64_t *x, uint64_t n)
{
    uint64_t thresh = (0 - n) % n;
    for (;;) {
        unsigned __int128 r = (unsigned __int128)splitmix64(x) * n;
        if ((uint64_t)r >= thresh)
            return (uint64_t)(r >> 64);
    }
}

int dz_sched_init(dz_sched *sc, const dz_shard *s, int64_t batch_size, uint64_t seed)
{
    memset(sc, 0, sizeof *sc);
    sc->m = s->m;
    sc->B = s->block_rows;
    sc->nblocks = (s->m + sc->B - 1) / sc->B;
    sc->per_batch = batch_size <= 0 ? sc->nblocks : (batch_size + sc->B - 1) / sc->B;
    if (sc->per_batch > sc->nblocks)
        sc->per_batch = sc->nblocks;
    sc->per_epoch = (sc->nblocks + sc->per_batch - 1) / sc->per_batch;
    sc->first = s->row0 / sc->B;
    sc->count = (s->rows + sc->B - 1) / sc->B;
    sc->seed = seed;
    sc->epoch = -1;
    if (sc->per_batch == sc->nblocks)
        return 0; /* full batch: nothing to draw */
    sc->perm = malloc((size_t)sc->nblocks * sizeof(int64_t));
    sc->local = malloc((size_t)sc->per_batch * sizeof(int64_t));
    if (!sc->perm || !sc->local) {
        dz_sched_free(sc);
        return -1;
    }
    return 0;
}

void dz_sched_free(dz_sched *sc)
{
    if (!sc)
        return;
    free(sc->perm);
    free(sc->local);
    memset(sc, 0, sizeof *sc);
}

void dz_sched_where(const dz_sched *sc, int64_t t, int64_t *epoch, int64_t *pos)
{
    *epoch = t / sc->per_epoch;
    *pos = t % sc->per_epoch;
}

static void draw_epoch(dz_sched *sc, int64_t epoch)
{
    uint64_t x = sc->seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(epoch + 1));
    for (int64_t k = 0; k < sc->nblocks; k++)
        sc->perm[k] = k;
    for (int64_t k = sc->nblocks - 1; k > 0; k--) {
        int64_t j = (int64_t)below(&x, (uint64_t)k + 1);
        int64_t t = sc->perm[k];
        sc->perm[k] = sc->perm[j];
        sc->perm[j] = t;
    }
    sc->epoch = epoch;
}

const dz_batch *dz_sched_batch(dz_sched *sc, int64_t t)
{
    if (sc->per_batch == sc->nblocks)
        return NULL;
    int64_t epoch, pos;
    dz_sched_where(sc, t, &epoch, &pos);
    if (epoch != sc->epoch)
        draw_epoch(sc, epoch);
    int64_t k0 = pos * sc->per_batch, k1 = k0 + sc->per_batch;
    if (k1 > sc->nblocks)
        k1 = sc->nblocks;
    int64_t rows = 0, nl = 0;
    for (int64_t k = k0; k < k1; k++) {
        int64_t g = sc->perm[k];
        int64_t r0 = g * sc->B;
        rows += sc->m - r0 < sc->B ? sc->m - r0 : sc->B;
        if (g >= sc->first && g < sc->first + sc->count)
            sc->local[nl++] = g - sc->first;
    }
    sc->batch.blocks = sc->local;
    sc->batch.nblocks = nl;
    sc->batch.rows = rows;
    return &sc->batch;
}
