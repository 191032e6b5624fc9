/* dzshard.h — a random in-memory shard for the C unit tests (no HDF5, no MPI): rows × d
 * features of type t in [−2, 2) (uint8: 0..255), labels 0/1, per-feature max |x|, from a
 * fixed xorshift stream.  x, y and maxabs are malloc'd: the caller frees them with free(). */
#ifndef DZSHARD_H
#define DZSHARD_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dz/shard.h"

static uint64_t rng = 88172645463325252ULL;
static double urand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* A shard of `rows` random rows; block_rows B. */
static void make_shard(dz_shard *s, dz_dtype t, int64_t rows, int64_t d, int64_t B)
{
    memset(s, 0, sizeof *s);
    s->m = rows; s->d = d; s->row0 = 0; s->rows = rows; s->block_rows = B; s->dtype = t;
    size_t n = (size_t)(rows * d);
    s->x = malloc(n * dz_dtype_size(t) + 1);
    s->y = malloc((size_t)rows * sizeof(double) + 1);
    s->maxabs = calloc((size_t)d, sizeof(double));
    for (size_t k = 0; k < n; k++) {
        double v = t == DZ_DTYPE_U8 ? floor(urand() * 256) : 4 * urand() - 2;
        if (t == DZ_DTYPE_U8) ((uint8_t *)s->x)[k] = (uint8_t)v;
        else if (t == DZ_DTYPE_F32) ((float *)s->x)[k] = (float)v;
        else ((double *)s->x)[k] = v;
        double a = fabs(t == DZ_DTYPE_F32 ? (double)(float)v : v);
        if (a > s->maxabs[k % (size_t)d]) s->maxabs[k % (size_t)d] = a;
    }
    for (int64_t i = 0; i < rows; i++)
        s->y[i] = urand() < 0.5;
}

#endif
