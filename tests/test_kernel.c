/* test_kernel.c — the fused block kernel against the naive reference, the OpenMP pass at
 * several thread counts (bit-identical in reproducible mode), a finite-difference check of
 * the gradient against the loss, and the stable loss at saturating z.  Exits 1 on failure. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/kernel.h"

#include "dzcheck.h"
#include "dzshard.h"

static double loss_of(const dz_shard *s, const double *w, double b, double scale)
{
    double out[2], tot = 0;
    for (int64_t i = 0; i < s->rows; i++) {
        dz_block_eval(s, i, 1, w, b, scale, out);
        tot += out[0];
    }
    return tot / (double)s->rows;
}

/* Softmax block kernel against the naive reference (gradient, loss and H·v with the saved A),
 * the OpenMP pass at T = 1, 2, 3 (bit-identical), finite differences of the loss, and finite
 * loss at extreme logits. */
static void check_softmax(void)
{
    const dz_dtype types[] = {DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64};
    const int64_t ds[] = {1, 7, 8, 9, 33, 100}, Ks[] = {2, 3, 5, 10, 11}, ms[] = {1, 9, 37};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 6; di++)
            for (int ki = 0; ki < 5; ki++)
                for (int mi = 0; mi < 3; mi++) {
                    dz_dtype t = types[ti];
                    int64_t d = ds[di], K = Ks[ki], m = ms[mi], n = K * d + K + 1;
                    double scale = t == DZ_DTYPE_U8 ? 255.0 : 1.0;
                    dz_shard s;
                    make_shard(&s, t, m, d, 4);
                    for (int64_t i = 0; i < m; i++)
                        s.y[i] = floor(urand() * (double)K);
                    double *W = malloc((size_t)(K * d + K + 1) * sizeof(double)); /* + 1: v = W + 1 */
                    for (int64_t j = 0; j < K * d + K + 1; j++)
                        W[j] = (urand() - 0.5) * 6 / sqrt((double)d);
                    const double *bv = W + K * d;
                    double *fast = malloc((size_t)n * sizeof(double)), *ref = malloc((size_t)n * sizeof(double));
                    double *A = malloc((size_t)(m * K) * sizeof(double)), *mag = malloc((size_t)n * sizeof(double));
                    dz_block_sgrad(&s, 0, m, K, W, bv, scale, fast, NULL, A);
                    dz_block_sgrad_ref(&s, 0, m, K, W, bv, scale, NULL, ref);
                    for (int64_t k = 0; k < K; k++) {
                        for (int64_t j = 0; j < d; j++)
                            mag[k * d + j] = (double)m * s.maxabs[j] + 1e-300;
                        mag[K * d + k] = (double)m;
                    }
                    mag[n - 1] = fabs(ref[n - 1]) + 1e-300;
                    double worst = 0;
                    for (int64_t j = 0; j < n; j++)
                        worst = fmax(worst, fabs(fast[j] - ref[j]) / mag[j]);
                    CHECK(worst < 1e-13, "softmax %s d=%lld K=%lld m=%lld: fused vs reference rel err %.3g",
                          dz_dtype_name(t), (long long)d, (long long)K, (long long)m, worst);
                    /* H·v with the saved A, v = W shifted */
                    double *v = W + 1;
                    dz_block_sgrad(&s, 0, m, K, v, v + K * d, scale, fast, A, NULL);
                    dz_block_sgrad_ref(&s, 0, m, K, v, v + K * d, scale, A, ref);
                    worst = 0;
                    for (int64_t j = 0; j < n - 1; j++)
                        worst = fmax(worst, fabs(fast[j] - ref[j]) / (mag[j] * 10));
                    CHECK(worst < 1e-13 && fast[n - 1] == 0,
                          "softmax H·v %s d=%lld K=%lld m=%lld: fused vs reference rel err %.3g",
                          dz_dtype_name(t), (long long)d, (long long)K, (long long)m, worst);
                    /* the pass over blocks of 4 rows at T = 1, 2, 3: the same bits */
                    double *tot[3];
                    for (int T = 1; T <= 3; T++) {
                        dz_work wk;
                        CHECK(dz_work_init(&wk, d, K, T, 1) == 0, "softmax work init");
                        for (int64_t j = 0; j < n - 1; j++)
                            dz_acc_set_bound(&wk.grad[0], j, 2.0 * mag[j]);
                        dz_acc_set_bound(&wk.grad[0], n - 1, 2.0 * (double)m * 1000);
                        dz_pass ps = {.mode = DZ_PASS_GRAD, .w = W, .bv = bv, .scale = scale};
                        dz_kernel_run(&s, &wk, &ps);
                        tot[T - 1] = malloc((size_t)n * sizeof(double));
                        dz_acc_result(&wk.grad[0], tot[T - 1]);
                        dz_work_free(&wk);
                    }
                    CHECK(!memcmp(tot[0], tot[1], (size_t)n * sizeof(double)) &&
                              !memcmp(tot[0], tot[2], (size_t)n * sizeof(double)),
                          "softmax %s d=%lld K=%lld m=%lld: pass differs between 1, 2, 3 threads",
                          dz_dtype_name(t), (long long)d, (long long)K, (long long)m);
                    /* finite differences of the mean loss against the gradient */
                    if (m == 37 && d <= 9 && K <= 5) {
                        dz_block_sgrad(&s, 0, m, K, W, bv, scale, ref, NULL, NULL);
                        for (int64_t j = 0; j < K * d + K; j += 3) {
                            double h = 1e-6, keep = W[j];
                            W[j] = keep + h;
                            dz_block_sgrad(&s, 0, m, K, W, bv, scale, fast, NULL, NULL);
                            double lp = fast[n - 1];
                            W[j] = keep - h;
                            dz_block_sgrad(&s, 0, m, K, W, bv, scale, fast, NULL, NULL);
                            double lm = fast[n - 1];
                            W[j] = keep;
                            double fd = (lp - lm) / (2 * h) / (double)m;
                            double an = (j < K * d ? ref[j] / scale : ref[j]) / (double)m;
                            CHECK(fabs(fd - an) <= 1e-7 * (1 + fabs(an)),
                                  "softmax %s d=%lld K=%lld: finite difference %lld: %.12g vs analytic %.12g",
                                  dz_dtype_name(t), (long long)d, (long long)K, (long long)j, fd, an);
                        }
                    }
                    for (int T = 0; T < 3; T++) free(tot[T]);
                    free(W); free(fast); free(ref); free(A); free(mag);
                    dz_shard_free(&s);
                }
    /* extreme logits (|z| ~ 1e3): finite loss, exact limits */
    dz_shard s;
    make_shard(&s, DZ_DTYPE_F64, 3, 1, 4);
    ((double *)s.x)[0] = 1; ((double *)s.x)[1] = 1; ((double *)s.x)[2] = 1;
    s.y[0] = 0; s.y[1] = 1; s.y[2] = 2;
    double W[6] = {1000, -1000, 0, 0, 0, 0}, out[3 * 1 + 3 + 1];
    dz_block_sgrad(&s, 0, 3, 3, W, W + 3, 1.0, out, NULL, NULL);
    /* row losses: 0, 2000, 1000 (+ log 1 + e^-1000 ... = exact) */
    CHECK(out[6] == 3000.0 && isfinite(out[0]) && isfinite(out[3]),
          "softmax extreme logits: loss %.17g (expected 3000), grad %g", out[6], out[0]);
    dz_shard_free(&s);
}

int main(void)
{
    check_softmax();
    const dz_dtype types[] = {DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64};
    const int64_t ds[] = {1, 3, 7, 8, 9, 33, 1000};
    const int64_t ms[] = {1, 5, 37};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 7; di++)
            for (int mi = 0; mi < 3; mi++) {
                dz_dtype t = types[ti];
                int64_t d = ds[di], m = ms[mi];
                double scale = t == DZ_DTYPE_U8 ? 255.0 : 1.0;
                dz_shard s;
                make_shard(&s, t, m, d, 4);
                double *w = malloc((size_t)(d + 1) * sizeof(double));
                for (int64_t j = 0; j <= d; j++)
                    w[j] = (urand() - 0.5) * 6 / sqrt((double)d);
                double *fast = malloc((size_t)(d + 2) * sizeof(double));
                double *ref = malloc((size_t)(d + 2) * sizeof(double));
                double *mag = calloc((size_t)(d + 2), sizeof(double));
                dz_block_grad(&s, 0, m, w, w[d], scale, fast);
                dz_block_grad_ref(&s, 0, m, w, w[d], scale, ref);
                /* tolerance relative to the sum of |terms| (what float64 can promise) */
                for (int64_t j = 0; j < d; j++)
                    mag[j] = (double)m * s.maxabs[j] + 1e-300;
                mag[d] = (double)m;
                mag[d + 1] = fabs(ref[d + 1]) + 1e-300;
                double worst = 0;
                for (int64_t j = 0; j < d + 2; j++) {
                    double r = fabs(fast[j] - ref[j]) / mag[j];
                    if (r > worst) worst = r;
                }
                CHECK(worst < 1e-13, "%s d=%lld m=%lld: fused vs reference rel err %.3g",
                      dz_dtype_name(t), (long long)d, (long long)m, worst);

                /* OpenMP pass at T = 1, 2, 3: bit-identical totals, close to the reference */
                double *tot[3];
                for (int T = 1; T <= 3; T++) {
                    dz_work wk;
                    CHECK(dz_work_init(&wk, d, 0, T, 1) == 0, "work init");
                    for (int64_t j = 0; j < d; j++)
                        dz_acc_set_bound(&wk.grad[0], j, 2.0 * (double)m * s.maxabs[j]);
                    dz_acc_set_bound(&wk.grad[0], d, 2.0 * (double)m);
                    dz_acc_set_bound(&wk.grad[0], d + 1, 2.0 * (double)m * 1000);
                    dz_kernel_pass(&s, w, w[d], scale, &wk, 0);
                    tot[T - 1] = malloc((size_t)(d + 2) * sizeof(double));
                    dz_acc_result(&wk.grad[0], tot[T - 1]);
                    dz_work_free(&wk);
                }
                CHECK(!memcmp(tot[0], tot[1], (size_t)(d + 2) * sizeof(double)) &&
                          !memcmp(tot[0], tot[2], (size_t)(d + 2) * sizeof(double)),
                      "%s d=%lld m=%lld: pass differs between 1, 2, 3 threads", dz_dtype_name(t),
                      (long long)d, (long long)m);
                worst = 0;
                for (int64_t j = 0; j < d + 2; j++) {
                    double r = fabs(tot[0][j] - ref[j]) / mag[j];
                    if (r > worst) worst = r;
                }
                CHECK(worst < 1e-13, "%s d=%lld m=%lld: pass vs reference rel err %.3g",
                      dz_dtype_name(t), (long long)d, (long long)m, worst);
                for (int T = 0; T < 3; T++) free(tot[T]);

                /* finite differences: dJ/dw_j = (1/m) Σ dz x_ij / scale, dJ/db = (1/m) Σ dz */
                if (m == 37 && d <= 33) {
                    for (int64_t j = 0; j <= d; j += (d > 8 ? 5 : 1)) {
                        double h = 1e-6, keep = w[j];
                        w[j] = keep + h;
                        double lp = loss_of(&s, w, w[d], scale);
                        w[j] = keep - h;
                        double lm = loss_of(&s, w, w[d], scale);
                        w[j] = keep;
                        double fd = (lp - lm) / (2 * h);
                        double an = (j < d ? ref[j] / scale : ref[d]) / (double)m;
                        CHECK(fabs(fd - an) <= 1e-7 * (1 + fabs(an)),
                              "%s d=%lld: finite difference %zu: %.12g vs analytic %.12g",
                              dz_dtype_name(t), (long long)d, (size_t)j, fd, an);
                    }
                }
                free(w); free(fast); free(ref); free(mag);
                dz_shard_free(&s);
            }

    /* stable loss: saturating z gives exact limits, never NaN/Inf */
    struct { double z, y, loss, a; } cases[] = {
        {800, 0, 800, 1}, {800, 1, 0, 1}, {-800, 1, 800, 0}, {-800, 0, 0, 0},
        {0, 1, log(2.0), 0.5}, {0, 0, log(2.0), 0.5}, {40, 0, 40 + log1p(exp(-40.0)), 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double a, l;
        dz_logistic(cases[k].z, cases[k].y, &a, &l);
        CHECK(isfinite(l) && fabs(l - cases[k].loss) <= 1e-15 * (1 + cases[k].loss) &&
                  fabs(a - cases[k].a) <= 1e-15,
              "logistic(z=%g, y=%g): a=%.17g loss=%.17g, expected a=%g loss=%.17g", cases[k].z,
              cases[k].y, a, l, cases[k].a, cases[k].loss);
    }
    printf("kernel: %d passed, %d failed\n", passes, fails);
    return fails ? 1 : 0;
}
