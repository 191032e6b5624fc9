/* shard_csr.c — one rank's rows of CSR (sparse) features, read with parallel HDF5 (see
 * dz/shard.h for the contract; shard.c does the dense case and the inspection).
 *
 * The layout is anndata's and scipy's: a group with datasets data (values, any int or float
 * type), indices (column numbers, any integer type) and indptr (m + 1 offsets, any integer
 * type), and the attributes shape = (m, d) and, when present, encoding-type = "csr_matrix".
 *
 * Partition.  The reduction blocks are B global rows, as for dense data (B from m and the
 * mean row length, dz_block_rows), so mini-batches and the bits are the same for any N.
 * Ranks own runs of whole blocks balanced by cost = non-zeros + 4·rows (a row's own work,
 * the logistic and the folds of its bias and loss, weighs about as much as 4 stored values),
 * not by rows: every rank reads indptr at the block starts (nblocks + 1 values), then cuts
 * the cumulative cost into N near-equal runs.  The cut depends on N, the bits do not (the
 * kernels fold every value exactly, dz/kernel.h).
 *
 * Phases (each ends in an agreement, so no rank waits alone in a collective call):
 *   1. block starts of indptr (collective read, the same selection on every rank): indptr[0]
 *      = 0 and indptr[m] = nnz are checked here;
 *   2. this rank's slice indptr[row0 … row0 + rows] (collective): monotone, within [0, nnz];
 *   3. memory check, then the slices of indices (independent reads of 2^20 values through an
 *      int64 buffer, so a value beyond int32 is named as the file has it) and data and the
 *      labels (collective);
 *   4. scan (OpenMP): indices strictly ascending within each row and in [0, d), values
 *      finite, per-column max |x| (thread-private d arrays: O(d·T) memory), the checksum.
 * Refusals are DZ_EDATA naming the global row.  Duplicate or unsorted indices are refused,
 * not repaired: scipy's canonical format has neither, and a silent sum of duplicates would
 * train on a different matrix than the one another tool reads from the same file.
 *
 * Memory per rank: 8·(rows + 1) (row offsets) + 4·nnz (int32 columns; d <= 2^28) + 4 or 8
 * per value + 8·rows (labels), and 8·d·(T + 1) during the scan (per-thread column maxima).
 */
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/shard.h"
#include "shard_internal.h"

int dz_csr_is_group(hid_t f, const char *name)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return 0;
    hid_t o = H5Oopen(f, name, H5P_DEFAULT); /* H5Iget_type: the same in HDF5 1.10 and 1.12+ */
    if (o < 0)
        return 0;
    int group = H5Iget_type(o) == H5I_GROUP;
    H5Oclose(o);
    return group;
}

/* The group's attribute shape = (m, d), as two non-negative integers. */
static int read_shape(hid_t g, const char *path, const char *xname, int64_t shape[2], dz_err *e)
{
    if (H5Aexists(g, "shape") <= 0)
        return dz_fail(e, DZ_EDATA, "%s: CSR group '%s' has no attribute 'shape' = (m, d)", path,
                       xname);
    hid_t a = H5Aopen(g, "shape", H5P_DEFAULT);
    hid_t sp = H5Aget_space(a), t = H5Aget_type(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    int ok = n == 2 && H5Tget_class(t) == H5T_INTEGER &&
             H5Aread(a, H5T_NATIVE_INT64, shape) >= 0 && shape[0] >= 0 && shape[1] >= 0;
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
    if (!ok)
        return dz_fail(e, DZ_EDATA, "%s: CSR group '%s': attribute 'shape' must be two "
                       "non-negative integers (m, d)", path, xname);
    return DZ_OK;
}

/* encoding-type, when present, must say csr_matrix (a csc_matrix group reads as garbage). */
static int check_encoding(hid_t g, const char *path, const char *xname, dz_err *e)
{
    if (H5Aexists(g, "encoding-type") <= 0)
        return DZ_OK;
    char buf[64] = "";
    hid_t a = H5Aopen(g, "encoding-type", H5P_DEFAULT), t = H5Aget_type(a);
    if (H5Tget_class(t) == H5T_STRING) {
        hid_t mt = H5Tget_native_type(t, H5T_DIR_ASCEND);
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(buf, sizeof buf, "%s", v);
                H5free_memory(v);
            }
        } else {
            size_t n = H5Tget_size(t);
            char *v = calloc(n + 1, 1);
            if (v && H5Aread(a, mt, v) >= 0)
                snprintf(buf, sizeof buf, "%s", v);
            free(v);
        }
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    if (strcmp(buf, "csr_matrix") != 0)
        return dz_fail(e, DZ_EDATA, "%s: group '%s' has encoding-type '%s'; dztrain reads "
                       "'csr_matrix' groups (rows compressed)", path, xname, buf);
    return DZ_OK;
}

int dz_csr_inspect(hid_t f, const char *path, const char *xname, dz_dsinfo *x, int64_t *nnz,
                   dz_err *e)
{
    hid_t g = H5Gopen2(f, xname, H5P_DEFAULT);
    if (g < 0)
        return dz_fail(e, DZ_EDATA, "%s: cannot open group '%s'", path, xname);
    int64_t shape[2] = {0, 0};
    dz_dsinfo dat, ind, ptr;
    char name[3][512];
    const char *part[3] = {"data", "indices", "indptr"};
    dz_dsinfo *info[3] = {&dat, &ind, &ptr};
    int code = read_shape(g, path, xname, shape, e);
    if (code == DZ_OK)
        code = check_encoding(g, path, xname, e);
    for (int k = 0; k < 3 && code == DZ_OK; k++) {
        snprintf(name[k], sizeof name[k], "%s/%s", xname, part[k]);
        code = dz_shard_describe(f, path, name[k], "CSR", info[k], e);
        if (code == DZ_OK && info[k]->ndims != 1)
            code = dz_fail(e, DZ_EDATA, "%s: CSR dataset '%s' must be one-dimensional", path,
                           name[k]);
        if (code == DZ_OK && k > 0 && info[k]->cls != DZ_CLASS_INT)
            code = dz_fail(e, DZ_EDATA, "%s: CSR dataset '%s' has type %s; expected an integer "
                           "type", path, name[k], info[k]->type);
    }
    H5Gclose(g);
    if (code != DZ_OK)
        return code;
    const uint64_t m = (uint64_t)shape[0];
    if (ind.dims[0] != dat.dims[0])
        return dz_fail(e, DZ_EDATA, "%s: CSR group '%s': indices has %llu entries but data has "
                       "%llu", path, xname, (unsigned long long)ind.dims[0],
                       (unsigned long long)dat.dims[0]);
    if (ptr.dims[0] != m + 1)
        return dz_fail(e, DZ_EDATA, "%s: CSR group '%s': indptr has %llu entries; shape (%lld, "
                       "%lld) needs m + 1 = %llu", path, xname, (unsigned long long)ptr.dims[0],
                       (long long)shape[0], (long long)shape[1], (unsigned long long)(m + 1));
    *x = dat; /* the values' type, seen as a dense (m, d) matrix by dz_data_validate */
    x->ndims = 2;
    x->dims[0] = m;
    x->dims[1] = (uint64_t)shape[1];
    *nnz = (int64_t)dat.dims[0];
    return DZ_OK;
}

/* ---- partition -------------------------------------------------------------------------- */

/* Every rank: indptr at the block starts 0, B, 2B, … and at m (nb + 1 values, collective). */
static int64_t *block_starts(MPI_Comm comm, hid_t ds, hid_t dxpl, int64_t m, int64_t B,
                             int64_t nb, const char *path)
{
    int64_t *bnd = malloc((size_t)(nb + 1) * sizeof(int64_t));
    if (!bnd)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for %lld block offsets", (long long)nb);
    hid_t fs = H5Dget_space(ds);
    hsize_t start = 0, stride = (hsize_t)B, count = (hsize_t)nb, last = (hsize_t)m, one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, &stride, &count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_OR, &last, NULL, &one, NULL);
    hsize_t n = (hsize_t)nb + 1;
    hid_t ms = H5Screate_simple(1, &n, NULL);
    if (H5Dread(ds, H5T_NATIVE_INT64, ms, fs, dxpl, bnd) < 0)
        dz_fatal(comm, DZ_EDATA, "%s: reading indptr failed (truncated file?)", path);
    H5Sclose(ms);
    H5Sclose(fs);
    return bnd;
}

/* Blocks [*b0, *b1) of rank `rank`: the cost of blocks [0, k) is the stored values before row
 * k·B (indptr made monotone by a running maximum, for the cut only) plus 4 per row; rank r
 * starts at the first block boundary whose cost reaches r/nranks of the total.  Not
 * collective. */
static void cut(const int64_t *bnd, int64_t nb, int64_t m, int64_t B, int nranks, int rank,
                int64_t *b0, int64_t *b1)
{
    const int64_t base = bnd[0] > 0 ? bnd[0] : 0;
    int64_t top = base, run = base, first[2] = {-1, -1};
    for (int64_t k = 0; k <= nb; k++)
        top = bnd[k] > top ? bnd[k] : top;
    const __int128 total = (__int128)(top - base) + 4 * (__int128)m;
    for (int64_t k = 0; k <= nb; k++) {
        run = bnd[k] > run ? bnd[k] : run;
        const __int128 cost = (__int128)(run - base) + 4 * (__int128)(k * B < m ? k * B : m);
        for (int q = 0; q < 2; q++)
            if (first[q] < 0 && cost * nranks >= total * (rank + q))
                first[q] = k;
    }
    *b0 = first[0];
    *b1 = first[1];
}

/* ---- reads ------------------------------------------------------------------------------- */

/* Collective: elements [lo, lo + n) of 1-D dataset ds as type mt into buf. */
static void read_slice(MPI_Comm comm, hid_t ds, hid_t dxpl, hid_t mt, int64_t lo, int64_t n,
                       void *buf, const char *path, const char *name)
{
    hid_t fs = H5Dget_space(ds);
    hsize_t start = (hsize_t)lo, count = (hsize_t)n, one = 1;
    hid_t ms = H5Screate_simple(1, n ? &count : &one, NULL);
    if (n > 0) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    if (H5Dread(ds, mt, ms, fs, dxpl, buf) < 0)
        dz_fatal(comm, DZ_EDATA, "%s: reading %s [%lld, %lld) failed (truncated file?)", path,
                 name, (long long)lo, (long long)(lo + n));
    H5Sclose(ms);
    H5Sclose(fs);
}

/* Not collective: this rank's nnz column numbers from position lo of indices into s->col, in
 * independent reads of 2^20 values through an int64 buffer (any file integer type), narrowed
 * to int32; a value outside int32 is stored as INT32_MAX (outside [0, d), so the scan refuses
 * it) and the first one's position and value are kept for the message. */
static void read_indices(MPI_Comm comm, hid_t ds, int64_t lo, dz_shard *s, const char *path,
                         const char *name, int64_t *big_pos, int64_t *big_val)
{
    enum { CHUNK = 1 << 20 };
    int64_t *buf = malloc((size_t)(s->nnz < CHUNK ? (s->nnz ? s->nnz : 1) : CHUNK) * sizeof(int64_t));
    if (!buf)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory reading %s", name);
    hid_t ind = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(ind, H5FD_MPIO_INDEPENDENT);
    hid_t fs = H5Dget_space(ds);
    for (int64_t k0 = 0; k0 < s->nnz; k0 += CHUNK) {
        hsize_t start = (hsize_t)(lo + k0), count = (hsize_t)(s->nnz - k0 < CHUNK ? s->nnz - k0 : CHUNK);
        hid_t ms = H5Screate_simple(1, &count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        if (H5Dread(ds, H5T_NATIVE_INT64, ms, fs, ind, buf) < 0)
            dz_fatal(comm, DZ_EDATA, "%s: reading %s [%lld, %lld) failed (truncated file?)", path,
                     name, (long long)start, (long long)(start + count));
        H5Sclose(ms);
        for (hsize_t t = 0; t < count; t++) {
            const int64_t v = buf[t];
            const int in = v >= INT32_MIN && v <= INT32_MAX;
            if (!in && *big_pos < 0) {
                *big_pos = k0 + (int64_t)t;
                *big_val = v;
            }
            s->col[k0 + (int64_t)t] = in ? (int32_t)v : INT32_MAX;
        }
    }
    H5Sclose(fs);
    H5Pclose(ind);
    free(buf);
}

/* Checks of the block starts every rank holds alike: indptr[0] = 0, indptr[m] = nnz. */
static int check_ends(const int64_t *bnd, int64_t nb, const dz_plan *p, const char *path,
                      const char *xname, dz_err *e)
{
    if (bnd[0] != 0)
        return dz_fail(e, DZ_EDATA, "%s: %s/indptr[0] = %lld; CSR offsets start at 0", path, xname,
                       (long long)bnd[0]);
    if (bnd[nb] != p->nnz)
        return dz_fail(e, DZ_EDATA, "%s: %s/indptr[%lld] = %lld, but data holds %lld values (the "
                       "last offset must equal nnz)", path, xname, (long long)p->m,
                       (long long)bnd[nb], (long long)p->nnz);
    return DZ_OK;
}

/* This rank's indptr[row0 … row0 + rows] → s->rowptr (local offsets); *lo = indptr[row0]. */
static int local_offsets(const int64_t *ip, const dz_plan *p, const char *path, const char *xname,
                         dz_shard *s, int64_t *lo, dz_err *e)
{
    for (int64_t i = 0; i < s->rows; i++)
        if (ip[i + 1] < ip[i] || ip[i] < 0 || ip[i + 1] > p->nnz)
            return dz_fail(e, DZ_EDATA, "%s: %s/indptr at row %lld: offsets %lld, %lld are not "
                           "non-decreasing within [0, nnz = %lld]", path, xname,
                           (long long)(s->row0 + i), (long long)ip[i], (long long)ip[i + 1],
                           (long long)p->nnz);
    *lo = ip[0];
    for (int64_t i = 0; i <= s->rows; i++)
        s->rowptr[i] = ip[i] - *lo;
    s->nnz = s->rowptr[s->rows];
    return DZ_OK;
}

/* ---- scan -------------------------------------------------------------------------------- */

typedef struct bad_row {
    int64_t row, col; /* global row (-1: none), the column at fault (-1: the order) */
    int64_t k;        /* its position in the shard's values */
    double val;
    int why;          /* 1 index out of range, 2 not ascending, 3 non-finite value */
} bad_row;

/* Rows [lo, hi) of s: column order and range, finite values, max |x| per column into mx, the
 * checksum (each row's columns and values, keyed by its global row and label). */
#define DEFINE_CSR_SCAN(T, SUF)                                                              \
    static void csr_scan_##SUF(const dz_shard *s, int64_t lo, int64_t hi, double *mx,       \
                               uint64_t *sum, bad_row *bad)                                 \
    {                                                                                        \
        const T *v = (const T *)s->val;                                                      \
        for (int64_t i = lo; i < hi; i++) {                                                  \
            const int64_t p0 = s->rowptr[i], p1 = s->rowptr[i + 1];                          \
            for (int64_t k = p0; k < p1 && bad->row < 0; k++) {                              \
                const int64_t j = s->col[k];                                                 \
                const double a = fabs((double)v[k]);                                         \
                int why = j < 0 || j >= s->d ? 1 : k > p0 && j <= s->col[k - 1] ? 2          \
                        : !(a <= DBL_MAX) ? 3 : 0;                                          \
                if (why) {                                                                   \
                    *bad = (bad_row){s->row0 + i, j, k, (double)v[k], why};                  \
                    break;                                                                   \
                }                                                                            \
                mx[j] = a > mx[j] ? a : mx[j];                                               \
            }                                                                                \
            uint64_t h = dz_shard_row_hash((const unsigned char *)(v + p0),                  \
                                           (size_t)(p1 - p0) * sizeof(T), s->row0 + i,       \
                                           s->y[i]);                                         \
            *sum += h ^ dz_shard_mix64(dz_shard_row_hash((const unsigned char *)(s->col + p0), \
                                                         (size_t)(p1 - p0) * 4,              \
                                                         s->row0 + i, 0.0));                 \
        }                                                                                    \
    }
DEFINE_CSR_SCAN(float, f32)
DEFINE_CSR_SCAN(double, f64)

static void report(const bad_row *b, const dz_shard *s, const char *path, const char *xname,
                   dz_err *e)
{
    if (b->why == 1)
        dz_fail(e, DZ_EDATA, "%s: %s row %lld has column index %lld, outside [0, d = %lld)",
                path, xname, (long long)b->row, (long long)b->col, (long long)s->d);
    else if (b->why == 2)
        dz_fail(e, DZ_EDATA, "%s: %s row %lld: column indices are not strictly ascending (index "
                "%lld repeats or comes after a larger one); sort each row and sum duplicates "
                "(scipy: X.sum_duplicates(); X.sort_indices())", path, xname, (long long)b->row,
                (long long)b->col);
    else
        dz_fail(e, DZ_EDATA, "%s: %s row %lld, column %lld has value %g; features must be finite",
                path, xname, (long long)b->row, (long long)b->col, b->val);
}

static int csr_scan(MPI_Comm comm, const char *path, const char *xname, dz_shard *s,
                    int64_t big_pos, int64_t big_val, dz_err *e)
{
    const int64_t d = s->d;
    const int nt = omp_get_max_threads();
    double *mxall = calloc((size_t)nt * (size_t)d, sizeof(double));
    s->maxabs = calloc((size_t)d, sizeof(double));
    bad_row bad = {-1, -1, -1, 0, 0};
    uint64_t checksum = 0;
    if (!mxall || !s->maxabs)
        dz_fail(e, DZ_ERUNTIME, "out of memory for %d x %lld column maxima", nt, (long long)d);
    else {
#pragma omp parallel reduction(+ : checksum)
        {
            const int t = omp_get_thread_num(), n = omp_get_num_threads();
            bad_row b = {-1, -1, -1, 0, 0};
            uint64_t sum = 0;
            const int64_t lo = s->rows * t / n, hi = s->rows * (t + 1) / n;
            if (s->dtype == DZ_DTYPE_F32)
                csr_scan_f32(s, lo, hi, mxall + (size_t)t * (size_t)d, &sum, &b);
            else
                csr_scan_f64(s, lo, hi, mxall + (size_t)t * (size_t)d, &sum, &b);
            checksum += sum;
#pragma omp critical
            if (b.row >= 0 && (bad.row < 0 || b.row < bad.row))
                bad = b;
        }
        if (bad.why == 1 && bad.k == big_pos) /* saturated on the way in: the file's value */
            bad.col = big_val;
        if (bad.row >= 0)
            report(&bad, s, path, xname, e);
    }
    return dz_shard_scan_finish(comm, s, mxall, nt, checksum, e);
}

/* ---- the whole load ---------------------------------------------------------------------- */

/* Phases 1–2: the partition (s->block_rows, row0, rows) and s->rowptr; *lo = the rank's first
 * value in the file.  Collective; returns an agreed code. */
static int plan_rows(MPI_Comm comm, hid_t f, hid_t dxpl, const dz_shard_req *r, const dz_plan *p,
                     dz_shard *s, int64_t *lo, dz_err *e)
{
    int rank, nranks;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    DZ_MPI(MPI_Comm_size(comm, &nranks));
    char name[512];
    snprintf(name, sizeof name, "%s/indptr", r->xname);
    const int64_t mean = p->m ? (p->nnz + p->m - 1) / p->m : 1; /* stored values per row */
    /* blocks of about 2^16 stored values: a block's touched columns (its slots) stay in L2
     * until they are folded, and the frequent ones are folded once per block, not per value */
    s->block_rows = dz_block_rows(p->m, 4 * (mean > 1 ? mean : 1), r->block_rows);
    const int64_t B = s->block_rows, nb = (p->m + B - 1) / B;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    int64_t *bnd = block_starts(comm, ds, dxpl, p->m, B, nb, r->path), b0, b1;
    check_ends(bnd, nb, p, r->path, r->xname, e);
    cut(bnd, nb, p->m, B, nranks, rank, &b0, &b1);
    free(bnd);
    s->row0 = b0 * B < p->m ? b0 * B : p->m;
    s->rows = (b1 * B < p->m ? b1 * B : p->m) - s->row0;
    int64_t *ip = malloc((size_t)(s->rows + 1) * sizeof(int64_t));
    s->rowptr = malloc((size_t)(s->rows + 1) * sizeof(int64_t));
    if ((!ip || !s->rowptr) && e->code == DZ_OK)
        dz_fail(e, DZ_ERUNTIME, "out of memory for %lld row offsets", (long long)s->rows);
    if (dz_err_agree(comm, e) == DZ_OK) { /* (each agreement prints a failure once) */
        read_slice(comm, ds, dxpl, H5T_NATIVE_INT64, s->row0, s->rows + 1, ip, r->path, name);
        local_offsets(ip, p, r->path, r->xname, s, lo, e);
        dz_err_agree(comm, e);
    }
    free(ip);
    H5Dclose(ds);
    return e->code;
}

int dz_csr_load(MPI_Comm comm, const dz_shard_req *r, const dz_plan *p, dz_shard *s, dz_err *e)
{
    s->m = p->m;
    s->d = p->d;
    s->dtype = p->mem;
    s->nnz_total = p->nnz;
    snprintf(s->file_type, sizeof s->file_type, "%s", p->file_type);
    double t0 = MPI_Wtime();
    hid_t dxpl;
    hid_t f = dz_shard_open_mpio(comm, r->path, &dxpl);
    int64_t lo = 0;
    if (plan_rows(comm, f, dxpl, r, p, s, &lo, e) != DZ_OK)
        goto out;
    const size_t vsz = dz_dtype_size(p->mem);
    char what[160];
    snprintf(what, sizeof what, "%lld rows with %lld stored values as int32 + %s", (long long)p->m,
             (long long)p->nnz, dz_dtype_name(p->mem));
    double need = (double)s->nnz * (4.0 + (double)vsz) + (double)s->rows * 16.0;
    if (dz_shard_check_memory(comm, r->path, need, what, e) != DZ_OK)
        goto out;
    s->col = dz_shard_alloc_big(s->nnz ? (size_t)s->nnz * 4 : 1);
    s->val = dz_shard_alloc_big(s->nnz ? (size_t)s->nnz * vsz : 1);
    s->y = calloc(s->rows ? (size_t)s->rows : 1, sizeof(double)); /* 0 without labels */
    if (!s->col || !s->val || !s->y)
        dz_fail(e, DZ_ERUNTIME, "out of memory: %lld stored values (%.3f GiB)", (long long)s->nnz,
                need / 1073741824.0);
    if (dz_err_agree(comm, e) != DZ_OK)
        goto out;
    char name[512];
    snprintf(name, sizeof name, "%s/indices", r->xname);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    int64_t big_pos = -1, big_val = 0;
    read_indices(comm, ds, lo, s, r->path, name, &big_pos, &big_val);
    H5Dclose(ds);
    snprintf(name, sizeof name, "%s/data", r->xname);
    ds = H5Dopen2(f, name, H5P_DEFAULT);
    read_slice(comm, ds, dxpl, p->mem == DZ_DTYPE_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, lo,
               s->nnz, s->val, r->path, name);
    H5Dclose(ds);
    if (r->yname)
        dz_shard_read_labels(comm, f, dxpl, r->path, r->yname, p->ylayout, s);
    H5Pclose(dxpl);
    H5Fclose(f);
    f = -1;
    s->read_s = MPI_Wtime() - t0;
    t0 = MPI_Wtime();
    int code = r->yname ? dz_shard_check_labels(comm, r, s, e) : DZ_OK;
    if (code == DZ_OK)
        code = csr_scan(comm, r->path, r->xname, s, big_pos, big_val, e);
    s->scan_s = MPI_Wtime() - t0;
out:
    if (f >= 0) {
        H5Pclose(dxpl);
        H5Fclose(f);
    }
    if (e->code != DZ_OK)
        dz_shard_free(s);
    return e->code;
}
