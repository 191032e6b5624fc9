/* shard.c — parallel HDF5 reading of one rank's rows (see dz/shard.h).
 *
 * Phases, each ending in an agreement so no rank waits alone in a collective:
 *   1. inspect (rank 0, serial HDF5 driver): file, datasets, shapes, types   → dz_err_agree
 *   2. plan (every rank): partition, memory check against MemAvailable of the node → agree
 *   3. read (collective H5Dread of each rank's hyperslab); an HDF5 failure here is fatal
 *      (MPI_Abort), since the other ranks are inside the same collective call
 *   4. scan (OpenMP, rank-local): labels in {0,1}, finite features, max |x|, checksum → agree
 */
#include "dz/shard.h"
#include "shard_internal.h"

#include <hdf5.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int64_t dz_block_rows(int64_t m, int64_t d, int64_t requested)
{
    if (requested > 0)
        return requested;
    int64_t most = requested < 0 ? -requested : INT64_MAX; /* a mini-batch size */
    /* Enough rows that folding a block's partial sums (O(d) work) costs little next to the
     * block's O(B·d) kernel work, while a small data set still has blocks for every thread. */
    int64_t b = (int64_t)1 << 18;
    b = d > 0 ? (b + d - 1) / d : b;
    if (b < 16) b = 16;
    if (b > 1024) b = 1024;
    int64_t cap = (m + 63) / 64;
    if (cap < 16) cap = 16;
    b = b < cap ? b : cap;
    return b < most ? b : most;
}

void dz_partition(int64_t m, int64_t B, int nranks, int rank, int64_t *row0, int64_t *rows)
{
    int64_t nblocks = (m + B - 1) / B;
    int64_t q = nblocks / nranks, r = nblocks % nranks;
    int64_t b0 = rank * q + (rank < r ? rank : r);
    int64_t nb = q + (rank < r ? 1 : 0);
    int64_t lo = b0 * B, hi = (b0 + nb) * B;
    if (lo > m) lo = m;
    if (hi > m) hi = m;
    *row0 = lo;
    *rows = hi - lo;
}

/* The feature buffer: 2 MiB-aligned and marked for transparent huge pages, so filling it
 * costs a page fault per 2 MiB instead of per 4 KiB (a large part of the load time). */
void *dz_shard_alloc_big(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge)
        return malloc(bytes);
    void *p = NULL;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, rounded) != 0)
        return NULL;
    madvise(p, rounded, MADV_HUGEPAGE); /* a hint: ignored where THP is off */
    return p;
}

void dz_shard_free(dz_shard *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->rowptr);
    free(s->col);
    free(s->val);
    free(s->y);
    free(s->maxabs);
    s->x = NULL;
    s->rowptr = NULL;
    s->col = NULL;
    s->val = NULL;
    s->y = NULL;
    s->maxabs = NULL;
}

/* ---- phase 1: inspection on rank 0 ---------------------------------------------------- */

static void describe_type(hid_t t, dz_dsinfo *info)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    info->size = sz;
    info->cls = c == H5T_INTEGER ? DZ_CLASS_INT : c == H5T_FLOAT ? DZ_CLASS_FLOAT : DZ_CLASS_OTHER;
    info->is_signed = c == H5T_INTEGER && H5Tget_sign(t) != H5T_SGN_NONE;
    const char *name = c == H5T_STRING ? "string" : c == H5T_COMPOUND ? "compound"
                     : c == H5T_ENUM ? "enum" : c == H5T_ARRAY ? "array" : c == H5T_OPAQUE ? "opaque"
                     : c == H5T_BITFIELD ? "bitfield" : c == H5T_REFERENCE ? "reference"
                     : c == H5T_VLEN ? "vlen" : "unknown";
    if (c == H5T_INTEGER)
        snprintf(info->type, sizeof info->type, "%sint%zu", info->is_signed ? "" : "u", sz * 8);
    else if (c == H5T_FLOAT)
        snprintf(info->type, sizeof info->type, "float%zu", sz * 8);
    else
        snprintf(info->type, sizeof info->type, "%s", name);
}

int dz_shard_describe(hid_t f, const char *path, const char *name, const char *what, dz_dsinfo *info,
                    dz_err *e)
{
    memset(info, 0, sizeof *info);
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return dz_fail(e, DZ_EDATA, "%s: %s dataset '%s' not found", path, what, name);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0)
        return dz_fail(e, DZ_EDATA, "%s: '%s' is not a dataset", path, name);
    hid_t t = H5Dget_type(ds);
    describe_type(t, info);
    H5Tclose(t);
    hid_t sp = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK];
    if (nd > 0 && nd <= H5S_MAX_RANK)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    info->ndims = nd < 0 ? 0 : nd;
    for (int i = 0; i < info->ndims; i++)
        info->dims[i] = (uint64_t)dims[i];
    H5Sclose(sp);
    H5Dclose(ds);
    return DZ_OK;
}

static void format_dims(const dz_dsinfo *x, char *out, size_t len)
{
    size_t k = (size_t)snprintf(out, len, "(");
    for (int i = 0; i < x->ndims && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%llu", i ? ", " : "",
                              (unsigned long long)x->dims[i]);
    if (k < len)
        snprintf(out + k, len - k, "%s)", x->ndims == 1 ? "," : "");
}

int dz_data_validate(const char *path, const char *xname, const char *yname, const dz_dsinfo *x,
                     const dz_dsinfo *y, dz_dtype want, dz_plan *p, dz_err *e)
{
    memset(p, 0, sizeof *p);
    char xs[160], ys[160];
    format_dims(x, xs, sizeof xs);
    format_dims(y, ys, sizeof ys);
    if (x->cls == DZ_CLASS_OTHER)
        return dz_fail(e, DZ_EDATA, "%s: features dataset '%s' has type %s; expected an integer or float type",
                       path, xname, x->type);
    if (y->cls == DZ_CLASS_OTHER)
        return dz_fail(e, DZ_EDATA, "%s: labels dataset '%s' has type %s; expected an integer or float type",
                       path, yname, y->type);
    if (x->ndims < 1)
        return dz_fail(e, DZ_EDATA, "%s: features dataset '%s' is a scalar (rank 0); expected shape (m, ...)",
                       path, xname);
    if (y->ndims < 1)
        return dz_fail(e, DZ_EDATA, "%s: labels dataset '%s' is a scalar (rank 0); expected shape (m,)",
                       path, yname);
    if (x->size == 0 || x->size > 16 || y->size == 0 || y->size > 16)
        return dz_fail(e, DZ_EDATA, "%s: unsupported element size (features %zu, labels %zu bytes)",
                       path, x->size, y->size);
    uint64_t d = 1, bytes = 0, m = x->dims[0];
    int overflow = 0;
    for (int i = 1; i < x->ndims; i++)
        overflow |= __builtin_mul_overflow(d, x->dims[i], &d);
    overflow = overflow || __builtin_mul_overflow(d, m, &bytes) ||
               __builtin_mul_overflow(bytes, (uint64_t)8, &bytes) || bytes > (uint64_t)INT64_MAX ||
               d > ((uint64_t)1 << 40) || m > ((uint64_t)1 << 50);
    if (overflow)
        return dz_fail(e, DZ_EDATA, "%s: features '%s' shape %s: the element count overflows 64 bits",
                       path, xname, xs);
    if (d > DZ_MAX_FEATURES)
        return dz_fail(e, DZ_EDATA, "%s: features '%s' shape %s has d = %llu values per row; at most "
                       "%llu are supported (MPI counts of the per-step allreduce are ints)",
                       path, xname, xs, (unsigned long long)d, (unsigned long long)DZ_MAX_FEATURES);
    if (m == 0)
        return dz_fail(e, DZ_EDATA, "%s: features '%s' shape %s has no rows (m = 0)", path, xname, xs);
    if (d == 0)
        return dz_fail(e, DZ_EDATA, "%s: features '%s' shape %s has no features (d = 0)", path, xname, xs);
    int yl;
    if (y->ndims == 1 && y->dims[0] == m) yl = 0;
    else if (y->ndims == 2 && y->dims[0] == m && y->dims[1] == 1) yl = 1;
    else if (y->ndims == 2 && y->dims[0] == 1 && y->dims[1] == m) yl = 2;
    else
        return dz_fail(e, DZ_EDATA,
                       "%s: labels '%s' shape %s does not fit features '%s' shape %s: expected (%llu,), "
                       "(%llu, 1) or (1, %llu)",
                       path, yname, ys, xname, xs, (unsigned long long)m, (unsigned long long)m,
                       (unsigned long long)m);
    /* In-memory type: native keeps what is exact and compact. */
    dz_dtype nat;
    if (x->cls == DZ_CLASS_INT && x->size == 1 && !x->is_signed) nat = DZ_DTYPE_U8;
    else if (x->cls == DZ_CLASS_INT && x->size <= 2) nat = DZ_DTYPE_F32; /* exact in float32 */
    else if (x->cls == DZ_CLASS_FLOAT && x->size <= 4) nat = DZ_DTYPE_F32;
    else nat = DZ_DTYPE_F64;
    if (want == DZ_DTYPE_U8 && nat != DZ_DTYPE_U8)
        return dz_fail(e, DZ_ECONFIG, "[data] dtype = uint8 needs unsigned 8-bit features, but %s:%s is %s",
                       path, xname, x->type);
    p->m = (int64_t)m;
    p->d = (int64_t)d;
    p->ylayout = yl;
    p->mem = want == DZ_DTYPE_NATIVE ? nat : want;
    snprintf(p->file_type, sizeof p->file_type, "%s", x->type);
    return DZ_OK;
}

long long dz_h5_open_read(const char *path, const char *what, dz_err *e)
{
    if (access(path, R_OK) != 0) {
        dz_fail(e, DZ_EDATA, "%s: cannot read %s (%s)", path, what,
                access(path, F_OK) ? "no such file" : "permission denied");
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        dz_fail(e, DZ_EDATA, "%s: not an HDF5 file (or truncated/corrupt)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        dz_fail(e, DZ_EDATA, "%s: HDF5 cannot open the %s (truncated or corrupt?)", path, what);
    return f;
}

/* Rank 0's verdict on the request's file: the plan, or a message (r->yname NULL: features
 * only, the labels' shape is taken to fit; r->expect_d > 0: d must equal it). */
static int inspect(const dz_shard_req *r, dz_plan *p, dz_err *e)
{
    const char *path = r->path, *xname = r->xname, *yname = r->yname;
    hid_t f = dz_h5_open_read(path, "data file", e);
    if (f < 0)
        return e->code;
    dz_dsinfo x, y;
    int64_t nnz = 0;
    const int csr = dz_csr_is_group(f, xname);
    if ((csr ? dz_csr_inspect(f, path, xname, &x, &nnz, e)
             : dz_shard_describe(f, path, xname, "features", &x, e)) == DZ_OK &&
        (!yname || dz_shard_describe(f, path, yname, "labels", &y, e) == DZ_OK)) {
        if (!yname) /* no labels: a stand-in that fits any x */
            y = (dz_dsinfo){.ndims = 1, .dims = {x.ndims ? x.dims[0] : 0}, .cls = DZ_CLASS_INT,
                            .size = 1, .type = "uint8"};
        dz_data_validate(path, xname, yname ? yname : "(none)", &x, &y, r->want, p, e);
    }
    if (e->code == DZ_OK && csr) {
        p->csr = 1;
        p->nnz = nnz;
        if (r->want == DZ_DTYPE_U8)
            dz_fail(e, DZ_ECONFIG, "[data] dtype = uint8 is for dense features; the CSR values of "
                    "%s:%s are held as float32 or float64 (set dtype = native, float32 or float64)",
                    path, xname);
        else if (p->mem == DZ_DTYPE_U8)
            p->mem = DZ_DTYPE_F32; /* exact, and the CSR kernels read float32 or float64 */
    }
    H5Fclose(f);
    if (e->code == DZ_OK && r->expect_d > 0 && p->d != r->expect_d)
        dz_fail(e, DZ_EDATA, "%s: features '%s' have d = %lld values per row, but %s has d = %lld",
                path, xname, (long long)p->d, r->expect_what ? r->expect_what : "the model",
                (long long)r->expect_d);
    return e->code;
}

/* ---- phase 2: memory check -------------------------------------------------------------- */

/* Bytes this node can still give us: min(MemAvailable, cgroup memory.max - usage). */
static double node_available_bytes(void)
{
    double avail = INFINITY;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned long long kb;
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
                avail = (double)kb * 1024.0;
        }
        fclose(f);
    }
    f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long lim, cur = 0;
        if (fscanf(f, "%llu", &lim) == 1) {
            FILE *g = fopen("/sys/fs/cgroup/memory.current", "r");
            if (g) {
                if (fscanf(g, "%llu", &cur) != 1)
                    cur = 0;
                fclose(g);
            }
            double c = (double)lim - (double)cur;
            if (c < avail)
                avail = c;
        }
        fclose(f);
    }
    return avail;
}

int dz_shard_check_memory(MPI_Comm comm, const char *path, double need, const char *what,
                          dz_err *e)
{
    int rank, node_rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    MPI_Comm node;
    DZ_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
    double node_need = 0;
    DZ_MPI(MPI_Allreduce(&need, &node_need, 1, MPI_DOUBLE, MPI_SUM, node));
    DZ_MPI(MPI_Comm_rank(node, &node_rank));
    DZ_MPI(MPI_Comm_free(&node));
    double avail = node_available_bytes();
    if (node_rank == 0 && node_need > 0.9 * avail)
        dz_fail(e, DZ_EDATA,
                "%s: data set too large: %s need %.3f GiB on this node (its ranks' shards), but "
                "only %.3f GiB of memory is available; use more nodes",
                path, what, node_need / 1073741824.0, avail / 1073741824.0);
    return dz_err_agree(comm, e);
}

/* ---- phase 4: scan ---------------------------------------------------------------------- */

uint64_t dz_shard_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Hash of one row's bytes, keyed by its global index; rows are summed mod 2^64, so the total
 * does not depend on how rows are split over ranks and threads.  Four independent lanes keep
 * the multiplier busy (the scan runs at memory speed). */
uint64_t dz_shard_row_hash(const unsigned char *p, size_t n, int64_t grow, double y)
{
    static const uint64_t K[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                  0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL};
    uint64_t h[4] = {1, 2, 3, 4};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++) {
            uint64_t u;
            memcpy(&u, p + i + 8 * (size_t)l, 8);
            h[l] = (h[l] ^ u) * K[l];
            h[l] ^= h[l] >> 29;
        }
    uint64_t t = 0x100000001b3ULL;
    for (; i < n; i++)
        t = (t ^ p[i]) * 0x100000001b3ULL;
    uint64_t yb;
    memcpy(&yb, &y, 8);
    return dz_shard_mix64(dz_shard_mix64((uint64_t)grow + K[0]) ^ dz_shard_mix64(h[0] + K[1] * h[1]) ^
                 dz_shard_mix64(h[2] + K[3] * h[3]) ^ dz_shard_mix64(t + yb));
}

/* One thread's rows [lo, hi): max |x| per feature into mx, first non-finite value, checksum. */
#define DEFINE_SCAN(T, SUF, ISFLOAT)                                                          \
    static void scan_##SUF(const dz_shard *s, int64_t lo, int64_t hi, double *mx,            \
                           uint64_t *sum, int64_t *bad_row, int64_t *bad_col, double *bad_val) \
    {                                                                                         \
        const int64_t d = s->d;                                                               \
        for (int64_t i = lo; i < hi; i++) {                                                   \
            const T *row = (const T *)s->x + (size_t)i * (size_t)d;                          \
            int64_t nbad = 0;                                                                 \
            for (int64_t j = 0; j < d; j++) {                                                 \
                double a = fabs((double)row[j]);                                              \
                if (ISFLOAT) nbad += !(a <= DBL_MAX);                                         \
                mx[j] = a > mx[j] ? a : mx[j]; /* NaN compares false: ignored */              \
            }                                                                                 \
            if (nbad && *bad_row < 0)                                                         \
                for (int64_t j = 0; j < d; j++)                                               \
                    if (!isfinite((double)row[j])) {                                          \
                        *bad_row = s->row0 + i;                                               \
                        *bad_col = j;                                                         \
                        *bad_val = (double)row[j];                                            \
                        break;                                                                \
                    }                                                                         \
            *sum += dz_shard_row_hash((const unsigned char *)row, (size_t)d * sizeof(T), s->row0 + i,  \
                             s->y[i]);                                                        \
        }                                                                                     \
    }
DEFINE_SCAN(uint8_t, u8, 0)
DEFINE_SCAN(float, f32, 1)
DEFINE_SCAN(double, f64, 1)

/* Labels: {0, 1} for the binary model; integers 0 … K−1 for softmax (r->classes = K given,
 * or −1: K = the largest label + 1 over all ranks).  Sets s->classes.  r->expect_what (or
 * NULL) names the model that expects the labels, for the message.  Collective; returns an
 * agreed code. */
int dz_shard_check_labels(MPI_Comm comm, const dz_shard_req *r, dz_shard *s, dz_err *e)
{
    const char *path = r->path, *yname = r->yname, *who = r->expect_what;
    const int64_t classes = r->classes;
    int64_t bad_row = -1, ymax = -1;
    double bad = 0;
    for (int64_t i = 0; i < s->rows && bad_row < 0; i++) {
        double y = s->y[i];
        int ok = classes == 0 ? (y == 0.0 || y == 1.0)
                              : (y >= 0.0 && y <= 9.0e15 && y == floor(y) && (classes < 0 || y < (double)classes));
        if (!ok) {
            bad_row = s->row0 + i;
            bad = y;
        } else if ((int64_t)y > ymax) {
            ymax = (int64_t)y;
        }
    }
    if (bad_row >= 0 && classes == 0)
        dz_fail(e, DZ_EDATA, "%s: label %s[%lld] = %.17g; labels must be 0 or 1%s%s%s", path,
                yname, (long long)bad_row, bad, who ? " (" : "", who ? who : "",
                who ? " is a binary logistic model)" : "");
    else if (bad_row >= 0 && classes > 0)
        dz_fail(e, DZ_EDATA, "%s: label %s[%lld] = %.17g; softmax labels must be integers 0 ... "
                "%lld (the model has %lld classes)", path, yname, (long long)bad_row, bad,
                (long long)(classes - 1), (long long)classes);
    else if (bad_row >= 0)
        dz_fail(e, DZ_EDATA, "%s: label %s[%lld] = %.17g; softmax labels must be integers 0, 1, "
                "2, ... (the class numbers)", path, yname, (long long)bad_row, bad);
    if (dz_err_agree(comm, e) != DZ_OK || classes == 0)
        return e->code;
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, &ymax, 1, MPI_INT64_T, MPI_MAX, comm));
    int64_t K = classes > 0 ? classes : ymax + 1;
    if (K < 2)
        dz_fail(e, DZ_EDATA, "%s: every label in %s is %lld: softmax needs at least 2 classes "
                "(set [model] classes to train anyway)", path, yname, (long long)ymax);
    if (dz_err_agree(comm, e) != DZ_OK)
        return e->code;
    s->classes = K;
    return DZ_OK;
}

void dz_shard_warn_empty_classes(MPI_Comm comm, const dz_shard *s, const char *path,
                                 const char *yname)
{
    const int64_t K = s->classes;
    int64_t *count = calloc((size_t)K, sizeof(int64_t));
    if (!count)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for %lld class counts", (long long)K);
    for (int64_t i = 0; i < s->rows; i++)
        count[(int64_t)s->y[i]]++;
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, count, (int)K, MPI_INT64_T, MPI_SUM, comm));
    int rank;
    MPI_Comm_rank(comm, &rank);
    int64_t empty = 0;
    char list[160] = "";
    for (int64_t k = 0; k < K; k++)
        if (count[k] == 0 && empty++ < 10) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%lld", n ? ", " : "", (long long)k);
        }
    if (empty && rank == 0)
        fprintf(stderr, "dztrain: warning: %s: %lld of %lld classes have no example in %s "
                "(class%s %s%s); they are trained towards probability 0\n", path,
                (long long)empty, (long long)K, yname, empty > 1 ? "es" : "", list,
                empty > 10 ? ", ..." : "");
    free(count);
}

static int scan(MPI_Comm comm, const char *path, const char *xname, dz_shard *s, dz_err *e)
{
    int64_t d = s->d;
    int nt = omp_get_max_threads();
    double *mxall = calloc((size_t)nt * (size_t)d, sizeof(double));
    s->maxabs = calloc((size_t)d, sizeof(double));
    int64_t bad_row = -1, bad_col = -1;
    double bad_val = 0;
    uint64_t checksum = 0;
    if (!mxall || !s->maxabs) { /* the other ranks are on their way to the agreement */
        dz_fail(e, DZ_ERUNTIME, "out of memory for %lld feature maxima", (long long)d);
        return dz_shard_scan_finish(comm, s, mxall, nt, 0, e);
    }
#pragma omp parallel reduction(+ : checksum)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        double *mx = mxall + (size_t)t * (size_t)d;
        int64_t lo = s->rows * t / n, hi = s->rows * (t + 1) / n;
        int64_t bad_row_t = -1, bad_col_t = -1;
        double bad_val_t = 0;
        uint64_t sum = 0;
        switch (s->dtype) {
        case DZ_DTYPE_U8: scan_u8(s, lo, hi, mx, &sum, &bad_row_t, &bad_col_t, &bad_val_t); break;
        case DZ_DTYPE_F32: scan_f32(s, lo, hi, mx, &sum, &bad_row_t, &bad_col_t, &bad_val_t); break;
        default: scan_f64(s, lo, hi, mx, &sum, &bad_row_t, &bad_col_t, &bad_val_t); break;
        }
        checksum += sum;
#pragma omp critical
        if (bad_row_t >= 0 && (bad_row < 0 || bad_row_t < bad_row)) {
            bad_row = bad_row_t;
            bad_col = bad_col_t;
            bad_val = bad_val_t;
        }
    }
    if (bad_row >= 0)
        dz_fail(e, DZ_EDATA, "%s: feature %s[%lld] (flattened column %lld) = %g; features must be finite",
                path, xname, (long long)bad_row, (long long)bad_col, bad_val);
    return dz_shard_scan_finish(comm, s, mxall, nt, checksum, e);
}

int dz_shard_scan_finish(MPI_Comm comm, dz_shard *s, double *mxall, int nt, uint64_t checksum,
                         dz_err *e)
{
    const int64_t d = s->d;
    for (int t = 0; mxall && s->maxabs && t < nt; t++)
        for (int64_t j = 0; j < d; j++)
            if (mxall[(size_t)t * (size_t)d + (size_t)j] > s->maxabs[j])
                s->maxabs[j] = mxall[(size_t)t * (size_t)d + (size_t)j];
    free(mxall);
    if (dz_err_agree(comm, e) != DZ_OK)
        return e->code;
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, s->maxabs, (int)d, MPI_DOUBLE, MPI_MAX, comm));
    DZ_MPI(MPI_Allreduce(&checksum, &s->checksum, 1, MPI_UINT64_T, MPI_SUM, comm));
    return DZ_OK;
}

/* ---- the whole load --------------------------------------------------------------------- */

hid_t dz_shard_open_mpio(MPI_Comm comm, const char *path, hid_t *dxpl)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0)
        dz_fatal(comm, DZ_EDATA, "%s: parallel HDF5 open failed (file changed while starting?)", path);
    *dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(*dxpl, H5FD_MPIO_COLLECTIVE);
    /* Each rank's selection is one contiguous run of the file: let MPI-IO read it directly
     * instead of through two-phase aggregation buffers (still a collective call). */
    if (!getenv("DZ_IO_TWO_PHASE"))
        H5Pset_dxpl_mpio_collective_opt(*dxpl, H5FD_MPIO_INDIVIDUAL_IO);
    return f;
}

/* The collective read of this rank's labels (as double) into s->y.  An HDF5 failure here is
 * fatal (the other ranks are inside the same call). */
void dz_shard_read_labels(MPI_Comm comm, hid_t f, hid_t dxpl, const char *path,
                          const char *yname, int ylayout, dz_shard *s)
{
    hid_t ys = H5Dopen2(f, yname, H5P_DEFAULT);
    hid_t fs = H5Dget_space(ys);
    hsize_t ystart[2] = {0, 0}, ycount[2] = {1, 1};
    int ydim = ylayout == 2 ? 1 : 0;
    ystart[ydim] = (hsize_t)s->row0;
    ycount[ydim] = (hsize_t)s->rows;
    hsize_t ny = (hsize_t)s->rows;
    hid_t ms = H5Screate_simple(1, ny ? &ny : (hsize_t[]){1}, NULL);
    if (s->rows > 0) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, ystart, NULL, ycount, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    herr_t rc = H5Dread(ys, H5T_NATIVE_DOUBLE, ms, fs, dxpl, s->y);
    if (rc < 0)
        dz_fatal(comm, DZ_EDATA, "%s: reading labels '%s' failed (truncated file?)", path, yname);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(ys);
}

int dz_shard_load(MPI_Comm comm, const char *path, const char *xname, const char *yname,
                  dz_dtype want, int64_t requested_block_rows, int64_t classes, dz_shard *s,
                  dz_err *e)
{
    dz_shard_req r = {.path = path, .xname = xname, .yname = yname, .want = want,
                      .block_rows = requested_block_rows, .classes = classes};
    return dz_shard_load_req(comm, &r, s, e);
}

int dz_shard_load_req(MPI_Comm comm, const dz_shard_req *r, dz_shard *s, dz_err *e)
{
    int rank, nranks;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    DZ_MPI(MPI_Comm_size(comm, &nranks));
    memset(s, 0, sizeof *s);
    e->code = DZ_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's error stack */

    /* 1. inspect on rank 0, share the plan */
    dz_plan p;
    memset(&p, 0, sizeof p);
    const char *path = r->path, *xname = r->xname, *yname = r->yname;
    if (rank == 0)
        inspect(r, &p, e);
    if (dz_err_agree(comm, e) != DZ_OK)
        return e->code;
    DZ_MPI(MPI_Bcast(&p, (int)sizeof p, MPI_BYTE, 0, comm));
    if (p.csr)
        return dz_csr_load(comm, r, &p, s, e);

    /* 2. plan this rank's rows and check memory on the node */
    s->m = p.m;
    s->d = p.d;
    s->dtype = p.mem;
    snprintf(s->file_type, sizeof s->file_type, "%s", p.file_type);
    /* softmax: the block kernel does K times the work per row at a higher rate than the
     * memory-bound binary kernel, so the O(K·d) fold per block weighs more; blocks are sized
     * as if rows had d/4 features (4x the rows, within dz_block_rows's limits) */
    s->block_rows = dz_block_rows(p.m, r->classes ? (p.d + 3) / 4 : p.d, r->block_rows);
    dz_partition(p.m, s->block_rows, nranks, rank, &s->row0, &s->rows);
    size_t isz = dz_dtype_size(p.mem);
    double need = (double)s->rows * (double)p.d * (double)isz + (double)s->rows * 8.0;
    char what[160];
    snprintf(what, sizeof what, "%lld rows x %lld features as %s", (long long)p.m, (long long)p.d,
             dz_dtype_name(p.mem));
    if (dz_shard_check_memory(comm, path, need, what, e) != DZ_OK) /* before any rank allocates */
        return e->code;
    {
        s->x = dz_shard_alloc_big(s->rows ? (size_t)s->rows * (size_t)p.d * isz : 1);
        s->y = calloc(s->rows ? (size_t)s->rows : 1, sizeof(double)); /* 0 without labels */
        if (!s->x || !s->y)
            dz_fail(e, DZ_ERUNTIME, "out of memory: %lld rows x %lld features (%.3f GiB)",
                    (long long)s->rows, (long long)p.d, need / 1073741824.0);
    }
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_shard_free(s);
        return e->code;
    }

    /* 3. collective read of this rank's hyperslabs */
    double t0 = MPI_Wtime();
    hid_t dxpl;
    hid_t f = dz_shard_open_mpio(comm, path, &dxpl);

    hid_t xs = H5Dopen2(f, xname, H5P_DEFAULT);
    hid_t fs = H5Dget_space(xs);
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    H5Sget_simple_extent_dims(fs, count, NULL);
    start[0] = (hsize_t)s->row0;
    count[0] = (hsize_t)s->rows;
    hsize_t nelem = (hsize_t)s->rows * (hsize_t)p.d;
    hid_t ms = H5Screate_simple(1, nelem ? &nelem : (hsize_t[]){1}, NULL);
    if (s->rows > 0) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    hid_t mt = p.mem == DZ_DTYPE_U8 ? H5T_NATIVE_UCHAR
             : p.mem == DZ_DTYPE_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    herr_t rc = H5Dread(xs, mt, ms, fs, dxpl, s->x);
    if (rc < 0)
        dz_fatal(comm, DZ_EDATA, "%s: reading features '%s' rows %lld..%lld failed (truncated file?)",
                 path, xname, (long long)s->row0, (long long)(s->row0 + s->rows));
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(xs);

    if (yname)
        dz_shard_read_labels(comm, f, dxpl, path, yname, p.ylayout, s);
    H5Pclose(dxpl);
    H5Fclose(f);
    s->read_s = MPI_Wtime() - t0;

    /* 4. validate and summarise */
    t0 = MPI_Wtime();
    int code = yname ? dz_shard_check_labels(comm, r, s, e) : DZ_OK;
    if (code == DZ_OK)
        code = scan(comm, path, xname, s, e);
    s->scan_s = MPI_Wtime() - t0;
    if (code != DZ_OK)
        dz_shard_free(s);
    return code;
}
