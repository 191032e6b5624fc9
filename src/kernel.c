/* kernel.c — fused logistic-regression block kernels (see dz/kernel.h).
 *
 * Shapes: x is rows × d (row-major, type T), w is d (double), out is d + 2 (double).
 * Rows are taken DZ_TILE (8) at a time: one load of w serves eight dot products, then the
 * gradient update adds the eight rows' dz·x in row order while they are still in cache, and
 * prefetches the next tile from memory meanwhile (the tile's reuse would otherwise leave the
 * memory bus idle).  Vectors are
 * GCC/Clang vector extensions of VW doubles (8 with AVX-512, else 4); features are widened to
 * double as they are loaded, so uint8 and float32 data stay compact in memory.  Every inexact
 * operation has a fixed order for a given build (this file is compiled with FMA contraction),
 * so a block's result does not depend on which rank or thread computes it.
 */
#include "dz/kernel.h"

#include <math.h>
#include <omp.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#define VW 8
#else
#define VW 4
#endif



#ifndef DZ_TILE
#define DZ_TILE 8 /* rows per tile */
#endif
typedef double vd __attribute__((vector_size(VW * 8)));
typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef uint8_t vu8 __attribute__((vector_size(VW)));

static inline vd load_f64(const double *p) { vd v; memcpy(&v, p, sizeof v); return v; }
static inline void store_f64(double *p, vd v) { memcpy(p, &v, sizeof v); }
/* Explicit widening loads where we have them: GCC scalarises __builtin_convertvector from
 * 8-bit lanes. */
#if defined(__AVX512F__)
static inline vd load_f32(const float *p) { return (vd)_mm512_cvtps_pd(_mm256_loadu_ps(p)); }
static inline vd load_u8(const uint8_t *p)
{
    return (vd)_mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
#elif defined(__AVX2__)
static inline vd load_f32(const float *p) { return (vd)_mm256_cvtps_pd(_mm_loadu_ps(p)); }
static inline vd load_u8(const uint8_t *p)
{
    int32_t t;
    memcpy(&t, p, sizeof t);
    return (vd)_mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(t)));
}
#else
static inline vd load_f32(const float *p) { vf v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, vd); }
static inline vd load_u8(const uint8_t *p)
{
    vu8 v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(__builtin_convertvector(v, vi), vd);
}
#endif

static inline double hsum(vd v)
{
#if VW == 8
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
#else
    return (v[0] + v[1]) + (v[2] + v[3]);
#endif
}

static inline vd splat(double x)
{
    vd v;
    for (int l = 0; l < VW; l++)
        v[l] = x;
    return v;
}

/* e = exp(−|z|) is computed once; the curvature a(1−a) = e/(1+e)² keeps full relative
 * precision where 1 − a would cancel. */
static inline double logistic_e(double z, double y, double *a, double *loss, double *e_out)
{
    double e = exp(-fabs(z)); /* in (0, 1] */
    double sp = log1p(e);     /* softplus(-|z|) */
    if (z >= 0) {
        *a = 1.0 / (1.0 + e);
        *loss = sp + (1.0 - y) * z;
    } else {
        *a = e / (1.0 + e);
        *loss = sp - y * z;
    }
    *e_out = e;
    return e;
}

void dz_logistic(double z, double y, double *a, double *loss)
{
    double e;
    logistic_e(z, y, a, loss, &e);
}

double dz_logistic_curv(double z)
{
    double e = exp(-fabs(z)), q = 1.0 + e;
    return e / (q * q);
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
            a0 += load_f64(w + j) * LOAD(x + j);                                             \
            a1 += load_f64(w + j + VW) * LOAD(x + j + VW);                                   \
        }                                                                                    \
        double s = hsum(a0 + a1);                                                            \
        for (; j < d; j++)                                                                   \
            s += w[j] * (double)x[j];                                                        \
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
                a[r][0] += w0 * LOAD(x0 + r * d + j);                                        \
                a[r][1] += w1 * LOAD(x0 + r * d + j + VW);                                   \
            }                                                                                \
        }                                                                                    \
        for (int r = 0; r < DZ_TILE; r++) {                                                  \
            double s = hsum(a[r][0] + a[r][1]);                                              \
            for (int64_t k = j; k < d; k++)                                                  \
                s += w[k] * (double)x0[r * d + k];                                           \
            z[r] = s;                                                                        \
        }                                                                                    \
    }                                                                                        \
    static void grad_##SUF(const T *x, const double *y, int64_t n, int64_t d,                \
                           const double *w, double b, double scale, double *out,             \
                           const double *hvd, double *dsave)                                 \
    {                                                                                        \
        memset(out, 0, (size_t)(d + 2) * sizeof(double));                                   \
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
                        g += c[r] * LOAD(x0 + r * d + j + v * VW);                           \
                    store_f64(out + j + v * VW, g);                                          \
                }                                                                            \
            }                                                                                \
            for (; j + VW <= d; j += VW) {                                                   \
                vd g = load_f64(out + j);                                                    \
                for (int r = 0; r < DZ_TILE; r++)                                            \
                    g += c[r] * LOAD(x0 + r * d + j);                                        \
                store_f64(out + j, g);                                                       \
            }                                                                                \
            for (; j < d; j++) {                                                             \
                double g = out[j];                                                           \
                for (int r = 0; r < DZ_TILE; r++)                                            \
                    g += dz[r] * (double)x0[r * d + j];                                      \
                out[j] = g;                                                                  \
            }                                                                                \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            const T *xi = x + i * d;                                                         \
            double dz = row_coef(dot1_##SUF(xi, w, d), i, y, b, scale, hvd, dsave, &sloss);  \
            sdz += dz;                                                                       \
            for (int64_t j = 0; j < d; j++)                                                  \
                out[j] += dz * (double)xi[j];                                                \
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
            dz_logistic(b + dot1_##SUF(x + i * d, w, d) / scale, y[i], &a, &l);              \
            sloss += l;                                                                      \
            ok += (a > 0.5) == (y[i] == 1.0);                                                \
        }                                                                                    \
        out[0] = sloss;                                                                      \
        out[1] = ok;                                                                         \
    }

DEFINE_KERNELS(uint8_t, u8, load_u8)
DEFINE_KERNELS(float, f32, load_f32)
DEFINE_KERNELS(double, f64, load_f64)

#define DISPATCH(s, i0, FN, ...)                                                            \
    switch ((s)->dtype) {                                                                   \
    case DZ_DTYPE_U8: FN##_u8((const uint8_t *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break; \
    case DZ_DTYPE_F32: FN##_f32((const float *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break; \
    default: FN##_f64((const double *)(s)->x + (i0) * (s)->d, __VA_ARGS__); break;         \
    }

void dz_block_grad(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out)
{
    DISPATCH(s, i0, grad, s->y + i0, n, s->d, w, b, scale, out, NULL, NULL)
}

/* The block kernel of one pass: gradient (saving D when asked) or H·v. */
static void block_pass(const dz_shard *s, const dz_pass *ps, int64_t i0, int64_t n, double *out)
{
    const double *hvd = ps->mode == DZ_PASS_HV ? ps->dcoef + i0 : NULL;
    double *dsave = ps->mode == DZ_PASS_GRAD && ps->dsave ? ps->dsave + i0 : NULL;
    DISPATCH(s, i0, grad, s->y + i0, n, s->d, ps->w, ps->b, ps->scale, out, hvd, dsave)
}

void dz_block_eval(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out)
{
    DISPATCH(s, i0, eval, s->y + i0, n, s->d, w, b, scale, out)
}

static double feature(const dz_shard *s, int64_t i, int64_t j)
{
    size_t k = (size_t)i * (size_t)s->d + (size_t)j;
    switch (s->dtype) {
    case DZ_DTYPE_U8: return ((const uint8_t *)s->x)[k];
    case DZ_DTYPE_F32: return ((const float *)s->x)[k];
    default: return ((const double *)s->x)[k];
    }
}

void dz_block_grad_ref(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                       double scale, double *out)
{
    int64_t d = s->d;
    for (int64_t j = 0; j < d + 2; j++)
        out[j] = 0;
    for (int64_t i = i0; i < i0 + n; i++) {
        double dot = 0;
        for (int64_t j = 0; j < d; j++)
            dot += w[j] * (feature(s, i, j) / scale);
        double z = dot + b;
        double a = 1.0 / (1.0 + exp(-z));
        double loss = z >= 0 ? log1p(exp(-z)) + (1 - s->y[i]) * z : log1p(exp(z)) - s->y[i] * z;
        double dz = a - s->y[i];
        for (int64_t j = 0; j < d; j++)
            out[j] += dz * feature(s, i, j);
        out[d] += dz;
        out[d + 1] += loss;
    }
}

void dz_block_hv_ref(const dz_shard *s, int64_t i0, int64_t n, const double *dcoef,
                     const double *v, double vb, double scale, double *out)
{
    int64_t d = s->d;
    for (int64_t j = 0; j < d + 2; j++)
        out[j] = 0;
    for (int64_t i = i0; i < i0 + n; i++) {
        double u = 0;
        for (int64_t j = 0; j < d; j++)
            u += v[j] * (feature(s, i, j) / scale);
        double t = dcoef[i] * (u + vb);
        for (int64_t j = 0; j < d; j++)
            out[j] += t * feature(s, i, j);
        out[d] += t;
    }
}

int dz_work_init(dz_work *wk, int64_t d, int nthreads, int repro)
{
    memset(wk, 0, sizeof *wk);
    wk->nthreads = nthreads;
    wk->d = d;
    wk->blk = malloc((size_t)nthreads * (size_t)(d + 2) * sizeof(double));
    wk->grad = calloc((size_t)nthreads, sizeof(dz_acc));
    wk->eval = calloc((size_t)nthreads, sizeof(dz_acc));
    wk->repro = repro;
    if (!wk->blk || !wk->grad || !wk->eval) {
        dz_work_free(wk);
        return -1;
    }
    /* thread t > 0 sums with thread 0's bounds */
    for (int t = 0; t < nthreads; t++)
        if ((t == 0 ? dz_acc_init(&wk->grad[0], d + 2, repro) : dz_acc_init_shared(&wk->grad[t], &wk->grad[0])) ||
            (t == 0 ? dz_acc_init(&wk->eval[0], 2, repro) : dz_acc_init_shared(&wk->eval[t], &wk->eval[0]))) {
            dz_work_free(wk);
            return -1;
        }
    return 0;
}

int dz_work_init_hv(dz_work *wk)
{
    wk->hv = calloc((size_t)wk->nthreads, sizeof(dz_acc));
    if (!wk->hv)
        return -1;
    for (int t = 0; t < wk->nthreads; t++)
        if (t == 0 ? dz_acc_init(&wk->hv[0], wk->d + 2, wk->repro)
                   : dz_acc_init_shared(&wk->hv[t], &wk->hv[0]))
            return -1; /* dz_work_free releases what was made */
    return 0;
}

void dz_work_free(dz_work *wk)
{
    if (!wk)
        return;
    for (int t = 0; t < wk->nthreads; t++) {
        if (wk->grad) dz_acc_free(&wk->grad[t]);
        if (wk->eval) dz_acc_free(&wk->eval[t]);
        if (wk->hv) dz_acc_free(&wk->hv[t]);
    }
    free(wk->blk);
    free(wk->grad);
    free(wk->eval);
    free(wk->hv);
    memset(wk, 0, sizeof *wk);
}

void dz_kernel_run(const dz_shard *s, dz_work *wk, const dz_pass *ps)
{
    dz_acc *accs = ps->mode == DZ_PASS_EVAL ? wk->eval : ps->mode == DZ_PASS_HV ? wk->hv : wk->grad;
    const int64_t B = s->block_rows, d = s->d, n = accs[0].n;
    const int64_t nblocks = ps->blocks ? ps->nblocks : (s->rows + B - 1) / B;
    int team = 1;
#pragma omp parallel num_threads(wk->nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(); /* nt may be < nthreads */
        if (t == 0)
            team = nt;
        dz_acc *a = &accs[t]; /* shares accs[0]'s bounds */
        dz_acc_zero(a);
        double *blk = wk->blk + (size_t)t * (size_t)(d + 2);
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nblocks; k++) {
            int64_t i0 = (ps->blocks ? ps->blocks[k] : k) * B;
            int64_t rows = s->rows - i0 < B ? s->rows - i0 : B;
            if (ps->mode == DZ_PASS_EVAL)
                dz_block_eval(s, i0, rows, ps->w, ps->b, ps->scale, blk);
            else
                block_pass(s, ps, i0, rows, blk);
            dz_acc_fold(a, blk);
        }
        dz_acc_flush(a);
#pragma omp barrier
        /* threads merge disjoint ranges of quantities into accs[0] */
        dz_acc_merge_range(accs, nt, n * t / nt, n * (t + 1) / nt);
    }
    dz_acc_merge_flags(accs, team);
}

void dz_kernel_pass(const dz_shard *s, const double *w, double b, double scale, dz_work *wk,
                    int eval)
{
    dz_pass ps = {.mode = eval ? DZ_PASS_EVAL : DZ_PASS_GRAD, .w = w, .b = b, .scale = scale};
    dz_kernel_run(s, wk, &ps);
}
