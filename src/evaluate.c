/* evaluate.c — the `evaluate` command: a model's metrics on a labelled data set, printed and
 * optionally written as JSON (see dz/metrics.h for the definitions).
 *
 *   trainer evaluate --model M --data F [--x DATASET] [--y DATASET] [--json metrics.json]
 *
 * Phases, each agreed on every rank: arguments and the JSON folder (rank 0 probes it) → the
 * common start of predict (threads, kernel path, model, this rank's rows with their labels —
 * 0/1 for a logistic model, 0 … K−1 for softmax, anything else refused with the row and value
 * — and their predictions) → training's loss on them (dz_obj_evaluate: one kernel pass, exact
 * reduction) → the metrics (dz_eval_compute) → rank 0 prints and writes the JSON atomically.
 */
#include "dz/metrics.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "dz/config.h"
#include "dz/objective.h"
#include "dz/output.h"

void dz_evaluate_usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -n N trainer evaluate --model model.h5 --data test.h5 [--x DATASET] "
            "[--y DATASET] [--json metrics.json]\n"
            "  --model  a model.h5 written by the trainer (logistic or softmax)\n"
            "  --data   HDF5 file with the rows and their labels (each rank reads only its rows)\n"
            "  --x      features dataset (default test_set_x; its d must be the model's)\n"
            "  --y      labels dataset (default test_set_y): 0/1 for a logistic model,\n"
            "           0 ... K-1 for a softmax model\n"
            "  --json   also write the metrics as JSON (fractions, not percent), atomically\n"
            "  prints accuracy, log_loss, cross_entropy, precision, recall, f1 (softmax: macro and\n"
            "  weighted), roc_auc (softmax: one-vs-rest macro) and the confusion matrix\n");
}

/* ---- text --------------------------------------------------------------------------------- */

static void print_num(FILE *f, const char *name, double v, const char *note)
{
    if (isnan(v))
        fprintf(f, "%-14s undefined%s%s\n", name, note[0] ? ": " : "", note);
    else
        fprintf(f, "%-14s %.17g%s\n", name, v, note);
}

static void print_matrix(FILE *f, int64_t nc, const int64_t *C)
{
    fprintf(f, "confusion matrix (rows: true class, columns: predicted class):\n      ");
    for (int64_t k = 0; k < nc; k++)
        fprintf(f, " %8lld", (long long)k);
    fprintf(f, "\n");
    for (int64_t i = 0; i < nc; i++) {
        fprintf(f, "%6lld", (long long)i);
        for (int64_t k = 0; k < nc; k++)
            fprintf(f, " %8lld", (long long)C[i * nc + k]);
        fprintf(f, "\n");
    }
}

static void print_per_class(FILE *f, const dz_evaluation *ev)
{
    const int64_t K = ev->K;
    fprintf(f, "%6s %20s %20s %20s %20s\n", "class", "precision", "recall", "f1", "roc_auc");
    for (int64_t k = 0; k < K; k++)
        fprintf(f, "%6lld %20.17f %20.17f %20.17f %20.17f\n", (long long)k, ev->per_class[k],
                ev->per_class[K + k], ev->per_class[2 * K + k], ev->per_class[3 * K + k]);
}

void dz_eval_print(FILE *f, const dz_evaluation *ev)
{
    print_num(f, "accuracy", ev->accuracy, "");
    print_num(f, "log_loss", ev->log_loss, "");
    print_num(f, "cross_entropy", ev->cross_entropy, " (training's loss, from the logits)");
    if (!ev->K) {
        print_num(f, "precision", ev->precision, " (positive class 1)");
        print_num(f, "recall", ev->recall, " (positive class 1)");
        print_num(f, "f1", ev->f1, " (positive class 1)");
        print_num(f, "roc_auc", ev->roc_auc, ev->note);
    } else {
        print_num(f, "precision", ev->precision, " (macro)");
        print_num(f, "", ev->precision_w, " (weighted)");
        print_num(f, "recall", ev->recall, " (macro)");
        print_num(f, "", ev->recall_w, " (weighted)");
        print_num(f, "f1", ev->f1, " (macro)");
        print_num(f, "", ev->f1_w, " (weighted)");
        print_num(f, "roc_auc", ev->roc_auc, isnan(ev->roc_auc) ? ev->note : " (one-vs-rest macro)");
    }
    if (ev->nc > 20) {
        fprintf(f, "(%lld classes: per-class metrics and the confusion matrix are in --json)\n",
                (long long)ev->nc);
        return;
    }
    if (ev->K)
        print_per_class(f, ev);
    print_matrix(f, ev->nc, ev->confusion);
}

void dz_eval_print_line(FILE *f, const char *set, const dz_evaluation *ev)
{
    fprintf(f, "%s metrics: precision %.6g, recall %.6g, f1 %.6g, roc_auc %.6g (%s)\n", set,
            ev->precision, ev->recall, ev->f1, ev->roc_auc,
            ev->K ? "macro over the classes; roc_auc one-vs-rest" : "positive class 1");
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fprintf(f, "null");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_array(FILE *f, int64_t n, const double *v)
{
    fputc('[', f);
    for (int64_t k = 0; k < n; k++) {
        if (k)
            fputs(", ", f);
        json_num(f, v[k]);
    }
    fputc(']', f);
}

/* "name": number (binary) or {"macro", "weighted", "per_class"} (softmax) */
static void json_prf(FILE *f, const dz_evaluation *ev, const char *name, double macro,
                     double weighted, int row)
{
    fprintf(f, "  \"%s\": ", name);
    if (!ev->K) {
        json_num(f, macro);
    } else {
        fputs("{\"macro\": ", f);
        json_num(f, macro);
        fputs(", \"weighted\": ", f);
        json_num(f, weighted);
        fputs(", \"per_class\": ", f);
        json_array(f, ev->K, ev->per_class + row * ev->K);
        fputc('}', f);
    }
    fputs(",\n", f);
}

static void json_body(FILE *f, const dz_evaluation *ev)
{
    fprintf(f, "{\n  \"model_type\": \"%s\",\n  \"classes\": %lld,\n  \"m\": %lld,\n",
            ev->K ? "softmax" : "logistic", (long long)ev->nc, (long long)ev->m);
    const char *keys[3] = {"accuracy", "log_loss", "cross_entropy"};
    const double vals[3] = {ev->accuracy, ev->log_loss, ev->cross_entropy};
    for (int k = 0; k < 3; k++) {
        fprintf(f, "  \"%s\": ", keys[k]);
        json_num(f, vals[k]);
        fputs(",\n", f);
    }
    json_prf(f, ev, "precision", ev->precision, ev->precision_w, 0);
    json_prf(f, ev, "recall", ev->recall, ev->recall_w, 1);
    json_prf(f, ev, "f1", ev->f1, ev->f1_w, 2);
    fputs("  \"roc_auc\": ", f);
    json_num(f, ev->roc_auc);
    if (ev->K) {
        fputs(",\n  \"roc_auc_per_class\": ", f);
        json_array(f, ev->K, ev->per_class + 3 * ev->K);
    }
    fputs(",\n  \"roc_auc_note\": ", f);
    json_str(f, ev->note);
    fputs(",\n  \"confusion_matrix\": [", f);
    for (int64_t i = 0; i < ev->nc; i++) {
        fputs(i ? ",\n    [" : "\n    [", f);
        for (int64_t k = 0; k < ev->nc; k++)
            fprintf(f, "%s%lld", k ? ", " : "", (long long)ev->confusion[i * ev->nc + k]);
        fputc(']', f);
    }
    fputs("\n  ]\n}\n", f);
}

int dz_eval_write_json(const char *path, const dz_evaluation *ev, dz_err *e)
{
    char tmp[DZ_PATH_MAX + 32];
    dz_out_tmpname(path, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dz_fail(e, DZ_EOUTPUT, "cannot write metrics file '%s': %s", tmp, strerror(errno));
    json_body(f, ev);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        return dz_fail(e, DZ_EOUTPUT, "writing metrics file '%s' failed (disk full?)", tmp);
    }
    return dz_out_commit(tmp, path, e);
}

/* ---- the command ----------------------------------------------------------------------------- */

/* Collective: training's mean loss of the model on s (the evaluation pass, exact sums). */
static int cross_entropy(MPI_Comm comm, const dz_model *mo, const dz_shard *s, int nthreads,
                         double *out, dz_err *e)
{
    static const volatile sig_atomic_t never = 0;
    dz_config cfg;
    dz_config_defaults(&cfg);
    cfg.scale = mo->scale;
    cfg.l2 = cfg.l1 = 0;
    cfg.reproducible = 1;
    dz_obj o;
    if (dz_obj_init(&o, comm, s, &cfg, nthreads, 0, &never) != 0)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the evaluation pass (d = %lld, %d threads)",
                (long long)mo->d, nthreads);
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_obj_free(&o); /* the ranks whose init succeeded */
        return e->code;
    }
    double acc;
    dz_obj_evaluate(&o, s, mo->p, out, &acc, NULL);
    dz_obj_free(&o);
    return DZ_OK;
}

/* Argument values: model, data, x, y, json.  DZ_OK, DZ_ECONFIG (printed), or -1 after --help. */
static int parse(MPI_Comm comm, int argc, char **argv, const char **v)
{
    static const char *const keys[] = {"--model", "--data", "--x", "--y", "--json"};
    char msg[256] = "";
    int rc = dz_cmd_args(argc, argv, keys, v, 5, msg, sizeof msg), rank;
    MPI_Comm_rank(comm, &rank);
    if (rc == 1) {
        if (rank == 0)
            dz_evaluate_usage(stdout);
        return -1; /* done: exit 0 */
    }
    if (rc == 0 && (!v[0] || !v[1]))
        snprintf(msg, sizeof msg, "evaluate: --model and --data are required");
    if (msg[0] && rank == 0) {
        fprintf(stderr, "dztrain: %s\n", msg);
        dz_evaluate_usage(stderr);
    }
    return msg[0] ? DZ_ECONFIG : DZ_OK;
}

int dz_evaluate_main(MPI_Comm comm, int argc, char **argv)
{
    const char *v[5] = {NULL, NULL, "test_set_x", "test_set_y", NULL};
    int code = parse(comm, argc, argv, v);
    if (code != DZ_OK)
        return code < 0 ? DZ_OK : code;
    int rank;
    MPI_Comm_rank(comm, &rank);
    dz_err e = {.code = DZ_OK};
    if (rank == 0 && v[4])
        dz_out_check_writable(v[4], "evaluate --json", &e);
    DZ_TRY(dz_err_agree(comm, &e));
    dz_model mo;
    dz_shard s;
    dz_pred pr;
    int nthreads;
    DZ_TRY(dz_predict_setup(comm, v[0], v[1], v[2], v[3], &mo, &s, &pr, &nthreads, &e));
    dz_evaluation ev;
    memset(&ev, 0, sizeof ev);
    double ce = NAN;
    code = cross_entropy(comm, &mo, &s, nthreads, &ce, &e);
    if (code == DZ_OK)
        code = dz_eval_compute(comm, &s, &pr, mo.K, &ev, &e);
    ev.cross_entropy = ce;
    if (code == DZ_OK && rank == 0) {
        printf("dztrain: evaluate: %s (%s) on %s (%s, %s): m = %lld\n", v[0],
               mo.K ? "softmax" : "logistic", v[1], v[2], v[3], (long long)s.m);
        dz_eval_print(stdout, &ev);
        if (v[4] && dz_eval_write_json(v[4], &ev, &e) == DZ_OK)
            printf("wrote %s\n", v[4]);
    }
    if (code == DZ_OK)
        code = dz_err_agree(comm, &e);
    dz_eval_free(&ev);
    dz_pred_free(&pr);
    dz_shard_free(&s);
    dz_model_free(&mo);
    return code;
}
