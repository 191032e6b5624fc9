/* test_isa.c — the same bits on every kernel path: dzmath's exp, log1p and log against long
 * double (≤ 1 ulp) at random and edge arguments, and every compiled path this CPU runs gives
 * bit-identical block sums (gradient, H·v with saved curvature, evaluation; logistic and
 * softmax) and exact sums of them (dz_acc) for each feature type and many d (and K),
 * including the tails.  Prints a hash of
 * all the bits: scripts/test-cross builds this file for aarch64 and compares the hash under
 * qemu with this machine's.  Exits 1 on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/dzmath.h"
#include "dz/kernel.h"
#include "dz/reduce.h"
#include "../src/kernel_isa.h"

#include "dzcheck.h"
#include "dzshard.h"

static double ulps(double got, long double ref)
{
    if (ref == 0)
        return got == 0 ? 0 : 1e9;
    double r = fabs((double)ref), u = nextafter(r, INFINITY) - r;
    return (double)(fabsl((long double)got - ref) / u);
}

static void check_math(void)
{
    double we = 0, wl = 0, xe = 0, xl = 0, wg = 0, xg = 0;
    for (int i = 0; i < 300000; i++) {
        double x = -urand() * (i % 3 == 0 ? 745.0 : i % 3 == 1 ? 40.0 : 1.0);
        double a = ulps(dz_exp_neg(x), expl((long double)x));
        if (a > we) { we = a; xe = x; }
        double e = urand() * (i % 2 ? 1.0 : 1e-6);
        double b = ulps(dz_log1p01(e), log1pl((long double)e));
        if (b > wl) { wl = b; xl = e; }
        double g = i % 4 == 0 ? 1.0 + urand() * 1e-3 : i % 4 == 1 ? 1.0 + urand() * 30
                 : i % 4 == 2 ? exp(urand() * 40) : 1.0 + urand();
        double c = ulps(dz_log_ge1(g), logl((long double)g));
        if (c > wg) { wg = c; xg = g; }
    }
    CHECK(wg <= 1.0, "dz_log_ge1: %.3f ulp at %.17g", wg, xg);
    CHECK(dz_log_ge1(1.0) == 0 && dz_log_ge1(2.0) == 0.69314718055994529 &&
              isnan(dz_log_ge1(NAN)) && isinf(dz_log_ge1(INFINITY)),
          "log_ge1 edges: log 1 = 0, log 2 = ln 2, NaN, Inf");
    CHECK(we <= 1.0, "dz_exp_neg: %.3f ulp at %.17g", we, xe);
    CHECK(wl <= 1.0, "dz_log1p01: %.3f ulp at %.17g", wl, xl);
    CHECK(dz_exp_neg(0) == 1 && dz_exp_neg(-800) == 0 && dz_log1p01(0) == 0 &&
              dz_log1p01(1) == 0.69314718055994529 && isnan(dz_exp_neg(NAN)),
          "edges: exp(0) = 1, exp(-800) = 0, log1p(0) = 0, log1p(1) = ln 2, NaN");
    printf("dzmath: exp %.3f ulp, log1p %.3f ulp, log %.3f ulp (max over 300000 arguments each)\n",
           we, wl, wg);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/* All block results of one path, and their exact sum (dz/reduce.h), hashed. */
static uint64_t run_path(const dz_kernel_isa *isa, dz_shard *s, const double *w, double *out,
                         double *curv)
{
    uint64_t h = 1469598103934665603ULL;
    const int64_t d = s->d;
    dz_acc acc;
    if (dz_acc_init(&acc, d + 2, 1) != 0)
        return 0;
    for (int64_t j = 0; j < d; j++)
        dz_acc_set_bound(&acc, j, 2.0 * (double)s->rows * s->maxabs[j]);
    dz_acc_set_bound(&acc, d, 2.0 * (double)s->rows);
    dz_acc_set_bound(&acc, d + 1, 1e3 * (double)s->rows);
    for (int64_t i0 = 0; i0 < s->rows; i0 += 13) {
        int64_t n = s->rows - i0 < 13 ? s->rows - i0 : 13;
        isa->grad(s, i0, n, w, w[d], 1.7, out, NULL, curv + i0);
        h = fnv(h, out, (size_t)(d + 2) * sizeof *out);
        dz_acc_fold(&acc, out);
        h = fnv(h, curv + i0, (size_t)n * sizeof *curv);
        isa->grad(s, i0, n, w + 1, w[0], 1.7, out, curv + i0, NULL); /* H·v, v = shifted w */
        h = fnv(h, out, (size_t)(d + 2) * sizeof *out);
        isa->eval(s, i0, n, w, w[d], 1.7, out);
        h = fnv(h, out, 2 * sizeof *out);
    }
    dz_acc_result(&acc, out);
    h = fnv(h, out, (size_t)(d + 2) * sizeof *out);
    dz_acc_free(&acc);
    return h;
}

/* The softmax block kernels of one path: gradient (saving A), H·v, evaluation with the
 * confusion counts, in blocks of 13 rows, hashed. */
static uint64_t run_spath(const dz_kernel_isa *isa, dz_shard *s, int64_t K, const double *W,
                          double *out, double *A, double *scr)
{
    uint64_t h = 1469598103934665603ULL;
    const int64_t d = s->d, n = K * d + K + 1;
    for (int64_t i0 = 0; i0 < s->rows; i0 += 13) {
        int64_t r = s->rows - i0 < 13 ? s->rows - i0 : 13;
        isa->sgrad(s, i0, r, K, W, W + K * d, 1.7, out, NULL, A + i0 * K, scr);
        h = fnv(h, out, (size_t)n * sizeof *out);
        h = fnv(h, A + i0 * K, (size_t)(r * K) * sizeof *A);
        isa->sgrad(s, i0, r, K, W + 1, W + 1 + K * d, 1.7, out, A + i0 * K, NULL, scr);
        h = fnv(h, out, (size_t)n * sizeof *out);
        isa->seval(s, i0, r, K, W, W + K * d, 1.7, out, 1, scr);
        h = fnv(h, out, (size_t)(2 + K * K) * sizeof *out);
    }
    return h;
}

/* Every path gives the same softmax bits; returns the hash of the first. */
static uint64_t check_softmax_paths(void)
{
    const dz_dtype types[] = {DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64};
    const int64_t ds[] = {1, 7, 8, 9, 17, 100}, Ks[] = {2, 3, 4, 5, 10, 11};
    uint64_t all = 1469598103934665603ULL;
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 6; di++)
            for (int ki = 0; ki < 6; ki++) {
                dz_shard s;
                const int64_t d = ds[di], K = Ks[ki], m = 41;
                make_shard(&s, types[ti], m, d, 8);
                for (int64_t i = 0; i < m; i++)
                    s.y[i] = floor(urand() * (double)K);
                double *W = malloc((size_t)(K * d + K + 1) * sizeof *W);
                double *out = malloc((size_t)(K * d + K + 1 + K * K + 2) * sizeof *out);
                double *A = malloc((size_t)(m * K) * sizeof *A);
                double *scr = malloc((size_t)dz_kernel_scratch(K) * sizeof *scr);
                for (int64_t j = 0; j < K * d + K + 1; j++)
                    W[j] = (types[ti] == DZ_DTYPE_U8 ? 0.004 : 0.5) * (2 * urand() - 1);
                uint64_t first = 0;
                for (int k = 0; dz_kernel_isa_get(k); k++) {
                    const dz_kernel_isa *isa = dz_kernel_isa_get(k);
                    if (!dz_kernel_isa_supported(isa))
                        continue;
                    uint64_t h = run_spath(isa, &s, K, W, out, A, scr);
                    if (!first)
                        first = h;
                    CHECK(h == first, "softmax %s d=%lld K=%lld: path %s differs from the first path",
                          dz_dtype_name(types[ti]), (long long)d, (long long)K, dz_kernel_isa_name(isa));
                }
                all = fnv(all, &first, sizeof first);
                free(W); free(out); free(A); free(scr);
                free(s.x); free(s.y); free(s.maxabs);
            }
    return all;
}

int main(void)
{
    check_math();
    const dz_dtype types[] = {DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64};
    const int64_t ds[] = {1, 7, 8, 15, 16, 17, 63, 100, 257};
    uint64_t all = 1469598103934665603ULL;
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 9; di++) {
            dz_shard s;
            int64_t d = ds[di];
            make_shard(&s, types[ti], 41, d, 8);
            double *w = malloc((size_t)(d + 2) * sizeof *w), *out = malloc((size_t)(d + 2) * sizeof *out),
                   *curv = malloc(41 * sizeof *curv);
            for (int64_t j = 0; j < d + 2; j++)
                w[j] = (types[ti] == DZ_DTYPE_U8 ? 0.004 : 0.5) * (2 * urand() - 1);
            uint64_t first = 0;
            for (int k = 0; dz_kernel_isa_get(k); k++) {
                const dz_kernel_isa *isa = dz_kernel_isa_get(k);
                if (!dz_kernel_isa_supported(isa))
                    continue;
                uint64_t h = run_path(isa, &s, w, out, curv);
                if (!first)
                    first = h;
                CHECK(h == first, "%s d=%lld: path %s differs from the first path",
                      dz_dtype_name(types[ti]), (long long)d, dz_kernel_isa_name(isa));
            }
            all = fnv(all, &first, sizeof first);
            free(w); free(out); free(curv);
            free(s.x); free(s.y); free(s.maxabs);
        }
    uint64_t sm = check_softmax_paths();
    all = fnv(all, &sm, sizeof sm);
    printf("kernel bits hash: %016llx\n", (unsigned long long)all);
    for (int k = 0; dz_kernel_isa_get(k); k++)
        printf("path %s: %s\n", dz_kernel_isa_name(dz_kernel_isa_get(k)),
               dz_kernel_isa_supported(dz_kernel_isa_get(k)) ? "compared" : "not on this CPU");
    printf("isa: %d passed, %d failed\n", passes, fails);
    return fails ? 1 : 0;
}
