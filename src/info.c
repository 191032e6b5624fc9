/* info.c — `trainer info FILE.h5`: what an HDF5 file holds, as the trainer sees it.
 *
 * Prints what kind of file it is (a dztrain model, checkpoint or prediction file, from its
 * `format` attribute, or data), every root attribute with its value (for a model or a
 * checkpoint that is the whole provenance: settings, optimizer, stop reason, data checksum),
 * and every dataset with its shape and type.  For a 1-D (or (m,1)/(1,m)) integer dataset, or a
 * float one whose values are all integral, of at most DZ_INFO_MAX_ROWS values and at most
 * DZ_INFO_MAX_CLASSES distinct values, it also prints the count of each value: the label
 * counts.  String datasets (feature_names) show their first names.
 * Collective in its outcome only: rank 0 reads the file with serial HDF5 and prints; the exit
 * code is agreed (dz_err_agree).
 */
#include "dz/info.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/names.h"
#include "dz/shard.h"
#include "shard_internal.h"

#define DZ_INFO_MAX_ROWS 10000000
#define DZ_INFO_MAX_CLASSES 64

/* "float64", "uint8", "string", ... for a dataset's type. */
static void type_name(hid_t t, char *buf, size_t len)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_FLOAT)
        snprintf(buf, len, "float%zu", 8 * sz);
    else if (c == H5T_INTEGER)
        snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * sz);
    else if (c == H5T_STRING)
        snprintf(buf, len, "string");
    else
        snprintf(buf, len, "other (HDF5 class %d)", (int)c);
}

/* One attribute "name = value" line: scalars and strings; arrays by their length. */
static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *ai, void *op)
{
    (void)ai;
    (void)op;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5T_class_t c = H5Tget_class(t);
    printf("  %-18s = ", name);
    if (c == H5T_STRING && n == 1 && !H5Tis_variable_str(t)) {
        size_t sz = H5Tget_size(t);
        char *s = calloc(sz + 1, 1);
        if (s && H5Aread(a, t, s) >= 0)
            printf("%s", s);
        free(s);
    } else if (c == H5T_STRING && n == 1) {
        char *s = NULL;
        if (H5Aread(a, t, &s) >= 0 && s)
            printf("%s", s);
        if (s)
            H5free_memory(s);
    } else if ((c == H5T_INTEGER || c == H5T_FLOAT) && n == 1) {
        if (c == H5T_FLOAT) {
            double v = 0;
            H5Aread(a, H5T_NATIVE_DOUBLE, &v);
            printf("%.17g", v);
        } else if (H5Tget_sign(t) == H5T_SGN_NONE) {
            unsigned long long v = 0;
            H5Aread(a, H5T_NATIVE_ULLONG, &v);
            printf("%llu", v);
        } else {
            long long v = 0;
            H5Aread(a, H5T_NATIVE_LLONG, &v);
            printf("%lld", v);
        }
    } else {
        char tn[48];
        type_name(t, tn, sizeof tn);
        printf("(%s, %lld values)", tn, (long long)n);
    }
    printf("\n");
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}

static herr_t count_attr(hid_t loc, const char *name, const H5A_info_t *ai, void *op)
{
    (void)loc;
    (void)name;
    (void)ai;
    ++*(int *)op;
    return 0;
}

/* The value counts of a label-like dataset, or nothing when it is not one. */
static void print_counts(hid_t ds, int nd, const hsize_t *dims, H5T_class_t c)
{
    hsize_t n = nd ? dims[0] : 1;
    if (nd == 2 && (dims[0] == 1 || dims[1] == 1))
        n = dims[0] * dims[1];
    else if (nd != 1)
        return;
    if (n == 0 || n > DZ_INFO_MAX_ROWS || (c != H5T_INTEGER && c != H5T_FLOAT))
        return;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v || H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        free(v);
        return;
    }
    double val[DZ_INFO_MAX_CLASSES];
    long long cnt[DZ_INFO_MAX_CLASSES];
    int nv = 0, label_like = 1;
    for (hsize_t i = 0; i < n && label_like; i++) {
        if (!isfinite(v[i]) || v[i] != floor(v[i])) {
            label_like = 0;
            break;
        }
        int k = 0;
        while (k < nv && val[k] != v[i])
            k++;
        if (k == nv) {
            if (nv == DZ_INFO_MAX_CLASSES) {
                label_like = 0;
                break;
            }
            val[nv] = v[i];
            cnt[nv++] = 0;
        }
        cnt[k]++;
    }
    free(v);
    if (!label_like)
        return;
    for (int a = 1; a < nv; a++) /* insertion sort by value: at most 64 */
        for (int b = a; b > 0 && val[b - 1] > val[b]; b--) {
            double tv = val[b];
            long long tc = cnt[b];
            val[b] = val[b - 1];
            cnt[b] = cnt[b - 1];
            val[b - 1] = tv;
            cnt[b - 1] = tc;
        }
    printf("      value counts:");
    for (int k = 0; k < nv; k++)
        printf(" %.0f: %lld%s", val[k], cnt[k], k + 1 < nv ? "," : "\n");
}

/* A group with an indptr: what the trainer makes of it as CSR features (or why it refuses). */
static void print_csr(hid_t root, const char *name)
{
    dz_dsinfo x;
    int64_t nnz = 0;
    dz_err e = {0};
    if (dz_csr_inspect(root, "", name, &x, &nnz, &e) != DZ_OK) {
        printf("  %-18s CSR group, refused by the trainer: %s\n", name, e.msg + (e.msg[0] == ':' ? 2 : 0));
        return;
    }
    const double cells = (double)x.dims[0] * (double)x.dims[1];
    printf("  %-18s CSR group    (%llu, %llu), %lld stored %s values (%.3g %% of the cells)\n",
           name, (unsigned long long)x.dims[0], (unsigned long long)x.dims[1], (long long)nnz,
           x.type, cells > 0 ? 100.0 * (double)nnz / cells : 0.0);
}

/* One dataset line (H5Lvisit callback, every link below the root): name, type, shape, and
 * counts or names.  Links that are not datasets are skipped. */
static herr_t print_object(hid_t root, const char *name, const H5L_info_t *li, void *op)
{
    (void)op;
    if (li->type != H5L_TYPE_HARD)
        return 0;
    hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
    if (obj < 0)
        return 0;
    int is_ds = H5Iget_type(obj) == H5I_DATASET;
    if (H5Iget_type(obj) == H5I_GROUP && H5Lexists(obj, "indptr", H5P_DEFAULT) > 0)
        print_csr(root, name);
    H5Oclose(obj);
    hid_t ds = is_ds ? H5Dopen2(root, name, H5P_DEFAULT) : -1;
    if (ds < 0)
        return 0;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    hsize_t dims[H5S_MAX_RANK] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd < 0)
        nd = 0;
    H5Sget_simple_extent_dims(sp, dims, NULL);
    char tn[48], shape[160] = "(";
    type_name(t, tn, sizeof tn);
    for (int k = 0; k < nd; k++) {
        size_t l = strlen(shape);
        snprintf(shape + l, sizeof shape - l, "%llu%s", (unsigned long long)dims[k],
                 nd == 1 ? ",)" : k + 1 < nd ? ", " : ")");
    }
    if (nd == 0)
        snprintf(shape, sizeof shape, "scalar");
    printf("  %-18s %-8s %s\n", name, tn, shape);
    H5T_class_t c = H5Tget_class(t);
    if (c == H5T_STRING && !strcmp(name, DZ_NAMES_DATASET)) {
        char **names;
        int64_t n;
        hid_t f = H5Iget_file_id(ds);
        if (dz_names_read(f, &names, &n) == 1 && n > 0) {
            printf("      names:");
            for (int64_t k = 0; k < n && k < 5; k++)
                printf(" %s%s", names[k], k + 1 < n && k < 4 ? "," : n > 5 ? ", ...\n" : "\n");
        }
        dz_names_free(names, n);
        H5Fclose(f);
    } else if (c != H5T_STRING) {
        print_counts(ds, nd, dims, c);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    return 0;
}

/* What the format attribute says the file is. */
static const char *kind_of(hid_t f, char *fmt, size_t len)
{
    fmt[0] = '\0';
    if (H5Aexists(f, "format") > 0) {
        hid_t a = H5Aopen(f, "format", H5P_DEFAULT), t = H5Aget_type(a);
        if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && H5Tget_size(t) < len)
            H5Aread(a, t, fmt);
        H5Tclose(t);
        H5Aclose(a);
    }
    if (!strncmp(fmt, "dztrain-model", 13))
        return "a dztrain model";
    if (!strncmp(fmt, "dztrain-checkpoint", 18))
        return "a dztrain checkpoint";
    if (!strncmp(fmt, "dztrain-pred", 12))
        return "a dztrain prediction file";
    return "data (not a dztrain model, checkpoint or prediction file)";
}

/* Rank 0: describe path on stdout. */
static int describe(const char *path, dz_err *e)
{
    hid_t f = dz_h5_open_read(path, "file", e);
    if (f < 0)
        return e->code;
    char fmt[64] = {0}; /* a string filling its whole size has no terminator of its own */
    const char *kind = kind_of(f, fmt, sizeof fmt);
    printf("%s: %s%s%s%s\n", path, kind, fmt[0] ? " (format " : "", fmt, fmt[0] ? ")" : "");
    int nattr = 0;
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, count_attr, &nattr);
    if (nattr) {
        printf("attributes:\n");
        idx = 0;
        H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, NULL);
    }
    printf("datasets:\n");
    herr_t rc = H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, print_object, NULL);
    H5Fclose(f);
    fflush(stdout);
    if (rc < 0)
        return dz_fail(e, DZ_EDATA, "%s: reading its objects failed (truncated or corrupt?)", path);
    return DZ_OK;
}

int dz_info_run(MPI_Comm comm, const char *path, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    e->code = DZ_OK;
    if (rank == 0) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's error stack */
        describe(path, e);
    }
    return dz_err_agree(comm, e);
}
