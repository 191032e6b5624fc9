/*
 * dzconvert: CSV/TSV, LIBSVM/svmlight text or a NumPy .npy pair -> the HDF5 layout dztrain
 * reads (README "Converting data").
 *
 *   dzconvert [options] INPUT.csv|INPUT.tsv --label NAME OUTPUT.h5
 *   dzconvert [options] INPUT.svm [--features D] [--sparse] OUTPUT.h5
 *   dzconvert [options] --x X.npy --y Y.npy OUTPUT.h5
 *
 * Contract:
 *  - Output: the features (m, d) as float64 (--type float32: float32) in --x-name (default
 *    train_set_x, the trainer's [data] train_x default), the labels (m,) as float64 in
 *    --y-name (default train_set_y), the d feature names as a dataset (d,) of fixed-length
 *    strings, --names-name (default feature_names): CSV the header minus the label
 *    column, LIBSVM the 1-based indices "1" ... "d", npy the column numbers "0" ... "d-1".
 *    Root attributes: converter, source, source_format (and label_column for CSV).
 *    Both data sets are chunked (about 1 MiB per features chunk); --compress N adds the
 *    shuffle filter and deflate level N.
 *  - LIBSVM --sparse: the features as a CSR group --x-name (anndata's and scipy's layout):
 *    data (nnz,) float64 (--type float32: float32) in line order, indices (nnz,) int32
 *    0-based columns (LIBSVM index - 1), indptr (m+1,) int64, group attributes shape = int64
 *    [m, d], encoding-type "csr_matrix", encoding-version "0.1.0"; labels and names as above.
 *    An explicit "j:0" is kept as a stored value.  A line's indices may come in any order
 *    (sorted on output); one twice is a bad row (without --sparse they must increase).
 *  - Streams: rows are read one block at a time (one chunk's rows), the datasets are extended
 *    and the block written as one hyperslab.  Memory is O(block x d + longest line + d names),
 *    never O(m).  LIBSVM without --features reads the input twice (pass 1 finds d); --sparse
 *    reads it once (d known at the end) and holds one chunk of each CSR array, of the labels
 *    and of the names "1" ... "d" (about 1 MiB each), never a dense row nor the d names:
 *    memory O(chunk + longest line).
 *  - Values: every value must be a finite number (and fit float32 under --type float32);
 *    text is parsed by strtod in the C locale (correctly rounded).
 *  - Atomic: the file is written as "<OUTPUT>.tmp.<pid>" and renamed over OUTPUT at the
 *    end (dz_h5_begin / dz_h5_commit); on any error it is removed, OUTPUT is untouched.
 *  - Errors: one line "dzconvert: ..." on stderr, bad rows as "FILE:LINE: ...".  Exit codes
 *    as the trainer's: 2 usage, 3 data (input missing or malformed, a bad row, no rows),
 *    4 out of memory, 5 output not writable.
 *  - Serial: no MPI call is made (MPI is linked only through the project's parallel HDF5).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "dz/err.h"
#include "dz/names.h"
#include "dz/output.h"

enum fmt { FMT_NONE, FMT_CSV, FMT_LIBSVM, FMT_NPY };
static const char *const FMT_NAME[] = {"?", "csv", "libsvm", "npy"};

#define CHUNK_BYTES (1 << 20)      /* target size of one features chunk */
#define CHUNK_COLS_MAX 131072      /* columns per chunk: wider rows are split into chunks */

typedef struct opts {
    const char *in, *out, *xnpy, *ynpy;
    const char *label, *xname, *yname, *namesname;
    enum fmt fmt;
    char delim;         /* CSV field separator; 0 = from the extension */
    int64_t features;   /* LIBSVM d; 0 = found by a first pass */
    int f32, compress, quiet;
    int pm1;            /* LIBSVM: labels -1/+1 become 0/1 */
    int sparse;         /* LIBSVM: the features as a CSR group */
} opts;

/* The output file while it is written: rows are buffered a block at a time. */
typedef struct writer {
    const opts *o;
    hid_t f, dx, dy;
    int64_t d, m;           /* features; rows written so far */
    int64_t rows, block;    /* rows buffered; rows per block (= chunk rows) */
    int64_t chunk_cols;
    double *x, *y;          /* block x d, block */
    char tmp[DZ_PATH_MAX + 32];
} writer;

/* ---- small helpers ------------------------------------------------------------------------ */

static void *xalloc(size_t n, size_t size, dz_err *e)
{
    void *p = (n && size <= SIZE_MAX / n) ? calloc(n, size) : NULL;
    if (!p && n)
        dz_fail(e, DZ_ERUNTIME, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* Why v cannot be stored, or NULL. */
static const char *value_problem(double v, int f32)
{
    if (!isfinite(v))
        return "is not a finite number";
    if (f32 && fabs(v) > FLT_MAX)
        return "is beyond float32's range (--type float32)";
    return NULL;
}

/* The number in s (blanks around it allowed), or why s is not one. */
static const char *parse_num(const char *s, int f32, double *v)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return "is empty";
    *v = strtod(s, &end);
    if (end == s)
        return "is not a number";
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return "is not a number";
    return value_problem(*v, f32);
}

/* Remove a trailing newline (\n or \r\n); returns the new length. */
static size_t chomp(char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return n;
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

static FILE *open_input(const char *path, dz_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        dz_fail(e, DZ_EDATA, "cannot read input '%s': %s", path, strerror(errno));
    return f;
}

/* Names "first", "first + 1", ... for the d columns of a LIBSVM or npy input. */
static char **number_names(int64_t d, int64_t first, dz_err *e)
{
    char **names = xalloc((size_t)d, sizeof *names, e);
    for (int64_t j = 0; names && j < d; j++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)(first + j));
        if (!(names[j] = strdup(buf))) {
            dz_names_free(names, j);
            dz_fail(e, DZ_ERUNTIME, "out of memory (feature names)");
            return NULL;
        }
    }
    return names;
}

/* ---- the HDF5 writer ---------------------------------------------------------------------- */

/* An extendible chunked dataset (0, d) or (0,) of type ftype. */
static hid_t create_ext(hid_t f, const char *name, hid_t ftype, int rank, const hsize_t *chunk,
                        hsize_t d, int compress)
{
    hsize_t dims[2] = {0, d}, maxd[2] = {H5S_UNLIMITED, d};
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = -1;
    if (sp >= 0 && pl >= 0 && H5Pset_chunk(pl, rank, chunk) >= 0 &&
        H5Pset_fill_time(pl, H5D_FILL_TIME_NEVER) >= 0 &&
        (!compress || (H5Pset_shuffle(pl) >= 0 && H5Pset_deflate(pl, (unsigned)compress) >= 0)))
        ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    return ds;
}

/* Extend ds (rank 1 or 2) from m to m + rows rows and write buf there. */
static int append(hid_t ds, int rank, hsize_t m, hsize_t rows, hsize_t d, hid_t mtype,
                  const void *buf)
{
    hsize_t size[2] = {m + rows, d}, start[2] = {m, 0}, count[2] = {rows, d};
    if (H5Dset_extent(ds, size) < 0)
        return -1;
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, count, NULL);
    herr_t rc = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
        rc = H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc < 0 ? -1 : 0;
}

/* The datasets, made at the first write so that a small input gets chunks of its size. */
static int writer_create(writer *w, dz_err *e)
{
    hsize_t rows = (hsize_t)w->rows; /* <= block: the buffer is flushed when full */
    hsize_t cx[2] = {rows, (hsize_t)w->chunk_cols}, cy[1] = {rows};
    w->dx = create_ext(w->f, w->o->xname, w->o->f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, 2, cx,
                       (hsize_t)w->d, w->o->compress);
    w->dy = w->dx < 0 ? -1 : create_ext(w->f, w->o->yname, H5T_IEEE_F64LE, 1, cy, 0,
                                        w->o->compress);
    if (w->dx < 0 || w->dy < 0)
        return dz_fail(e, DZ_EOUTPUT, "cannot create the datasets '%s' and '%s' in '%s'",
                       w->o->xname, w->o->yname, w->tmp);
    return DZ_OK;
}

/* Write the buffered rows. */
static int writer_flush(writer *w, dz_err *e)
{
    if (w->rows == 0)
        return DZ_OK;
    if (w->dx < 0)
        DZ_TRY(writer_create(w, e));
    /* --type float32: HDF5 rounds the doubles to the dataset's float32 (as a C cast does; in
     * range: value_problem checked it) */
    if (append(w->dx, 2, (hsize_t)w->m, (hsize_t)w->rows, (hsize_t)w->d, H5T_NATIVE_DOUBLE,
               w->x) < 0 ||
        append(w->dy, 1, (hsize_t)w->m, (hsize_t)w->rows, 0, H5T_NATIVE_DOUBLE, w->y) < 0)
        return dz_fail(e, DZ_EOUTPUT, "writing rows %lld..%lld to '%s' failed", (long long)w->m,
                       (long long)(w->m + w->rows - 1), w->tmp);
    w->m += w->rows;
    w->rows = 0;
    return DZ_OK;
}

/* The next row's d values (zeroed); its label goes to w->y[w->rows]. */
static double *writer_row(writer *w)
{
    double *row = w->x + w->rows * w->d;
    memset(row, 0, (size_t)w->d * sizeof *row);
    return row;
}

/* The row from writer_row is complete. */
static int writer_next(writer *w, dz_err *e)
{
    return ++w->rows == w->block ? writer_flush(w, e) : DZ_OK;
}

/* Fills names [j0, j0 + n) into buf (n strings of len bytes, zeroed). */
typedef void (*names_fill)(const void *ctx, int64_t j0, int64_t n, size_t len, char *buf);

/* A names dataset (d,) of fixed-length null-padded strings of len bytes (as the shipped
 * example data's feature_names), ASCII or UTF-8, filled about 1 MiB at a time by fill. */
static int names_dataset(hid_t f, const char *name, int64_t d, size_t len, int utf8,
                         names_fill fill, const void *ctx, dz_err *e)
{
    int64_t block = CHUNK_BYTES / (int64_t)len;
    block = block < 1 ? 1 : block > d ? d : block;
    char *buf = xalloc((size_t)block, len, e);
    if (!buf)
        return e->code;
    hsize_t dims[1] = {(hsize_t)d};
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(1, dims, NULL), ds = -1;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, len) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0 &&
        H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0 &&
        (ds = H5Dcreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = 0;
    for (int64_t j0 = 0; rc >= 0 && j0 < d; j0 += block) {
        hsize_t start = (hsize_t)j0, n = (hsize_t)(d - j0 < block ? d - j0 : block);
        memset(buf, 0, (size_t)n * len);
        fill(ctx, j0, (int64_t)n, len, buf);
        hid_t ms = H5Screate_simple(1, &n, NULL);
        rc = ms < 0 || H5Sselect_hyperslab(sp, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0
                 ? -1 : H5Dwrite(ds, t, ms, sp, H5P_DEFAULT, buf);
        if (ms >= 0) H5Sclose(ms);
    }
    if (ds >= 0) H5Dclose(ds);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    free(buf);
    return rc < 0 ? dz_fail(e, DZ_EOUTPUT, "cannot write the feature names '%s'", name) : DZ_OK;
}

static void fill_copy(const void *ctx, int64_t j0, int64_t n, size_t len, char *buf)
{
    char *const *names = ctx;
    for (int64_t j = 0; j < n; j++)
        memcpy(buf + (size_t)j * len, names[j0 + j], strlen(names[j0 + j]));
}

/* names: d strings, ASCII, or UTF-8 when a name has a non-ASCII byte. */
static int write_names(hid_t f, const char *name, char *const *names, int64_t d, dz_err *e)
{
    size_t len = 1, utf8 = 0;
    for (int64_t j = 0; j < d; j++) {
        size_t n = strlen(names[j]);
        len = n > len ? n : len;
        for (size_t k = 0; k < n; k++)
            utf8 |= (unsigned char)names[j][k] >= 0x80;
    }
    return names_dataset(f, name, d, len, (int)utf8, fill_copy, names, e);
}

static void fill_numbers(const void *ctx, int64_t j0, int64_t n, size_t len, char *buf)
{
    const int64_t first = *(const int64_t *)ctx;
    for (int64_t j = 0; j < n; j++) {
        char s[32];
        int k = snprintf(s, sizeof s, "%lld", (long long)(first + j0 + j));
        memcpy(buf + (size_t)j * len, s, (size_t)k);
    }
}

/* The names "first", "first + 1", ... of d columns, as number_names + write_names write them
 * but without the d strings in memory (a LIBSVM --sparse d may be millions). */
static int write_number_names(hid_t f, const char *name, int64_t d, int64_t first, dz_err *e)
{
    char s[32];
    size_t len = (size_t)snprintf(s, sizeof s, "%lld", (long long)(first + d - 1));
    return names_dataset(f, name, d, len, 0, fill_numbers, &first, e);
}

/* Start the temporary output file for d features; writes the names now.  m_hint (0 =
 * unknown) caps the rows per chunk. */
static int writer_begin(writer *w, const opts *o, int64_t d, char *const *names,
                        int64_t m_hint, dz_err *e)
{
    memset(w, 0, sizeof *w);
    w->o = o, w->d = d, w->f = w->dx = w->dy = -1;
    w->chunk_cols = d < CHUNK_COLS_MAX ? d : CHUNK_COLS_MAX;
    int64_t esize = o->f32 ? 4 : 8;
    w->block = CHUNK_BYTES / (w->chunk_cols * esize);
    if (w->block < 1) w->block = 1;
    if (m_hint > 0 && w->block > m_hint) w->block = m_hint;
    if (!(w->x = xalloc((size_t)(w->block * d), sizeof *w->x, e)) ||
        !(w->y = xalloc((size_t)w->block, sizeof *w->y, e)))
        return e->code;
    DZ_TRY(dz_out_check_writable(o->out, "output", e));
    w->f = (hid_t)dz_h5_begin(o->out, w->tmp, sizeof w->tmp, "output file", e);
    if (w->f < 0)
        return e->code;
    return write_names(w->f, o->namesname, names, d, e);
}

static void writer_free(writer *w)
{
    free(w->x), free(w->y);
    w->x = w->y = NULL;
}

/* On error: close and remove the temporary file (OUTPUT is untouched). */
static void writer_abort(writer *w)
{
    if (w->dx >= 0) H5Dclose(w->dx);
    if (w->dy >= 0) H5Dclose(w->dy);
    if (w->f >= 0) {
        H5Fclose(w->f);
        unlink(w->tmp);
    }
    w->f = w->dx = w->dy = -1;
    writer_free(w);
}

/* The root's provenance attributes; nonzero if one failed. */
static int provenance(hid_t f, const opts *o, const char *source, const char *label)
{
    int bad = dz_h5_attr_str(f, "converter", "dzconvert") < 0;
    bad |= dz_h5_attr_str(f, "source", source) < 0;
    bad |= dz_h5_attr_str(f, "source_format", FMT_NAME[o->fmt]) < 0;
    if (label)
        bad |= dz_h5_attr_str(f, "label_column", label) < 0;
    return bad;
}

/* Flush, write the provenance attributes, close and rename to OUTPUT. */
static int writer_end(writer *w, const char *source, const char *label, dz_err *e)
{
    DZ_TRY(writer_flush(w, e));
    if (w->m == 0)
        return dz_fail(e, DZ_EDATA, "%s: no data rows", source);
    int bad = provenance(w->f, w->o, source, label);
    bad |= H5Dclose(w->dx) < 0;
    bad |= H5Dclose(w->dy) < 0;
    w->dx = w->dy = -1;
    hid_t f = w->f;
    w->f = -1;
    writer_free(w);
    return dz_h5_commit(f, bad, w->tmp, w->o->out, "output file", e);
}

/* The summary line; nnz < 0: dense features. */
static void summary(const opts *o, int64_t m, int64_t d, int64_t nnz, const char *source)
{
    char csr[64] = "";
    if (nnz >= 0)
        snprintf(csr, sizeof csr, ", CSR with %lld values", (long long)nnz);
    if (!o->quiet)
        printf("dzconvert: %s: %lld rows x %lld features (%s%s) in '%s', labels in '%s', "
               "names in '%s' (from %s %s)\n", o->out, (long long)m, (long long)d,
               o->f32 ? "float32" : "float64", csr, o->xname, o->yname, o->namesname,
               FMT_NAME[o->fmt], source);
}

/* ---- CSV / TSV ---------------------------------------------------------------------------- */

/* Split line in place at delim; a field in double quotes may hold delim, and "" is a
 * quote.  Returns the field count (fields grown as needed), or -1 with *why set. */
static int64_t split(char *line, char delim, char ***fields, size_t *cap, const char **why)
{
    int64_t n = 0;
    char *p = line;
    for (;;) {
        if ((size_t)n == *cap) {
            size_t nc = *cap ? 2 * *cap : 64;
            char **g = realloc(*fields, nc * sizeof *g);
            if (!g) { *why = "out of memory"; return -1; }
            *fields = g, *cap = nc;
        }
        char *start = p, *o = p;
        while (*p == ' ' && delim != ' ')
            p++;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p) { *why = "unterminated quote"; return -1; }
                if (*p == '"' && p[1] != '"') break;
                *o++ = *p;
                p += *p == '"';
            }
            for (p++; *p == ' ' && delim != ' '; p++) {}
            if (*p && *p != delim) { *why = "text after a closing quote"; return -1; }
        } else {
            p = start;
            while (*p && *p != delim)
                p++;
            o = p;
        }
        char end = *p;
        *o = '\0';
        (*fields)[n++] = start;
        if (!end)
            return n;
        p++;
    }
}

typedef struct csv {
    FILE *f;
    const char *path;
    char *line;
    size_t cap, fcap;
    char **fields;
    int64_t lineno, ncol, label;   /* columns in the header; the label column */
    char **names;                   /* the ncol - 1 feature names */
} csv;

static void csv_free(csv *c)
{
    if (c->f) fclose(c->f);
    free(c->line);
    free(c->fields);
    dz_names_free(c->names, c->ncol > 0 ? c->ncol - 1 : 0);
}

/* The header (first line; a leading UTF-8 byte-order mark or '#' is dropped): the column
 * count, the label column and the feature names. */
static int csv_header(csv *c, const opts *o, dz_err *e)
{
    ssize_t len = getline(&c->line, &c->cap, c->f);
    if (len < 0)
        return dz_fail(e, DZ_EDATA, "%s: empty file (a header line is needed)", c->path);
    c->lineno = 1;
    chomp(c->line, (size_t)len);
    char *h = c->line + (strncmp(c->line, "\xEF\xBB\xBF", 3) ? 0 : 3);
    h += *h == '#';
    const char *why = NULL;
    int64_t n = split(h, o->delim, &c->fields, &c->fcap, &why);
    if (n < 0)
        return dz_fail(e, DZ_EDATA, "%s:1: header: %s", c->path, why);
    c->label = -1;
    for (int64_t j = 0; j < n; j++) {
        char *s = c->fields[j];
        while (*s == ' ') s++;
        for (char *t = s + strlen(s); t > s && t[-1] == ' ';) *--t = '\0';
        c->fields[j] = s;
        if (!strcmp(s, o->label)) {
            if (c->label >= 0)
                return dz_fail(e, DZ_EDATA, "%s:1: the label column '%s' appears twice in "
                               "the header (columns %lld and %lld)", c->path, o->label,
                               (long long)c->label + 1, (long long)j + 1);
            c->label = j;
        }
    }
    if (c->label < 0)
        return dz_fail(e, DZ_EDATA, "%s:1: no column '%s' in the header (%lld columns: "
                       "'%s', ...; the delimiter is '%s')", c->path, o->label, (long long)n,
                       c->fields[0], o->delim == '\t' ? "\\t" : (char[2]){o->delim, 0});
    if (n < 2)
        return dz_fail(e, DZ_EDATA, "%s:1: the header has only the label column; no "
                       "features", c->path);
    c->ncol = n;
    if (!(c->names = xalloc((size_t)(n - 1), sizeof *c->names, e)))
        return e->code;
    for (int64_t j = 0, k = 0; j < n; j++)
        if (j != c->label && !(c->names[k++] = strdup(c->fields[j])))
            return dz_fail(e, DZ_ERUNTIME, "out of memory (feature names)");
    return DZ_OK;
}

/* One data line's fields into the next row of w. */
static int csv_row(csv *c, const opts *o, writer *w, dz_err *e)
{
    const char *why = NULL;
    int64_t n = split(c->line, o->delim, &c->fields, &c->fcap, &why);
    if (n < 0)
        return dz_fail(e, DZ_EDATA, "%s:%lld: %s", c->path, (long long)c->lineno, why);
    if (n != c->ncol)
        return dz_fail(e, DZ_EDATA, "%s:%lld: %lld fields, but the header has %lld columns "
                       "(a ragged row)", c->path, (long long)c->lineno, (long long)n,
                       (long long)c->ncol);
    double *row = writer_row(w), v = 0;
    for (int64_t j = 0, k = 0; j < n; j++) {
        if ((why = parse_num(c->fields[j], o->f32 && j != c->label, &v)))
            return dz_fail(e, DZ_EDATA, "%s:%lld: column %lld '%s': '%.60s' %s", c->path,
                           (long long)c->lineno, (long long)j + 1,
                           j == c->label ? o->label : c->names[j < c->label ? j : j - 1],
                           c->fields[j], why);
        if (j == c->label)
            w->y[w->rows] = v;
        else
            row[k++] = v;
    }
    return writer_next(w, e);
}

static int csv_rows(csv *c, const opts *o, writer *w, dz_err *e)
{
    ssize_t len;
    errno = 0;
    while ((len = getline(&c->line, &c->cap, c->f)) >= 0) {
        c->lineno++;
        chomp(c->line, (size_t)len);
        if (blank(c->line) || c->line[0] == '#')
            continue;
        DZ_TRY(csv_row(c, o, w, e));
    }
    if (ferror(c->f) || errno == ENOMEM)
        return dz_fail(e, errno == ENOMEM ? DZ_ERUNTIME : DZ_EDATA, "%s:%lld: read error: %s",
                       c->path, (long long)c->lineno + 1, strerror(errno));
    return DZ_OK;
}

static int convert_csv(const opts *o, dz_err *e)
{
    csv c = {0};
    writer w = {.f = -1, .dx = -1, .dy = -1};
    c.path = o->in;
    int rc = (c.f = open_input(o->in, e)) ? DZ_OK : e->code;
    if (rc == DZ_OK) rc = csv_header(&c, o, e);
    if (rc == DZ_OK) rc = writer_begin(&w, o, c.ncol - 1, c.names, 0, e);
    if (rc == DZ_OK) rc = csv_rows(&c, o, &w, e);
    if (rc == DZ_OK) rc = writer_end(&w, o->in, o->label, e);
    if (rc == DZ_OK) summary(o, w.m, w.d, -1, o->in);
    else writer_abort(&w);
    csv_free(&c);
    return rc;
}

/* ---- LIBSVM / svmlight -------------------------------------------------------------------- */

/* One line's index:value pairs (1-based indices, ascending once svm_line returns). */
typedef struct svm_ent {
    int64_t idx;
    double v;
} svm_ent;

typedef struct svm_row {
    svm_ent *ent;
    size_t n, cap;
} svm_row;

static int ent_cmp(const void *a, const void *b)
{
    int64_t x = ((const svm_ent *)a)->idx, y = ((const svm_ent *)b)->idx;
    return (x > y) - (x < y);
}

/* One line "label [qid:N] idx:val ..." (comment after '#' allowed), indices 1-based: the
 * label into *label, the pairs into r, *maxidx raised to the largest index.  Indices > d
 * (d > 0) are refused; they must increase, except with --sparse, where a line's indices may
 * come in any order (sorted here) but none twice. */
static int svm_line(char *line, const char *path, int64_t lineno, const opts *o, int64_t d,
                    svm_row *r, double *label, int64_t *maxidx, dz_err *e)
{
    char *save = NULL, *tok = strtok_r(line, " \t", &save);
    const char *why = tok ? parse_num(tok, 0, label) : "is missing";
    if (why)
        return dz_fail(e, DZ_EDATA, "%s:%lld: label '%.60s' %s", path, (long long)lineno,
                       tok ? tok : "", why);
    if (o->pm1) {
        if (*label != -1 && *label != 1)
            return dz_fail(e, DZ_EDATA, "%s:%lld: label '%.60s': --pm1 expects -1 or +1", path,
                           (long long)lineno, tok);
        *label = *label > 0;
    }
    int64_t prev = 0;
    int sorted = 1;
    r->n = 0;
    for (int first = 1; (tok = strtok_r(NULL, " \t", &save)); first = 0) {
        if (first && !strncmp(tok, "qid:", 4))
            continue;
        char *colon = strchr(tok, ':'), *end;
        errno = 0;
        long long idx = colon ? strtoll(tok, &end, 10) : 0;
        if (!colon || end != colon || tok == colon || errno)
            return dz_fail(e, DZ_EDATA, "%s:%lld: '%.60s' is not index:value", path,
                           (long long)lineno, tok);
        if (idx < 1)
            return dz_fail(e, DZ_EDATA, "%s:%lld: index %lld out of range (indices are "
                           "1-based)", path, (long long)lineno, idx);
        if ((d > 0 && idx > d) || idx > INT32_MAX)
            return dz_fail(e, DZ_EDATA, "%s:%lld: index %lld out of range 1 ... %lld%s", path,
                           (long long)lineno, idx, (long long)(d > 0 ? d : INT32_MAX),
                           o->features ? " (--features)" : "");
        if (idx <= prev && !o->sparse)
            return dz_fail(e, DZ_EDATA, "%s:%lld: index %lld after %lld: indices must "
                           "increase", path, (long long)lineno, idx, (long long)prev);
        sorted &= idx > prev;
        double v;
        if ((why = parse_num(colon + 1, o->f32, &v)))
            return dz_fail(e, DZ_EDATA, "%s:%lld: index %lld: value '%.60s' %s", path,
                           (long long)lineno, idx, colon + 1, why);
        if (r->n == r->cap) {
            size_t nc = r->cap ? 2 * r->cap : 64;
            svm_ent *g = realloc(r->ent, nc * sizeof *g);
            if (!g)
                return dz_fail(e, DZ_ERUNTIME, "%s:%lld: out of memory (%zu values in a line)",
                               path, (long long)lineno, nc);
            r->ent = g, r->cap = nc;
        }
        r->ent[r->n++] = (svm_ent){idx, v};
        prev = idx;
    }
    if (!sorted) {
        qsort(r->ent, r->n, sizeof *r->ent, ent_cmp);
        for (size_t k = 1; k < r->n; k++)
            if (r->ent[k].idx == r->ent[k - 1].idx)
                return dz_fail(e, DZ_EDATA, "%s:%lld: index %lld appears twice in the line",
                               path, (long long)lineno, (long long)r->ent[k].idx);
    }
    if (r->n && r->ent[r->n - 1].idx > *maxidx)
        *maxidx = r->ent[r->n - 1].idx;
    return DZ_OK;
}

/* What becomes of a parsed line: the dense rows or the CSR arrays (ctx, their writer). */
typedef int (*svm_take)(void *ctx, const svm_row *r, double label, dz_err *e);

/* Read every line of f (blank lines and comments skipped), counting the rows in *m and the
 * largest index in *maxidx, and hand each to take (NULL: the lines are only checked). */
static int svm_lines(FILE *f, const opts *o, int64_t d, svm_take take, void *ctx, int64_t *m,
                     int64_t *maxidx, dz_err *e)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    svm_row r = {0};
    int rc = DZ_OK;
    errno = 0;
    while (rc == DZ_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        chomp(line, (size_t)len);
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        if (blank(line))
            continue;
        double lab = 0;
        rc = svm_line(line, o->in, lineno, o, d, &r, &lab, maxidx, e);
        if (rc == DZ_OK && take)
            rc = take(ctx, &r, lab, e);
        ++*m;
    }
    if (rc == DZ_OK && (ferror(f) || errno == ENOMEM))
        rc = dz_fail(e, errno == ENOMEM ? DZ_ERUNTIME : DZ_EDATA, "%s:%lld: read error: %s",
                     o->in, (long long)lineno + 1, strerror(errno));
    free(line);
    free(r.ent);
    return rc;
}

/* A line into the dense writer's next row. */
static int dense_take(void *ctx, const svm_row *r, double label, dz_err *e)
{
    writer *w = ctx;
    double *row = writer_row(w);
    for (size_t k = 0; k < r->n; k++)
        row[r->ent[k].idx - 1] = r->ent[k].v;
    w->y[w->rows] = label;
    return writer_next(w, e);
}

/* ---- CSR output (LIBSVM --sparse) ---------------------------------------------------------- */

/* One extendible 1-D dataset, filled through a buffer of one chunk. */
typedef struct stream1 {
    hid_t loc, ds, ftype, mtype;
    const char *name;
    size_t esize;
    char *buf;
    int64_t n, cap, written;   /* buffered, buffer size, in the dataset */
} stream1;

enum { S_DATA, S_INDICES, S_INDPTR, S_Y, S_COUNT };

/* The features group x with data, indices (0-based int32) and indptr (int64, m + 1), and
 * the labels y, each written a chunk at a time: memory O(chunk + longest line). */
typedef struct csr_writer {
    const opts *o;
    hid_t f, g;
    stream1 s[S_COUNT];
    int64_t m, nnz;
    char tmp[DZ_PATH_MAX + 32];
} csr_writer;

/* Write s's buffered elements (the dataset made at the first write, its chunk the elements
 * buffered then: a small input gets small chunks). */
static int stream_flush(stream1 *s, const csr_writer *w, dz_err *e)
{
    if (s->ds < 0) {
        hsize_t chunk[1] = {(hsize_t)(s->n > 0 ? s->n : 1)};
        if ((s->ds = create_ext(s->loc, s->name, s->ftype, 1, chunk, 0, w->o->compress)) < 0)
            return dz_fail(e, DZ_EOUTPUT, "cannot create the dataset '%s' in '%s'", s->name,
                           w->tmp);
    }
    if (s->n && append(s->ds, 1, (hsize_t)s->written, (hsize_t)s->n, 0, s->mtype, s->buf) < 0)
        return dz_fail(e, DZ_EOUTPUT, "writing '%s' elements %lld..%lld to '%s' failed",
                       s->name, (long long)s->written, (long long)(s->written + s->n - 1),
                       w->tmp);
    s->written += s->n;
    s->n = 0;
    return DZ_OK;
}

/* One element (s's memory type) onto stream k. */
static int stream_put(csr_writer *w, int k, const void *v, dz_err *e)
{
    stream1 *s = &w->s[k];
    memcpy(s->buf + (size_t)s->n * s->esize, v, s->esize);
    return ++s->n == s->cap ? stream_flush(s, w, e) : DZ_OK;
}

static int csr_begin(csr_writer *w, const opts *o, dz_err *e)
{
    memset(w, 0, sizeof *w);
    w->o = o, w->f = w->g = -1;
    for (int k = 0; k < S_COUNT; k++)
        w->s[k].ds = -1;
    DZ_TRY(dz_out_check_writable(o->out, "output", e));
    w->f = (hid_t)dz_h5_begin(o->out, w->tmp, sizeof w->tmp, "output file", e);
    if (w->f < 0)
        return e->code;
    if ((w->g = H5Gcreate2(w->f, o->xname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return dz_fail(e, DZ_EOUTPUT, "cannot create the group '%s' in '%s'", o->xname, w->tmp);
    const struct { hid_t loc; const char *name; hid_t ft, mt; size_t es; } spec[S_COUNT] = {
        {w->g, "data", o->f32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8},
        {w->g, "indices", H5T_STD_I32LE, H5T_NATIVE_INT32, 4},
        {w->g, "indptr", H5T_STD_I64LE, H5T_NATIVE_INT64, 8},
        {w->f, o->yname, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8}};
    for (int k = 0; k < S_COUNT; k++) {
        stream1 *s = &w->s[k];
        s->loc = spec[k].loc, s->name = spec[k].name, s->ftype = spec[k].ft;
        s->mtype = spec[k].mt, s->esize = spec[k].es, s->cap = CHUNK_BYTES / 8;
        if (!(s->buf = xalloc((size_t)s->cap, s->esize, e)))
            return e->code;
    }
    return stream_put(w, S_INDPTR, &w->nnz, e); /* indptr[0] = 0 */
}

/* A line as the next CSR row (indices 1-based and ascending: svm_line sorted them). */
static int csr_take(void *ctx, const svm_row *r, double label, dz_err *e)
{
    csr_writer *w = ctx;
    for (size_t k = 0; k < r->n; k++) {
        int32_t col = (int32_t)(r->ent[k].idx - 1);
        DZ_TRY(stream_put(w, S_DATA, &r->ent[k].v, e));
        DZ_TRY(stream_put(w, S_INDICES, &col, e));
    }
    w->nnz += (int64_t)r->n;
    w->m++;
    DZ_TRY(stream_put(w, S_INDPTR, &w->nnz, e));
    return stream_put(w, S_Y, &label, e);
}

/* Close what is open and free the buffers; nonzero if a close failed. */
static int csr_close(csr_writer *w)
{
    int bad = 0;
    for (int k = 0; k < S_COUNT; k++) {
        if (w->s[k].ds >= 0) bad |= H5Dclose(w->s[k].ds) < 0;
        free(w->s[k].buf);
        w->s[k].ds = -1, w->s[k].buf = NULL;
    }
    if (w->g >= 0) bad |= H5Gclose(w->g) < 0;
    w->g = -1;
    return bad;
}

/* On error: close and remove the temporary file (OUTPUT is untouched). */
static void csr_abort(csr_writer *w)
{
    (void)csr_close(w);
    if (w->f >= 0) {
        H5Fclose(w->f);
        unlink(w->tmp);
    }
    w->f = -1;
}

/* Flush; the group's attributes (shape [m, d], anndata's encoding-type and -version), the d
 * names, the provenance; close and rename to OUTPUT. */
static int csr_end(csr_writer *w, int64_t d, dz_err *e)
{
    for (int k = 0; k < S_COUNT; k++)
        DZ_TRY(stream_flush(&w->s[k], w, e));
    const int64_t shape[2] = {w->m, d};
    hsize_t two = 2;
    hid_t sp = H5Screate_simple(1, &two, NULL), a = -1;
    int bad = sp < 0 ||
              (a = H5Acreate2(w->g, "shape", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
              H5Awrite(a, H5T_NATIVE_INT64, shape) < 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    bad |= dz_h5_attr_str(w->g, "encoding-type", "csr_matrix") < 0;
    bad |= dz_h5_attr_str(w->g, "encoding-version", "0.1.0") < 0;
    bad |= provenance(w->f, w->o, w->o->in, NULL);
    if (bad)
        return dz_fail(e, DZ_EOUTPUT, "cannot write the attributes of '%s' in '%s'",
                       w->o->xname, w->tmp);
    DZ_TRY(write_number_names(w->f, w->o->namesname, d, 1, e));
    bad = csr_close(w);
    hid_t f = w->f;
    w->f = -1;
    return dz_h5_commit(f, bad, w->tmp, w->o->out, "output file", e);
}

/* --sparse: one pass; d is --features or the largest index, known at the end. */
static int convert_libsvm_csr(FILE *f, const opts *o, dz_err *e)
{
    csr_writer w = {.f = -1, .g = -1};
    int64_t m = 0, maxidx = 0, d = 0;
    int rc = csr_begin(&w, o, e);
    if (rc == DZ_OK) rc = svm_lines(f, o, o->features, csr_take, &w, &m, &maxidx, e);
    if (rc == DZ_OK && (d = o->features ? o->features : maxidx) == 0)
        rc = dz_fail(e, DZ_EDATA, "%s: no feature index in any row (%lld rows)", o->in,
                     (long long)m);
    if (rc == DZ_OK && m == 0)
        rc = dz_fail(e, DZ_EDATA, "%s: no data rows", o->in);
    if (rc == DZ_OK) rc = csr_end(&w, d, e);
    if (rc == DZ_OK) summary(o, w.m, d, w.nnz, o->in);
    else csr_abort(&w);
    return rc;
}

static int convert_libsvm(const opts *o, dz_err *e)
{
    writer w = {.f = -1, .dx = -1, .dy = -1};
    int64_t m = 0, maxidx = 0, d = o->features;
    char **names = NULL;
    FILE *f = open_input(o->in, e);
    if (f && o->sparse) {
        int rc = convert_libsvm_csr(f, o, e);
        fclose(f);
        return rc;
    }
    int rc = f ? DZ_OK : e->code;
    if (rc == DZ_OK && d == 0) {
        rc = svm_lines(f, o, 0, NULL, NULL, &m, &maxidx, e);
        if (rc == DZ_OK && (d = maxidx) == 0)
            rc = dz_fail(e, DZ_EDATA, "%s: no feature index in any row (%lld rows)", o->in,
                         (long long)m);
        if (rc == DZ_OK && fseek(f, 0, SEEK_SET) != 0)
            rc = dz_fail(e, DZ_EDATA, "%s: cannot read it a second time (not a regular "
                         "file? give --features D)", o->in);
    }
    if (rc == DZ_OK && !(names = number_names(d, 1, e)))
        rc = e->code;
    if (rc == DZ_OK) rc = writer_begin(&w, o, d, names, m, e);
    m = 0;
    if (rc == DZ_OK) rc = svm_lines(f, o, d, dense_take, &w, &m, &maxidx, e);
    if (rc == DZ_OK) rc = writer_end(&w, o->in, NULL, e);
    if (rc == DZ_OK) summary(o, w.m, w.d, -1, o->in);
    else writer_abort(&w);
    dz_names_free(names, d);
    if (f) fclose(f);
    return rc;
}

/* ---- NumPy .npy --------------------------------------------------------------------------- */

typedef struct npy {
    FILE *f;
    const char *path;
    char kind;               /* 'f', 'i', 'u' or 'b' */
    int size;                /* bytes per element */
    int ndim;
    int64_t shape[2];
} npy;

/* Parse the header dict {'descr': '<f8', 'fortran_order': False, 'shape': (m, d), }. */
static int npy_dict(npy *n, const char *h, dz_err *e)
{
    const char *ds = strstr(h, "'descr'"), *fo = strstr(h, "'fortran_order'");
    const char *sh = strstr(h, "'shape'");
    char order, kind;
    int size;
    if (!ds || !fo || !sh || sscanf(ds, "'descr' : '%c%c%d'", &order, &kind, &size) != 3)
        return dz_fail(e, DZ_EDATA, "%s: not a plain .npy array header: %.200s", n->path, h);
    if (order == '>' || (order != '<' && order != '|') || !strchr("fiub", kind) ||
        (kind == 'f' && size != 4 && size != 8) || (kind != 'f' && size != 1 && size != 2 &&
                                                    size != 4 && size != 8))
        return dz_fail(e, DZ_EDATA, "%s: element type '%c%c%d' not supported (little-endian "
                       "float32/float64, integers or bool; use a.astype('<f8'))", n->path,
                       order, kind, size);
    if (strncmp(fo + 15 + strspn(fo + 15, " :"), "False", 5))
        return dz_fail(e, DZ_EDATA, "%s: Fortran order is not supported (save "
                       "np.ascontiguousarray(a))", n->path);
    const char *p = strchr(sh, '(');
    n->ndim = 0;
    while (p && n->ndim < 3) {
        char *end;
        long long v = strtoll(p + 1, &end, 10);
        if (end == p + 1)
            break;
        if (n->ndim < 2) n->shape[n->ndim] = v;
        n->ndim++;
        p = strchr(end, ',');
    }
    n->kind = kind, n->size = size;
    return DZ_OK;
}

/* Open path and read its header; the data follows at the file position. */
static int npy_open(npy *n, const char *path, dz_err *e)
{
    memset(n, 0, sizeof *n);
    n->path = path;
    if (!(n->f = open_input(path, e)))
        return e->code;
    unsigned char pre[12];
    if (fread(pre, 1, 10, n->f) != 10 || memcmp(pre, "\x93NUMPY", 6))
        return dz_fail(e, DZ_EDATA, "%s: not a .npy file", path);
    size_t hlen = pre[8] | (size_t)pre[9] << 8, extra = pre[6] >= 2 ? 2 : 0;
    if (extra && fread(pre + 10, 1, 2, n->f) != 2)
        return dz_fail(e, DZ_EDATA, "%s: truncated .npy header", path);
    if (extra)
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    char *h = xalloc(hlen + 1, 1, e);
    if (!h)
        return e->code;
    int rc = fread(h, 1, hlen, n->f) == hlen ? npy_dict(n, h, e)
                                             : dz_fail(e, DZ_EDATA, "%s: truncated .npy header",
                                                       path);
    free(h);
    return rc;
}

/* count elements of n's type at raw -> out. */
static void npy_to_double(const npy *n, const unsigned char *raw, size_t count, double *out)
{
    for (size_t i = 0; i < count; i++, raw += n->size) {
        union { double f8; float f4; int64_t i8; int32_t i4; int16_t i2; int8_t i1;
                uint64_t u8; uint32_t u4; uint16_t u2; uint8_t u1; } u;
        memcpy(&u, raw, (size_t)n->size);
        if (n->kind == 'f')
            out[i] = n->size == 8 ? u.f8 : u.f4;
        else if (n->kind == 'i')
            out[i] = n->size == 8 ? (double)u.i8 : n->size == 4 ? u.i4 : n->size == 2 ? u.i2 : u.i1;
        else
            out[i] = n->size == 8 ? (double)u.u8 : n->size == 4 ? u.u4 : n->size == 2 ? u.u2
                                                                                    : u.u1;
    }
}

/* The shapes must be X (m, d), y (m,), and both files exactly as long as that. */
static int npy_check(const npy *x, const npy *y, dz_err *e)
{
    if (x->ndim != 2 || x->shape[0] < 1 || x->shape[1] < 1)
        return dz_fail(e, DZ_EDATA, "%s: features must be a 2-D array (m, d) with m, d >= 1",
                       x->path);
    if (y->ndim != 1 || y->shape[0] != x->shape[0])
        return dz_fail(e, DZ_EDATA, "%s: labels must be a 1-D array of %lld values (one per "
                       "row of %s)", y->path, (long long)x->shape[0], x->path);
    const npy *a[2] = {x, y};
    for (int k = 0; k < 2; k++) {
        struct stat st;
        int64_t count = a[k]->shape[0] * (a[k]->ndim == 2 ? a[k]->shape[1] : 1);
        long pos = ftell(a[k]->f);
        if (fstat(fileno(a[k]->f), &st) != 0 || pos < 0 ||
            st.st_size != pos + count * a[k]->size)
            return dz_fail(e, DZ_EDATA, "%s: the file holds %lld data bytes, its header says "
                           "%lld (truncated?)", a[k]->path, (long long)(st.st_size - pos),
                           (long long)(count * a[k]->size));
    }
    return DZ_OK;
}

/* The first value of the block that cannot be stored (rows from row r0), reported. */
static int npy_values(const npy *x, const npy *y, const writer *w, int64_t r0, dz_err *e)
{
    for (int64_t i = 0; i < w->rows * w->d; i++) {
        const char *why = value_problem(w->x[i], w->o->f32);
        if (why)
            return dz_fail(e, DZ_EDATA, "%s: row %lld, column %lld: value %g %s", x->path,
                           (long long)(r0 + i / w->d), (long long)(i % w->d), w->x[i], why);
    }
    for (int64_t i = 0; i < w->rows; i++)
        if (!isfinite(w->y[i]))
            return dz_fail(e, DZ_EDATA, "%s: row %lld: label %g is not a finite number",
                           y->path, (long long)(r0 + i), w->y[i]);
    return DZ_OK;
}

/* Copy X and y block by block into w. */
static int npy_rows(npy *x, npy *y, writer *w, dz_err *e)
{
    int64_t m = x->shape[0], d = x->shape[1];
    size_t xrow = (size_t)x->size * (size_t)d;
    unsigned char *raw = xalloc((size_t)w->block, xrow + 8, e);
    if (!raw)
        return e->code;
    unsigned char *yraw = raw + (size_t)w->block * xrow;
    int rc = DZ_OK;
    for (int64_t r0 = 0; rc == DZ_OK && r0 < m; r0 += w->block) {
        size_t rows = (size_t)(m - r0 < w->block ? m - r0 : w->block);
        if (fread(raw, xrow, rows, x->f) != rows || fread(yraw, (size_t)y->size, rows, y->f) != rows) {
            rc = dz_fail(e, DZ_EDATA, "%s / %s: read error at row %lld", x->path, y->path,
                         (long long)r0);
            break;
        }
        npy_to_double(x, raw, rows * (size_t)d, w->x);
        npy_to_double(y, yraw, rows, w->y);
        w->rows = (int64_t)rows;
        rc = npy_values(x, y, w, r0, e);
        if (rc == DZ_OK) rc = writer_flush(w, e);
    }
    free(raw);
    return rc;
}

static int convert_npy(const opts *o, dz_err *e)
{
    npy x, y = {0};
    writer w = {.f = -1, .dx = -1, .dy = -1};
    char **names = NULL, src[2 * DZ_PATH_MAX + 8];
    snprintf(src, sizeof src, "%s, %s", o->xnpy, o->ynpy);
    int rc = npy_open(&x, o->xnpy, e);
    if (rc == DZ_OK) rc = npy_open(&y, o->ynpy, e);
    if (rc == DZ_OK) rc = npy_check(&x, &y, e);
    if (rc == DZ_OK && !(names = number_names(x.shape[1], 0, e))) rc = e->code;
    if (rc == DZ_OK) rc = writer_begin(&w, o, x.shape[1], names, x.shape[0], e);
    if (rc == DZ_OK) rc = npy_rows(&x, &y, &w, e);
    if (rc == DZ_OK) rc = writer_end(&w, src, NULL, e);
    if (rc == DZ_OK) summary(o, w.m, w.d, -1, src);
    else writer_abort(&w);
    dz_names_free(names, names ? x.shape[1] : 0);
    if (x.f) fclose(x.f);
    if (y.f) fclose(y.f);
    return rc;
}

/* ---- command line ------------------------------------------------------------------------- */

static const char USAGE[] =
    "usage: dzconvert [options] INPUT.csv|INPUT.tsv --label NAME OUTPUT.h5\n"
    "       dzconvert [options] INPUT.svm [--features D] [--sparse] OUTPUT.h5\n"
    "       dzconvert [options] --x X.npy --y Y.npy OUTPUT.h5\n";

static void help(void)
{
    printf("%s\n"
           "Converts CSV/TSV (with a header), LIBSVM/svmlight text or a NumPy .npy pair into\n"
           "the HDF5 layout dztrain reads, streaming (never the whole input in memory).\n\n"
           "  --label NAME       CSV/TSV: the label column (by its header name)\n"
           "  --delim C          CSV/TSV field separator (one character, or 'tab');\n"
           "                     default from the extension: .csv ',', .tsv/.tab tab\n"
           "  --format F         csv, tsv or libsvm when the extension does not say\n"
           "                     (.csv .tsv .tab; .svm .libsvm .svmlight)\n"
           "  --features D       LIBSVM: the feature count (default: found by a first pass)\n"
           "  --pm1              LIBSVM: labels -1/+1 (the usual binary convention) become\n"
           "                     0/1, as the trainer needs; any other label is refused\n"
           "  --sparse           LIBSVM: the features as a CSR group (--x-name holding data,\n"
           "                     int32 indices, int64 indptr; attributes shape and\n"
           "                     encoding-type csr_matrix, as anndata/scipy); one pass; a\n"
           "                     line's indices may come in any order, but none twice\n"
           "  --x X.npy --y Y.npy  NumPy input: X (m, d) and y (m,), little-endian, C order\n"
           "  --x-name NAME      features dataset (default train_set_x)\n"
           "  --y-name NAME      labels dataset (default train_set_y)\n"
           "  --names-name NAME  feature names dataset (default feature_names)\n"
           "  --type T           float64 (default) or float32 features\n"
           "  --compress N       deflate level 1..9 (with shuffle); 0 = none (default)\n"
           "  --quiet            no summary line\n\n"
           "Exit codes: 0 ok, 2 usage, 3 bad input (bad rows are named FILE:LINE),\n"
           "4 out of memory, 5 output not writable.  See README.md, \"Converting data\".\n",
           USAGE);
}

static int parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *v,
                     dz_err *e)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi)
        return dz_fail(e, DZ_ECONFIG, "%s '%s': expected an integer in %lld ... %lld", opt, s,
                       (long long)lo, (long long)hi);
    *v = x;
    return DZ_OK;
}

static int parse_delim(const char *s, char *delim, dz_err *e)
{
    if (!strcmp(s, "tab") || !strcmp(s, "\\t"))
        s = "\t";
    if (strlen(s) != 1 || *s == '"' || *s == '\n' || *s == '\r' || *s == '#')
        return dz_fail(e, DZ_ECONFIG, "--delim '%s': expected one character or 'tab'", s);
    *delim = *s;
    return DZ_OK;
}

static int parse_format(const char *s, opts *o, dz_err *e)
{
    if (!strcasecmp(s, "csv")) o->fmt = FMT_CSV;
    else if (!strcasecmp(s, "tsv")) o->fmt = FMT_CSV, o->delim = o->delim ? o->delim : '\t';
    else if (!strcasecmp(s, "libsvm") || !strcasecmp(s, "svmlight")) o->fmt = FMT_LIBSVM;
    else
        return dz_fail(e, DZ_ECONFIG, "--format '%s': expected csv, tsv or libsvm", s);
    return DZ_OK;
}

/* The format and CSV delimiter from INPUT's extension, unless given. */
static int format_from_name(opts *o, dz_err *e)
{
    const char *dot = strrchr(o->in, '.');
    const char *ext = dot && !strchr(dot, '/') ? dot + 1 : "";
    if (!strcasecmp(ext, "npy"))
        return dz_fail(e, DZ_ECONFIG, "'%s': a NumPy input is given as --x X.npy --y Y.npy",
                       o->in);
    char tab = !strcasecmp(ext, "tsv") || !strcasecmp(ext, "tab");
    if (o->fmt == FMT_NONE) {
        if (tab || !strcasecmp(ext, "csv")) o->fmt = FMT_CSV;
        else if (!strcasecmp(ext, "svm") || !strcasecmp(ext, "libsvm") ||
                 !strcasecmp(ext, "svmlight")) o->fmt = FMT_LIBSVM;
        else
            return dz_fail(e, DZ_ECONFIG, "cannot tell the format of '%s' from its extension "
                           "(give --format csv, tsv or libsvm)", o->in);
    }
    if (o->fmt == FMT_CSV && !o->delim)
        o->delim = tab ? '\t' : ',';
    return DZ_OK;
}

/* The options that belong to one format only, and the positional arguments. */
static int check_opts(opts *o, int npos, char **pos, dz_err *e)
{
    int want = o->xnpy || o->ynpy ? 1 : 2;
    if (npos != want)
        return dz_fail(e, DZ_ECONFIG, want == 1 ? "with --x/--y give only OUTPUT.h5"
                                                : "expected INPUT and OUTPUT.h5");
    o->out = pos[npos - 1];
    if (want == 1) {
        if (!o->xnpy || !o->ynpy)
            return dz_fail(e, DZ_ECONFIG, "a NumPy input needs both --x X.npy and --y Y.npy");
        if (o->fmt != FMT_NONE)
            return dz_fail(e, DZ_ECONFIG, "--format does not apply to --x/--y (NumPy input)");
        o->fmt = FMT_NPY;
    } else {
        o->in = pos[0];
        DZ_TRY(format_from_name(o, e));
    }
    if (o->fmt != FMT_CSV && (o->label || o->delim))
        return dz_fail(e, DZ_ECONFIG, "--label and --delim apply to CSV/TSV input only");
    if (o->fmt != FMT_LIBSVM && o->pm1)
        return dz_fail(e, DZ_ECONFIG, "--pm1 applies to LIBSVM input only");
    if (o->fmt != FMT_LIBSVM && o->sparse)
        return dz_fail(e, DZ_ECONFIG, "--sparse applies to LIBSVM input only");
    if (o->fmt == FMT_CSV && !o->label)
        return dz_fail(e, DZ_ECONFIG, "CSV/TSV input needs --label NAME (the label column)");
    if (o->fmt != FMT_LIBSVM && o->features)
        return dz_fail(e, DZ_ECONFIG, "--features applies to LIBSVM input only");
    if (!*o->xname || !*o->yname || !*o->namesname || !strcmp(o->xname, o->yname) ||
        !strcmp(o->xname, o->namesname) || !strcmp(o->yname, o->namesname))
        return dz_fail(e, DZ_ECONFIG, "--x-name, --y-name and --names-name must be three "
                       "different non-empty names");
    return DZ_OK;
}

/* One option (getopt_long's code c, argument a) into o. */
static int set_opt(int c, const char *a, opts *o, dz_err *e)
{
    int64_t v = 0;
    switch (c) {
    case 'l': o->label = a; return DZ_OK;
    case 'D': return parse_delim(a, &o->delim, e);
    case 'F': return parse_format(a, o, e);
    case 'f': DZ_TRY(parse_int("--features", a, 1, INT32_MAX, &v, e)); o->features = v; return DZ_OK;
    case 'x': o->xnpy = a; return DZ_OK;
    case 'y': o->ynpy = a; return DZ_OK;
    case 'X': o->xname = a; return DZ_OK;
    case 'Y': o->yname = a; return DZ_OK;
    case 'N': o->namesname = a; return DZ_OK;
    case 'c': DZ_TRY(parse_int("--compress", a, 0, 9, &v, e)); o->compress = (int)v; return DZ_OK;
    case 'q': o->quiet = 1; return DZ_OK;
    case 'p': o->pm1 = 1; return DZ_OK;
    case 's': o->sparse = 1; return DZ_OK;
    case 't':
        if (strcmp(a, "float64") && strcmp(a, "float32"))
            return dz_fail(e, DZ_ECONFIG, "--type '%s': expected float64 or float32", a);
        o->f32 = !strcmp(a, "float32");
        return DZ_OK;
    default:
        return dz_fail(e, DZ_ECONFIG, "unknown option or missing argument");
    }
}

/* argv -> o.  Returns DZ_OK, DZ_ECONFIG (e set) or -1 for --help (printed). */
static int parse_args(int argc, char **argv, opts *o, dz_err *e)
{
    static const struct option lopts[] = {
        {"label", required_argument, 0, 'l'}, {"delim", required_argument, 0, 'D'},
        {"format", required_argument, 0, 'F'}, {"features", required_argument, 0, 'f'},
        {"x", required_argument, 0, 'x'}, {"y", required_argument, 0, 'y'},
        {"x-name", required_argument, 0, 'X'}, {"y-name", required_argument, 0, 'Y'},
        {"names-name", required_argument, 0, 'N'}, {"type", required_argument, 0, 't'},
        {"compress", required_argument, 0, 'c'}, {"quiet", no_argument, 0, 'q'},
        {"pm1", no_argument, 0, 'p'}, {"sparse", no_argument, 0, 's'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (opts){.xname = "train_set_x", .yname = "train_set_y",
                .namesname = DZ_NAMES_DATASET};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return -1;
        }
        if (c == '?' || c == ':') /* ':' leads the option string: ':' = missing argument */
            return dz_fail(e, DZ_ECONFIG, "%s: %s", argv[optind - 1],
                           c == ':' ? "missing argument" : "unknown option");
        DZ_TRY(set_opt(c, optarg, o, e));
    }
    return check_opts(o, argc - optind, argv + optind, e);
}

int main(int argc, char **argv)
{
    opts o;
    dz_err e = {0};
    int rc = parse_args(argc, argv, &o, &e);
    if (rc == -1)
        return 0;
    if (rc != DZ_OK) {
        fprintf(stderr, "dzconvert: %s\n%s", e.msg, USAGE);
        return rc;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* our messages name the problem */
    rc = o.fmt == FMT_CSV ? convert_csv(&o, &e)
       : o.fmt == FMT_LIBSVM ? convert_libsvm(&o, &e) : convert_npy(&o, &e);
    if (rc != DZ_OK)
        fprintf(stderr, "dzconvert: %s\n", e.msg);
    return rc;
}
