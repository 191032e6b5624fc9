/* dz/dzmath.h — exp and log1p with a fixed operation order, so the loss and a = σ(z) are the
 * same bits on every machine and every kernel path.
 *
 * Why not libm: glibc picks exp/log1p variants at run time (FMA and non-FMA builds of the
 * same algorithm, via ifunc), other libms round differently, and any of them may change
 * between versions.  These use only IEEE basic operations and fma(), which are correctly
 * rounded by definition, in an order fixed here; compile them with -ffp-contract=off
 * (the project does), and fma() is either the hardware instruction or libm's exact one.
 *
 *   dz_exp_neg(x)   e^x for x <= 0 (the kernel needs e^(−|z|)): x = k ln2 + r with
 *                   |r| <= ln2/2 (Cody–Waite, fma), e^r by its Taylor polynomial to r^13
 *                   (truncation < 2^−58), then the exponent k is added (two exact steps
 *                   when the result is subnormal); 0 below −745.2.
 *   dz_log1p01(e)   log(1 + e) for 0 <= e <= 1: u = 1 + e rounded, with the rounding error
 *                   c = e − (u − 1) kept exactly; u = 2^k (1 + f), f in [√½ − 1, √2 − 1];
 *                   log(1 + f) = f − f²/2 + s (f²/2 + R), s = f/(2 + f), R the series of
 *                   2 atanh's terms in s² to s^20 (truncation < 2^−60); plus k·ln2 and c/u.
 *   dz_log_ge1(x)   log x for x >= 1 (the softmax's log Σ e^(z_k − max z), Σ in [1, K]):
 *                   x = 2^k v with v in [√½, √2] from the bits, then the same series.
 * All are within 1 ulp of the true value over their domains (test `math` checks them
 * against long double at random and edge arguments).  Not collective; no state.
 */
#ifndef DZ_DZMATH_H
#define DZ_DZMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The constants of both functions, shared with the vector versions in src/kernel_isa.c (which
 * must apply exactly the same operations per lane). */
#define DZ_INV_LN2 1.4426950408889634
#define DZ_LN2_HI 0.6931471805599453
#define DZ_LN2_LO 2.3190468138462996e-17
#define DZ_SHIFTER 6755399441055744.0 /* 1.5·2^52: x + it − it rounds x to an integer */
/* Taylor coefficients of e^r, 1/n! for n = 13 … 0 (Horner order) */
static const double dz_exp_c[14] = {1.6059043836821613e-10, 2.08767569878681e-09,
                                    2.505210838544172e-08,  2.7557319223985893e-07,
                                    2.755731922398589e-06,  2.48015873015873e-05,
                                    0.0001984126984126984,  0.001388888888888889,
                                    0.008333333333333333,   0.041666666666666664,
                                    0.16666666666666666,    0.5, 1.0, 1.0};
/* 2/(2i+1) for i = 10 … 1: the log series R = z·Σ 2/(2i+1) z^(i−1) (Horner order) */
static const double dz_log_t[10] = {0.09523809523809523, 0.10526315789473684,
                                    0.11764705882352941, 0.13333333333333333,
                                    0.15384615384615385, 0.18181818181818182,
                                    0.2222222222222222,  0.2857142857142857,
                                    0.4,                 0.6666666666666666};

static inline double dz_pow2i(int64_t k) /* 2^k for −1022 <= k <= 1023 */
{
    uint64_t b = (uint64_t)(k + 1023) << 52;
    double r;
    memcpy(&r, &b, sizeof r);
    return r;
}

static inline double dz_exp_neg(double x)
{
    if (!(x > -745.2))
        return x != x ? x : 0.0; /* NaN stays NaN */
    double kd = (x * DZ_INV_LN2 + DZ_SHIFTER) - DZ_SHIFTER; /* round to nearest integer */
    double r = fma(-kd, DZ_LN2_HI, x);
    r = fma(-kd, DZ_LN2_LO, r);
    double p = dz_exp_c[0]; /* Horner with fma */
    for (int i = 1; i < 14; i++)
        p = fma(p, r, dz_exp_c[i]);
    int64_t k = (int64_t)kd;
    if (k >= -1021)
        return p * dz_pow2i(k);
    return (p * dz_pow2i(k + 600)) * dz_pow2i(-600); /* subnormal: one rounding, the last */
}

/* log(2^k (1 + f)) + lo, f in [√½ − 1, √2 − 1] exact, lo a tiny correction (the part of
 * the argument lost in rounding, divided by it): the tail both logs share. */
static inline double dz_log_tail(double f, double k, double lo_arg)
{
    double s = f / (2.0 + f), z = s * s, hfsq = 0.5 * f * f;
    double R = dz_log_t[0];
    for (int i = 1; i < 10; i++)
        R = fma(R, z, dz_log_t[i]);
    R = R * z;
    double lo = fma(k, DZ_LN2_LO, lo_arg);
    return fma(k, DZ_LN2_HI, -((hfsq - fma(s, hfsq + R, lo)) - f));
}

static inline double dz_log1p01(double e)
{
    double u = 1.0 + e;
    double c = e - (u - 1.0); /* exact: the part of e lost in 1 + e */
    double k = 0.0, v = u;
    if (u > 1.4142135623730951) {
        v = 0.5 * u; /* exact */
        k = 1.0;
    }
    return dz_log_tail(v - 1.0 /* exact (Sterbenz) */, k, c / u);
}

static inline double dz_log_ge1(double x)
{
    if (!(x < 1.79769313486231570e308))
        return x; /* NaN and +Inf stay */
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    double k = (double)((int64_t)((bits >> 52) & 0x7ff) - 1023), v;
    bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL; /* v = x / 2^k in [1, 2) */
    memcpy(&v, &bits, sizeof v);
    if (v > 1.4142135623730951) {
        v = 0.5 * v; /* exact */
        k += 1.0;
    }
    return dz_log_tail(v - 1.0 /* exact (Sterbenz) */, k, 0.0);
}

#endif
