/* kernel_isa.c — the block kernels of one instruction-set path (see dz/kernel.h).
 *
 * Compiled once per path (CMake: generic = the x86-64 or aarch64 baseline, avx2 = AVX2 +
 * FMA, avx512 = AVX-512F/BW); DZ_ISA_ID names the path and the exported table
 * dz_isa_<path>.  kernel.c picks one at run time.
 *
 * Same bits on every path.  Every path uses one logical layout: vectors of 8 float64 lanes
 * (one register with AVX-512, two with AVX2, four SSE2 registers on the baseline), the same
 * per-lane operations, the same reduction tree (hsum) and the same scalar tails.  Every
 * multiply-add that is fused is fused explicitly (vfma, fma()): the AVX paths use the FMA
 * instructions, the baseline libm's fma(), which is exact by definition; this file is
 * compiled with -ffp-contract=off, so nothing else is fused.  exp and log1p are dzmath.h's.
 * So a block gives the same bits on every path and every machine (test `isa`).
 *
 * Shapes: x is rows × d (row-major, type T), w is d (double), out is d + 2 (double).
 * Rows are taken DZ_TILE (8) at a time: one load of w serves eight dot products, then the
 * gradient update adds the eight rows' dz·x in row order while they are still in cache, and
 * prefetches the next tile from memory meanwhile (the tile's reuse would otherwise leave the
 * memory bus idle).  Features are widened to double as they are loaded, so uint8 and float32
 * data stay compact in memory.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "dz/dzmath.h"
#include "kernel_isa.h"

#ifndef DZ_ISA_ID
#error "compile with -DDZ_ISA_ID=generic|avx2|avx512"
#endif
#define DZ_CAT2(a, b) a##b
#define DZ_CAT(a, b) DZ_CAT2(a, b)
#define DZ_STR2(a) #a
#define DZ_STR(a) DZ_STR2(a)

#define VW 8 /* logical lanes on every path */
#ifndef DZ_TILE
#define DZ_TILE 8 /* rows per tile */
#endif
typedef double vd __attribute__((vector_size(VW * 8)));
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef uint8_t vu8 __attribute__((vector_size(VW)));

static inline vd load_f64(const double *p) { vd v; memcpy(&v, p, sizeof v); return v; }
static inline void store_f64(double *p, vd v) { memcpy(p, &v, sizeof v); }

#if defined(__AVX512F__)
static inline vd load_f32(const float *p) { return (vd)_mm512_cvtps_pd(_mm256_loadu_ps(p)); }
static inline vd load_u8(const uint8_t *p)
{
    return (vd)_mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline vd vfma(vd a, vd b, vd c)
{
    return (vd)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
}
#elif defined(__AVX2__) && defined(__FMA__)
typedef union { vd v; __m256d h[2]; } vd2;
static inline vd load_f32(const float *p)
{
    vd2 r = {.h = {_mm256_cvtps_pd(_mm_loadu_ps(p)), _mm256_cvtps_pd(_mm_loadu_ps(p + 4))}};
    return r.v;
}
static inline vd load_u8(const uint8_t *p)
{
    int32_t lo, hi;
    memcpy(&lo, p, sizeof lo);
    memcpy(&hi, p + 4, sizeof hi);
    vd2 r = {.h = {_mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(lo))),
                   _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(hi)))}};
    return r.v;
}
static inline vd vfma(vd a, vd b, vd c)
{
    vd2 x = {.v = a}, y = {.v = b}, z = {.v = c}, r;
    r.h[0] = _mm256_fmadd_pd(x.h[0], y.h[0], z.h[0]);
    r.h[1] = _mm256_fmadd_pd(x.h[1], y.h[1], z.h[1]);
    return r.v;
}
#else
static inline vd load_f32(const float *p) { vf v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, vd); }
static inline vd load_u8(const uint8_t *p)
{
    vu8 v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(__builtin_convertvector(v, vi), vd);
}
static inline vd vfma(vd a, vd b, vd c)
{
    vd r;
    for (int l = 0; l < VW; l++)
        r[l] = fma(a[l], b[l], c[l]);
    return r;
}
#endif

static inline double hsum(vd v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* all lanes = x (one broadcast instruction on the AVX paths; a lane loop compiles to eight) */
static inline vd splat(double x)
{
#if defined(__AVX512F__)
    return (vd)_mm512_set1_pd(x);
#elif defined(__AVX2__)
    vd2 r = {.h = {_mm256_set1_pd(x), _mm256_set1_pd(x)}};
    return r.v;
#else
    vd v;
    for (int l = 0; l < VW; l++)
        v[l] = x;
    return v;
#endif
}

/* Stable per-row logistic from e = exp(−|z|): a = σ(z), loss = softplus(z) − y·z (never
 * log 0); the curvature a(1 − a) = e/(1+e)² keeps full relative precision. */
static inline void logistic_e(double z, double y, double *a, double *loss, double *e_out)
{
    double e = dz_exp_neg(-fabs(z)); /* in (0, 1] */
    double sp = dz_log1p01(e);       /* softplus(−|z|) */
    if (z >= 0) {
        *a = 1.0 / (1.0 + e);
        *loss = fma(1.0 - y, z, sp);
    } else {
        *a = e / (1.0 + e);
        *loss = fma(-y, z, sp);
    }
    *e_out = e;
}

static void logistic(double z, double y, double *a, double *loss)
{
    double e;
    logistic_e(z, y, a, loss, &e);
}

/* One row's coefficient c (a − y for the gradient, D·u for H·v) and loss, from its dot
 * product z = w·x (or v·x): the only per-row code the block kernels share. */
static inline double row_coef(double z, int64_t i, const double *y, double b, double scale,
                              const double *hvd, double *dsave, double *sloss)
{
    if (hvd)
        return hvd[i] * (b + z / scale);
    double a, l, e;
    logistic_e(b + z / scale, y[i], &a, &l, &e);
    if (dsave) {
        double q = 1.0 + e;
        dsave[i] = e / (q * q);
    }
    *sloss += l;
    return a - y[i];
}

/* One generator for each feature type T with vector load LOAD.  R = DZ_TILE rows per tile;
 * the loops over r have a constant trip count and are unrolled by the compiler. */
#define DEFINE_KERNELS(T, SUF, LOAD)                                                         \
    /* z of one row: 2·VW lanes, then the tail in order */                                   \
    static inline double dot1_##SUF(const T *x, const double *w, int64_t d)                  \
    {                                                                                        \
        vd a0 = splat(0), a1 = splat(0);                                                     \
        int64_t j = 0;                                                                       \
        for (; j + 2 * VW <= d; j += 2 * VW) {                                               \
            a0 = vfma(load_f64(w + j), LOAD(x + j), a0);                                     \
            a1 = vfma(load_f64(w + j + VW), LOAD(x + j + VW), a1);                           \
        }                                                                                    \
        double s = hsum(a0 + a1);                                                            \
        for (; j < d; j++)                                                                   \
            s = fma(w[j], (double)x[j], s);                                                  \
        return s;                                                                            \
    }                                                                                        \
    /* the same for R rows at once (one load of w serves R rows): same per-row order */      \
    static inline void dotR_##SUF(const T *x0, int64_t d, const double *w, double z[DZ_TILE]) \
    {                                                                                        \
        vd a[DZ_TILE][2];                                                                    \
        for (int r = 0; r < DZ_TILE; r++)                                                    \
            a[r][0] = a[r][1] = splat(0);                                                    \
        int64_t j = 0;                                                                       \
        for (; j + 2 * VW <= d; j += 2 * VW) {                                               \
            vd w0 = load_f64(w + j), w1 = load_f64(w + j + VW);                              \
            for (int r = 0; r < DZ_TILE; r++) {                                              \
                a[r][0] = vfma(w0, LOAD(x0 + r * d + j), a[r][0]);                           \
                a[r][1] = vfma(w1, LOAD(x0 + r * d + j + VW), a[r][1]);                      \
            }                                                                                \
        }                                                                                    \
        for (int r = 0; r < DZ_TILE; r++) {                                                  \
            double s = hsum(a[r][0] + a[r][1]);                                              \
            for (int64_t k = j; k < d; k++)                                                  \
                s = fma(w[k], (double)x0[r * d + k], s);                                     \
            z[r] = s;                                                                        \
        }                                                                                    \
    }                                                                                        \
    static void grad_##SUF(const T *x, const double *y, int64_t n, int64_t d,                \
                           const double *w, double b, double scale, double *out,             \
                           const double *hvd, double *dsave)                                 \
    {                                                                                        \
        memset(out, 0, (size_t)(d + 2) * sizeof(double));                                    \
        double sdz = 0, sloss = 0;                                                           \
        int64_t i = 0;                                                                       \
        for (; i + DZ_TILE <= n; i += DZ_TILE) {                                             \
            const T *x0 = x + i * d;                                                         \
            double z[DZ_TILE], dz[DZ_TILE];                                                  \
            dotR_##SUF(x0, d, w, z);                                                         \
            for (int r = 0; r < DZ_TILE; r++) {                                              \
                dz[r] = row_coef(z[r], i + r, y, b, scale, hvd, dsave, &sloss);              \
                sdz += dz[r];                                                                \
            }                                                                                \
            vd c[DZ_TILE];                                                                   \
            for (int r = 0; r < DZ_TILE; r++)                                                \
                c[r] = splat(dz[r]);                                                         \
            /* rows of the next tile: fetched from memory while this tile is reused */       \
            const T *nx = x0 + DZ_TILE * d;                                                  \
            enum { JB = 64 / sizeof(T) > VW ? 64 / sizeof(T) : VW }; /* one cache line */    \
            int64_t j = 0;                                                                   \
            for (; j + JB <= d; j += JB) {                                                   \
                for (int r = 0; r < DZ_TILE; r++)                                            \
                    __builtin_prefetch(nx + r * d + j, 0, 2);                                \
                for (int v = 0; v < JB / VW; v++) {                                          \
                    vd g = load_f64(out + j + v * VW);                                       \
                    for (int r = 0; r < DZ_TILE; r++)                                        \
                        g = vfma(c[r], LOAD(x0 + r * d + j + v * VW), g);                    \
                    store_f64(out + j + v * VW, g);                                          \
                }                                                                            \
            }                                                                                \
            for (; j + VW <= d; j += VW) {                                                   \
                vd g = load_f64(out + j);                                                    \
                for (int r = 0; r < DZ_TILE; r++)                                            \
                    g = vfma(c[r], LOAD(x0 + r * d + j), g);                                 \
                store_f64(out + j, g);                                                       \
            }                                                                                \
            for (; j < d; j++) {                                                             \
                double g = out[j];                                                           \
                for (int r = 0; r < DZ_TILE; r++)                                            \
                    g = fma(dz[r], (double)x0[r * d + j], g);                                \
                out[j] = g;                                                                  \
            }                                                                                \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            const T *xi = x + i * d;                                                         \
            double dz = row_coef(dot1_##SUF(xi, w, d), i, y, b, scale, hvd, dsave, &sloss);  \
            sdz += dz;                                                                       \
            for (int64_t j = 0; j < d; j++)                                                  \
                out[j] = fma(dz, (double)xi[j], out[j]);                                     \
        }                                                                                    \
        out[d] = sdz;                                                                        \
        out[d + 1] = sloss;                                                                  \
    }                                                                                        \
    static void eval_##SUF(const T *x, const double *y, int64_t n, int64_t d,                \
                           const double *w, double b, double scale, double *out)             \
    {                                                                                        \
        double sloss = 0, ok = 0;                                                            \
        for (int64_t i = 0; i < n; i++) {                                                    \
            double a, l;                                                                     \
            logistic(b + dot1_##SUF(x + i * d, w, d) / scale, y[i], &a, &l);                 \
            sloss += l;                                                                      \
            ok += (a > 0.5) == (y[i] == 1.0);                                                \
        }                                                                                    \
        out[0] = sloss;                                                                      \
        out[1] = ok;                                                                         \
    }

DEFINE_KERNELS(uint8_t, u8, load_u8)
DEFINE_KERNELS(float, f32, load_f32)
DEFINE_KERNELS(double, f64, load_f64)

/* ---- softmax (K classes) ----------------------------------------------------------------
 * Per row r of a tile: z_rk = b_k + (W_k·x_r)/scale, A = softmax(z) from e_k = exp(z_k − max z)
 * (so no overflow), loss = (max z − z_y) + log Σe (never log 0), c_rk = a_k − [k = y].  The
 * block sums are then G_kj += Σ_r c_rk x_rj (each (k, j) a chain of fma over the rows in row
 * order), Σ_r c_rk and Σ loss.  H·v: with A saved at the point and u = b_v + V x/scale,
 * c_k = a_k (u_k − Σ_l a_l u_l), the multinomial Hessian (diag(a) − a aᵀ) applied to u.
 *
 * Tiles of SM_RG (32) rows: the logits of all of them, then their softmax 8 rows at a time
 * (one row per lane), then one scatter over all of them.  A W block is reused by the 8 row
 * blocks of a tile while it is in L1, and the scatter's gradient tile by 32 rows.
 * Register blocking: the logits of SM_RB rows × SM_KB classes are held in SM_RB·SM_KB vector
 * accumulators (x widened once per load, reused across the classes); the scatter holds a
 * tile of SM_SKB classes × SM_SJB vectors of G in registers over the tile's rows, each row's
 * x widened once and reused across the classes.  Every W_k·x_r is one 8-lane accumulator
 * over j in steps of 8, then hsum, then the tail in order, and every G element a chain of
 * fma over the rows in order, whatever the tile shape: the tile sizes may differ per path
 * without changing a bit. */
#if defined(SM_RB) /* a tile shape given on the command line (experiments) */
#elif defined(__AVX512F__)
#define SM_RB 4 /* logits: 4 × 5 accumulators + 4 x + 1 w: 25 of 32 registers */
#define SM_KB 5
#define SM_SKB 5 /* scatter: 5 classes × 4 vectors of G + 4 x + 1 coefficient: 25 */
#define SM_SJB 4
#else
#define SM_RB 2 /* AVX2: a vector is two registers; 2 × 2 + 2 x + 1 w: 14 of 16 */
#define SM_KB 2
#define SM_SKB 2
#define SM_SJB 2
#endif
#define SM_RT VW         /* rows of one lane group: the lanes of the per-row arithmetic */
#define SM_RG DZ_SM_TILE /* rows of a tile: DZ_SM_TILE / SM_RT lane groups */
/* A tile's scratch (logits z, coefficients c) is class-major per lane group: row r, class k of
 * a tile with K classes sits at ZI(r, k, K). */
#define ZI(r, k, K) ((r) / SM_RT * (K) * SM_RT + (k) * SM_RT + (r) % SM_RT)

/* e^x for 8 lanes of x <= 0: per lane exactly dz_exp_neg's operations (so the same bits),
 * with 2^k made from the bits of k; lanes below −745.2, NaN or with a subnormal result go
 * through the scalar dz_exp_neg. */
typedef int64_t vl __attribute__((vector_size(VW * 8)));
static inline vd vexp_neg(vd x)
{
    vd kd = (x * splat(DZ_INV_LN2) + splat(DZ_SHIFTER)) - splat(DZ_SHIFTER);
    vd r = vfma(-kd, splat(DZ_LN2_HI), x);
    r = vfma(-kd, splat(DZ_LN2_LO), r);
    vd p = splat(dz_exp_c[0]);
    for (int i = 1; i < 14; i++)
        p = vfma(p, r, splat(dz_exp_c[i]));
    vd t = kd + splat(DZ_SHIFTER); /* exact: k in the low bits */
    vl k, sb;
    memcpy(&k, &t, sizeof k);
    t = splat(DZ_SHIFTER);
    memcpy(&sb, &t, sizeof sb);
    k -= sb;
    vl bits = (k + 1023) << 52;
    vd two_k, res;
    memcpy(&two_k, &bits, sizeof two_k);
    res = p * two_k;
    vl bad = (x > splat(-745.2)) == 0;
    bad |= k < -1021;
    for (int l = 0; l < VW; l++)
        if (bad[l])
            res[l] = dz_exp_neg(x[l]);
    return res;
}

static inline vd vsel(vl m, vd a, vd b) /* m ? a : b per lane */
{
    vl x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & m) | (y & ~m);
    memcpy(&a, &x, sizeof a);
    return a;
}

/* log x for 8 lanes of x >= 1: per lane exactly dz_log_ge1's operations; NaN and +Inf lanes
 * through the scalar one. */
static inline vd vlog_ge1(vd x)
{
    vl bits, one;
    memcpy(&bits, &x, sizeof bits);
    vl ke = ((bits >> 52) & 0x7ff) - 1023;
    vd k = __builtin_convertvector(ke, vd), v, res;
    vd o = splat(1.0);
    memcpy(&one, &o, sizeof one);
    bits = (bits & 0x000fffffffffffffLL) | one; /* v = x / 2^k in [1, 2) */
    memcpy(&v, &bits, sizeof v);
    const vl big = v > splat(1.4142135623730951);
    v = vsel(big, v * splat(0.5), v); /* exact */
    k = vsel(big, k + splat(1.0), k);
    const vd f = v - splat(1.0);
    const vd sv = f / (splat(2.0) + f), z = sv * sv, hfsq = splat(0.5) * f * f;
    vd R = splat(dz_log_t[0]);
    for (int i = 1; i < 10; i++)
        R = vfma(R, z, splat(dz_log_t[i]));
    R = R * z;
    const vd lo = vfma(k, splat(DZ_LN2_LO), splat(0.0));
    res = vfma(k, splat(DZ_LN2_HI), -((hfsq - vfma(sv, hfsq + R, lo)) - f));
    vl bad = (x < splat(1.79769313486231570e308)) == 0;
    for (int l = 0; l < VW; l++)
        if (bad[l])
            res[l] = dz_log_ge1(x[l]);
    return res;
}

/* The coefficients of a tile of nr <= SM_RT rows, one row per lane (each lane runs exactly
 * the scalar operations of its row; sums over classes are in class order).  z, c: K × SM_RT
 * (class-major: z[k·SM_RT + r]); z holds the raw dot products W_k·x_r (H·v: V_k·x_r), lanes
 * r >= nr are zero.  hva/asave: A row-major (row r at r·K).  Adds the rows' losses to *sloss
 * in row order; pred[r] = argmax_k z_rk (ties to the lowest k). */
static void smax_tile(const double *z, int64_t nr, int64_t K, const double *bv, double scale,
                      const double *y, const double *hva, double *asave, double *c,
                      double *sloss, int64_t *pred)
{
    const vd vs = splat(scale);
    for (int64_t k = 0; k < K; k++) /* logits (H·v: u) */
        store_f64(c + k * SM_RT, splat(bv[k]) + load_f64(z + k * SM_RT) / vs);
    if (hva) { /* H·v: c_k = a_k (u_k − Σ a_l u_l) */
        vd t = splat(0), a = splat(0);
        for (int64_t k = 0; k < K; k++) {
            for (int r = 0; r < SM_RT; r++)
                a[r] = r < nr ? hva[r * K + k] : 0.0;
            t = vfma(a, load_f64(c + k * SM_RT), t);
        }
        for (int64_t k = 0; k < K; k++) {
            for (int r = 0; r < SM_RT; r++)
                a[r] = r < nr ? hva[r * K + k] : 0.0;
            store_f64(c + k * SM_RT, a * (load_f64(c + k * SM_RT) - t));
        }
        return;
    }
    vd zmax = load_f64(c);
    vl arg = {0};
    for (int64_t k = 1; k < K; k++) {
        vd ck = load_f64(c + k * SM_RT);
        vl m = ck > zmax;
        zmax = vsel(m, ck, zmax);
        arg = (m & k) | (arg & ~m);
    }
    vd zy, sum = splat(0);
    int64_t yi[SM_RT];
    for (int r = 0; r < SM_RT; r++) {
        yi[r] = r < nr ? (int64_t)y[r] : 0;
        zy[r] = c[yi[r] * SM_RT + r];
    }
    for (int64_t k = 0; k < K; k++) {
        vd e = vexp_neg(load_f64(c + k * SM_RT) - zmax);
        store_f64(c + k * SM_RT, e);
        sum = sum + e;
    }
    vd loss = (zmax - zy) + vlog_ge1(sum);
    for (int r = 0; r < nr; r++)
        *sloss += loss[r];
    for (int64_t k = 0; k < K; k++) {
        vd a = load_f64(c + k * SM_RT) / sum;
        store_f64(c + k * SM_RT, a);
        if (asave)
            for (int r = 0; r < nr; r++)
                asave[r * K + k] = a[r];
    }
    for (int r = 0; r < nr; r++) {
        c[yi[r] * SM_RT + r] -= 1.0;
        pred[r] = arg[r];
    }
}

/* z[k·SM_RT + r] = W_k·x_r for RB rows from x0 and KB classes from W (one tile shape). */
#define DEFINE_SDOT(T, SUF, LOAD, NAME, RB, KB)                                              \
    static inline void NAME##_##SUF(const T *x0, int64_t d, const double *W, double *z)      \
    {                                                                                        \
        vd acc[RB][KB];                                                                      \
        for (int r = 0; r < RB; r++)                                                         \
            for (int k = 0; k < KB; k++)                                                     \
                acc[r][k] = splat(0);                                                        \
        int64_t j = 0;                                                                       \
        for (; j + VW <= d; j += VW) {                                                       \
            vd xv[RB];                                                                       \
            for (int r = 0; r < RB; r++)                                                     \
                xv[r] = LOAD(x0 + r * d + j);                                                \
            for (int k = 0; k < KB; k++) {                                                   \
                vd wv = load_f64(W + k * d + j);                                             \
                for (int r = 0; r < RB; r++)                                                 \
                    acc[r][k] = vfma(wv, xv[r], acc[r][k]);                                  \
            }                                                                                \
        }                                                                                    \
        for (int r = 0; r < RB; r++)                                                         \
            for (int k = 0; k < KB; k++) {                                                   \
                double s = hsum(acc[r][k]);                                                  \
                for (int64_t t = j; t < d; t++)                                              \
                    s = fma(W[k * d + t], (double)x0[r * d + t], s);                         \
                z[k * SM_RT + r] = s;                                                        \
            }                                                                                \
    }

/* G[k][j + l] += Σ_r C[ZI(r, k, K)] x_r[j + l] for KB classes (G, C at the first) and
 * l < JB·VW, the rows in order: the gradient tile stays in registers over the rows, each
 * row's x vectors are widened once and serve the KB classes. */
#define DEFINE_SSCAT(T, SUF, LOAD, NAME, KB, JB)                                             \
    static inline void NAME##_##SUF(const T *x0, int64_t nr, int64_t d, int64_t K,          \
                                    const double *C, double *G, int64_t j)                   \
    {                                                                                        \
        vd g[KB][JB];                                                                        \
        for (int k = 0; k < KB; k++)                                                         \
            for (int v = 0; v < JB; v++)                                                     \
                g[k][v] = load_f64(G + k * d + j + v * VW);                                  \
        for (int64_t r = 0; r < nr; r++) {                                                   \
            vd xv[JB];                                                                       \
            for (int v = 0; v < JB; v++)                                                     \
                xv[v] = LOAD(x0 + r * d + j + v * VW);                                       \
            for (int k = 0; k < KB; k++) {                                                   \
                vd c = splat(C[ZI(r, k, K)]);                                                \
                for (int v = 0; v < JB; v++)                                                 \
                    g[k][v] = vfma(c, xv[v], g[k][v]);                                       \
            }                                                                                \
        }                                                                                    \
        for (int k = 0; k < KB; k++)                                                         \
            for (int v = 0; v < JB; v++)                                                     \
                store_f64(G + k * d + j + v * VW, g[k][v]);                                  \
    }

/* One class block of kb <= 5 classes by a tile of the matching shape. */
#define SWITCH_KB(kb, F, S, ...)                                                             \
    switch (kb) {                                                                            \
    case 1: F##1##S(__VA_ARGS__); break;                                                     \
    case 2: F##2##S(__VA_ARGS__); break;                                                     \
    case 3: F##3##S(__VA_ARGS__); break;                                                     \
    case 4: F##4##S(__VA_ARGS__); break;                                                     \
    default: F##5##S(__VA_ARGS__); break;                                                    \
    }

#define DEFINE_SOFTMAX(T, SUF, LOAD)                                                         \
    DEFINE_SDOT(T, SUF, LOAD, sdotR1, SM_RB, 1)                                              \
    DEFINE_SDOT(T, SUF, LOAD, sdotR2, SM_RB, 2)                                              \
    DEFINE_SDOT(T, SUF, LOAD, sdotR3, SM_RB, 3)                                              \
    DEFINE_SDOT(T, SUF, LOAD, sdotR4, SM_RB, 4)                                              \
    DEFINE_SDOT(T, SUF, LOAD, sdotR5, SM_RB, 5)                                              \
    DEFINE_SDOT(T, SUF, LOAD, sdot11, 1, 1)                                                  \
    DEFINE_SDOT(T, SUF, LOAD, sdot12, 1, 2)                                                  \
    DEFINE_SDOT(T, SUF, LOAD, sdot13, 1, 3)                                                  \
    DEFINE_SDOT(T, SUF, LOAD, sdot14, 1, 4)                                                  \
    DEFINE_SDOT(T, SUF, LOAD, sdot15, 1, 5)                                                  \
    DEFINE_SSCAT(T, SUF, LOAD, sscatJ1, 1, SM_SJB)                                           \
    DEFINE_SSCAT(T, SUF, LOAD, sscatJ2, 2, SM_SJB)                                           \
    DEFINE_SSCAT(T, SUF, LOAD, sscatJ3, 3, SM_SJB)                                           \
    DEFINE_SSCAT(T, SUF, LOAD, sscatJ4, 4, SM_SJB)                                           \
    DEFINE_SSCAT(T, SUF, LOAD, sscatJ5, 5, SM_SJB)                                           \
    DEFINE_SSCAT(T, SUF, LOAD, sscat11, 1, 1)                                                \
    DEFINE_SSCAT(T, SUF, LOAD, sscat12, 2, 1)                                                \
    DEFINE_SSCAT(T, SUF, LOAD, sscat13, 3, 1)                                                \
    DEFINE_SSCAT(T, SUF, LOAD, sscat14, 4, 1)                                                \
    DEFINE_SSCAT(T, SUF, LOAD, sscat15, 5, 1)                                                \
    /* z = raw logits of nr <= SM_RG rows (at ZI); lanes past nr in the last group zero.   \
     * A row block (SM_RB divides SM_RT) never straddles two lane groups. */                  \
    static void slogits_##SUF(const T *x0, int64_t nr, int64_t d, int64_t K, const double *W, \
                              double *z)                                                     \
    {                                                                                        \
        for (int64_t k0 = 0; k0 < K; k0 += SM_KB) {                                          \
            const int64_t kb = K - k0 < SM_KB ? K - k0 : SM_KB;                              \
            const double *Wk = W + k0 * d;                                                   \
            int64_t r = 0;                                                                   \
            for (; r + SM_RB <= nr; r += SM_RB)                                              \
                SWITCH_KB(kb, sdotR, _##SUF, x0 + r * d, d, Wk, z + ZI(r, k0, K))            \
            for (; r < nr; r++)                                                              \
                SWITCH_KB(kb, sdot1, _##SUF, x0 + r * d, d, Wk, z + ZI(r, k0, K))            \
        }                                                                                    \
        for (int64_t r = nr; r % SM_RT; r++)                                                 \
            for (int64_t k = 0; k < K; k++)                                                  \
                z[ZI(r, k, K)] = 0;                                                          \
    }                                                                                        \
    /* G (K × d) += Cᵀ X over nr rows, each element's fma chain in row order */             \
    static void sscatter_##SUF(const T *x0, int64_t nr, int64_t d, int64_t K, const double *C, \
                               double *G, const T *nx, int64_t nnr)                          \
    {                                                                                        \
        const int64_t dv = d / VW * VW; /* vector part of j */                               \
        for (int64_t k0 = 0; k0 < K; k0 += SM_SKB) {                                         \
            const int64_t kb = K - k0 < SM_SKB ? K - k0 : SM_SKB;                            \
            const double *Ck = C + k0 * SM_RT; /* ZI(r, k, K) below is relative to it */   \
            double *Gk = G + k0 * d;                                                         \
            int64_t j = 0;                                                                   \
            for (; j + SM_SJB * VW <= dv; j += SM_SJB * VW) {                                \
                if (k0 == 0) /* the next tile's rows at these columns, from memory */        \
                    for (int64_t r = 0; r < nnr; r++)                                        \
                        for (size_t o = 0; o < SM_SJB * VW * sizeof(T); o += 64)             \
                            __builtin_prefetch((const char *)(nx + r * d + j) + o, 0, 2);    \
                SWITCH_KB(kb, sscatJ, _##SUF, x0, nr, d, K, Ck, Gk, j)                       \
            }                                                                                \
            for (; j < dv; j += VW)                                                          \
                SWITCH_KB(kb, sscat1, _##SUF, x0, nr, d, K, Ck, Gk, j)                       \
        }                                                                                    \
        for (int64_t j = dv; j < d; j++)                                                     \
            for (int64_t k = 0; k < K; k++) {                                                \
                double g = G[k * d + j];                                                     \
                for (int64_t r = 0; r < nr; r++)                                             \
                    g = fma(C[ZI(r, k, K)], (double)x0[r * d + j], g);                       \
                G[k * d + j] = g;                                                            \
            }                                                                                \
    }                                                                                        \
    static void sgrad_##SUF(const T *x, const double *y, int64_t n, int64_t d, int64_t K,    \
                            const double *W, const double *bv, double scale, double *out,    \
                            const double *hva, double *asave, double *scr)                   \
    {                                                                                        \
        memset(out, 0, (size_t)(K * d + K + 1) * sizeof(double));                            \
        double *z = scr, *c = scr + SM_RG * K, *sb = out + K * d, sloss = 0;                 \
        int64_t pred[SM_RG];                                                                 \
        for (int64_t i = 0; i < n; i += SM_RG) {                                             \
            const int64_t nr = n - i < SM_RG ? n - i : SM_RG;                                \
            slogits_##SUF(x + i * d, nr, d, K, W, z);                                        \
            for (int64_t g = 0; g < nr; g += SM_RT) /* lane groups, in row order */          \
                smax_tile(z + g * K, nr - g < SM_RT ? nr - g : SM_RT, K, bv, scale, y + i + g, \
                          hva ? hva + (i + g) * K : NULL, asave ? asave + (i + g) * K : NULL, \
                          c + g * K, &sloss, pred + g);                                      \
            for (int64_t k = 0; k < K; k++)                                                  \
                for (int64_t r = 0; r < nr; r++)                                             \
                    sb[k] += c[ZI(r, k, K)];                                                 \
            const int64_t nnr = n - i - nr < SM_RG ? n - i - nr : SM_RG;                     \
            sscatter_##SUF(x + i * d, nr, d, K, c, out, x + (i + nr) * d, nnr);              \
        }                                                                                    \
        out[K * d + K] = sloss;                                                              \
    }                                                                                        \
    static void seval_##SUF(const T *x, const double *y, int64_t n, int64_t d, int64_t K,    \
                            const double *W, const double *bv, double scale, double *out,    \
                            int conf, double *scr)                                           \
    {                                                                                        \
        memset(out, 0, (size_t)(conf ? 2 + K * K : 2) * sizeof(double));                    \
        double *z = scr, *c = scr + SM_RG * K, sloss = 0;                                    \
        int64_t pred[SM_RG];                                                                 \
        for (int64_t i = 0; i < n; i += SM_RG) {                                             \
            const int64_t nr = n - i < SM_RG ? n - i : SM_RG;                                \
            slogits_##SUF(x + i * d, nr, d, K, W, z);                                        \
            for (int64_t g = 0; g < nr; g += SM_RT)                                          \
                smax_tile(z + g * K, nr - g < SM_RT ? nr - g : SM_RT, K, bv, scale, y + i + g, \
                          NULL, NULL, c + g * K, &sloss, pred + g);                          \
            for (int64_t r = 0; r < nr; r++) {                                               \
                const int64_t yi = (int64_t)y[i + r];                                        \
                out[1] += pred[r] == yi;                                                     \
                if (conf)                                                                    \
                    out[2 + yi * K + pred[r]] += 1;                                          \
            }                                                                                \
        }                                                                                    \
        out[0] = sloss;                                                                      \
    }

DEFINE_SOFTMAX(uint8_t, u8, load_u8)
DEFINE_SOFTMAX(float, f32, load_f32)
DEFINE_SOFTMAX(double, f64, load_f64)

/* ---- predictions (predict, evaluate) ----------------------------------------------------
 * The per-row values of training's own arithmetic, nothing summed: binary proba = σ(z) with z
 * and σ exactly as eval computes them (dot1, logistic); softmax A per row exactly as sgrad
 * saves it for H·v, and the label as seval predicts it (argmax of the logits, ties to the
 * lowest class).  A row's values depend only on the row, never on its tile or block. */
#define DEFINE_PREDICT(T, SUF)                                                               \
    static void predict_##SUF(const T *x, int64_t n, int64_t d, const double *w, double b,   \
                              double scale, double *proba)                                   \
    {                                                                                        \
        for (int64_t i = 0; i < n; i++) {                                                    \
            double l;                                                                        \
            logistic(b + dot1_##SUF(x + i * d, w, d) / scale, 0.0, &proba[i], &l);           \
        }                                                                                    \
    }                                                                                        \
    static void spredict_##SUF(const T *x, int64_t n, int64_t d, int64_t K, const double *W, \
                               const double *bv, double scale, double *proba,                \
                               int64_t *label, double *scr)                                  \
    {                                                                                        \
        static const double y0[SM_RT]; /* labels are not used: the loss is discarded */     \
        double *z = scr, *c = scr + SM_RG * K, sloss = 0;                                    \
        for (int64_t i = 0; i < n; i += SM_RG) {                                             \
            const int64_t nr = n - i < SM_RG ? n - i : SM_RG;                                \
            slogits_##SUF(x + i * d, nr, d, K, W, z);                                        \
            for (int64_t g = 0; g < nr; g += SM_RT)                                          \
                smax_tile(z + g * K, nr - g < SM_RT ? nr - g : SM_RT, K, bv, scale, y0, NULL, \
                          proba + (i + g) * K, c + g * K, &sloss, label + i + g);            \
        }                                                                                    \
    }

DEFINE_PREDICT(uint8_t, u8)
DEFINE_PREDICT(float, f32)
DEFINE_PREDICT(double, f64)

/* ---- CSR (sparse) rows ------------------------------------------------------------------
 * A row's dot product is four interleaved fma chains over its stored values in index order
 * (value k goes to chain k mod 4), then (c0 + c1) + (c2 + c3): it depends only on the row.
 * Gradient and H·v sums are never a block partial of all quantities (an O(d) fold per
 * block): the binary model sums each touched column's block partial in its slot and folds
 * the touched columns at the block's end (sgrad_slots); softmax folds every product c·x_ij
 * and every row's c as it is made (dz_acc_add), and a lane group's loss.  Either way a block
 * costs O(its values).  Evaluation and predictions are as the dense ones, per row from z.  Shapes: rowptr (rows + 1),
 * col, val (nnz); W (K × d) row-major, the quantity of (k, j) is k·d + j. */
/* Fold the block partials of the listed columns into their digits (dz_fix_add; a non-finite or out-of-bound partial is counted in acc's flags) and clear them.  A column
 * listed twice is folded once: its partial is 0 the second time. */
#ifndef FOLD_AHEAD
#define FOLD_AHEAD 16 /* touched columns ahead whose scale and slot are prefetched */
#endif
static void fold_touched(dz_slot *sl, const int32_t *touched, int64_t nt, const double *to_fix,
                         int repro, dz_acc *acc)
{
    for (int64_t t = 0; t < nt; t++) {
        if (t + FOLD_AHEAD < nt) { /* a column's scale is cold: fetch it ahead */
            __builtin_prefetch(&to_fix[touched[t + FOLD_AHEAD]], 0, 3);
            __builtin_prefetch(&sl[touched[t + FOLD_AHEAD]], 1, 3);
        }
        dz_slot *q = &sl[touched[t]];
        const double v = q->acc;
        q->acc = 0;
        if (!repro) {
            q->d0.f += v;
            continue;
        }
        if (dz_fix_add(v * to_fix[touched[t]], &q->d0.i, &q->d1) != 0)
            acc->flags[DZ_FLAG_NONFINITE]++;
    }
}

#define SLOT_STRIDE ((int64_t)(sizeof(dz_slot) / sizeof(double))) /* doubles per slot */

#ifndef CSR_AHEAD
#define CSR_AHEAD 2 /* rows ahead whose column slots are prefetched (binary CSR passes) */
#endif

#define DEFINE_CSR(T, SUF)                                                                   \
    /* weight j is w[j·stride]: stride 1 for a weight vector, SLOT_STRIDE for the slots */   \
    static inline double sdot_##SUF(const int32_t *col, const T *val, int64_t n,             \
                                    const double *w, int64_t stride)                         \
    {                                                                                        \
        double c[4] = {0, 0, 0, 0};                                                          \
        int64_t k = 0;                                                                       \
        for (; k + 4 <= n; k += 4)                                                           \
            for (int l = 0; l < 4; l++)                                                      \
                c[l] = fma(w[col[k + l] * stride], (double)val[k + l], c[l]);                \
        for (int l = 0; k < n; k++, l++)                                                     \
            c[l] = fma(w[col[k] * stride], (double)val[k], c[l]);                            \
        return (c[0] + c[1]) + (c[2] + c[3]);                                                \
    }                                                                                        \
    static inline double cdot_##SUF(const int32_t *col, const T *val, int64_t n,             \
                                    const double *w)                                          \
    {                                                                                        \
        return sdot_##SUF(col, val, n, w, 1);                                                \
    }                                                                                        \
    static int64_t sgrad_slots_##SUF(const dz_shard *s, int64_t i0, int64_t n, dz_slot *sl, \
                                     int32_t *touched, const double *to_fix, int repro,     \
                                     double b, double scale, dz_acc *acc, const double *hv, \
                                     double *save)                                          \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        const int64_t d = s->d, *rp = s->rowptr;                                             \
        double sdz = 0, sloss = 0;                                                           \
        int64_t nt = 0, folds = 1;                                                           \
        for (int64_t i = i0; i < i0 + n; i++) {                                              \
            const int32_t *col = s->col + rp[i];                                             \
            const T *val = v + rp[i];                                                        \
            const int64_t nv = rp[i + 1] - rp[i];                                            \
            if (i + CSR_AHEAD < i0 + n) /* the slots of a row ahead: memory works meanwhile */ \
                for (int64_t k = rp[i + CSR_AHEAD]; k < rp[i + CSR_AHEAD + 1]; k++)          \
                    __builtin_prefetch(&sl[s->col[k]], 1, 3);                                \
            const double z = sdot_##SUF(col, val, nv, &sl[0].w, SLOT_STRIDE);               \
            const double c = row_coef(z, i - i0, s->y + i0, b, scale, hv, save, &sloss);     \
            sdz += c;                                                                        \
            if (nt + nv > d) { /* the list is full (a row has <= d values) */                \
                fold_touched(sl, touched, nt, to_fix, repro, acc);                           \
                nt = 0;                                                                      \
                folds++;                                                                     \
            }                                                                                \
            for (int64_t k = 0; k < nv; k++) { /* list a column when its partial is 0 */    \
                dz_slot *q = &sl[col[k]];                                                    \
                const double a = q->acc;                                                     \
                touched[nt] = col[k];                                                        \
                nt += a == 0.0;                                                              \
                q->acc = fma(c, (double)val[k], a);                                          \
            }                                                                                \
        }                                                                                    \
        fold_touched(sl, touched, nt, to_fix, repro, acc);                                   \
        dz_acc_add(acc, d, sdz);                                                             \
        if (!hv)                                                                             \
            dz_acc_add(acc, d + 1, sloss);                                                   \
        return folds;                                                                        \
    }                                                                                        \
    /* z of the rows of one lane group (nr <= SM_RT), class-major: z[k·SM_RT + r] */         \
    static void clogits_##SUF(const dz_shard *s, int64_t i, int64_t nr, int64_t K,           \
                              const double *W, double *z)                                    \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        for (int64_t r = 0; r < SM_RT; r++)                                                  \
            for (int64_t k = 0; k < K; k++)                                                  \
                z[k * SM_RT + r] = r < nr ? cdot_##SUF(s->col + s->rowptr[i + r],            \
                                                       v + s->rowptr[i + r],                 \
                                                       s->rowptr[i + r + 1] - s->rowptr[i + r], \
                                                       W + k * s->d)                         \
                                          : 0.0;                                             \
    }                                                                                        \
    static void cgrad_##SUF(const dz_shard *s, int64_t i0, int64_t n, int64_t K,             \
                            const double *w, const double *bv, double scale, dz_acc *acc,    \
                            const double *hv, double *save, double *scr)                     \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        const int64_t d = s->d, *rp = s->rowptr;                                             \
        double *z = scr, *c = scr + SM_RT * K;                                               \
        int64_t pred[SM_RT];                                                                 \
        for (int64_t i = i0; i < i0 + n; i += SM_RT) {                                       \
            const int64_t nr = i0 + n - i < SM_RT ? i0 + n - i : SM_RT;                      \
            double loss = 0;                                                                 \
            clogits_##SUF(s, i, nr, K, w, z);                                                \
            smax_tile(z, nr, K, bv, scale, s->y + i, hv ? hv + (i - i0) * K : NULL,          \
                      save ? save + (i - i0) * K : NULL, c, &loss, pred);                    \
            for (int64_t r = 0; r < nr; r++) {                                               \
                for (int64_t k = rp[i + r]; k < rp[i + r + 1]; k++)                          \
                    for (int64_t q = 0; q < K; q++)                                          \
                        dz_acc_add(acc, q * d + s->col[k], c[q * SM_RT + r] * (double)v[k]); \
                for (int64_t q = 0; q < K; q++)                                              \
                    dz_acc_add(acc, K * d + q, c[q * SM_RT + r]);                            \
            }                                                                                \
            if (!hv)                                                                         \
                dz_acc_add(acc, K * d + K, loss);                                            \
        }                                                                                    \
        dz_acc_rows_added(acc, n);                                                           \
    }                                                                                        \
    static void ceval_##SUF(const dz_shard *s, int64_t i0, int64_t n, int64_t K,             \
                            const double *w, const double *bv, double scale, double *out,    \
                            int conf, double *scr)                                           \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        const int64_t *rp = s->rowptr;                                                       \
        memset(out, 0, (size_t)(K && conf ? 2 + K * K : 2) * sizeof(double));               \
        if (!K) {                                                                            \
            for (int64_t i = i0; i < i0 + n; i++) {                                          \
                double a, l;                                                                 \
                logistic(bv[0] + cdot_##SUF(s->col + rp[i], v + rp[i], rp[i + 1] - rp[i], w) / scale, \
                         s->y[i], &a, &l);                                                   \
                out[0] += l;                                                                 \
                out[1] += (a > 0.5) == (s->y[i] == 1.0);                                     \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        double *z = scr, *c = scr + SM_RT * K;                                               \
        int64_t pred[SM_RT];                                                                 \
        for (int64_t i = i0; i < i0 + n; i += SM_RT) {                                       \
            const int64_t nr = i0 + n - i < SM_RT ? i0 + n - i : SM_RT;                      \
            clogits_##SUF(s, i, nr, K, w, z);                                                \
            smax_tile(z, nr, K, bv, scale, s->y + i, NULL, NULL, c, &out[0], pred);          \
            for (int64_t r = 0; r < nr; r++) {                                               \
                const int64_t yi = (int64_t)s->y[i + r];                                     \
                out[1] += pred[r] == yi;                                                     \
                if (conf)                                                                    \
                    out[2 + yi * K + pred[r]] += 1;                                          \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    static void cpredict_##SUF(const dz_shard *s, int64_t i0, int64_t n, int64_t K,          \
                               const double *w, const double *bv, double scale,              \
                               double *proba, int64_t *label, double *scr)                   \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        const int64_t *rp = s->rowptr;                                                       \
        if (!K) {                                                                            \
            for (int64_t i = i0; i < i0 + n; i++) {                                          \
                double l;                                                                    \
                logistic(bv[0] + cdot_##SUF(s->col + rp[i], v + rp[i], rp[i + 1] - rp[i], w) / scale, \
                         0.0, &proba[i - i0], &l);                                           \
                label[i - i0] = proba[i - i0] > 0.5;                                         \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        static const double y0[SM_RT]; /* labels are not used: the loss is discarded */     \
        double *z = scr, *c = scr + SM_RT * K, loss = 0;                                     \
        for (int64_t i = i0; i < i0 + n; i += SM_RT) {                                       \
            const int64_t nr = i0 + n - i < SM_RT ? i0 + n - i : SM_RT;                      \
            clogits_##SUF(s, i, nr, K, w, z);                                                \
            smax_tile(z, nr, K, bv, scale, y0, NULL, proba + (i - i0) * K, c, &loss,         \
                      label + (i - i0));                                                     \
        }                                                                                    \
    }

DEFINE_CSR(float, f32)
DEFINE_CSR(double, f64)

static void csr_grad(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                     const double *bv, double scale, dz_acc *acc, const double *hv, double *save,
                     double *scr)
{
    if (s->dtype == DZ_DTYPE_F32)
        cgrad_f32(s, i0, n, K, w, bv, scale, acc, hv, save, scr);
    else
        cgrad_f64(s, i0, n, K, w, bv, scale, acc, hv, save, scr);
}

static int64_t csr_grad_slots(const dz_shard *s, int64_t i0, int64_t n, dz_slot *slots,
                              int32_t *touched, const double *to_fix, int repro, double b,
                              double scale, dz_acc *acc, const double *hv, double *save)
{
    if (s->dtype == DZ_DTYPE_F32)
        return sgrad_slots_f32(s, i0, n, slots, touched, to_fix, repro, b, scale, acc, hv, save);
    return sgrad_slots_f64(s, i0, n, slots, touched, to_fix, repro, b, scale, acc, hv, save);
}

static void csr_eval(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                     const double *bv, double scale, double *out, int conf, double *scr)
{
    if (s->dtype == DZ_DTYPE_F32)
        ceval_f32(s, i0, n, K, w, bv, scale, out, conf, scr);
    else
        ceval_f64(s, i0, n, K, w, bv, scale, out, conf, scr);
}

static void csr_predict(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                        const double *bv, double scale, double *proba, int64_t *label,
                        double *scr)
{
    if (s->dtype == DZ_DTYPE_F32)
        cpredict_f32(s, i0, n, K, w, bv, scale, proba, label, scr);
    else
        cpredict_f64(s, i0, n, K, w, bv, scale, proba, label, scr);
}

#define DISPATCH(s, i0, FN, ...)                                                            \
    switch ((s)->dtype) {                                                                    \
    case DZ_DTYPE_U8: FN##_u8((const uint8_t *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break;  \
    case DZ_DTYPE_F32: FN##_f32((const float *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break;  \
    default: FN##_f64((const double *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break;           \
    }

static void block_grad(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                       double scale, double *out, const double *hvd, double *dsave)
{
    DISPATCH(s, i0, grad, s->y + i0, n, s->d, w, b, scale, out, hvd, dsave)
}

static void block_eval(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                       double scale, double *out)
{
    DISPATCH(s, i0, eval, s->y + i0, n, s->d, w, b, scale, out)
}

static void block_sgrad(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                        const double *bv, double scale, double *out, const double *hva,
                        double *asave, double *scr)
{
    DISPATCH(s, i0, sgrad, s->y + i0, n, s->d, K, W, bv, scale, out, hva, asave, scr)
}

static void block_seval(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                        const double *bv, double scale, double *out, int conf, double *scr)
{
    DISPATCH(s, i0, seval, s->y + i0, n, s->d, K, W, bv, scale, out, conf, scr)
}

static void block_predict(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                          double scale, double *proba)
{
    DISPATCH(s, i0, predict, n, s->d, w, b, scale, proba)
}

static void block_spredict(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                           const double *bv, double scale, double *proba, int64_t *label,
                           double *scr)
{
    DISPATCH(s, i0, spredict, n, s->d, K, W, bv, scale, proba, label, scr)
}

const dz_kernel_isa DZ_CAT(dz_isa_, DZ_ISA_ID) = {DZ_STR(DZ_ISA_ID), block_grad, block_eval,
                                                   logistic, block_sgrad, block_seval,
                                                   block_predict, block_spredict, csr_grad,
                                                   csr_grad_slots, csr_eval, csr_predict};
