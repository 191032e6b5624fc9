/* checkpoint.c — see dz/checkpoint.h. */
#include "dz/checkpoint.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FORMAT "dztrain-checkpoint-2"

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t payload_hash(const dz_ckpt *c)
{
    uint64_t h = 1469598103934665603ULL;
    h = hash_bytes(h, &c->iteration, sizeof c->iteration);
    h = hash_bytes(h, &c->passes, sizeof c->passes);
    h = hash_bytes(h, c->params, (size_t)c->n * sizeof(double));
    if (c->nstate)
        h = hash_bytes(h, c->state, (size_t)c->nstate * sizeof(double));
    const dz_metrics *m = &c->metrics;
    if (m->n) {
        h = hash_bytes(h, m->iteration, (size_t)m->n * sizeof(int64_t));
        h = hash_bytes(h, m->loss, (size_t)m->n * sizeof(double));
        h = hash_bytes(h, m->elapsed, (size_t)m->n * sizeof(double));
        h = hash_bytes(h, m->grad_max, (size_t)m->n * sizeof(double));
        h = hash_bytes(h, m->passes, (size_t)m->n * sizeof(double));
        if (m->has_test) { /* (checkpoints without a test set hash as before) */
            h = hash_bytes(h, m->test_loss, (size_t)m->n * sizeof(double));
            h = hash_bytes(h, m->test_acc, (size_t)m->n * sizeof(double));
        }
    }
    return h;
}

int dz_ckpt_write(const char *path, const dz_ckpt *c, dz_err *e)
{
    char tmp[DZ_PATH_MAX + 32];
    hid_t f = dz_h5_begin(path, tmp, sizeof tmp, "checkpoint", e);
    if (f < 0)
        return e->code;
    int bad = 0;
    bad |= dz_h5_write_f64(f, "params", c->n, c->params);
    bad |= dz_h5_write_f64(f, "optimizer_state", c->nstate, c->state);
    hid_t g = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad |= g < 0;
    if (g >= 0) {
        bad |= dz_h5_write_i64(g, "iteration", c->metrics.n, c->metrics.iteration);
        bad |= dz_h5_write_f64(g, "loss", c->metrics.n, c->metrics.loss);
        bad |= dz_h5_write_f64(g, "elapsed_s", c->metrics.n, c->metrics.elapsed);
        bad |= dz_h5_write_f64(g, "grad_max", c->metrics.n, c->metrics.grad_max);
        bad |= dz_h5_write_f64(g, "passes", c->metrics.n, c->metrics.passes);
        if (c->metrics.has_test) {
            bad |= dz_h5_write_f64(g, "test_loss", c->metrics.n, c->metrics.test_loss);
            bad |= dz_h5_write_f64(g, "test_accuracy", c->metrics.n, c->metrics.test_acc);
        }
        H5Gclose(g);
    }
    bad |= dz_h5_attr_str(f, "format", FORMAT);
    bad |= dz_h5_attr_i64(f, "iteration", c->iteration);
    bad |= dz_h5_attr_i64(f, "iterations", c->iterations);
    bad |= dz_h5_attr_f64(f, "elapsed_s", c->elapsed);
    bad |= dz_h5_attr_f64(f, "passes", c->passes);
    bad |= dz_h5_attr_u64(f, "config_hash", c->config_hash);
    bad |= dz_h5_attr_str(f, "config", c->config);
    bad |= dz_h5_attr_i64(f, "data_m", c->data_m);
    bad |= dz_h5_attr_i64(f, "data_d", c->data_d);
    bad |= dz_h5_attr_i64(f, "block_rows", c->block_rows);
    bad |= dz_h5_attr_str(f, "data_dtype", c->data_dtype);
    bad |= dz_h5_attr_str(f, "data_file_type", c->data_file_type);
    bad |= dz_h5_attr_u64(f, "data_checksum", c->data_checksum);
    bad |= dz_h5_attr_u64(f, "payload_checksum", payload_hash(c));
    return dz_h5_commit(f, bad, tmp, path, "checkpoint", e);
}

/* ---- reading ------------------------------------------------------------------------------ */

static int get_attr(hid_t f, const char *name, hid_t type, void *v)
{
    if (H5Aexists(f, name) <= 0)
        return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Aread(a, type, v);
    if (a >= 0) H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

static int get_str(hid_t f, const char *name, char *out, size_t len)
{
    if (H5Aexists(f, name) <= 0)
        return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t t = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && H5Tget_size(t) <= len) {
        hid_t mt = H5Tcopy(t);
        rc = H5Aread(a, mt, out) < 0 ? -1 : 0;
        out[len - 1] = '\0';
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Length of a 1-D dataset, or -1 if it is missing or not 1-D. */
static int64_t array_len(hid_t loc, const char *name)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return -1;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    hsize_t dim = 0;
    int64_t n = H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &dim, NULL) == 1
                    ? (int64_t)dim : -1;
    H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

/* Read a 1-D dataset of exactly n elements (n may be 0). */
static int get_array(hid_t loc, const char *name, hid_t mtype, int64_t n, void *out)
{
    if (array_len(loc, name) != n)
        return -1;
    if (n == 0)
        return 0;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    int ok = ds >= 0 && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    if (ds >= 0)
        H5Dclose(ds);
    return ok ? 0 : -1;
}

int dz_ckpt_read(const char *path, dz_ckpt *c, dz_err *e)
{
    memset(c, 0, sizeof *c);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0)
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' not found: nothing to resume", path);
    if (H5Fis_hdf5(path) <= 0)
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' is not an HDF5 file (truncated or corrupt): refusing to resume", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' cannot be opened (truncated or corrupt): refusing to resume", path);
    char fmt[64] = "";
    uint64_t stored = 0;
    int bad = get_str(f, "format", fmt, sizeof fmt) || strcmp(fmt, FORMAT) != 0;
    if (bad && !strcmp(fmt, "dztrain-checkpoint-1")) {
        H5Fclose(f);
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' was written by an older dztrain (format "
                       "dztrain-checkpoint-1, before optimizer state and metrics columns were "
                       "added): it cannot be resumed; start the run afresh", path);
    }
    bad = bad || get_attr(f, "iteration", H5T_NATIVE_INT64, &c->iteration) ||
          get_attr(f, "iterations", H5T_NATIVE_INT64, &c->iterations) ||
          get_attr(f, "elapsed_s", H5T_NATIVE_DOUBLE, &c->elapsed) ||
          get_attr(f, "passes", H5T_NATIVE_DOUBLE, &c->passes) ||
          get_attr(f, "config_hash", H5T_NATIVE_UINT64, &c->config_hash) ||
          get_str(f, "config", c->config, sizeof c->config) ||
          get_attr(f, "data_m", H5T_NATIVE_INT64, &c->data_m) ||
          get_attr(f, "data_d", H5T_NATIVE_INT64, &c->data_d) ||
          get_attr(f, "block_rows", H5T_NATIVE_INT64, &c->block_rows) ||
          get_str(f, "data_dtype", c->data_dtype, sizeof c->data_dtype) ||
          get_str(f, "data_file_type", c->data_file_type, sizeof c->data_file_type) ||
          get_attr(f, "data_checksum", H5T_NATIVE_UINT64, &c->data_checksum) ||
          get_attr(f, "payload_checksum", H5T_NATIVE_UINT64, &stored);
    if (!bad && (c->data_d < 1 || c->data_d > ((int64_t)1 << 40) || c->iteration < 0))
        bad = 1;
    if (!bad) {
        c->n = array_len(f, "params"); /* d + 1, or K·(d + 1) for softmax */
        c->nstate = array_len(f, "optimizer_state");
        hid_t g = H5Lexists(f, "metrics", H5P_DEFAULT) > 0 ? H5Gopen2(f, "metrics", H5P_DEFAULT) : -1;
        int64_t nm = g >= 0 ? array_len(g, "iteration") : -1;
        if (c->n < 1 || c->nstate < 0 || nm < 0) {
            bad = 1;
        } else {
            c->params = malloc((size_t)c->n * sizeof(double));
            c->state = malloc((size_t)(c->nstate ? c->nstate : 1) * sizeof(double));
            dz_metrics *m = &c->metrics;
            m->n = m->cap = nm;
            m->iteration = malloc((size_t)(nm ? nm : 1) * sizeof(int64_t));
            m->loss = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->elapsed = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->grad_max = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->passes = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->test_loss = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->test_acc = malloc((size_t)(nm ? nm : 1) * sizeof(double));
            m->has_test = H5Lexists(g, "test_loss", H5P_DEFAULT) > 0;
            bad = !c->params || !c->state || !m->iteration || !m->loss || !m->elapsed ||
                  !m->grad_max || !m->passes || !m->test_loss || !m->test_acc ||
                  get_array(f, "params", H5T_NATIVE_DOUBLE, c->n, c->params) ||
                  get_array(f, "optimizer_state", H5T_NATIVE_DOUBLE, c->nstate, c->state) ||
                  get_array(g, "iteration", H5T_NATIVE_INT64, nm, m->iteration) ||
                  get_array(g, "loss", H5T_NATIVE_DOUBLE, nm, m->loss) ||
                  get_array(g, "elapsed_s", H5T_NATIVE_DOUBLE, nm, m->elapsed) ||
                  get_array(g, "grad_max", H5T_NATIVE_DOUBLE, nm, m->grad_max) ||
                  get_array(g, "passes", H5T_NATIVE_DOUBLE, nm, m->passes) ||
                  (m->has_test &&
                   (get_array(g, "test_loss", H5T_NATIVE_DOUBLE, nm, m->test_loss) ||
                    get_array(g, "test_accuracy", H5T_NATIVE_DOUBLE, nm, m->test_acc)));
            for (int64_t k = 0; !bad && !m->has_test && k < nm; k++)
                m->test_loss[k] = m->test_acc[k] = NAN;
        }
        if (g >= 0)
            H5Gclose(g);
    }
    H5Fclose(f);
    if (bad) {
        dz_ckpt_free(c);
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' is incomplete or not a dztrain checkpoint: refusing to resume", path);
    }
    if (payload_hash(c) != stored) {
        dz_ckpt_free(c);
        return dz_fail(e, DZ_EOUTPUT, "checkpoint '%s' is corrupt (payload checksum mismatch): refusing to resume", path);
    }
    return DZ_OK;
}

void dz_ckpt_free(dz_ckpt *c)
{
    if (!c)
        return;
    free(c->params);
    free(c->state);
    c->params = NULL;
    c->state = NULL;
    dz_metrics_free(&c->metrics);
}
