/* dz/shard.h — one rank's contiguous rows of an HDF5 data set, read with parallel HDF5.
 *
 * Partition: rows are grouped into fixed global reduction blocks of B rows (B depends only on
 * m and d, or on [train] block_rows — never on the number of ranks or threads); ranks own
 * contiguous runs of whole blocks, as even as possible (the first nblocks mod N ranks get one
 * block more), so a rank may own zero rows.  Keeping blocks whole is what makes the result
 * independent of N (see reduce.h).
 *
 * Loading (Collective): rank 0 inspects the files first (exists, HDF5, datasets, shapes,
 * types) and every rank agrees on the verdict before any collective HDF5 call; then every rank
 * opens the file with the MPI-IO driver and reads only its own hyperslab, collectively,
 * straight into the buffer it keeps (features in their in-memory dtype; labels as double).
 * After the read one pass per rank validates values (labels in {0,1}, or integers 0 … K−1
 * for softmax with K agreed over all ranks; features finite),
 * computes the per-feature max |x| and an order-independent checksum; the results are
 * agreed/reduced over all ranks.
 *
 * CSR features (an HDF5 group in the anndata/scipy layout: datasets data, indices, indptr;
 * attributes shape = (m, d) and encoding-type = "csr_matrix") are read by shard_csr.c: the
 * same blocks of B rows, but ranks own runs of whole blocks balanced by non-zeros (plus rows),
 * not by rows; each rank reads the block boundaries of indptr, then its own slices of indptr,
 * indices and data.  Nothing else differs for the callers: rows, row0, y, maxabs, checksum
 * mean the same, and the kernels read s->rowptr/col/val instead of s->x.
 *
 * Ownership: dz_shard owns x (or rowptr, col, val), y and maxabs; dz_shard_free(NULL) is
 * safe.
 */
#ifndef DZ_SHARD_H
#define DZ_SHARD_H

#include <stdint.h>
#include <mpi.h>

#include "dz/config.h"
#include "dz/err.h"

typedef struct dz_shard {
    int64_t m;           /* global rows */
    int64_t d;           /* features per row (trailing dims flattened, row-major) */
    int64_t row0, rows;  /* this rank's first global row and row count (rows may be 0) */
    int64_t block_rows;  /* B: rows per reduction block (global blocks start at multiples of B) */
    dz_dtype dtype;      /* in-memory feature type: DZ_DTYPE_U8, _F32 or _F64 (CSR: the
                            values' type, _F32 or _F64) */
    void *x;             /* dense: rows × d features, row-major, raw (not divided by scale);
                            NULL for CSR */
    /* CSR (sparse) features, when the file's features are a CSR group (shard_csr.c): */
    int64_t *rowptr;     /* rows + 1 offsets into col and val, rowptr[0] = 0; NULL if dense */
    int32_t *col;        /* nnz column numbers, strictly ascending within a row */
    void *val;           /* nnz values (dtype), raw */
    int64_t nnz;         /* this rank's stored values */
    int64_t nnz_total;   /* all ranks' */
    double *y;           /* rows labels, each 0.0 or 1.0 (softmax: 0 … classes−1) */
    int64_t classes;     /* 0: binary labels; softmax: K >= 2 */
    double *maxabs;      /* d: global max |x_ij| over all rows, raw units */
    uint64_t checksum;   /* order-independent checksum of all rows (x and y), global */
    char file_type[64];  /* the features' type in the file, e.g. "uint8", "float64" */
    double read_s;       /* seconds in the collective read */
    double scan_s;       /* seconds validating/summarising */
} dz_shard;

/* True when s holds CSR features. */
static inline int dz_shard_is_csr(const dz_shard *s) { return s->rowptr != NULL; }

/* Largest d: the reduction's allreduce carries 2·(d + 2) + 2 int64 in one int-counted call. */
#define DZ_MAX_FEATURES ((int64_t)1 << 28)

/* Size in bytes of one feature in dtype. */
size_t dz_dtype_size(dz_dtype t);
const char *dz_dtype_name(dz_dtype t);

/* Rows per block for m rows of d features when the config says requested (0 = auto; < 0 =
 * auto but at most −requested rows, so that a mini-batch of that size is whole blocks). */
int64_t dz_block_rows(int64_t m, int64_t d, int64_t requested);

/* This rank's [row0, row0+rows) for m rows in blocks of B over nranks. Not collective. */
void dz_partition(int64_t m, int64_t B, int nranks, int rank, int64_t *row0, int64_t *rows);

/* Load features xname and labels yname of file path. want: requested dtype (native = keep
 * the file's type when it is exact, see README).  requested_block_rows: [train] block_rows.
 * classes: 0 = binary labels {0, 1}; K >= 2 = softmax labels 0 … K−1; −1 = softmax with K
 * the largest label + 1.  Collective; returns an agreed code. */
int dz_shard_load(MPI_Comm comm, const char *path, const char *xname, const char *yname,
                  dz_dtype want, int64_t requested_block_rows, int64_t classes, dz_shard *s,
                  dz_err *e);

/* dz_shard_load's arguments, and two options for predict / evaluate. */
typedef struct dz_shard_req {
    const char *path, *xname;
    const char *yname;        /* NULL: features only — no labels are read or checked, y is all
                                 0 (and hashed as 0 in the checksum) */
    dz_dtype want;
    int64_t block_rows;       /* requested_block_rows */
    int64_t classes;          /* as dz_shard_load's; without labels it still sizes the blocks */
    int64_t expect_d;         /* > 0: a file with another d is refused at the inspection,
                                 before any row is read (DZ_EDATA) */
    const char *expect_what;  /* who expects d and the labels, for the messages ("the model
                                 'm.h5'"); NULL for dz_shard_load */
} dz_shard_req;

/* dz_shard_load with a request (dz_shard_load(...) is this with yname set and no expect_d).
 * Collective; returns an agreed code. */
int dz_shard_load_req(MPI_Comm comm, const dz_shard_req *r, dz_shard *s, dz_err *e);

void dz_shard_free(dz_shard *s);

/* Softmax: rank 0 warns when some of the K classes have no example in s.  Collective (one
 * allreduce of K counts: call it once K is known to be a sensible size). */
void dz_shard_warn_empty_classes(MPI_Comm comm, const dz_shard *s, const char *path,
                                 const char *yname);

/* What rank 0 learns about a dataset before reading it (from HDF5, or made up by a fuzzer). */
enum { DZ_CLASS_INT = 0, DZ_CLASS_FLOAT = 1, DZ_CLASS_OTHER = 2 };
typedef struct dz_dsinfo {
    int ndims;            /* 0 for a scalar */
    uint64_t dims[32];
    int cls;              /* DZ_CLASS_* */
    size_t size;          /* bytes per element */
    int is_signed;
    char type[32];        /* "uint8", "float64", "string", ... */
} dz_dsinfo;

/* The verdict on a data set: its shape and how it is held in memory. */
typedef struct dz_plan {
    int64_t m, d;
    int ylayout;          /* labels 0: (m,)  1: (m, 1)  2: (1, m) */
    dz_dtype mem;         /* in-memory feature type */
    char file_type[64];
    int csr;              /* 1: the features are a CSR group (shard_csr.c) */
    int64_t nnz;          /* CSR: stored values */
} dz_plan;

/* Check features x and labels y (shapes, types, overflow, m = 0, d = 0) and choose the
 * in-memory type for `want`.  Pure: no I/O, no MPI. Returns DZ_OK, DZ_EDATA or DZ_ECONFIG
 * with a message naming path, the dataset and the values found. */
int dz_data_validate(const char *path, const char *xname, const char *yname, const dz_dsinfo *x,
                     const dz_dsinfo *y, dz_dtype want, dz_plan *p, dz_err *e);

/* Not collective.  Open path read-only with serial HDF5: the data file, and also the model
 * (predict) and any file (info).  Returns the file id, or < 0 with e set to DZ_EDATA and
 * "<path>: cannot read <what> (no such file|permission denied)", "<path>: not an HDF5 file
 * (or truncated/corrupt)" or "<path>: HDF5 cannot open the <what> (truncated or corrupt?)". */
long long dz_h5_open_read(const char *path, const char *what, dz_err *e);

#endif
