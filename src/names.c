/* names.c — see dz/names.h. */
#include "dz/names.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

void dz_names_free(char **names, int64_t n)
{
    if (!names)
        return;
    for (int64_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

/* The dataset's n names as separately allocated C strings; 0 ok, -1 error. */
static int read_strings(hid_t ds, hid_t ftype, int64_t n, char **out)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    /* HDF5 converts between padding and lengths, not between ASCII and UTF-8: keep the file's */
    int bad = mt < 0 || H5Tset_cset(mt, H5Tget_cset(ftype)) < 0;
    if (!bad && H5Tis_variable_str(ftype) > 0) {
        char **v = calloc((size_t)(n ? n : 1), sizeof *v);
        bad = !v || H5Tset_size(mt, H5T_VARIABLE) < 0 ||
              H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
        int read = !bad;
        for (int64_t k = 0; !bad && k < n; k++)
            bad = !(out[k] = strdup(v[k] ? v[k] : ""));
        if (read) { /* HDF5's strings, also when a copy above ran out of memory */
            hid_t sp = H5Dget_space(ds);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
            H5Sclose(sp);
        }
        free(v);
    } else if (!bad) {
        size_t len = H5Tget_size(ftype) + 1; /* room for the terminator */
        char *buf = malloc((size_t)(n ? n : 1) * len);
        bad = !buf || H5Tset_size(mt, len) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
              H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
        for (int64_t k = 0; !bad && k < n; k++)
            bad = !(out[k] = strndup(buf + (size_t)k * len, len));
        free(buf);
    }
    if (mt >= 0)
        H5Tclose(mt);
    return bad ? -1 : 0;
}

int dz_names_read(long long file, char ***names, int64_t *n)
{
    *names = NULL;
    *n = 0;
    hid_t f = (hid_t)file;
    if (H5Lexists(f, DZ_NAMES_DATASET, H5P_DEFAULT) <= 0)
        return 0;
    hid_t ds = H5Dopen2(f, DZ_NAMES_DATASET, H5P_DEFAULT);
    if (ds < 0)
        return 0;
    hid_t ft = H5Dget_type(ds), sp = H5Dget_space(ds);
    int rc = 0;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING && H5Sget_simple_extent_ndims(sp) == 1) {
        hsize_t dim = 0;
        H5Sget_simple_extent_dims(sp, &dim, NULL);
        char **v = calloc(dim ? (size_t)dim : 1, sizeof *v);
        rc = v && read_strings(ds, ft, (int64_t)dim, v) == 0 ? 1 : -1;
        if (rc == 1) {
            *names = v;
            *n = (int64_t)dim;
        } else {
            dz_names_free(v, (int64_t)dim);
        }
    }
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

int dz_names_copy(const char *data_path, long long model_file, int64_t d)
{
    hid_t f = H5Fopen(data_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0; /* the names are optional; training read this file, so this is unlikely */
    char **names;
    int64_t n;
    int rc = 0;
    if (dz_names_read(f, &names, &n) == 1 && n == d)
        rc = H5Ocopy(f, DZ_NAMES_DATASET, (hid_t)model_file, DZ_NAMES_DATASET, H5P_DEFAULT,
                     H5P_DEFAULT) < 0 ? -1 : 0;
    dz_names_free(names, n);
    H5Fclose(f);
    return rc;
}

/* The names of the file at path (0 when it has none or cannot be opened here: the caller's own
 * checks report unreadable files). */
static int names_of(const char *path, char ***names, int64_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        *names = NULL;
        *n = 0;
        return 0;
    }
    int rc = dz_names_read(f, names, n);
    H5Fclose(f);
    return rc;
}

int dz_names_check(const char *model_path, const char *data_path, dz_err *e)
{
    char **a = NULL, **b = NULL;
    int64_t na = 0, nb = 0;
    int ra = names_of(model_path, &a, &na), rb = ra == 1 ? names_of(data_path, &b, &nb) : 0;
    if (ra < 0 || rb < 0)
        dz_fail(e, DZ_EDATA, "%s: cannot read its %s dataset", ra < 0 ? model_path : data_path,
                DZ_NAMES_DATASET);
    else if (ra == 1 && rb == 1 && na != nb)
        dz_fail(e, DZ_EDATA, "%s: %lld feature names, the model '%s' has %lld", data_path,
                (long long)nb, model_path, (long long)na);
    for (int64_t k = 0; e->code == DZ_OK && ra == 1 && rb == 1 && k < na; k++)
        if (strcmp(a[k], b[k]) != 0)
            dz_fail(e, DZ_EDATA, "%s: feature %lld is '%s', the model '%s' was trained with '%s' "
                    "there (%s differ: columns in another order, or other data)", data_path,
                    (long long)k, b[k], model_path, a[k], DZ_NAMES_DATASET);
    dz_names_free(a, na);
    dz_names_free(b, nb);
    return e->code;
}
