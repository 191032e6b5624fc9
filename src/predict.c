/* predict.c — model.h5 read back, per-row predictions, pred.h5 written with parallel HDF5,
 * and the `predict` command (see dz/predict.h).
 *
 * Phases of `predict`, each ending in an agreement (dz_err_agree) so that no rank waits alone
 * in a collective call:
 *   1. arguments (every rank parses the same argv), the output folder (rank 0 creates a probe
 *      file there) → agree;  2. threads and kernel path → agree;  3. the model (rank 0) →
 *      agree, broadcast;  4. the data (dz_shard_load_req, features only, d checked against the
 *      model before any read) → agreed inside;  5. the rows' predictions → agree;
 *   6. pred.h5: collective create under the temporary name → agree; then the collective
 *      writes, where a failure ends the job (dz_fatal: the other ranks are inside the same
 *      call); collective close; rank 0 renames → agree.
 */
#include "dz/predict.h"

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dz/binding.h"
#include "dz/names.h"
#include "dz/objective.h"
#include "dz/output.h"

#define DZ_PRED_FORMAT "dztrain-pred-1"

/* ---- the model (rank 0 reads, everyone gets it) ----------------------------------------- */

/* A string attribute of loc (fixed or variable length) into out; -1 when missing or not a
 * string. */
static int read_str_attr(hid_t loc, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a);
    int rc = -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(t) > 0) {
            char *v = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &v) >= 0 && v) {
                snprintf(out, len, "%s", v);
                H5free_memory(v);
                rc = 0;
            }
        } else {
            size_t sz = H5Tget_size(t);
            char *v = calloc(sz + 1, 1);
            H5Tset_size(mt, sz + 1);
            if (v && H5Aread(a, mt, v) >= 0) {
                snprintf(out, len, "%s", v);
                rc = 0;
            }
            free(v);
        }
        H5Tclose(mt);
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* A numeric scalar attribute of loc as mtype; -1 when missing or not one number. */
static int read_num_attr(hid_t loc, const char *name, hid_t mtype, void *v)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a), sp = a < 0 ? -1 : H5Aget_space(a);
    H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
             (c == H5T_INTEGER || c == H5T_FLOAT) && H5Aread(a, mtype, v) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return ok ? 0 : -1;
}

/* Dataset name of the model as float64: nd dimensions (nd = 0: a scalar, or shape (1,)),
 * dims out; every value finite.  NULL with e set (naming want, the expected shape). */
static double *read_param(hid_t f, const char *path, const char *name, int nd, const char *want,
                          hsize_t *dims, dz_err *e)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        dz_fail(e, DZ_EDATA, "%s: model dataset '%s' %s is missing", path, name, want);
        return NULL;
    }
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds < 0 ? -1 : H5Dget_space(ds), t = ds < 0 ? -1 : H5Dget_type(ds);
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    hsize_t got[H5S_MAX_RANK] = {0};
    if (rank > 0)
        H5Sget_simple_extent_dims(sp, got, NULL);
    H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int shape_ok = nd == 0 ? (rank == 0 || (rank == 1 && got[0] == 1)) : rank == nd;
    hssize_t n = sp < 0 ? 0 : H5Sget_simple_extent_npoints(sp);
    double *v = NULL;
    if (!shape_ok || (c != H5T_FLOAT && c != H5T_INTEGER) || n < 1 || n > INT_MAX)
        dz_fail(e, DZ_EDATA, "%s: model dataset '%s' has %d dimension(s)%s; expected %s, float64",
                path, name, rank, c == H5T_FLOAT || c == H5T_INTEGER ? "" : " and a non-numeric type",
                want);
    else if (!(v = malloc((size_t)n * sizeof(double))))
        dz_fail(e, DZ_ERUNTIME, "out of memory for model dataset '%s' (%lld values)", name,
                (long long)n);
    else if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        dz_fail(e, DZ_EDATA, "%s: reading model dataset '%s' failed (truncated file?)", path, name);
    for (hssize_t k = 0; e->code == DZ_OK && k < n; k++)
        if (!isfinite(v[k]))
            dz_fail(e, DZ_EDATA, "%s: model dataset '%s' value %lld is %g; parameters must be "
                    "finite", path, name, (long long)k, v[k]);
    for (int k = 0; k < nd && k < rank; k++)
        dims[k] = got[k];
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (e->code != DZ_OK) {
        free(v);
        return NULL;
    }
    return v;
}

/* The attributes: format, classes (softmax), scale, config_hash, data_checksum. */
static int read_model_attrs(hid_t f, const char *path, dz_model *mo, dz_err *e)
{
    char fmt[64];
    if (read_str_attr(f, "format", fmt, sizeof fmt) != 0 || strcmp(fmt, DZ_MODEL_FORMAT) != 0)
        return dz_fail(e, DZ_EDATA, "%s: not a dztrain model file: its format attribute is %s%s%s "
                       "(expected '%s')", path, fmt[0] ? "'" : "missing", fmt, fmt[0] ? "'" : "",
                       DZ_MODEL_FORMAT);
    mo->K = 0;
    if (H5Aexists(f, "classes") > 0 &&
        (read_num_attr(f, "classes", H5T_NATIVE_INT64, &mo->K) != 0 || mo->K < 2 ||
         mo->K > DZ_CONF_MAX_K))
        return dz_fail(e, DZ_EDATA, "%s: model attribute classes = %lld; expected an integer 2 ... %d",
                       path, (long long)mo->K, DZ_CONF_MAX_K);
    const char *missing = read_num_attr(f, "scale", H5T_NATIVE_DOUBLE, &mo->scale) ? "scale"
        : read_num_attr(f, "config_hash", H5T_NATIVE_UINT64, &mo->config_hash) ? "config_hash"
        : read_num_attr(f, "data_checksum", H5T_NATIVE_UINT64, &mo->data_checksum) ? "data_checksum"
        : NULL;
    if (missing)
        return dz_fail(e, DZ_EDATA, "%s: model attribute '%s' is missing or not a number", path,
                       missing);
    if (!(mo->scale > 0) || !isfinite(mo->scale))
        return dz_fail(e, DZ_EDATA, "%s: model attribute scale = %g; expected a finite number > 0",
                       path, mo->scale);
    return DZ_OK;
}

/* The parameters the kernels score with into mo->p (objective layout): w and b, or for a
 * standardised model (it has std) w_original and b_original. */
static int read_model_params(hid_t f, const char *path, dz_model *mo, dz_err *e)
{
    const int sm = mo->K > 0;
    /* a standardised model scores with its parameters in the data's units: the very values
     * training's own evaluations used (dz/standardize.h) */
    const int orig = H5Lexists(f, "std", H5P_DEFAULT) > 0;
    hsize_t wd[2] = {0, 0}, bd[1] = {0};
    double *w = read_param(f, path, sm ? (orig ? "W_original" : "W") : (orig ? "w_original" : "w"),
                           sm ? 2 : 1, sm ? "(K, d)" : "(d,)", wd, e);
    double *b = w ? read_param(f, path, orig ? "b_original" : "b", sm, sm ? "(K,)" : "(a scalar)",
                               bd, e) : NULL;
    const int64_t nk = sm ? mo->K : 1, d = sm ? (int64_t)wd[1] : (int64_t)wd[0];
    if (b && sm && ((int64_t)wd[0] != mo->K || (int64_t)bd[0] != mo->K))
        dz_fail(e, DZ_EDATA, "%s: model W has shape (%llu, %llu) and b (%llu,), but classes = %lld",
                path, (unsigned long long)wd[0], (unsigned long long)wd[1],
                (unsigned long long)bd[0], (long long)mo->K);
    else if (b && (d < 1 || d > DZ_MAX_FEATURES))
        dz_fail(e, DZ_EDATA, "%s: model has d = %lld features; expected 1 ... %lld", path,
                (long long)d, (long long)DZ_MAX_FEATURES);
    if (b && e->code == DZ_OK) {
        mo->d = d;
        mo->n = dz_obj_nparams(d, mo->K);
        mo->p = malloc((size_t)mo->n * sizeof(double));
        if (!mo->p)
            dz_fail(e, DZ_ERUNTIME, "out of memory for the model (%lld parameters)", (long long)mo->n);
        else {
            memcpy(mo->p, w, (size_t)(nk * d) * sizeof(double));
            memcpy(mo->p + nk * d, b, (size_t)nk * sizeof(double));
        }
    }
    free(w);
    free(b);
    return e->code;
}

/* Rank 0: the whole model file. */
static int model_read(const char *path, dz_model *mo, dz_err *e)
{
    hid_t f = dz_h5_open_read(path, "model file", e);
    if (f < 0)
        return e->code;
    if (read_model_attrs(f, path, mo, e) == DZ_OK)
        read_model_params(f, path, mo, e);
    H5Fclose(f);
    return e->code;
}

int dz_model_load(MPI_Comm comm, const char *path, dz_model *mo, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    memset(mo, 0, sizeof *mo);
    e->code = DZ_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's error stack */
    if (rank == 0)
        model_read(path, mo, e);
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_model_free(mo);
        return e->code;
    }
    double *p = mo->p;
    DZ_MPI(MPI_Bcast(mo, (int)sizeof *mo, MPI_BYTE, 0, comm));
    mo->p = rank == 0 ? p : malloc((size_t)mo->n * sizeof(double));
    if (!mo->p)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the model (%lld parameters)", (long long)mo->n);
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_model_free(mo);
        return e->code;
    }
    DZ_MPI(MPI_Bcast(mo->p, (int)mo->n, MPI_DOUBLE, 0, comm));
    snprintf(mo->path, sizeof mo->path, "%s", path);
    return DZ_OK;
}

void dz_model_free(dz_model *mo)
{
    if (!mo)
        return;
    free(mo->p);
    mo->p = NULL;
}

/* ---- predictions ---------------------------------------------------------------------- */

void dz_pred_free(dz_pred *pr)
{
    if (!pr)
        return;
    free(pr->proba);
    free(pr->label);
    pr->proba = NULL;
    pr->label = NULL;
}

/* The first local row whose probabilities are not all finite, or -1. */
static int64_t first_nonfinite(const dz_pred *pr)
{
    for (int64_t i = 0; i < pr->rows; i++)
        for (int64_t k = 0; k < pr->ncol; k++)
            if (!isfinite(pr->proba[i * pr->ncol + k]))
                return i;
    return -1;
}

int dz_predict_rows(const dz_model *mo, const dz_shard *s, const dz_kernel_isa *isa,
                    int nthreads, dz_pred *pr, dz_err *e)
{
    memset(pr, 0, sizeof *pr);
    pr->rows = s->rows;
    pr->ncol = mo->K ? mo->K : 1;
    const int64_t nscr = dz_kernel_scratch(mo->K), B = s->block_rows;
    const int64_t nblocks = (s->rows + B - 1) / B, nr = s->rows ? s->rows : 1;
    pr->proba = malloc((size_t)nr * (size_t)pr->ncol * sizeof(double));
    pr->label = malloc((size_t)nr * sizeof(int64_t));
    double *scr = dz_alloc_lines((size_t)nthreads * (size_t)nscr * sizeof(double));
    if (!pr->proba || !pr->label || !scr) {
        free(scr);
        dz_pred_free(pr);
        return dz_fail(e, DZ_ERUNTIME, "out of memory for the predictions of %lld rows x %lld",
                       (long long)s->rows, (long long)pr->ncol);
    }
    const double *w = mo->p, *bv = mo->p + (mo->K ? mo->K : 1) * mo->d;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t k = 0; k < nblocks; k++) {
        const int64_t i0 = k * B, n = s->rows - i0 < B ? s->rows - i0 : B;
        dz_kernel_predict(isa, s, i0, n, mo->K, w, bv, mo->scale, pr->proba + i0 * pr->ncol,
                          pr->label + i0, scr + (size_t)omp_get_thread_num() * (size_t)nscr);
    }
    free(scr);
    int64_t bad = first_nonfinite(pr);
    if (bad >= 0)
        return dz_fail(e, DZ_EDATA, "row %lld: the model's logit is not finite (features x "
                       "weights overflow float64); no prediction is possible",
                       (long long)(s->row0 + bad));
    return DZ_OK;
}

int dz_predict_setup(MPI_Comm comm, const char *model, const char *data, const char *xname,
                     const char *yname, dz_model *mo, dz_shard *s, dz_pred *pr, int *nthreads,
                     dz_err *e)
{
    memset(s, 0, sizeof *s);
    memset(pr, 0, sizeof *pr);
    dz_binding bind;
    DZ_TRY(dz_binding_setup(comm, &bind, e));
    *nthreads = bind.nthreads;
    char msg[160];
    const dz_kernel_isa *isa = dz_kernel_isa_select(msg, sizeof msg);
    if (!isa)
        dz_fail(e, DZ_ECONFIG, "%s", msg);
    DZ_TRY(dz_err_agree(comm, e));
    DZ_TRY(dz_model_load(comm, model, mo, e));
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0)
        dz_names_check(model, data, e);
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_model_free(mo);
        return e->code;
    }
    char what[DZ_PATH_MAX + 32];
    snprintf(what, sizeof what, "the model '%s'", model);
    dz_shard_req r = {.path = data, .xname = xname, .yname = yname, .want = DZ_DTYPE_NATIVE,
                      .classes = mo->K, .expect_d = mo->d, .expect_what = what};
    if (dz_shard_load_req(comm, &r, s, e) == DZ_OK) {
        dz_predict_rows(mo, s, isa, *nthreads, pr, e);
        dz_err_agree(comm, e);
    }
    if (e->code != DZ_OK) {
        dz_pred_free(pr);
        dz_shard_free(s);
        dz_model_free(mo);
    }
    return e->code;
}

/* ---- pred.h5 ------------------------------------------------------------------------------ */

/* Collective: dataset name (m rows × cols, cols = 0: 1-D) of file type ftype, this rank's rows
 * [row0, row0 + rows) written from v with one collective transfer. */
static void write_rows(MPI_Comm comm, hid_t f, const char *name, hid_t ftype, hid_t mtype,
                       const dz_shard *s, int64_t cols, const void *v)
{
    const int nd = cols ? 2 : 1;
    hsize_t dims[2] = {(hsize_t)s->m, (hsize_t)cols}, start[2] = {(hsize_t)s->row0, 0},
            count[2] = {(hsize_t)s->rows, (hsize_t)cols};
    hid_t fsp = H5Screate_simple(nd, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER); /* every element is written below */
    hid_t ds = H5Dcreate2(f, name, ftype, fsp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    if (ds < 0)
        dz_fatal(comm, DZ_EOUTPUT, "creating dataset '%s' in the prediction file failed", name);
    hsize_t nmem = s->rows ? (hsize_t)s->rows * (hsize_t)(cols ? cols : 1) : 1;
    hid_t msp = H5Screate_simple(1, &nmem, NULL);
    if (s->rows > 0) {
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
        H5Sselect_none(fsp);
        H5Sselect_none(msp);
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (H5Dwrite(ds, mtype, msp, fsp, dxpl, v) < 0)
        dz_fatal(comm, DZ_EOUTPUT, "writing rows %lld..%lld of '%s' to the prediction file failed "
                 "(disk full?)", (long long)s->row0, (long long)(s->row0 + s->rows), name);
    H5Pclose(dxpl);
    H5Sclose(msp);
    H5Sclose(fsp);
    H5Dclose(ds);
}

/* Collective (every rank writes the same attributes: HDF5 metadata is collective). */
static int write_attrs(hid_t f, const dz_model *mo, const dz_shard *s, const char *data,
                       const char *xname)
{
    int bad = dz_h5_attr_str(f, "format", DZ_PRED_FORMAT);
    bad |= dz_h5_attr_str(f, "model", mo->path);
    bad |= dz_h5_attr_str(f, "model_type", mo->K ? "softmax" : "logistic");
    if (mo->K)
        bad |= dz_h5_attr_i64(f, "classes", mo->K);
    bad |= dz_h5_attr_u64(f, "config_hash", mo->config_hash);
    bad |= dz_h5_attr_u64(f, "data_checksum", mo->data_checksum);
    bad |= dz_h5_attr_str(f, "input", data);
    bad |= dz_h5_attr_str(f, "input_x", xname);
    bad |= dz_h5_attr_u64(f, "input_checksum", s->checksum);
    bad |= dz_h5_attr_i64(f, "m", s->m);
    bad |= dz_h5_attr_i64(f, "d", s->d);
    return bad;
}

/* Collective: pred.h5 at out (temporary name, collective writes, rank 0 renames). */
static int pred_write(MPI_Comm comm, const char *out, const dz_model *mo, const dz_shard *s,
                      const dz_pred *pr, const char *data, const char *xname, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    char tmp[DZ_PATH_MAX + 32];
    dz_out_tmpname(out, tmp, sizeof tmp); /* rank 0's pid names it */
    DZ_MPI(MPI_Bcast(tmp, (int)sizeof tmp, MPI_CHAR, 0, comm));
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        dz_fail(e, DZ_EOUTPUT, "cannot create prediction file '%s'", tmp);
    if (dz_err_agree(comm, e) != DZ_OK) {
        if (f >= 0) /* created on some ranks only: its close is collective, so no agreed exit */
            dz_fatal(comm, DZ_EOUTPUT, "prediction file '%s' was created on some ranks only", tmp);
        return e->code;
    }
    write_rows(comm, f, "proba", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, mo->K, pr->proba);
    write_rows(comm, f, "label", H5T_STD_I64LE, H5T_NATIVE_INT64, s, 0, pr->label);
    if (write_attrs(f, mo, s, data, xname) != 0)
        dz_fatal(comm, DZ_EOUTPUT, "writing the attributes of '%s' failed", tmp);
    if (H5Fclose(f) < 0)
        dz_fatal(comm, DZ_EOUTPUT, "closing prediction file '%s' failed (disk full?)", tmp);
    if (rank == 0)
        dz_out_commit(tmp, out, e);
    return dz_err_agree(comm, e);
}

/* ---- the command ---------------------------------------------------------------------------- */

void dz_predict_usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -n N trainer predict --model model.h5 --data new.h5 [--x DATASET] "
            "[--out pred.h5]\n"
            "  --model  a model.h5 written by the trainer (logistic or softmax)\n"
            "  --data   HDF5 file with the rows to score (each rank reads only its rows)\n"
            "  --x      features dataset (default test_set_x; its d must be the model's)\n"
            "  --out    prediction file (default pred.h5): proba (m,) or (m, K) float64,\n"
            "           label (m,) int64, written with parallel HDF5, atomically\n");
}

int dz_cmd_args(int argc, char **argv, const char *const *keys, const char **vals, int nkeys,
                char *msg, size_t len)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (k < nkeys && strcmp(argv[i], keys[k]) != 0)
            k++;
        if (k == nkeys) {
            snprintf(msg, len, "%s: unknown option '%s'", argv[0], argv[i]);
            return -1;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            snprintf(msg, len, "%s: option %s needs a value", argv[0], argv[i]);
            return -1;
        }
        vals[k] = argv[++i];
    }
    return 0;
}

int dz_predict_main(MPI_Comm comm, int argc, char **argv)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    static const char *const keys[] = {"--model", "--data", "--x", "--out"};
    const char *v[4] = {NULL, NULL, "test_set_x", "pred.h5"};
    char msg[256] = "";
    int rc = dz_cmd_args(argc, argv, keys, v, 4, msg, sizeof msg);
    if (rc == 1) {
        if (rank == 0)
            dz_predict_usage(stdout);
        return DZ_OK;
    }
    if (rc == 0 && (!v[0] || !v[1]))
        snprintf(msg, sizeof msg, "predict: --model and --data are required");
    if (msg[0]) {
        if (rank == 0) {
            fprintf(stderr, "dztrain: %s\n", msg);
            dz_predict_usage(stderr);
        }
        return DZ_ECONFIG;
    }
    dz_err e = {.code = DZ_OK};
    if (rank == 0)
        dz_out_check_writable(v[3], "predict --out", &e);
    DZ_TRY(dz_err_agree(comm, &e));
    dz_model mo;
    dz_shard s;
    dz_pred pr;
    int nthreads;
    double t0 = MPI_Wtime();
    DZ_TRY(dz_predict_setup(comm, v[0], v[1], v[2], NULL, &mo, &s, &pr, &nthreads, &e));
    int code = pred_write(comm, v[3], &mo, &s, &pr, v[1], v[2], &e);
    int nranks;
    MPI_Comm_size(comm, &nranks);
    if (code == DZ_OK && rank == 0)
        printf("dztrain: predict: %lld rows of %s:%s scored with %s (%s) on %d rank(s) x %d "
               "thread(s) in %.3f s; wrote %s\n", (long long)s.m, v[1], v[2], v[0],
               mo.K ? "softmax" : "logistic", nranks, nthreads, MPI_Wtime() - t0, v[3]);
    dz_pred_free(&pr);
    dz_shard_free(&s);
    dz_model_free(&mo);
    return code;
}
