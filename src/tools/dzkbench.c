/* dzkbench — time the rank-local kernel pass (dz_kernel_pass: block kernel + exact fold) on
 * an in-memory shard of random data, without MPI or HDF5.
 *   build/dzkbench --m M --d D --dtype uint8|float32|float64 [--reps R] [--plain] [--block B]
 * Prints JSON: median seconds per pass and the feature bytes streamed per second. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/kernel.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int64_t m = 100000, d = 1024, B = 0;
    int reps = 20, plain = 0;
    dz_dtype t = DZ_DTYPE_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--m") && i + 1 < argc) m = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--d") && i + 1 < argc) d = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--block") && i + 1 < argc) B = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--plain")) plain = 1;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            i++;
            t = !strcmp(argv[i], "uint8") ? DZ_DTYPE_U8 : !strcmp(argv[i], "float64") ? DZ_DTYPE_F64 : DZ_DTYPE_F32;
        } else {
            fprintf(stderr, "usage: dzkbench --m M --d D --dtype uint8|float32|float64 [--reps R] [--plain] [--block B]\n");
            return 2;
        }
    }
    if (m < 1 || d < 1 || reps < 1)
        return 2;
    dz_shard s;
    memset(&s, 0, sizeof s);
    s.m = s.rows = m;
    s.d = d;
    s.dtype = t;
    s.block_rows = dz_block_rows(m, d, B);
    size_t n = (size_t)m * (size_t)d, isz = dz_dtype_size(t);
    s.x = malloc(n * isz);
    s.y = malloc((size_t)m * sizeof(double));
    s.maxabs = malloc((size_t)d * sizeof(double));
    double *w = malloc((size_t)(d + 1) * sizeof(double));
    if (!s.x || !s.y || !s.maxabs || !w)
        return 1;
    uint64_t r = 12345;
#pragma omp parallel for schedule(static) /* first touch by the threads that compute */
    for (int64_t i = 0; i < m; i++) {
        uint64_t q = r ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        for (int64_t j = 0; j < d; j++) {
            q ^= q << 13; q ^= q >> 7; q ^= q << 17;
            size_t k = (size_t)i * (size_t)d + (size_t)j;
            if (t == DZ_DTYPE_U8) ((uint8_t *)s.x)[k] = (uint8_t)q;
            else if (t == DZ_DTYPE_F32) ((float *)s.x)[k] = (float)((double)(q >> 11) / 9007199254740992.0 - 0.5);
            else ((double *)s.x)[k] = (double)(q >> 11) / 9007199254740992.0 - 0.5;
        }
        s.y[i] = (double)(i & 1);
    }
    for (int64_t j = 0; j < d; j++) {
        s.maxabs[j] = t == DZ_DTYPE_U8 ? 255 : 0.5;
        w[j] = 0.01 * sin((double)j);
    }
    w[d] = 0.1;
    dz_work wk;
    if (dz_work_init(&wk, d, 0, omp_get_max_threads(), !plain))
        return 1;
    for (int64_t j = 0; j < d; j++)
        dz_acc_set_bound(&wk.grad[0], j, 2.0 * (double)m * s.maxabs[j]);
    dz_acc_set_bound(&wk.grad[0], d, 2.0 * (double)m);
    dz_acc_set_bound(&wk.grad[0], d + 1, 2.0 * (double)m * 1e6);
    double *times = malloc(sizeof(double) * (size_t)reps), *out = malloc(sizeof(double) * (size_t)(d + 2));
    dz_kernel_pass(&s, w, w[d], 1.0, &wk, 0); /* warm-up */
    for (int k = 0; k < reps; k++) {
        double t0 = omp_get_wtime();
        dz_kernel_pass(&s, w, w[d], 1.0, &wk, 0);
        times[k] = omp_get_wtime() - t0;
    }
    dz_acc_result(&wk.grad[0], out);
    qsort(times, (size_t)reps, sizeof(double), cmp);
    double med = times[reps / 2];
    printf("{\"m\": %lld, \"d\": %lld, \"dtype\": \"%s\", \"threads\": %d, \"block_rows\": %lld, "
           "\"reproducible\": %s, \"pass_s_median\": %.6g, \"pass_s_min\": %.6g, \"gbps\": %.3f, "
           "\"check\": %.17g}\n",
           (long long)m, (long long)d, dz_dtype_name(t), omp_get_max_threads(), (long long)s.block_rows,
           plain ? "false" : "true", med, times[0], (double)(n * isz) / med / 1e9, out[d + 1]);
    dz_work_free(&wk);
    dz_shard_free(&s);
    free(w);
    free(times);
    free(out);
    return 0;
}
