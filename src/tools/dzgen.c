/*
 * dzgen: parallel synthetic data-set generator for dztrain.
 *
 *   mpirun -n N dzgen --out FILE --m M --d D --dtype uint8|float32|float64
 *                     [--seed S] [--dist uniform|normal] [--corr RHO] [--logit-std S]
 *                     [--classes K] [--x-name x] [--y-name y] [--chunk-mb MB]
 *   mpirun -n N dzgen --out FILE --m M --d D --sparse K [--dtype float32|float64]
 *                     [--empty-frac F] [--zipf S] [--w-frac F] [--seed S] [--logit-std S] ...
 *
 * Writes, with parallel HDF5 (MPI-IO driver, collective transfers, contiguous
 * layout, no compression, no fill):
 *   x       (M, D) features in the requested dtype
 *   y       (M,)   uint8 labels in {0,1}, y ~ Bernoulli(sigmoid(x/scale . w_true + b_true))
 *   w_true  (D,)   float64 true weights
 *   b_true  scalar float64 true bias
 * plus root-group attributes describing the generator (seed, dist, scale, ...).
 *
 * --classes K (2 <= K <= 256) makes a K-class (multinomial) set instead, for
 * `[model] type = softmax`: the same features, and
 *   y       (M,)   uint8 labels in 0..K-1, y ~ Categorical(softmax(W_true x/scale + b_true))
 *   w_true  (K, D) float64 true weights, row k drawn like the binary w_true (row 0 is it)
 *   b_true  (K,)   float64 true biases (each logit centred, plus 0.25 N(0,1))
 * and the attribute classes = K.  Every logit has standard deviation about --logit-std
 * over the rows, so the classes overlap (labels are drawn, not argmax: learnable, never
 * separable; a smaller --logit-std gives noisier labels).  The summary line adds the
 * class fractions and the true model's mean cross-entropy on the drawn labels (a lower
 * reference for the fitted training loss only up to the fit's own overfitting).
 * Without --classes the output is exactly the binary set above.
 *
 * --corr RHO (|RHO| < 1, float dtypes, implies --dist normal) correlates neighbouring
 * features as a stationary AR(1) process along each row: x_0 = e_0,
 * x_j = RHO x_{j-1} + sqrt(1 - RHO^2) e_j with e_j the row's standard normals, so every
 * feature is still N(0,1) and corr(x_j, x_k) = RHO^|j-k| (computed in double, in column
 * order, before the cast).  RHO = 0 gives the plain normal data bit for bit.
 *
 * --sparse K (RCV1-like sparse set; --dtype float32 (default) or float64, never uint8; not with
 * --classes, --corr or --dist) writes x as a CSR group (the anndata / scipy layout) instead:
 *   x/data     (nnz,)  values in the dtype        x/indices (nnz,) int32 column numbers
 *   x/indptr   (M+1,)  int64 row offsets, indptr[0] = 0, indptr[M] = nnz
 *   x attributes: shape = int64 [M, D], encoding-type = "csr_matrix", encoding-version = "0.1.0"
 *   y (M,) uint8, w_true (D,) float64, b_true scalar float64, as the binary set.
 * Row i: empty with probability --empty-frac F (default 0), else its length L is uniform in
 * 1 ... 2K-1 (mean K; at most D).  Its columns are drawn one at a time from a power law over
 * ranks (P(rank r) ~ r^-S, S = --zipf, default 1.1, by inverting the continuous CDF on
 * [1, D+1)), rank r -> column (a r + c) mod D (a fixed permutation of the seed, gcd(a, D) = 1);
 * a column already in the row is drawn again (after 8L + 64 draws the row is completed with
 * the lowest ranks not yet in it), so the indices are unique, then sorted.  Values are
 * tf-idf-like and positive: (1 + ln tf) (1 + S ln r) with tf = 1 + (trailing zero bits of
 * the row's word for that column, at most 15), each row scaled to L2 norm 1 (in double,
 * then stored).  So D, the column frequencies and the values follow RCV1's shape: a few
 * columns are in most rows, most columns in very few.  The true model is sparse: w_true_j
 * is N(0,1) on a pseudo-random fraction --w-frac (default 0.1) of the columns, 0 elsewhere,
 * scaled so that x . w_true has standard deviation --logit-std over the first min(M, 2048)
 * rows (the pilot, computed by every rank alike), and b_true centres it (plus 0.25 N(0,1)).
 * Labels as the binary set, from the stored values.  Each rank counts its rows' nnz (the row
 * lengths come before the columns), MPI_Exscan gives its offset into data/indices, and it
 * writes its rows' data, indices, indptr and y in row chunks; the last rank writes
 * indptr[M].  Memory per rank: w_true and one chunk.  D <= 2^31 - 1 (int32 indices).
 *
 * Every random number is a pure function of (seed, stream, row, column), so the
 * file contents do not depend on the number of ranks or threads.  Each rank
 * writes its own contiguous block of rows, in row chunks of bounded size.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <mpi.h>
#include <omp.h>

#include "dz/output.h"

#define DZGEN_VERSION 1

enum dtype { DT_U8, DT_F32, DT_F64 };
enum dist { DIST_UNIFORM, DIST_NORMAL };

/* Stream identifiers: separate key per kind of random number. */
#define STREAM_X 0x78ULL /* 'x' */
#define STREAM_Y 0x79ULL /* 'y' */
#define STREAM_W 0x77ULL /* 'w' */
#define STREAM_B 0x62ULL /* 'b' */
#define STREAM_V 0x76ULL /* 'v': --sparse values */
#define STREAM_S 0x73ULL /* 's': --sparse w_true support */
#define STREAM_P 0x70ULL /* 'p': --sparse rank -> column permutation */

static int g_rank = 0;

/* Runtime error on any rank: report and abort the job. */
static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "dzgen[%d]: ", g_rank);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* Usage error: every rank sees the same command line, so every rank gets
 * here; rank 0 reports, all exit 2 cleanly. */
static void die_usage(const char *fmt, const char *arg)
{
    if (g_rank == 0) {
        fprintf(stderr, "dzgen: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n");
    }
    MPI_Finalize();
    exit(2);
}

#define H5OK(expr)                                                          \
    do {                                                                       \
        if ((expr) < 0) {                                                      \
            fprintf(stderr, "dzgen[%d]: HDF5 call failed at %s:%d: %s\n",      \
                    g_rank, __FILE__, __LINE__, #expr);                        \
            MPI_Abort(MPI_COMM_WORLD, 1);                                      \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------------------------
 * Counter-based randomness.  mix64 is the SplitMix64 / "moremur"-style
 * finaliser; a row key is derived from (seed, stream, row) and elements are
 * mix64(row_key + block * golden_gamma) (a SplitMix64 stream per row).
 * ------------------------------------------------------------------------- */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#define GAMMA 0x9E3779B97F4A7C15ULL

static inline uint64_t row_key(uint64_t seed, uint64_t stream, uint64_t row)
{
    uint64_t k = mix64(seed ^ mix64(stream * GAMMA + 0x632BE59BD9B4E019ULL));
    return mix64(k + mix64(row + 0xD1B54A32D192ED03ULL));
}

static inline uint64_t elem(uint64_t key, uint64_t idx)
{
    return mix64(key + (idx + 1) * GAMMA);
}

/* uniform in [0,1) with 53 bits */
static inline double u01_53(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

/* standard normal from one 64-bit word (Box-Muller, cosine branch, 32+32 bits) */
static inline double normal_from(uint64_t h)
{
    double u1 = ((double)(h >> 32) + 1.0) * 0x1.0p-32; /* (0,1] */
    double u2 = (double)(h & 0xFFFFFFFFULL) * 0x1.0p-32; /* [0,1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---------------------------------------------------------------------------
 * Row generation.  Produces the row in its storage dtype and returns the
 * logit x_row/scale . w + b (computed in double, column order, so it is
 * deterministic for any decomposition).
 * ------------------------------------------------------------------------- */
static double gen_row(uint64_t seed, uint64_t row, size_t d, enum dtype dt,
                      enum dist ds, double rho, const double *w, double b, double inv_scale,
                      void *out)
{
    const double rho_c = sqrt(1.0 - rho * rho);
    double prev = 0.0; /* AR(1) state (--corr) */
    const uint64_t key = row_key(seed, STREAM_X, row);
    double acc = 0.0;
    size_t j;

    switch (dt) {
    case DT_U8: {
        uint8_t *o = (uint8_t *)out;
        for (j = 0; j + 8 <= d; j += 8) {
            uint64_t h = elem(key, j >> 3);
            for (int k = 0; k < 8; ++k) {
                uint8_t v = (uint8_t)(h >> (8 * k));
                o[j + k] = v;
                acc += (double)v * inv_scale * w[j + k];
            }
        }
        if (j < d) {
            uint64_t h = elem(key, j >> 3);
            for (int k = 0; j < d; ++j, ++k) {
                uint8_t v = (uint8_t)(h >> (8 * k));
                o[j] = v;
                acc += (double)v * inv_scale * w[j];
            }
        }
        break;
    }
    case DT_F32: {
        float *o = (float *)out;
        if (ds == DIST_UNIFORM) {
            /* two floats per word, 24 bits each: k * 2^-23 - 1 in [-1,1) */
            for (j = 0; j + 2 <= d; j += 2) {
                uint64_t h = elem(key, j >> 1);
                float a = (float)(uint32_t)((h >> 8) & 0xFFFFFFu) * 0x1.0p-23f - 1.0f;
                float c = (float)(uint32_t)(h >> 40) * 0x1.0p-23f - 1.0f;
                o[j] = a;
                o[j + 1] = c;
                acc += (double)a * w[j] + (double)c * w[j + 1];
            }
            if (j < d) {
                uint64_t h = elem(key, j >> 1);
                float a = (float)(uint32_t)((h >> 8) & 0xFFFFFFu) * 0x1.0p-23f - 1.0f;
                o[j] = a;
                acc += (double)a * w[j];
            }
        } else if (rho == 0.0) {
            for (j = 0; j < d; ++j) {
                float a = (float)normal_from(elem(key, j));
                o[j] = a;
                acc += (double)a * w[j];
            }
        } else {
            for (j = 0; j < d; ++j) {
                double e = normal_from(elem(key, j));
                prev = j == 0 ? e : rho * prev + rho_c * e;
                float a = (float)prev;
                o[j] = a;
                acc += (double)a * w[j];
            }
        }
        break;
    }
    case DT_F64: {
        double *o = (double *)out;
        for (j = 0; j < d; ++j) {
            uint64_t h = elem(key, j);
            double a = ds == DIST_UNIFORM ? 2.0 * u01_53(h) - 1.0 : normal_from(h);
            if (rho != 0.0)
                a = prev = j == 0 ? a : rho * prev + rho_c * a;
            o[j] = a;
            acc += a * w[j];
        }
        break;
    }
    }
    return acc + b;
}

static int label_for(uint64_t seed, uint64_t row, double logit)
{
    double p = 1.0 / (1.0 + exp(-logit));
    double u = u01_53(elem(row_key(seed, STREAM_Y, row), 0));
    return u < p ? 1 : 0;
}

/* --classes K: the K logits z_k = x/scale . W_k + b_k of a generated row, read back from its
 * stored values (so exactly what the trainer sees, widened to double), in column order per
 * class (deterministic for any decomposition; dzgen is built without FMA contraction). */
static void row_logits(const void *row, size_t d, enum dtype dt, double inv_scale, int K,
                       const double *W, const double *b, double *z)
{
    for (int k = 0; k < K; ++k)
        z[k] = 0.0;
    for (size_t j = 0; j < d; ++j) {
        double v = dt == DT_U8 ? (double)((const uint8_t *)row)[j] * inv_scale
                 : dt == DT_F32 ? (double)((const float *)row)[j]
                 : ((const double *)row)[j];
        for (int k = 0; k < K; ++k)
            z[k] += v * W[(size_t)k * d + j];
    }
    for (int k = 0; k < K; ++k)
        z[k] += b[k];
}

/* y ~ Categorical(softmax(z)) by inversion with the row's uniform (the binary label's own
 * stream and element); *nll = -log p_y, the true model's cross-entropy on this row. */
static int label_for_classes(uint64_t seed, uint64_t row, int K, const double *z, double *nll)
{
    double zmax = z[0];
    for (int k = 1; k < K; ++k)
        if (z[k] > zmax) zmax = z[k];
    double sum = 0.0;
    for (int k = 0; k < K; ++k)
        sum += exp(z[k] - zmax);
    double u = u01_53(elem(row_key(seed, STREAM_Y, row), 0)) * sum, c = 0.0;
    int y = K - 1;
    for (int k = 0; k < K; ++k) {
        c += exp(z[k] - zmax);
        if (u < c) { y = k; break; }
    }
    *nll = log(sum) - (z[y] - zmax);
    return y;
}

/* ---------------------------------------------------------------------------
 * --sparse: RCV1-like CSR rows (see the header comment).
 * ------------------------------------------------------------------------- */
typedef struct sparse_gen {
    uint64_t seed, d;
    uint64_t span;        /* row lengths 1 ... span (= 2K - 1) */
    uint32_t lmax;        /* min(span, d): the longest row */
    uint32_t setsize;     /* a power of 2 >= 2 lmax: the per-row column set */
    double empty_frac, zipf;
    double zc, zinv;      /* rank r = (1 + u zc)^zinv, zc = (d+1)^(1-S) - 1; S = 1: e^(u zc) */
    uint64_t pa, pc;      /* rank -> column: (pa r + pc) mod d, gcd(pa, d) = 1 */
    double log_tf[16];    /* ln tf, tf = 1 ... 16 */
} sparse_gen;

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static void sparse_setup(sparse_gen *g, uint64_t seed, uint64_t d, uint64_t k, double empty_frac,
                         double zipf)
{
    g->seed = seed, g->d = d, g->span = 2 * k - 1;
    g->lmax = (uint32_t)(g->span < d ? g->span : d);
    for (g->setsize = 16; g->setsize < 2 * (uint64_t)g->lmax;)
        g->setsize *= 2;
    g->empty_frac = empty_frac, g->zipf = zipf;
    const double D = (double)d + 1.0;
    if (zipf == 1.0)
        g->zc = log(D), g->zinv = 0.0;
    else
        g->zc = pow(D, 1.0 - zipf) - 1.0, g->zinv = 1.0 / (1.0 - zipf);
    const uint64_t kp = row_key(seed, STREAM_P, 0);
    g->pc = elem(kp, 1) % d;
    g->pa = d > 1 ? 1 + elem(kp, 0) % (d - 1) : 1;
    while (gcd_u64(g->pa, d) != 1) /* ends at pa = 1 at the latest */
        g->pa = g->pa % (d - 1) + 1;
    for (int t = 0; t < 16; ++t)
        g->log_tf[t] = log(1.0 + t);
}

/* Row length: 0 (an empty row, --empty-frac) or uniform in 1 ... span, at most d. */
static uint32_t sparse_len(const sparse_gen *g, uint64_t row)
{
    const uint64_t key = row_key(g->seed, STREAM_X, row);
    if (g->empty_frac > 0.0 && u01_53(elem(key, 0)) < g->empty_frac)
        return 0;
    const uint64_t L = 1 + (uint64_t)(u01_53(elem(key, 1)) * (double)g->span);
    return (uint32_t)(L < g->lmax ? L : g->lmax);
}

/* Column rank r (0-based, 0 the most frequent) from one word: the power law's inverse CDF. */
static uint64_t sparse_rank(const sparse_gen *g, uint64_t h)
{
    const double u = u01_53(h);
    const double r = g->zinv == 0.0 ? exp(u * g->zc) : pow(1.0 + u * g->zc, g->zinv);
    const uint64_t r0 = r >= 1.0 ? (uint64_t)r - 1 : 0;
    return r0 < g->d ? r0 : g->d - 1;
}

/* Rank r's column into the row's set (tab, g->setsize entries of column + 1) and keys
 * (column << 32 | r), unless the row has it already. */
static void sparse_add(const sparse_gen *g, uint64_t r, uint32_t *tab, uint64_t *keys, uint32_t *n)
{
    const uint32_t col = (uint32_t)((g->pa * r + g->pc) % g->d), mask = g->setsize - 1;
    for (uint32_t i = (uint32_t)(mix64(col) & mask);; i = (i + 1) & mask) {
        if (tab[i] == col + 1)
            return;
        if (!tab[i]) {
            tab[i] = col + 1;
            keys[(*n)++] = (uint64_t)col << 32 | r;
            return;
        }
    }
}

/* Sort a[0 .. n) ascending: quicksort (median of three, Hoare partition, the smaller part
 * recursed), insertion sort below 16 (qsort's calls through a pointer cost a quarter of the
 * generation). */
static void sort_u64(uint64_t *a, size_t n)
{
    while (n > 16) {
        uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
        uint64_t p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
        size_t i = 0, j = n - 1;
        for (;; ++i, --j) { /* [0, j] <= p <= (j, n) */
            while (a[i] < p) ++i;
            while (a[j] > p) --j;
            if (i >= j) break;
            uint64_t t = a[i];
            a[i] = a[j], a[j] = t;
        }
        if (j + 1 < n - j - 1) {
            sort_u64(a, j + 1);
            a += j + 1, n -= j + 1;
        } else {
            sort_u64(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; ++i) {
        uint64_t v = a[i];
        size_t k = i;
        for (; k > 0 && a[k - 1] > v; --k)
            a[k] = a[k - 1];
        a[k] = v;
    }
}

/* Row `row`: its sparse_len(row) columns, unique and ascending, into cols and their values,
 * L2-normalised, into vals; returns the count.  Scratch: keys (lmax), tab (setsize). */
static uint32_t sparse_row(const sparse_gen *g, uint64_t row, uint64_t *keys, uint32_t *tab,
                           int32_t *cols, double *vals)
{
    const uint32_t L = sparse_len(g, row);
    if (!L)
        return 0;
    memset(tab, 0, (size_t)g->setsize * sizeof *tab);
    const uint64_t key = row_key(g->seed, STREAM_X, row);
    uint32_t n = 0;
    for (uint64_t t = 0; n < L && t < 8 * (uint64_t)L + 64; ++t)
        sparse_add(g, sparse_rank(g, elem(key, 2 + t)), tab, keys, &n);
    for (uint64_t r = 0; n < L; ++r) /* rare: many draws hit columns the row has */
        sparse_add(g, r, tab, keys, &n);
    sort_u64(keys, n);
    const uint64_t vkey = row_key(g->seed, STREAM_V, row);
    double ss = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t col = (uint32_t)(keys[i] >> 32), r = (uint32_t)keys[i];
        const int tfz = __builtin_ctzll(elem(vkey, col) | (1ULL << 15)); /* tf - 1, 0 ... 15 */
        vals[i] = (1.0 + g->log_tf[tfz]) * (1.0 + g->zipf * log(1.0 + r));
        ss += vals[i] * vals[i];
        cols[i] = (int32_t)col;
    }
    const double inv = 1.0 / sqrt(ss);
    for (uint32_t i = 0; i < n; ++i)
        vals[i] *= inv;
    return n;
}

/* The row's values into out in the storage dtype; returns x . w from the stored values
 * (widened to double, in column order). */
static double sparse_store(const double *vals, const int32_t *cols, uint32_t n, enum dtype dt,
                           void *out, const double *w)
{
    double acc = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        double v = vals[i];
        if (dt == DT_F64)
            ((double *)out)[i] = v;
        else
            v = ((float *)out)[i] = (float)vals[i];
        acc += v * w[cols[i]];
    }
    return acc;
}

/* ------------------------------------------------------------------------- */

static void usage(void)
{
    if (g_rank == 0)
        fprintf(stderr,
                "usage: mpirun -n N dzgen --out FILE --m M --d D --dtype uint8|float32|float64\n"
                "              [--seed S] [--dist uniform|normal] [--corr RHO] [--logit-std S]\n"
                "              [--classes K] [--x-name x] [--y-name y] [--chunk-mb MB] [--quiet]\n"
                "       mpirun -n N dzgen --out FILE --m M --d D --sparse K [--dtype float32|float64]\n"
                "              [--empty-frac F] [--zipf S] [--w-frac F] [--seed S] [--logit-std S] ...\n"
                "Features: uint8 uniform 0..255 (scale 255); float32/float64 uniform [-1,1)\n"
                "(default) or standard normal (scale 1); --corr RHO (|RHO| < 1, implies normal):\n"
                "AR(1) along the row, x_j = RHO x_{j-1} + sqrt(1-RHO^2) e_j.  Labels y ~ Bernoulli(\n"
                "sigmoid(x/scale . w_true + b_true)), w_true_j ~ N(0,1) * logit_std / sqrt(d * var(x/scale)).\n"
                "--classes K (2..256): labels 0..K-1, y ~ Categorical(softmax(W_true x/scale + b_true)),\n"
                "w_true (K, D) drawn like w_true, b_true (K,), attribute classes = K.\n"
                "--sparse K: x is a CSR group (data, int32 indices, int64 indptr; attributes shape,\n"
                "encoding-type csr_matrix), rows of 1..2K-1 columns (--empty-frac F of them empty)\n"
                "drawn from a power law P(rank r) ~ r^-S (--zipf, default 1.1), tf-idf-like positive\n"
                "values with unit row norms; w_true non-zero on a fraction --w-frac (default 0.1).\n");
}

static unsigned long long parse_u64(const char *opt, const char *s)
{
    char *end = NULL;
    errno = 0;
    if (s[0] == '-')
        die_usage("invalid value for %s", opt);
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end != '\0')
        die_usage("invalid value for %s", opt);
    return v;
}

/* A finite number in [lo, hi] (hi_open: below hi), else a usage error naming opt and why. */
static double parse_f64(const char *opt, const char *s, double lo, double hi, int hi_open,
                        const char *why)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo) || !(hi_open ? v < hi : v <= hi) || !isfinite(v))
        die_usage(why, opt);
    return v;
}

/* What both modes were asked for. */
typedef struct gen_opts {
    const char *out, *xname, *yname;
    unsigned long long m, d, seed, chunk_mb;
    enum dtype dt;
    double logit_std;
    int quiet, nranks;
    unsigned long long sparse;   /* --sparse K (0: dense) */
    double empty_frac, zipf, w_frac;
} gen_opts;

/* This rank's rows [*r0, *r0 + *my_rows) (balanced contiguous blocks), written in chunks of
 * *chunk_rows rows (about chunk_mb MiB of row_bytes each): *my_chunks of them here, and
 * *max_chunks, the most any rank has, is the number of collective write rounds. */
typedef struct row_part {
    unsigned long long r0, rows, chunk_rows, chunks, max_chunks;
} row_part;

static row_part partition(const gen_opts *o, size_t row_bytes)
{
    row_part p;
    const unsigned long long N = (unsigned long long)o->nranks, r = (unsigned long long)g_rank;
    const unsigned long long base = o->m / N, rem = o->m % N;
    p.rows = base + (r < rem ? 1 : 0);
    p.r0 = r * base + (r < rem ? r : rem);
    p.chunk_rows = (o->chunk_mb << 20) / row_bytes;
    if (p.chunk_rows == 0) p.chunk_rows = 1;
    if (p.chunk_rows > p.rows && p.rows > 0) p.chunk_rows = p.rows;
    p.chunks = p.rows ? (p.rows + p.chunk_rows - 1) / p.chunk_rows : 0;
    p.max_chunks = 0;
    MPI_Allreduce(&p.chunks, &p.max_chunks, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    return p;
}

/* Rows in chunk ci of this rank (0 past its last chunk: it joins the round with nothing). */
static unsigned long long chunk_len(const row_part *p, unsigned long long ci)
{
    if (ci >= p->chunks)
        return 0;
    const unsigned long long n = p->rows - ci * p->chunk_rows;
    return n < p->chunk_rows ? n : p->chunk_rows;
}

/* The output file (MPI-IO driver, collective metadata); *fapl to close after the file. */
static hid_t create_file(const char *out, hid_t *fapl)
{
    *fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5OK(H5Pset_fapl_mpio(*fapl, MPI_COMM_WORLD, MPI_INFO_NULL));
#if H5_VERSION_GE(1, 10, 0)
    H5OK(H5Pset_all_coll_metadata_ops(*fapl, 1));
    H5OK(H5Pset_coll_metadata_write(*fapl, 1));
#endif
    hid_t file = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, *fapl);
    if (file < 0) die("cannot create '%s'", out);
    return file;
}

/* Contiguous, allocated at creation, never filled, no times: byte-identical files for any N. */
static hid_t make_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5OK(H5Pset_layout(dcpl, H5D_CONTIGUOUS));
    H5OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    H5OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    H5OK(H5Pset_obj_track_times(dcpl, 0));
    return dcpl;
}

/* w_true (d,) or (K, d) and b_true (scalar or (K,)): rank 0 writes, the others join the
 * collective with an empty selection. */
static void write_true_model(hid_t file, hid_t dcpl, hid_t dxpl, int K, hsize_t d,
                             const double *w, const double *b)
{
    hsize_t wdims[2] = {d, 0}, bdims[1] = {(hsize_t)K};
    if (K) { wdims[0] = (hsize_t)K; wdims[1] = d; }
    hid_t wfs = H5Screate_simple(K ? 2 : 1, wdims, NULL);
    hid_t bfs = K ? H5Screate_simple(1, bdims, NULL) : H5Screate(H5S_SCALAR);
    hid_t wds = H5Dcreate2(file, "w_true", H5T_IEEE_F64LE, wfs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t bds = H5Dcreate2(file, "b_true", H5T_IEEE_F64LE, bfs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5OK(wds);
    H5OK(bds);
    hid_t ms = H5Scopy(wfs), bms = H5Scopy(bfs);
    if (g_rank != 0) {
        H5OK(H5Sselect_none(ms)); H5OK(H5Sselect_none(wfs));
        H5OK(H5Sselect_none(bms)); H5OK(H5Sselect_none(bfs));
    }
    H5OK(H5Dwrite(wds, H5T_NATIVE_DOUBLE, ms, wfs, dxpl, w));
    H5OK(H5Dwrite(bds, H5T_NATIVE_DOUBLE, bms, bfs, dxpl, b));
    H5Sclose(ms);
    H5Sclose(bms);
    H5Sclose(wfs);
    H5Sclose(bfs);
    H5Dclose(wds);
    H5Dclose(bds);
}

/* The root attributes both modes write first (collective, identical on all ranks). */
static void write_common_attrs(hid_t file, const gen_opts *o, const char *dtname,
                               const char *dist, double scale)
{
    H5OK(dz_h5_attr_str(file, "generator", "dzgen"));
    H5OK(dz_h5_attr_i64(file, "generator_version", DZGEN_VERSION));
    H5OK(dz_h5_attr_i64(file, "seed", (long long)o->seed));
    H5OK(dz_h5_attr_i64(file, "m", (long long)o->m));
    H5OK(dz_h5_attr_i64(file, "d", (long long)o->d));
    H5OK(dz_h5_attr_str(file, "dtype", dtname));
    H5OK(dz_h5_attr_str(file, "dist", dist));
    H5OK(dz_h5_attr_f64(file, "scale", scale));
    H5OK(dz_h5_attr_f64(file, "logit_std", o->logit_std));
}

/* Collective 1-D write of count elements at start (count 0: an empty selection). */
static void write_1d(hid_t ds, hid_t mtype, hid_t dxpl, hsize_t start, hsize_t count,
                     const void *buf)
{
    hid_t fs = H5Dget_space(ds);
    hsize_t one = count ? count : 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    if (count) {
        H5OK(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL));
    } else {
        H5OK(H5Sselect_none(fs));
        H5OK(H5Sselect_none(ms));
    }
    H5OK(H5Dwrite(ds, mtype, ms, fs, dxpl, buf));
    H5Sclose(ms);
    H5Sclose(fs);
}

/* A 1-D dataset of n elements at loc. */
static hid_t create_1d(hid_t loc, const char *name, hid_t ftype, hsize_t n, hid_t lcpl, hid_t dcpl)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t ds = H5Dcreate2(loc, name, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0) die("cannot create dataset '%s'", name);
    H5Sclose(sp);
    return ds;
}

/* The summary's timing fields: the slowest rank's generation and write seconds, and the
 * positive labels over all ranks (on rank 0). */
static void reduce_stats(double gen_s, double write_s, long long ones, double *gen_max,
                         double *write_max, long long *tot_ones)
{
    MPI_Reduce(&ones, tot_ones, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&gen_s, gen_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&write_s, write_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
}

/* ---- --sparse ---------------------------------------------------------------------------- */

/* The true model: w (d,) N(0,1) on the --w-frac support, scaled so that x . w has standard
 * deviation logit_std over the pilot rows (the first min(m, 2048)), and b centring it. */
static double sparse_true_model(const gen_opts *o, const sparse_gen *g, double *w)
{
    const uint64_t kw = row_key(o->seed, STREAM_W, 0), ks = row_key(o->seed, STREAM_S, 0);
    for (size_t j = 0; j < o->d; ++j)
        w[j] = u01_53(elem(ks, j)) < o->w_frac ? normal_from(elem(kw, j)) : 0.0;
    uint64_t *keys = malloc(g->lmax * sizeof *keys);
    uint32_t *tab = malloc(g->setsize * sizeof *tab);
    int32_t *cols = malloc(g->lmax * sizeof *cols);
    double *vals = malloc(g->lmax * sizeof *vals), *stored = malloc(g->lmax * sizeof *stored);
    if (!keys || !tab || !cols || !vals || !stored) die("%s", "out of memory");
    const uint64_t P = o->m < 2048 ? o->m : 2048;
    double s1 = 0.0, s2 = 0.0;
    for (uint64_t i = 0; i < P; ++i) {
        uint32_t n = sparse_row(g, i, keys, tab, cols, vals);
        double z = sparse_store(vals, cols, n, o->dt, stored, w);
        s1 += z;
        s2 += z * z;
    }
    free(keys), free(tab), free(cols), free(vals), free(stored);
    const double mean = s1 / (double)P, var = s2 / (double)P - mean * mean;
    const double scale = var > 0.0 ? o->logit_std / sqrt(var) : o->logit_std;
    for (size_t j = 0; j < o->d; ++j)
        w[j] *= scale;
    return -mean * scale + 0.25 * normal_from(elem(row_key(o->seed, STREAM_B, 0), 0));
}

static void gen_sparse(const gen_opts *o)
{
    sparse_gen g;
    sparse_setup(&g, o->seed, o->d, o->sparse, o->empty_frac, o->zipf);
    const size_t itemsize = o->dt == DT_F64 ? 8 : 4;
    const char *dtname = o->dt == DT_F64 ? "float64" : "float32";
    double *w = malloc(o->d * sizeof *w);
    if (!w) die("%s", "out of memory");
    const double b = sparse_true_model(o, &g, w);

    /* row lengths come first: this rank's nnz, its offset and the total */
    const row_part p = partition(o, (size_t)g.lmax * (itemsize + 4) + 9);
    const long long nr_all = (long long)p.rows;
    unsigned long long my_nnz = 0, off = 0, nnz = 0;
#pragma omp parallel for schedule(static) reduction(+ : my_nnz)
    for (long long i = 0; i < nr_all; ++i)
        my_nnz += sparse_len(&g, p.r0 + (uint64_t)i);
    MPI_Exscan(&my_nnz, &off, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0) off = 0; /* MPI_Exscan leaves rank 0's undefined */
    MPI_Allreduce(&my_nnz, &nnz, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);

    const size_t cap = (size_t)(p.rows ? p.chunk_rows : 1);
    void *data = malloc(cap * g.lmax * itemsize);
    int32_t *idx = malloc(cap * g.lmax * sizeof *idx);
    int64_t *iptr = malloc(cap * sizeof *iptr);
    uint8_t *ybuf = malloc(cap);
    if (!data || !idx || !iptr || !ybuf) die("%s", "out of memory (try a smaller --chunk-mb)");

    double t0 = MPI_Wtime();
    hid_t fapl, file = create_file(o->out, &fapl);
    hid_t dcpl = make_dcpl(), dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5OK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5OK(H5Pset_create_intermediate_group(lcpl, 1));
    H5OK(H5Pset_obj_track_times(gcpl, 0));
    hid_t grp = H5Gcreate2(file, o->xname, lcpl, gcpl, H5P_DEFAULT);
    if (grp < 0) die("cannot create group '%s'", o->xname);
    hid_t xft = o->dt == DT_F64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
    hid_t xmt = o->dt == DT_F64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    hid_t dds = create_1d(grp, "data", xft, nnz, H5P_DEFAULT, dcpl);
    hid_t ids = create_1d(grp, "indices", H5T_STD_I32LE, nnz, H5P_DEFAULT, dcpl);
    hid_t pds = create_1d(grp, "indptr", H5T_STD_I64LE, o->m + 1, H5P_DEFAULT, dcpl);
    hid_t yds = create_1d(file, o->yname, H5T_STD_U8LE, o->m, lcpl, dcpl);
    write_true_model(file, dcpl, dxpl, 0, o->d, w, &b);
    {
        const long long shape[2] = {(long long)o->m, (long long)o->d};
        const hsize_t two = 2;
        hid_t sp = H5Screate_simple(1, &two, NULL);
        hid_t a = H5Acreate2(grp, "shape", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5OK(a);
        H5OK(H5Awrite(a, H5T_NATIVE_LLONG, shape));
        H5Aclose(a);
        H5Sclose(sp);
        H5OK(dz_h5_attr_str(grp, "encoding-type", "csr_matrix"));
        H5OK(dz_h5_attr_str(grp, "encoding-version", "0.1.0"));
    }
    write_common_attrs(file, o, dtname, "sparse_zipf_tfidf", 1.0);
    H5OK(dz_h5_attr_str(file, "x_name", o->xname));
    H5OK(dz_h5_attr_str(file, "y_name", o->yname));
    H5OK(dz_h5_attr_str(file, "label_model", "y ~ Bernoulli(sigmoid(x . w_true + b_true))"));
    H5OK(dz_h5_attr_str(file, "layout", "csr"));
    H5OK(dz_h5_attr_i64(file, "nnz_per_row", (long long)o->sparse));
    H5OK(dz_h5_attr_i64(file, "nnz", (long long)nnz));
    H5OK(dz_h5_attr_f64(file, "zipf", o->zipf));
    H5OK(dz_h5_attr_f64(file, "empty_frac", o->empty_frac));
    H5OK(dz_h5_attr_f64(file, "w_frac", o->w_frac));

    long long ones = 0, empty = 0;
    double gen_s = 0.0, write_s = 0.0;
    unsigned long long done = 0; /* this rank's nnz written so far */
    for (unsigned long long ci = 0; ci < p.max_chunks; ++ci) {
        const unsigned long long cr0 = p.r0 + ci * p.chunk_rows, nrows = chunk_len(&p, ci);
        const long long nr = (long long)nrows;
        double ta = MPI_Wtime();
        unsigned long long cnnz = 0;
        for (long long i = 0; i < nr; ++i) { /* the rows' offsets in the chunk, then in x */
            iptr[i] = (int64_t)cnnz;
            uint32_t L = sparse_len(&g, cr0 + (uint64_t)i);
            cnnz += L;
            empty += L == 0;
        }
        long long chunk_ones = 0;
#pragma omp parallel reduction(+ : chunk_ones)
        {
            uint64_t *keys = malloc(g.lmax * sizeof *keys);
            uint32_t *tab = malloc(g.setsize * sizeof *tab);
            double *vals = malloc(g.lmax * sizeof *vals);
            if (!keys || !tab || !vals) die("%s", "out of memory");
#pragma omp for schedule(dynamic, 64)
            for (long long i = 0; i < nr; ++i) {
                const uint64_t row = cr0 + (uint64_t)i;
                const size_t at = (size_t)iptr[i];
                uint32_t n = sparse_row(&g, row, keys, tab, idx + at, vals);
                double z = sparse_store(vals, idx + at, n, o->dt, (char *)data + at * itemsize, w);
                ybuf[i] = (uint8_t)label_for(o->seed, row, z + b);
                chunk_ones += ybuf[i];
            }
            free(keys), free(tab), free(vals);
        }
        ones += chunk_ones;
        for (long long i = 0; i < nr; ++i)
            iptr[i] += (int64_t)(off + done);
        double tb = MPI_Wtime();
        if (nnz) { /* (an empty dataset has no address to write at, even nothing) */
            write_1d(dds, xmt, dxpl, off + done, cnnz, data);
            write_1d(ids, H5T_NATIVE_INT32, dxpl, off + done, cnnz, idx);
        }
        write_1d(pds, H5T_NATIVE_INT64, dxpl, cr0, nrows, iptr);
        write_1d(yds, H5T_NATIVE_UINT8, dxpl, cr0, nrows, ybuf);
        done += cnnz;
        write_s += MPI_Wtime() - tb;
        gen_s += tb - ta;
    }
    const int64_t last = (int64_t)nnz; /* indptr[m], by the last rank */
    write_1d(pds, H5T_NATIVE_INT64, dxpl, o->m, g_rank == o->nranks - 1, &last);

    H5Dclose(dds), H5Dclose(ids), H5Dclose(pds), H5Dclose(yds);
    H5Gclose(grp);
    H5Pclose(gcpl), H5Pclose(lcpl), H5Pclose(dxpl), H5Pclose(dcpl);
    if (H5Fclose(file) < 0) die("error closing '%s'", o->out);
    H5Pclose(fapl);
    double t1 = MPI_Wtime();
    long long tot_ones = 0, tot_empty = 0;
    double gen_max = 0.0, write_max = 0.0;
    reduce_stats(gen_s, write_s, ones, &gen_max, &write_max, &tot_ones);
    MPI_Reduce(&empty, &tot_empty, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (g_rank == 0 && !o->quiet) {
        double bytes = (double)nnz * (double)(itemsize + 4) + (double)(o->m + 1) * 8.0 + (double)o->m;
        printf("{\"out\":\"%s\",\"m\":%llu,\"d\":%llu,\"dtype\":\"%s\",\"seed\":%llu,"
               "\"sparse\":%llu,\"nnz\":%llu,\"nnz_per_row\":%.3f,\"empty_rows\":%lld,"
               "\"ranks\":%d,\"threads\":%d,\"bytes\":%.0f,\"seconds\":%.3f,"
               "\"gen_s_max\":%.3f,\"write_s_max\":%.3f,\"positive_fraction\":%.6f}\n",
               o->out, o->m, o->d, dtname, o->seed, o->sparse, nnz, (double)nnz / (double)o->m,
               tot_empty, o->nranks, omp_get_max_threads(), bytes, t1 - t0, gen_max, write_max,
               (double)tot_ones / (double)o->m);
    }
    free(data), free(idx), free(iptr), free(ybuf), free(w);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    gen_opts o = {.xname = "x", .yname = "y", .seed = 1, .chunk_mb = 32, .dt = DT_F32,
                  .logit_std = 3.0, .zipf = 1.1, .w_frac = 0.1};
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &o.nranks);

    int have_dtype = 0, have_dist = 0, have_sparse_opt = 0;
    enum dist ds = DIST_UNIFORM;
    double rho = 0.0;
    int K = 0; /* --classes: 0 = the binary set */

    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"m", required_argument, 0, 'm'},
        {"d", required_argument, 0, 'd'},       {"dtype", required_argument, 0, 't'},
        {"seed", required_argument, 0, 's'},    {"x-name", required_argument, 0, 'x'},
        {"y-name", required_argument, 0, 'y'},  {"dist", required_argument, 0, 'D'},
        {"logit-std", required_argument, 0, 'L'}, {"chunk-mb", required_argument, 0, 'c'},
        {"corr", required_argument, 0, 'C'},    {"classes", required_argument, 0, 'K'},
        {"sparse", required_argument, 0, 'S'},  {"empty-frac", required_argument, 0, 'E'},
        {"zipf", required_argument, 0, 'Z'},    {"w-frac", required_argument, 0, 'W'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out = optarg; break;
        case 'm': o.m = parse_u64("--m", optarg); break;
        case 'd': o.d = parse_u64("--d", optarg); break;
        case 's': o.seed = parse_u64("--seed", optarg); break;
        case 'c': o.chunk_mb = parse_u64("--chunk-mb", optarg); break;
        case 'x': o.xname = optarg; break;
        case 'y': o.yname = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'K': {
            unsigned long long k = parse_u64("--classes", optarg);
            if (k < 2 || k > 256) die_usage("invalid value for %s (2..256)", "--classes");
            K = (int)k;
            break;
        }
        case 't':
            have_dtype = 1;
            if (!strcmp(optarg, "uint8")) o.dt = DT_U8;
            else if (!strcmp(optarg, "float32")) o.dt = DT_F32;
            else if (!strcmp(optarg, "float64")) o.dt = DT_F64;
            else die_usage("unknown --dtype '%s' (uint8|float32|float64)", optarg);
            break;
        case 'D':
            have_dist = 1;
            if (!strcmp(optarg, "uniform")) ds = DIST_UNIFORM;
            else if (!strcmp(optarg, "normal")) ds = DIST_NORMAL;
            else die_usage("unknown --dist '%s' (uniform|normal)", optarg);
            break;
        case 'L': o.logit_std = parse_f64("--logit-std", optarg, 0.0, INFINITY, 1, "invalid value for %s"); break;
        case 'C': rho = parse_f64("--corr", optarg, -1.0, 1.0, 1, "invalid value for %s (|RHO| < 1)");
            if (rho == -1.0) die_usage("invalid value for %s (|RHO| < 1)", "--corr");
            break;
        case 'S':
            o.sparse = parse_u64("--sparse", optarg);
            if (o.sparse < 1 || o.sparse > (1ULL << 24)) die_usage("invalid value for %s (1..2^24)", "--sparse");
            break;
        case 'E': have_sparse_opt = 1;
            o.empty_frac = parse_f64("--empty-frac", optarg, 0.0, 1.0, 0, "invalid value for %s (0..1)");
            break;
        case 'Z': have_sparse_opt = 1;
            o.zipf = parse_f64("--zipf", optarg, 0.0, 10.0, 0, "invalid value for %s (0..10)");
            break;
        case 'W': have_sparse_opt = 1;
            o.w_frac = parse_f64("--w-frac", optarg, 0.0, 1.0, 0, "invalid value for %s (0..1)");
            break;
        case 'h': usage(); MPI_Finalize(); return 0;
        default: usage(); die_usage("%s", "bad command line"); break;
        }
    }
    if (optind != argc) { usage(); die_usage("unexpected argument '%s'", argv[optind]); }
    if (!o.out || !o.m || !o.d || !(have_dtype || o.sparse)) {
        usage();
        die_usage("%s", "--out, --m, --d and --dtype (or --sparse) are required");
    }
    if (o.chunk_mb == 0) o.chunk_mb = 1;
    if (o.sparse) {
        if (o.dt == DT_U8) die_usage("%s", "--sparse needs --dtype float32 or float64");
        if (K || rho != 0.0 || have_dist) die_usage("%s", "--sparse takes no --classes, --corr or --dist");
        if (o.d > INT32_MAX) die_usage("%s", "--sparse needs --d <= 2^31 - 1 (int32 indices)");
        if (o.m > (1ULL << 50)) die_usage("%s", "m too large");
        gen_sparse(&o);
        MPI_Finalize();
        return 0;
    }
    if (have_sparse_opt) die_usage("%s", "--empty-frac, --zipf and --w-frac need --sparse");
    if (rho != 0.0) {
        if (o.dt == DT_U8) die_usage("%s", "--corr needs a float dtype");
        if (have_dist && ds != DIST_NORMAL) die_usage("%s", "--corr needs --dist normal");
        ds = DIST_NORMAL;
    }
    const enum dtype dt = o.dt;
    const unsigned long long m = o.m, d = o.d, seed = o.seed;
    if (dt == DT_U8 && ds == DIST_NORMAL) die_usage("%s", "--dist normal needs a float dtype");
    if (d > (1ULL << 40) || m > (1ULL << 50) || m * d / d != m || m * d > (1ULL << 56))
        die_usage("%s", "m*d too large");

    const size_t itemsize = dt == DT_U8 ? 1 : dt == DT_F32 ? 4 : 8;
    const char *dtname = dt == DT_U8 ? "uint8" : dt == DT_F32 ? "float32" : "float64";
    const double scale = dt == DT_U8 ? 255.0 : 1.0;
    const double inv_scale = 1.0 / scale;
    /* mean / variance of x/scale */
    double mean_x, var_x;
    if (dt == DT_U8) { mean_x = 127.5 / 255.0; var_x = (256.0 * 256.0 - 1.0) / 12.0 / (255.0 * 255.0); }
    else if (ds == DIST_UNIFORM) { mean_x = 0.0; var_x = 1.0 / 3.0; }
    else { mean_x = 0.0; var_x = 1.0; }

    /* True model (identical on every rank). */
    double *w = malloc(d * sizeof *w);
    if (!w) die("%s", "out of memory");
    const double wscale = o.logit_std / sqrt((double)d * var_x);
    double wsum = 0.0;
    {
        uint64_t kw = row_key(seed, STREAM_W, 0);
        for (size_t j = 0; j < d; ++j) {
            w[j] = normal_from(elem(kw, j)) * wscale;
            wsum += w[j];
        }
    }
    /* centre the logits, then add a small random offset */
    const double b = -mean_x * wsum + 0.25 * normal_from(elem(row_key(seed, STREAM_B, 0), 0));
    /* --classes K: W (K, d), row 0 = w above, row k from the W stream's row k; b_k likewise */
    double *W = NULL, *bK = NULL;
    if (K) {
        W = malloc((size_t)K * d * sizeof *W);
        bK = malloc((size_t)K * sizeof *bK);
        if (!W || !bK) die("%s", "out of memory");
        const uint64_t kb = row_key(seed, STREAM_B, 0);
        for (int k = 0; k < K; ++k) {
            const uint64_t kw = row_key(seed, STREAM_W, (uint64_t)k);
            double s = 0.0;
            for (size_t j = 0; j < d; ++j) {
                W[(size_t)k * d + j] = normal_from(elem(kw, j)) * wscale;
                s += W[(size_t)k * d + j];
            }
            bK[k] = -mean_x * s + 0.25 * normal_from(elem(kb, (uint64_t)k));
        }
    }

    /* Row partition: balanced contiguous blocks. */
    const size_t row_bytes = (size_t)d * itemsize;
    const row_part p = partition(&o, row_bytes);

    void *xbuf = NULL;
    uint8_t *ybuf = NULL;
    if (p.rows) {
        xbuf = aligned_alloc(64, ((p.chunk_rows * row_bytes + 63) / 64) * 64);
        ybuf = malloc(p.chunk_rows);
        if (!xbuf || !ybuf) die("%s", "out of memory (try a smaller --chunk-mb)");
    }

    double t0 = MPI_Wtime();

    /* ---- file ---- */
    hid_t fapl, file = create_file(o.out, &fapl);
    hid_t dcpl = make_dcpl();

    hsize_t xdims[2] = {m, d};
    hid_t xfs = H5Screate_simple(2, xdims, NULL);
    hid_t xft = dt == DT_U8 ? H5T_STD_U8LE : dt == DT_F32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    hid_t xmt = dt == DT_U8 ? H5T_NATIVE_UINT8 : dt == DT_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;

    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5OK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t xds = H5Dcreate2(file, o.xname, xft, xfs, lcpl, dcpl, H5P_DEFAULT);
    if (xds < 0) die("cannot create dataset '%s'", o.xname);
    hid_t yds = create_1d(file, o.yname, H5T_STD_U8LE, m, lcpl, dcpl);

    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5OK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
    write_true_model(file, dcpl, dxpl, K, d, K ? W : w, K ? bK : &b);

    /* attributes (collective, identical on all ranks) */
    write_common_attrs(file, &o, dtname,
                       dt == DT_U8 ? "uniform_int_0_255" : ds == DIST_UNIFORM ? "uniform_-1_1" : "normal_0_1",
                       scale);
    if (rho != 0.0) /* only then, so that files without --corr stay as they were */
        H5OK(dz_h5_attr_f64(file, "corr", rho));
    H5OK(dz_h5_attr_str(file, "x_name", o.xname));
    H5OK(dz_h5_attr_str(file, "y_name", o.yname));
    if (K) { /* only then, so that binary files stay as they were */
        H5OK(dz_h5_attr_i64(file, "classes", K));
        H5OK(dz_h5_attr_str(file, "label_model",
                            "y ~ Categorical(softmax(w_true x/scale + b_true)), w_true (K, d), b_true (K,)"));
    } else
        H5OK(dz_h5_attr_str(file, "label_model", "y ~ Bernoulli(sigmoid(x/scale . w_true + b_true))"));

    /* ---- rows ---- */
    long long ones = 0;
    double gen_s = 0.0, write_s = 0.0, nll_sum = 0.0;
    long long *counts = calloc(K ? (size_t)K : 1, sizeof *counts);
    if (!counts) die("%s", "out of memory");
    for (unsigned long long ci = 0; ci < p.max_chunks; ++ci) {
        const unsigned long long cr0 = p.r0 + ci * p.chunk_rows, nrows = chunk_len(&p, ci);
        double ta = MPI_Wtime();
        long long chunk_ones = 0;
        const long long nr = (long long)nrows;
        if (!K) {
#pragma omp parallel for schedule(static) reduction(+ : chunk_ones)
            for (long long i = 0; i < nr; ++i) {
                uint64_t row = cr0 + (uint64_t)i;
                double logit = gen_row(seed, row, d, dt, ds, rho, w, b, inv_scale,
                                       (char *)xbuf + (size_t)i * row_bytes);
                int yl = label_for(seed, row, logit);
                ybuf[i] = (uint8_t)yl;
                chunk_ones += yl;
            }
        } else {
            double chunk_nll = 0.0;
#pragma omp parallel reduction(+ : chunk_nll)
            {
                double z[256];
#pragma omp for schedule(static)
                for (long long i = 0; i < nr; ++i) {
                    uint64_t row = cr0 + (uint64_t)i;
                    void *xr = (char *)xbuf + (size_t)i * row_bytes;
                    (void)gen_row(seed, row, d, dt, ds, rho, w, b, inv_scale, xr);
                    row_logits(xr, d, dt, inv_scale, K, W, bK, z);
                    double nll;
                    ybuf[i] = (uint8_t)label_for_classes(seed, row, K, z, &nll);
                    chunk_nll += nll;
                }
            }
            nll_sum += chunk_nll;
            for (long long i = 0; i < nr; ++i)
                ++counts[ybuf[i]];
        }
        ones += chunk_ones;
        double tb = MPI_Wtime();

        hsize_t xstart[2] = {cr0, 0}, xcount[2] = {nrows, d};
        hsize_t mdims[2] = {nrows ? nrows : 1, d};
        hid_t xms = H5Screate_simple(2, mdims, NULL);
        hid_t xsel = H5Scopy(xfs);
        if (nrows) {
            H5OK(H5Sselect_hyperslab(xsel, H5S_SELECT_SET, xstart, NULL, xcount, NULL));
        } else {
            H5OK(H5Sselect_none(xsel));
            H5OK(H5Sselect_none(xms));
        }
        H5OK(H5Dwrite(xds, xmt, xms, xsel, dxpl, xbuf));
        write_1d(yds, H5T_NATIVE_UINT8, dxpl, cr0, nrows, ybuf);
        H5Sclose(xms);
        H5Sclose(xsel);
        write_s += MPI_Wtime() - tb;
        gen_s += tb - ta;
    }

    H5Pclose(dxpl);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Dclose(xds);
    H5Dclose(yds);
    H5Sclose(xfs);
    if (H5Fclose(file) < 0) die("error closing '%s'", o.out);
    H5Pclose(fapl);

    double t1 = MPI_Wtime();
    long long tot_ones = 0;
    double gen_max = 0.0, write_max = 0.0;
    reduce_stats(gen_s, write_s, ones, &gen_max, &write_max, &tot_ones);
    long long *tot_counts = NULL;
    double tot_nll = 0.0;
    if (K) {
        tot_counts = calloc((size_t)K, sizeof *tot_counts);
        if (!tot_counts) die("%s", "out of memory");
        MPI_Reduce(counts, tot_counts, K, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&nll_sum, &tot_nll, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    if (g_rank == 0 && !o.quiet) {
        double bytes = (double)m * (double)d * (double)itemsize + (double)m;
        printf("{\"out\":\"%s\",\"m\":%llu,\"d\":%llu,\"dtype\":\"%s\",\"seed\":%llu,"
               "\"corr\":%.17g,\"ranks\":%d,\"threads\":%d,\"bytes\":%.0f,\"seconds\":%.3f,"
               "\"gen_s_max\":%.3f,\"write_s_max\":%.3f,\"gbps\":%.3f,",
               o.out, m, d, dtname, seed, rho, o.nranks, omp_get_max_threads(), bytes, t1 - t0,
               gen_max, write_max, bytes / (t1 - t0) / 1e9);
        if (!K)
            printf("\"positive_fraction\":%.6f}\n", (double)tot_ones / (double)m);
        else {
            printf("\"classes\":%d,\"class_fractions\":[", K);
            for (int k = 0; k < K; ++k)
                printf("%s%.6f", k ? "," : "", (double)tot_counts[k] / (double)m);
            printf("],\"true_model_loss\":%.9g}\n", tot_nll / (double)m);
        }
    }
    free(tot_counts);
    free(counts);
    free(W);
    free(bK);

    free(xbuf);
    free(ybuf);
    free(w);
    MPI_Finalize();
    return 0;
}
