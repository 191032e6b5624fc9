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

int main(void)
{
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
                    CHECK(dz_work_init(&wk, d, T, 1) == 0, "work init");
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
