/* output.c — metrics.csv and model.h5 (see dz/output.h). */
#include "dz/output.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <hdf5.h>
#include <signal.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dz/names.h"

void dz_out_tmpname(const char *final, char *out, size_t len)
{
    snprintf(out, len, "%s.tmp.%ld", final, (long)getpid());
}

static void folder_of(const char *path, char *dir, size_t len)
{
    char tmp[DZ_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, len, "%s", dirname(tmp));
}

int dz_out_check_writable(const char *path, const char *what, dz_err *e)
{
    char dir[DZ_PATH_MAX], probe[DZ_PATH_MAX + 32];
    folder_of(path, dir, sizeof dir);
    snprintf(probe, sizeof probe, "%s/.dztrain-probe-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0)
        return dz_fail(e, DZ_EOUTPUT, "%s '%s': cannot create files in folder '%s': %s", what,
                       path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return DZ_OK;
}

/* Remove "<final>.tmp.<pid>" files left by writers that were killed (their pid is gone). */
static void remove_stale(const char *final)
{
    char pat[DZ_PATH_MAX + 16];
    snprintf(pat, sizeof pat, "%s.tmp.*", final);
    glob_t g;
    if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
        return;
    size_t base = strlen(final) + 5;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *name = g.gl_pathv[i];
        char *end;
        long pid = strtol(name + base, &end, 10);
        if (*end == '\0' && pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 &&
            errno == ESRCH)
            unlink(name);
    }
    globfree(&g);
}

int dz_out_commit(const char *tmp, const char *final, dz_err *e)
{
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return dz_fail(e, DZ_EOUTPUT, "cannot flush '%s' to disk: %s", tmp, strerror(err));
    }
    close(fd);
    if (rename(tmp, final) != 0) {
        int err = errno;
        unlink(tmp);
        return dz_fail(e, DZ_EOUTPUT, "cannot rename '%s' to '%s': %s", tmp, final, strerror(err));
    }
    remove_stale(final);
    char dir[DZ_PATH_MAX];
    folder_of(final, dir, sizeof dir);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on folders */
        close(fd);
    }
    return DZ_OK;
}

/* ---- metrics ------------------------------------------------------------------------------ */

/* Row k as CSV: loss and grad_max with %.17g (read back exactly; grad_max empty when it was
 * not evaluated), elapsed to the microsecond, passes to 1e-6. */
static void write_row(FILE *f, const dz_metrics *m, int64_t k)
{
    char gm[32] = "", tl[32] = "", ta[32] = "";
    if (!isnan(m->grad_max[k]))
        snprintf(gm, sizeof gm, "%.17g", m->grad_max[k]);
    fprintf(f, "%lld,%.17g,%.6f,%s,%.6f", (long long)m->iteration[k], m->loss[k],
            m->elapsed[k], gm, m->passes[k]);
    if (m->has_test) {
        if (!isnan(m->test_loss[k]))
            snprintf(tl, sizeof tl, "%.17g", m->test_loss[k]);
        if (!isnan(m->test_acc[k]))
            snprintf(ta, sizeof ta, "%.17g", m->test_acc[k]);
        fprintf(f, ",%s,%s", tl, ta);
    }
    fputc('\n', f);
}

static int grow(double **a, int64_t cap)
{
    double *t = realloc(*a, (size_t)cap * sizeof *t);
    if (t)
        *a = t;
    return t ? 0 : -1;
}

int dz_metrics_add(dz_metrics *m, int64_t iteration, double loss, double grad_max,
                   double passes, double elapsed, double test_loss, double test_acc)
{
    if (m->n == m->cap) {
        int64_t cap = m->cap ? 2 * m->cap : 64;
        int64_t *it = realloc(m->iteration, (size_t)cap * sizeof *it);
        if (it) m->iteration = it;
        int bad = !it;
        bad |= grow(&m->loss, cap) | grow(&m->elapsed, cap) | grow(&m->grad_max, cap) |
               grow(&m->passes, cap) | grow(&m->test_loss, cap) | grow(&m->test_acc, cap);
        if (bad)
            return -1;
        m->cap = cap;
    }
    m->iteration[m->n] = iteration;
    m->loss[m->n] = loss;
    m->elapsed[m->n] = elapsed;
    m->grad_max[m->n] = grad_max;
    m->passes[m->n] = passes;
    m->test_loss[m->n] = test_loss;
    m->test_acc[m->n] = test_acc;
    m->n++;
    if (m->f) {
        write_row(m->f, m, m->n - 1);
        fflush(m->f);
    }
    return 0;
}

void dz_metrics_partial_path(const char *final, char *buf, size_t len)
{
    snprintf(buf, len, "%s.partial", final);
}

int dz_metrics_open(dz_metrics *m, const char *final, dz_err *e)
{
    dz_metrics_partial_path(final, m->path, sizeof m->path);
    m->f = fopen(m->path, "w");
    if (!m->f)
        return dz_fail(e, DZ_EOUTPUT, "cannot write metrics file '%s': %s", m->path,
                       strerror(errno));
    fprintf(m->f, "iteration,loss,elapsed_s,grad_max,passes%s\n",
            m->has_test ? ",test_loss,test_accuracy" : "");
    for (int64_t k = 0; k < m->n; k++)
        write_row(m->f, m, k);
    fflush(m->f);
    return DZ_OK;
}

int dz_metrics_commit(dz_metrics *m, const char *final, dz_err *e)
{
    if (!m->f)
        return DZ_OK;
    int bad = ferror(m->f);
    bad |= fclose(m->f) != 0;
    m->f = NULL;
    if (bad)
        return dz_fail(e, DZ_EOUTPUT, "writing metrics file '%s' failed", m->path);
    return dz_out_commit(m->path, final, e);
}

void dz_metrics_free(dz_metrics *m)
{
    if (!m)
        return;
    if (m->f)
        fclose(m->f);
    free(m->iteration);
    free(m->loss);
    free(m->elapsed);
    free(m->grad_max);
    free(m->passes);
    free(m->test_loss);
    free(m->test_acc);
    memset(m, 0, sizeof *m);
}

/* ---- HDF5 helpers ------------------------------------------------------------------------ */

static int attr(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

int dz_h5_attr_i64(long long loc, const char *name, int64_t v) { return attr((hid_t)loc, name, H5T_NATIVE_INT64, &v); }
int dz_h5_attr_f64(long long loc, const char *name, double v) { return attr((hid_t)loc, name, H5T_NATIVE_DOUBLE, &v); }
int dz_h5_attr_u64(long long loc, const char *name, uint64_t v) { return attr((hid_t)loc, name, H5T_NATIVE_UINT64, &v); }

int dz_h5_attr_str(long long loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = attr((hid_t)loc, name, t, v);
    H5Tclose(t);
    return rc;
}

static int write_ds(hid_t loc, const char *name, int64_t n, hid_t ftype, hid_t mtype, const void *v)
{
    hsize_t dim = (hsize_t)(n < 0 ? 1 : n);
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t ds = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : (n == 0 ? 0 : H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

int dz_h5_write_f64(long long loc, const char *name, int64_t n, const double *v)
{
    return write_ds((hid_t)loc, name, n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v);
}

int dz_h5_write_i64(long long loc, const char *name, int64_t n, const int64_t *v)
{
    return write_ds((hid_t)loc, name, n, H5T_STD_I64LE, H5T_NATIVE_INT64, v);
}

/* A rows × cols row-major matrix. */
static int write_2d(hid_t loc, const char *name, int64_t rows, int64_t cols, hid_t ftype,
                    hid_t mtype, const void *v)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    return rc < 0 ? -1 : 0;
}

/* ---- atomic HDF5 files --------------------------------------------------------------------- */

long long dz_h5_begin(const char *final, char *tmp, size_t len, const char *what, dz_err *e)
{
    dz_out_tmpname(final, tmp, len);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        dz_fail(e, DZ_EOUTPUT, "cannot create %s '%s'", what, tmp);
    return f;
}

int dz_h5_commit(long long f, int bad, const char *tmp, const char *final, const char *what,
                 dz_err *e)
{
    bad |= H5Fclose((hid_t)f) < 0;
    if (bad) {
        unlink(tmp);
        return dz_fail(e, DZ_EOUTPUT, "writing %s '%s' failed", what, tmp);
    }
    return dz_out_commit(tmp, final, e);
}

/* ---- model -------------------------------------------------------------------------------- */

int dz_model_write(const char *path, int64_t d, int64_t K, const double *p,
                   const dz_model_info *info, dz_err *e)
{
    char tmp[DZ_PATH_MAX + 32];
    hid_t f = dz_h5_begin(path, tmp, sizeof tmp, "model file", e);
    if (f < 0)
        return e->code;
    int bad = 0;
    if (K == 0) {
        bad |= dz_h5_write_f64(f, "w", d, p);
        bad |= dz_h5_write_f64(f, "b", -1, p + d);
        bad |= dz_h5_attr_str(f, "model", "logistic: a = sigmoid(w . (x / scale) + b)");
    } else {
        bad |= write_2d(f, "W", K, d, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, p);
        bad |= dz_h5_write_f64(f, "b", K, p + K * d);
        bad |= dz_h5_attr_str(f, "model", "softmax: A = softmax(W (x / scale) + b), "
                              "prediction argmax_k A_k");
        bad |= dz_h5_attr_i64(f, "classes", K);
        if (info->confusion_train)
            bad |= write_2d(f, "confusion_train", K, K, H5T_STD_I64LE, H5T_NATIVE_INT64,
                            info->confusion_train);
        if (info->confusion_test)
            bad |= write_2d(f, "confusion_test", K, K, H5T_STD_I64LE, H5T_NATIVE_INT64,
                            info->confusion_test);
    }
    if (info->std) {
        const double *q = info->original;
        bad |= dz_h5_write_f64(f, "mean", d, info->mean);
        bad |= dz_h5_write_f64(f, "std", d, info->std);
        if (K == 0) {
            bad |= dz_h5_write_f64(f, "w_original", d, q);
            bad |= dz_h5_write_f64(f, "b_original", -1, q + d);
        } else {
            bad |= write_2d(f, "W_original", K, d, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, q);
            bad |= dz_h5_write_f64(f, "b_original", K, q + K * d);
        }
    }
    bad |= dz_h5_attr_str(f, "format", DZ_MODEL_FORMAT);
    bad |= dz_h5_attr_i64(f, "iterations", info->iterations);
    bad |= dz_h5_attr_str(f, "optimizer", info->optimizer);
    bad |= dz_h5_attr_str(f, "stop_reason", info->stop_reason);
    bad |= dz_h5_attr_f64(f, "l2", info->l2);
    bad |= dz_h5_attr_f64(f, "l1", info->l1);
    bad |= dz_h5_attr_f64(f, "passes", info->passes);
    bad |= dz_h5_attr_f64(f, "grad_max", info->grad_max);
    bad |= dz_h5_attr_f64(f, "final_loss", info->final_loss);
    bad |= dz_h5_attr_f64(f, "train_accuracy", info->train_accuracy);
    bad |= dz_h5_attr_f64(f, "test_accuracy", info->test_accuracy);
    bad |= dz_h5_attr_f64(f, "scale", info->scale);
    bad |= dz_h5_attr_i64(f, "m", info->m);
    bad |= dz_h5_attr_i64(f, "block_rows", info->block_rows);
    bad |= dz_h5_attr_u64(f, "config_hash", info->config_hash);
    bad |= dz_h5_attr_u64(f, "data_checksum", info->data_checksum);
    if (info->names_from) {
        bad |= dz_names_copy(info->names_from, f, d) != 0;
        bad |= dz_h5_attr_str(f, "train_data", info->names_from);
    }
    if (info->settings)
        bad |= dz_h5_attr_str(f, "settings", info->settings);
    return dz_h5_commit(f, bad, tmp, path, "model file", e);
}
