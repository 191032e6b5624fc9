/* standardize.c — per-feature mean and standard deviation from exact sums, and the change of
 * parameters between standardised and data units (see dz/standardize.h).
 *
 * Each pass runs over the shard's fixed blocks with OpenMP (static schedule), one accumulator
 * per thread sharing the bounds of the first: dense blocks are summed in row order into a
 * block partial and folded (O(d) per block of B·d values, as the kernels do); CSR values are
 * folded one by one (dz_acc_add), so a block costs only its stored values.  Then the threads'
 * accumulators are merged and reduced over the ranks in one allreduce.
 */
#include "dz/standardize.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/reduce.h"

void dz_stdz_free(dz_stdz *z)
{
    if (!z)
        return;
    free(z->mean);
    free(z->std);
    memset(z, 0, sizeof *z);
}

/* Dense row i of s as doubles (raw units) into x (d). */
static void row_values(const dz_shard *s, int64_t i, double *x)
{
    const size_t off = (size_t)i * (size_t)s->d;
    for (int64_t j = 0; j < s->d; j++)
        x[j] = s->dtype == DZ_DTYPE_U8    ? ((const uint8_t *)s->x)[off + (size_t)j]
             : s->dtype == DZ_DTYPE_F32 ? ((const float *)s->x)[off + (size_t)j]
                                          : ((const double *)s->x)[off + (size_t)j];
}

/* CSR value k of s as a double. */
static double csr_value(const dz_shard *s, int64_t k)
{
    return s->dtype == DZ_DTYPE_F32 ? ((const float *)s->val)[k] : ((const double *)s->val)[k];
}

/* One thread's blocks: pass 1 sums x_ij (raw; counts stored values per column into cnt for
 * CSR), pass 2 sums (x_ij/scale − μ_j)² over the stored values (dense: all). */
static void thread_blocks(const dz_shard *s, int pass, double scale, const double *mu, dz_acc *a,
                          double *part, double *row, int64_t *cnt)
{
    const int64_t B = s->block_rows, d = s->d, nb = (s->rows + B - 1) / B;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i0 = b * B, i1 = i0 + B < s->rows ? i0 + B : s->rows;
        if (dz_shard_is_csr(s)) {
            for (int64_t i = i0; i < i1; i++)
                for (int64_t k = s->rowptr[i]; k < s->rowptr[i + 1]; k++) {
                    const int64_t j = s->col[k];
                    const double x = csr_value(s, k), t = x / scale - mu[j];
                    dz_acc_add(a, j, pass == 1 ? x : t * t);
                    cnt[j] += pass == 1;
                }
            dz_acc_rows_added(a, i1 - i0);
            continue;
        }
        memset(part, 0, (size_t)d * sizeof(double));
        for (int64_t i = i0; i < i1; i++) {
            row_values(s, i, row);
            for (int64_t j = 0; j < d; j++) {
                const double t = row[j] / scale - mu[j];
                part[j] += pass == 1 ? row[j] : t * t;
            }
        }
        dz_acc_fold(a, part);
    }
}

/* Collective: out (d) = the pass's sums over all rows of all ranks. */
static void pass_sums(MPI_Comm comm, const dz_shard *s, int pass, double scale, const double *mu,
                      int nthreads, dz_acc *accs, double *part, double *row, int64_t *cnt,
                      double *out)
{
    const int64_t d = s->d;
    const double m = (double)s->m;
    for (int64_t j = 0; j < d; j++) {
        const double mx = s->maxabs[j] / scale;
        dz_acc_set_bound(&accs[0], j, pass == 1 ? 2.0 * m * s->maxabs[j] : 8.0 * m * mx * mx);
    }
    int team = 1;
#pragma omp parallel num_threads(nthreads)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0)
            team = nt;
        dz_acc_zero(&accs[t]);
        thread_blocks(s, pass, scale, mu, &accs[t], part + (size_t)t * (size_t)d,
                      row + (size_t)t * (size_t)d, cnt + (size_t)t * (size_t)d);
        dz_acc_flush(&accs[t]);
#pragma omp barrier
        dz_acc_merge_range(accs, nt, d * t / nt, d * (t + 1) / nt);
    }
    dz_acc_merge_flags(accs, team);
    dz_acc_allreduce(comm, &accs[0], out);
}

int dz_stdz_compute(MPI_Comm comm, const dz_shard *s, double scale, int nthreads, dz_stdz *z,
                    dz_err *e)
{
    const int64_t d = s->d;
    memset(z, 0, sizeof *z);
    z->d = d;
    z->mean = calloc((size_t)d, sizeof(double));
    z->std = calloc((size_t)d, sizeof(double));
    dz_acc *accs = calloc((size_t)nthreads, sizeof(dz_acc));
    double *part = malloc((size_t)nthreads * (size_t)d * sizeof(double));
    double *row = malloc((size_t)nthreads * (size_t)d * sizeof(double));
    int64_t *cnt = calloc((size_t)nthreads * (size_t)d, sizeof(int64_t));
    int bad = !z->mean || !z->std || !accs || !part || !row || !cnt;
    for (int t = 0; t < nthreads && !bad; t++)
        bad = t == 0 ? dz_acc_init(&accs[0], d, 1) : dz_acc_init_shared(&accs[t], &accs[0]);
    if (bad)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the standardisation of %lld features",
                (long long)d);
    if (dz_err_agree(comm, e) == DZ_OK) {
        const double m = (double)s->m;
        pass_sums(comm, s, 1, scale, z->mean /* zeros: unused in pass 1 */, nthreads, accs, part,
                  row, cnt, z->mean);
        for (int64_t j = 0; j < d; j++)
            z->mean[j] = z->mean[j] / scale / m;
        pass_sums(comm, s, 2, scale, z->mean, nthreads, accs, part, row, cnt, z->std);
        if (dz_shard_is_csr(s)) { /* the implicit zeros: (m − stored_j) · μ_j² each */
            for (int t = 1; t < nthreads; t++)
                for (int64_t j = 0; j < d; j++)
                    cnt[j] += cnt[(size_t)t * (size_t)d + (size_t)j];
            DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, (int)d, MPI_INT64_T, MPI_SUM, comm));
            for (int64_t j = 0; j < d; j++)
                z->std[j] += (m - (double)cnt[j]) * z->mean[j] * z->mean[j];
        }
        for (int64_t j = 0; j < d; j++) {
            z->std[j] = sqrt(z->std[j] / m);
            if (!(z->std[j] > 0)) {
                z->std[j] = 1.0;
                z->nconst++;
            }
        }
    }
    for (int t = 0; accs && t < nthreads; t++)
        dz_acc_free(&accs[t]);
    free(accs);
    free(part);
    free(row);
    free(cnt);
    if (e->code != DZ_OK)
        dz_stdz_free(z);
    return e->code;
}

void dz_stdz_to_kernel(const dz_stdz *z, int64_t nk, const double *p, double *q)
{
    const int64_t d = z->d;
    for (int64_t k = 0; k < nk; k++) {
        double shift = 0;
        for (int64_t j = 0; j < d; j++) {
            q[k * d + j] = p[k * d + j] / z->std[j];
            shift += q[k * d + j] * z->mean[j];
        }
        q[nk * d + k] = p[nk * d + k] - shift;
    }
}

void dz_stdz_grad_back(const dz_stdz *z, int64_t nk, const double *G, double *g)
{
    const int64_t d = z->d;
    for (int64_t k = 0; k < nk; k++) {
        const double gb = G[nk * d + k];
        for (int64_t j = 0; j < d; j++)
            g[k * d + j] = (G[k * d + j] - z->mean[j] * gb) / z->std[j];
        g[nk * d + k] = gb;
    }
}
