/*
 * dzgen: parallel synthetic data-set generator for dztrain.
 *
 *   mpirun -n N dzgen --out FILE --m M --d D --dtype uint8|float32|float64
 *                     [--seed S] [--dist uniform|normal] [--corr RHO] [--logit-std S]
 *                     [--classes K] [--x-name x] [--y-name y] [--chunk-mb MB]
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

/* ------------------------------------------------------------------------- */

static void usage(void)
{
    if (g_rank == 0)
        fprintf(stderr,
                "usage: mpirun -n N dzgen --out FILE --m M --d D --dtype uint8|float32|float64\n"
                "              [--seed S] [--dist uniform|normal] [--corr RHO] [--logit-std S]\n"
                "              [--classes K] [--x-name x] [--y-name y] [--chunk-mb MB] [--quiet]\n"
                "Features: uint8 uniform 0..255 (scale 255); float32/float64 uniform [-1,1)\n"
                "(default) or standard normal (scale 1); --corr RHO (|RHO| < 1, implies normal):\n"
                "AR(1) along the row, x_j = RHO x_{j-1} + sqrt(1-RHO^2) e_j.  Labels y ~ Bernoulli(\n"
                "sigmoid(x/scale . w_true + b_true)), w_true_j ~ N(0,1) * logit_std / sqrt(d * var(x/scale)).\n"
                "--classes K (2..256): labels 0..K-1, y ~ Categorical(softmax(W_true x/scale + b_true)),\n"
                "w_true (K, D) drawn like w_true, b_true (K,), attribute classes = K.\n");
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

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int nranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);

    const char *out = NULL, *xname = "x", *yname = "y";
    unsigned long long m = 0, d = 0, seed = 1, chunk_mb = 32;
    enum dtype dt = DT_F32;
    int have_dtype = 0, have_dist = 0, quiet = 0;
    enum dist ds = DIST_UNIFORM;
    double logit_std = 3.0, rho = 0.0;
    int K = 0; /* --classes: 0 = the binary set */

    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"m", required_argument, 0, 'm'},
        {"d", required_argument, 0, 'd'},       {"dtype", required_argument, 0, 't'},
        {"seed", required_argument, 0, 's'},    {"x-name", required_argument, 0, 'x'},
        {"y-name", required_argument, 0, 'y'},  {"dist", required_argument, 0, 'D'},
        {"logit-std", required_argument, 0, 'L'}, {"chunk-mb", required_argument, 0, 'c'},
        {"corr", required_argument, 0, 'C'},    {"classes", required_argument, 0, 'K'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm': m = parse_u64("--m", optarg); break;
        case 'd': d = parse_u64("--d", optarg); break;
        case 's': seed = parse_u64("--seed", optarg); break;
        case 'c': chunk_mb = parse_u64("--chunk-mb", optarg); break;
        case 'x': xname = optarg; break;
        case 'y': yname = optarg; break;
        case 'q': quiet = 1; break;
        case 'K': {
            unsigned long long k = parse_u64("--classes", optarg);
            if (k < 2 || k > 256) die_usage("invalid value for %s (2..256)", "--classes");
            K = (int)k;
            break;
        }
        case 't':
            have_dtype = 1;
            if (!strcmp(optarg, "uint8")) dt = DT_U8;
            else if (!strcmp(optarg, "float32")) dt = DT_F32;
            else if (!strcmp(optarg, "float64")) dt = DT_F64;
            else die_usage("unknown --dtype '%s' (uint8|float32|float64)", optarg);
            break;
        case 'D':
            have_dist = 1;
            if (!strcmp(optarg, "uniform")) ds = DIST_UNIFORM;
            else if (!strcmp(optarg, "normal")) ds = DIST_NORMAL;
            else die_usage("unknown --dist '%s' (uniform|normal)", optarg);
            break;
        case 'L': {
            char *end = NULL;
            logit_std = strtod(optarg, &end);
            if (end == optarg || *end || !(logit_std >= 0.0) || !isfinite(logit_std))
                die_usage("invalid value for %s", "--logit-std");
            break;
        }
        case 'C': {
            char *end = NULL;
            rho = strtod(optarg, &end);
            if (end == optarg || *end || !(fabs(rho) < 1.0))
                die_usage("invalid value for %s (|RHO| < 1)", "--corr");
            break;
        }
        case 'h': usage(); MPI_Finalize(); return 0;
        default: usage(); die_usage("%s", "bad command line"); break;
        }
    }
    if (optind != argc) { usage(); die_usage("unexpected argument '%s'", argv[optind]); }
    if (!out || !m || !d || !have_dtype) { usage(); die_usage("%s", "--out, --m, --d and --dtype are required"); }
    if (chunk_mb == 0) chunk_mb = 1;
    if (rho != 0.0) {
        if (dt == DT_U8) die_usage("%s", "--corr needs a float dtype");
        if (have_dist && ds != DIST_NORMAL) die_usage("%s", "--corr needs --dist normal");
        ds = DIST_NORMAL;
    }
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
    const double wscale = logit_std / sqrt((double)d * var_x);
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
    const unsigned long long base = m / (unsigned long long)nranks, rem = m % (unsigned long long)nranks;
    const unsigned long long my_rows = base + ((unsigned long long)g_rank < rem ? 1 : 0);
    const unsigned long long r0 = (unsigned long long)g_rank * base +
                                  ((unsigned long long)g_rank < rem ? (unsigned long long)g_rank : rem);
    const size_t row_bytes = (size_t)d * itemsize;
    unsigned long long chunk_rows = (chunk_mb << 20) / row_bytes;
    if (chunk_rows == 0) chunk_rows = 1;
    if (chunk_rows > my_rows && my_rows > 0) chunk_rows = my_rows;
    unsigned long long my_chunks = my_rows ? (my_rows + chunk_rows - 1) / chunk_rows : 0, max_chunks = 0;
    MPI_Allreduce(&my_chunks, &max_chunks, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);

    void *xbuf = NULL;
    uint8_t *ybuf = NULL;
    if (my_rows) {
        xbuf = aligned_alloc(64, ((chunk_rows * row_bytes + 63) / 64) * 64);
        ybuf = malloc(chunk_rows);
        if (!xbuf || !ybuf) die("%s", "out of memory (try a smaller --chunk-mb)");
    }

    double t0 = MPI_Wtime();

    /* ---- file ---- */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    MPI_Info info;
    MPI_Info_create(&info);
    H5OK(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, info));
#if H5_VERSION_GE(1, 10, 0)
    H5OK(H5Pset_all_coll_metadata_ops(fapl, 1));
    H5OK(H5Pset_coll_metadata_write(fapl, 1));
#endif
    hid_t file = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) die("cannot create '%s'", out);

    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5OK(H5Pset_layout(dcpl, H5D_CONTIGUOUS));
    H5OK(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    H5OK(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
    H5OK(H5Pset_obj_track_times(dcpl, 0)); /* byte-identical files for any N */

    hsize_t xdims[2] = {m, d}, ydims[1] = {m}, wdims[2] = {d, 0}, bdims[1] = {(hsize_t)K};
    if (K) { wdims[0] = (hsize_t)K; wdims[1] = d; }
    hid_t xfs = H5Screate_simple(2, xdims, NULL);
    hid_t yfs = H5Screate_simple(1, ydims, NULL);
    hid_t wfs = H5Screate_simple(K ? 2 : 1, wdims, NULL);
    hid_t bfs = K ? H5Screate_simple(1, bdims, NULL) : H5Screate(H5S_SCALAR);
    hid_t xft = dt == DT_U8 ? H5T_STD_U8LE : dt == DT_F32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    hid_t xmt = dt == DT_U8 ? H5T_NATIVE_UINT8 : dt == DT_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;

    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5OK(H5Pset_create_intermediate_group(lcpl, 1));
    hid_t xds = H5Dcreate2(file, xname, xft, xfs, lcpl, dcpl, H5P_DEFAULT);
    if (xds < 0) die("cannot create dataset '%s'", xname);
    hid_t yds = H5Dcreate2(file, yname, H5T_STD_U8LE, yfs, lcpl, dcpl, H5P_DEFAULT);
    if (yds < 0) die("cannot create dataset '%s'", yname);
    hid_t wds = H5Dcreate2(file, "w_true", H5T_IEEE_F64LE, wfs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hid_t bds = H5Dcreate2(file, "b_true", H5T_IEEE_F64LE, bfs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5OK(wds);
    H5OK(bds);

    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5OK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));

    /* w_true / b_true: rank 0 writes, others join the collective with an empty selection */
    {
        hid_t ms = H5Screate_simple(K ? 2 : 1, wdims, NULL);
        if (g_rank != 0) { H5OK(H5Sselect_none(ms)); H5OK(H5Sselect_none(wfs)); }
        H5OK(H5Dwrite(wds, H5T_NATIVE_DOUBLE, ms, wfs, dxpl, K ? W : w));
        H5Sclose(ms);
        hid_t bms = K ? H5Screate_simple(1, bdims, NULL) : H5Screate(H5S_SCALAR), bfs2 = H5Scopy(bfs);
        if (g_rank != 0) { H5OK(H5Sselect_none(bms)); H5OK(H5Sselect_none(bfs2)); }
        H5OK(H5Dwrite(bds, H5T_NATIVE_DOUBLE, bms, bfs2, dxpl, K ? bK : &b));
        H5Sclose(bms);
        H5Sclose(bfs2);
    }

    /* attributes (collective, identical on all ranks) */
    H5OK(dz_h5_attr_str(file, "generator", "dzgen"));
    H5OK(dz_h5_attr_i64(file, "generator_version", DZGEN_VERSION));
    H5OK(dz_h5_attr_i64(file, "seed", (long long)seed));
    H5OK(dz_h5_attr_i64(file, "m", (long long)m));
    H5OK(dz_h5_attr_i64(file, "d", (long long)d));
    H5OK(dz_h5_attr_str(file, "dtype", dtname));
    H5OK(dz_h5_attr_str(file, "dist", dt == DT_U8 ? "uniform_int_0_255" : ds == DIST_UNIFORM ? "uniform_-1_1" : "normal_0_1"));
    H5OK(dz_h5_attr_f64(file, "scale", scale));
    H5OK(dz_h5_attr_f64(file, "logit_std", logit_std));
    if (rho != 0.0) /* only then, so that files without --corr stay as they were */
        H5OK(dz_h5_attr_f64(file, "corr", rho));
    H5OK(dz_h5_attr_str(file, "x_name", xname));
    H5OK(dz_h5_attr_str(file, "y_name", yname));
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
    for (unsigned long long ci = 0; ci < max_chunks; ++ci) {
        unsigned long long cr0 = r0 + ci * chunk_rows, nrows = 0;
        if (ci < my_chunks) {
            nrows = my_rows - ci * chunk_rows;
            if (nrows > chunk_rows) nrows = chunk_rows;
        }
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
        hsize_t ystart[1] = {cr0}, ycount[1] = {nrows}, ymd[1] = {nrows ? nrows : 1};
        hid_t yms = H5Screate_simple(1, ymd, NULL);
        hid_t ysel = H5Scopy(yfs);
        if (nrows) {
            H5OK(H5Sselect_hyperslab(xsel, H5S_SELECT_SET, xstart, NULL, xcount, NULL));
            H5OK(H5Sselect_hyperslab(ysel, H5S_SELECT_SET, ystart, NULL, ycount, NULL));
        } else {
            H5OK(H5Sselect_none(xsel));
            H5OK(H5Sselect_none(xms));
            H5OK(H5Sselect_none(ysel));
            H5OK(H5Sselect_none(yms));
        }
        H5OK(H5Dwrite(xds, xmt, xms, xsel, dxpl, xbuf));
        H5OK(H5Dwrite(yds, H5T_NATIVE_UINT8, yms, ysel, dxpl, ybuf));
        H5Sclose(xms);
        H5Sclose(xsel);
        H5Sclose(yms);
        H5Sclose(ysel);
        write_s += MPI_Wtime() - tb;
        gen_s += tb - ta;
    }

    H5Pclose(dxpl);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Dclose(xds);
    H5Dclose(yds);
    H5Dclose(wds);
    H5Dclose(bds);
    H5Sclose(xfs);
    H5Sclose(yfs);
    H5Sclose(wfs);
    H5Sclose(bfs);
    if (H5Fclose(file) < 0) die("error closing '%s'", out);
    H5Pclose(fapl);
    MPI_Info_free(&info);

    double t1 = MPI_Wtime();
    long long tot_ones = 0;
    double gen_max = 0.0, write_max = 0.0;
    MPI_Reduce(&ones, &tot_ones, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&gen_s, &gen_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&write_s, &write_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    long long *tot_counts = NULL;
    double tot_nll = 0.0;
    if (K) {
        tot_counts = calloc((size_t)K, sizeof *tot_counts);
        if (!tot_counts) die("%s", "out of memory");
        MPI_Reduce(counts, tot_counts, K, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&nll_sum, &tot_nll, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    if (g_rank == 0 && !quiet) {
        double bytes = (double)m * (double)d * (double)itemsize + (double)m;
        printf("{\"out\":\"%s\",\"m\":%llu,\"d\":%llu,\"dtype\":\"%s\",\"seed\":%llu,"
               "\"corr\":%.17g,\"ranks\":%d,\"threads\":%d,\"bytes\":%.0f,\"seconds\":%.3f,"
               "\"gen_s_max\":%.3f,\"write_s_max\":%.3f,\"gbps\":%.3f,",
               out, m, d, dtname, seed, rho, nranks, omp_get_max_threads(), bytes, t1 - t0,
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
