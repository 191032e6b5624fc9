/* reduce.c — exact fixed-point accumulation of block partials (see dz/reduce.h).
 *
 * Hot path (dz_acc_fold, once per block per quantity): x = v·2^(40−E) has |x| <= 2^40; its
 * two digits are taken with the round-to-integer trick q = (x + 1.5·2^52) − 1.5·2^52, which
 * is exact for |x| < 2^51 and vectorises with plain adds (no double→int64 conversion):
 *   q0 = rint(x), q1 = rint((x − q0)·2^40); what is below 2^(E−80) is dropped.
 * Digits are summed as doubles, exact while |sum| < 2^53, i.e. for 2^12 folds of |q| <= 2^40;
 * then they are flushed into int64 digits and carries are normalised.
 */
#include "dz/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dz/err.h"

/* The hot loops are compiled for several targets and picked at load time (GCC's
 * target_clones): they use only exact operations (scaling by powers of two, the rounding
 * trick, integer adds), so every clone gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DZ_NO_CLONES)
#define HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HOT
#endif

#define FLUSH_EVERY 4096
static const double RND = 6755399441055744.0; /* 1.5 · 2^52 */
static const double SHIFT = 1099511627776.0;  /* 2^40 */

static int alloc_sums(dz_acc *a)
{
    int64_t n = a->n;
    if (n < 1 || n > ((int64_t)1 << 40)) {
        dz_acc_free(a);
        return -1;
    }
    if (a->repro) {
        /* int64 digits, then room for the flags, so one allreduce carries both */
        a->fix = calloc((size_t)(DZ_FIX_DIGITS * n + DZ_NFLAGS), sizeof(int64_t));
        a->sum = calloc((size_t)(DZ_FIX_DIGITS * n), sizeof(double)); /* double digits */
    } else {
        a->sum = calloc((size_t)(n + DZ_NFLAGS), sizeof(double));
    }
    if (!a->to_fix || !a->sum || (a->repro && !a->fix)) {
        dz_acc_free(a);
        return -1;
    }
    return 0;
}

int dz_acc_init(dz_acc *a, int64_t n, int repro)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->repro = repro;
    a->owns_bounds = 1;
    a->to_fix = malloc((size_t)n * sizeof(double));
    if (a->to_fix)
        for (int64_t k = 0; k < n; k++)
            a->to_fix[k] = 1.0;
    return alloc_sums(a);
}

int dz_acc_init_shared(dz_acc *a, const dz_acc *owner)
{
    memset(a, 0, sizeof *a);
    a->n = owner->n;
    a->repro = owner->repro;
    a->to_fix = owner->to_fix;
    return alloc_sums(a);
}

void dz_acc_free(dz_acc *a)
{
    if (!a)
        return;
    if (a->owns_bounds)
        free(a->to_fix);
    free(a->fix);
    free(a->sum);
    a->to_fix = NULL;
    a->fix = NULL;
    a->sum = NULL;
}

void dz_acc_set_bound(dz_acc *a, int64_t k, double bound)
{
    /* E with bound < 2^E; x = v·2^(40−E) then has |x| <= 2^40.  E is clamped to [−960, 1024]
     * so the scale 2^(40−E) stays a normal number; a bound past DBL_MAX uses E = 1024. */
    int e = 1024;
    if (isfinite(bound)) {
        e = 0;
        if (bound > 0)
            frexp(bound, &e);
    }
    if (e < -960) e = -960;
    if (e > 1024) e = 1024;
    a->to_fix[k] = ldexp(1.0, DZ_FIX_BITS - e);
}

void dz_acc_copy_bounds(dz_acc *dst, const dz_acc *src)
{
    memcpy(dst->to_fix, src->to_fix, (size_t)src->n * sizeof(double));
}

void dz_acc_zero(dz_acc *a)
{
    int64_t len = a->repro ? DZ_FIX_DIGITS * a->n : a->n;
    memset(a->sum, 0, (size_t)len * sizeof(double));
    if (a->repro)
        memset(a->fix, 0, (size_t)len * sizeof(int64_t));
    memset(a->flags, 0, sizeof a->flags);
    a->folds = 0;
    a->rows = 0;
}

/* Move carries up so digits 1 and 2 of quantities [k0, k1) lie in [0, 2^40). Arithmetic >> is
 * floor division (GCC and Clang define it so for signed integers). */
HOT static void normalise(int64_t *fix, int64_t n, int64_t k0, int64_t k1)
{
    int64_t *d0 = fix, *d1 = fix + n;
    for (int64_t k = k0; k < k1; k++) {
        int64_t c = d1[k] >> DZ_FIX_BITS;
        d1[k] -= c * ((int64_t)1 << DZ_FIX_BITS);
        d0[k] += c;
    }
}

void dz_acc_rows_added(dz_acc *a, int64_t rows)
{
    if (a->repro && (a->rows += rows) >= ((int64_t)1 << 20)) {
        normalise(a->fix, a->n, 0, a->n);
        a->rows = 0;
    }
}

HOT void dz_acc_flush(dz_acc *a)
{
    if (a->repro && a->rows) { /* values added straight into the int64 digits */
        normalise(a->fix, a->n, 0, a->n);
        a->rows = 0;
    }
    if (!a->repro || a->folds == 0)
        return;
    int64_t len = DZ_FIX_DIGITS * a->n, bad = 0;
    double *restrict sum = a->sum;
    int64_t *restrict fix = a->fix;
    for (int64_t i = 0; i < len; i++) { /* branch-free, so it vectorises */
        double v = sum[i];
        int ok = fabs(v) < 9007199254740992.0; /* false for NaN, Inf and |v| >= 2^53 */
        bad += !ok;
        fix[i] += (int64_t)(ok ? v : 0.0);
        sum[i] = 0;
    }
    a->flags[DZ_FLAG_NONFINITE] += bad;
    normalise(a->fix, a->n, 0, a->n);
    a->folds = 0;
}

HOT void dz_acc_fold(dz_acc *a, const double *restrict v)
{
    int64_t n = a->n;
    if (!a->repro) {
        double *restrict s = a->sum;
        for (int64_t k = 0; k < n; k++)
            s[k] += v[k];
        return;
    }
    const double *restrict sc = a->to_fix;
    double *restrict s0 = a->sum, *restrict s1 = a->sum + n;
    for (int64_t k = 0; k < n; k++) {
        double x = v[k] * sc[k];
        double q0 = (x + RND) - RND;
        double q1 = ((x - q0) * SHIFT + RND) - RND;
        s0[k] += q0;
        s1[k] += q1;
    }
    if (++a->folds >= FLUSH_EVERY)
        dz_acc_flush(a);
}

HOT void dz_acc_merge_range(dz_acc *accs, int count, int64_t k0, int64_t k1)
{
    int64_t n = accs[0].n;
    if (!accs[0].repro) {
        for (int t = 1; t < count; t++)
            for (int64_t k = k0; k < k1; k++)
                accs[0].sum[k] += accs[t].sum[k];
        return;
    }
    for (int p = 0; p < DZ_FIX_DIGITS; p++) {
        int64_t *dst = accs[0].fix + p * n;
        for (int t = 1; t < count; t++) {
            const int64_t *src = accs[t].fix + p * n;
            for (int64_t k = k0; k < k1; k++)
                dst[k] += src[k];
        }
    }
    normalise(accs[0].fix, n, k0, k1);
}

void dz_acc_merge_flags(dz_acc *accs, int count)
{
    for (int t = 1; t < count; t++)
        for (int i = 0; i < DZ_NFLAGS; i++)
            accs[0].flags[i] += accs[t].flags[i];
}

void dz_acc_merge(dz_acc *into, dz_acc *from)
{
    dz_acc_flush(into);
    dz_acc_flush(from);
    dz_acc pair[2] = {*into, *from};
    dz_acc_merge_range(pair, 2, 0, into->n);
    dz_acc_merge_flags(pair, 2);
    memcpy(into->flags, pair[0].flags, sizeof into->flags);
}

void dz_acc_result(dz_acc *a, double *out)
{
    int64_t n = a->n;
    if (!a->repro) {
        memcpy(out, a->sum, (size_t)n * sizeof(double));
        return;
    }
    dz_acc_flush(a);
    const int64_t *d0 = a->fix, *d1 = a->fix + n;
    for (int64_t k = 0; k < n; k++) /* normalised: d1 in [0, 2^40) */
        out[k] = ((double)d0[k] + (double)d1[k] / SHIFT) / a->to_fix[k];
}

void dz_acc_allreduce(MPI_Comm comm, dz_acc *a, double *out)
{
    int64_t n = a->n;
    if (!a->repro) {
        for (int i = 0; i < DZ_NFLAGS; i++)
            a->sum[n + i] = (double)a->flags[i];
        DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, a->sum, (int)(n + DZ_NFLAGS), MPI_DOUBLE, MPI_SUM, comm));
        for (int i = 0; i < DZ_NFLAGS; i++)
            a->flags[i] = (int64_t)a->sum[n + i];
        dz_acc_result(a, out);
        return;
    }
    dz_acc_flush(a);
    int64_t len = DZ_FIX_DIGITS * n;
    memcpy(a->fix + len, a->flags, sizeof a->flags);
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, a->fix, (int)(len + DZ_NFLAGS), MPI_INT64_T, MPI_SUM, comm));
    memcpy(a->flags, a->fix + len, sizeof a->flags);
    dz_acc_result(a, out);
}
