/* train.c — the training driver (see dz/train.h).
 *
 * Step i (0-based) on every rank:
 *   bounds for the exact sums (from max|x|, m and the current w: identical on all ranks)
 *   → dz_kernel_pass over the local blocks → one dz_acc_allreduce carrying Σdz·x, Σdz, Σloss
 *     and the flags (non-finite values, stop requested by a signal)
 *   → J_i = Σloss/m, logged when i % log_every == 0 (loss of the parameters before step i)
 *   → g = (Σdz·x / scale / m, Σdz / m) → p -= lr·g → checkpoint if due or if stopping.
 * Every rank holds the same parameters after every step because it applies the same update to
 * the same reduced sums; nothing is broadcast.
 */
#include "dz/train.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dz/binding.h"
#include "dz/checkpoint.h"
#include "dz/standardize.h"
#include "dz/kernel.h"
#include "dz/metrics.h"
#include "dz/objective.h"
#include "dz/optim.h"
#include "dz/output.h"
#include "dz/progress.h"
#include "dz/shard.h"
#include "dz/watchdog.h"

volatile sig_atomic_t dz_stop_signal = 0;

/* Compare a checkpoint with this run; fills e (code DZ_ECONFIG/DZ_EDATA) when refused. */
static void check_resume(const dz_ckpt *c, const dz_config *cfg, const dz_shard *s,
                         const dz_run_opts *o, dz_err *e)
{
    char now[2048];
    dz_config_describe(cfg, now, sizeof now);
    if (c->data_m != s->m || c->data_d != s->d || c->data_checksum != s->checksum ||
        strcmp(c->data_dtype, dz_dtype_name(s->dtype)) != 0 || c->block_rows != s->block_rows) {
        dz_fail(e, DZ_EDATA,
                "cannot resume: the training data differ from the checkpoint's (checkpoint: m=%lld "
                "d=%lld dtype=%s block_rows=%lld checksum=%016llx; now: m=%lld d=%lld dtype=%s "
                "block_rows=%lld checksum=%016llx)",
                (long long)c->data_m, (long long)c->data_d, c->data_dtype, (long long)c->block_rows,
                (unsigned long long)c->data_checksum, (long long)s->m, (long long)s->d,
                dz_dtype_name(s->dtype), (long long)s->block_rows, (unsigned long long)s->checksum);
        return;
    }
    if (c->config_hash != dz_config_hash(cfg) && !o->force) {
        /* name the settings that differ */
        char diff[1024] = "", a[2048], b[2048];
        snprintf(a, sizeof a, "%s", c->config);
        snprintf(b, sizeof b, "%s", now);
        char *sa, *sb, *ta = strtok_r(a, " ", &sa), *tb = strtok_r(b, " ", &sb);
        for (; ta && tb; ta = strtok_r(NULL, " ", &sa), tb = strtok_r(NULL, " ", &sb))
            if (strcmp(ta, tb) != 0) {
                size_t k = strlen(diff);
                snprintf(diff + k, sizeof diff - k, "%s%s (checkpoint: %s)", k ? "; " : "", tb,
                         strchr(ta, '=') ? strchr(ta, '=') + 1 : ta);
            }
        dz_fail(e, DZ_ECONFIG,
                "cannot resume: training settings changed since the checkpoint: %s. Use --force to "
                "resume anyway (the result will then differ from an uninterrupted run)",
                diff[0] ? diff : "(unknown)");
        return;
    }
    if (c->iterations != cfg->iterations && !o->force) {
        dz_fail(e, DZ_ECONFIG,
                "cannot resume: [train] iterations is %lld, the checkpoint's run had %lld; use "
                "--force to continue to the new count",
                (long long)cfg->iterations, (long long)c->iterations);
        return;
    }
    if (c->iteration > cfg->iterations)
        dz_fail(e, DZ_ECONFIG, "cannot resume: the checkpoint is at iteration %lld, past [train] "
                "iterations = %lld", (long long)c->iteration, (long long)cfg->iterations);
}

static void bcast_metrics(MPI_Comm comm, dz_metrics *m)
{
    int64_t n = m->n;
    DZ_MPI(MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm));
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank != 0) {
        dz_metrics_free(m);
        for (int64_t k = 0; k < n; k++)
            if (dz_metrics_add(m, 0, 0, 0, 0, 0, 0, 0))
                dz_fatal(comm, DZ_ERUNTIME, "out of memory for metrics");
    }
    if (n) {
        DZ_MPI(MPI_Bcast(m->iteration, (int)n, MPI_INT64_T, 0, comm));
        DZ_MPI(MPI_Bcast(m->loss, (int)n, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(m->elapsed, (int)n, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(m->grad_max, (int)n, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(m->passes, (int)n, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(m->test_loss, (int)n, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(m->test_acc, (int)n, MPI_DOUBLE, 0, comm));
    }
}

/* The test set's mean loss and accuracy (a fraction) at p, for metrics.csv.  Collective. */
static void test_metrics(dz_obj *obj, const dz_shard *te, const double *p, double *loss,
                         double *acc)
{
    dz_obj_evaluate(obj, te, p, loss, acc, NULL);
    *acc /= 100.0;
}

/* Rank 0 writes a checkpoint of the state after `done` updates; the verdict is broadcast. */
static int write_checkpoint(MPI_Comm comm, int rank, const dz_config *cfg, const dz_shard *s,
                            int64_t done, double elapsed, double passes, double *p, dz_optim *o,
                            dz_metrics *met, int quiet, dz_err *e)
{
    if (rank == 0) {
        double t0 = MPI_Wtime();
        dz_ckpt c;
        memset(&c, 0, sizeof c);
        c.iteration = done;
        c.iterations = cfg->iterations;
        c.elapsed = elapsed;
        c.passes = passes;
        c.n = o->n;
        c.params = p;
        c.nstate = o->nstate;
        c.state = o->state;
        c.metrics = *met;
        c.metrics.f = NULL;
        c.config_hash = dz_config_hash(cfg);
        dz_config_describe(cfg, c.config, sizeof c.config);
        c.data_m = s->m;
        c.data_d = s->d;
        c.block_rows = s->block_rows;
        snprintf(c.data_dtype, sizeof c.data_dtype, "%s", dz_dtype_name(s->dtype));
        snprintf(c.data_file_type, sizeof c.data_file_type, "%s", s->file_type);
        c.data_checksum = s->checksum;
        if (dz_ckpt_write(cfg->ckpt_file, &c, e) == DZ_OK && !quiet) /* c borrows: no free */
            printf("checkpoint: iteration %lld written to %s in %.3f s\n", (long long)done,
                   cfg->ckpt_file, MPI_Wtime() - t0);
    }
    return dz_err_agree(comm, e);
}

/* Rank 0 prints a confusion matrix (rows true class, columns predicted). */
static void print_confusion(const char *set, int64_t K, const int64_t *c)
{
    printf("confusion matrix (%s; rows: true class, columns: predicted class):\n      ", set);
    for (int64_t k = 0; k < K; k++)
        printf(" %6lld", (long long)k);
    printf("\n");
    for (int64_t i = 0; i < K; i++) {
        printf("%6lld", (long long)i);
        for (int64_t k = 0; k < K; k++)
            printf(" %6lld", (long long)c[i * K + k]);
        printf("\n");
    }
}

/* [data] standardize: μ and σ of the training set (exact sums), then the objective trains in
 * standardised units.  Collective; e agreed. */
static void standardize(MPI_Comm comm, int rank, const dz_shard *tr, const dz_config *cfg,
                        int nthreads, int quiet, dz_stdz *z, dz_obj *obj, dz_err *e)
{
    double t0 = MPI_Wtime();
    if (dz_stdz_compute(comm, tr, cfg->scale, nthreads, z, e) != DZ_OK)
        return;
    if (dz_obj_set_standardize(obj, z) != 0)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the standardised parameters");
    if (dz_err_agree(comm, e) != DZ_OK)
        return;
    if (rank == 0 && z->nconst)
        fprintf(stderr, "dztrain: note: %lld of %lld features are constant over the training set "
                "(standard deviation 0): they are given a standard deviation of 1\n",
                (long long)z->nconst, (long long)z->d);
    if (rank == 0 && !quiet)
        printf("standardized %lld features (mean and standard deviation over %lld rows, %.3f s)\n",
               (long long)z->d, (long long)tr->m, MPI_Wtime() - t0);
}

/* The evaluate command's metrics (dz/metrics.h) of p on set s, into *ev.  Returns 1 when
 * computed (the caller frees ev), 0 when not (a logit overflowed: the agreement printed why).
 * Collective. */
static int set_metrics(MPI_Comm comm, dz_obj *obj, const dz_shard *s, const double *p,
                       dz_evaluation *ev)
{
    dz_model mo = {.d = s->d, .K = obj->K, .n = obj->n,
                   .p = (double *)dz_obj_kernel_params(obj, p), .scale = obj->scale};
    dz_pred pr;
    dz_err e = {.code = DZ_OK};
    dz_predict_rows(&mo, s, obj->wk.isa, obj->wk.nthreads, &pr, &e);
    int ok = dz_err_agree(comm, &e) == DZ_OK && dz_eval_compute(comm, s, &pr, obj->K, ev, &e) == DZ_OK;
    dz_pred_free(&pr);
    return ok;
}

/* The end of a run: the stop line, J and ‖∇J‖∞ at the final p (one more pass when the
 * optimizer had not evaluated it), accuracies (softmax: confusion matrices), then model and
 * metrics.  Collective. */
static void finish(MPI_Comm comm, int rank, const dz_config *cfg, const dz_run_opts *opts,
                   const dz_shard *tr, const dz_shard *te, dz_obj *obj, int first_order, double *p,
                   int64_t done, const dz_iter_info *info, double elapsed, dz_metrics *met,
                   dz_err *e)
{
    const int64_t d = tr->d, K = obj->K, n = obj->n;
    double passes = obj->passes, gmax = info->gmax;
    const char *reason = "iterations";
    if (info->status == DZ_IT_CONVERGED)
        reason = "converged";
    else if (info->status == DZ_IT_STALLED)
        reason = "stalled";
    else {
        /* the last update's point has not been evaluated yet */
        double *g = malloc((size_t)n * sizeof(double)), f;
        if (!g)
            dz_fatal(comm, DZ_ERUNTIME, "out of memory for the final gradient");
        gmax = NAN;
        if (dz_obj_fg(obj, p, NULL, &f, g) == 0) {
            dz_obj_pseudo_grad(obj, p, g, g);
            gmax = dz_norm_inf(n, g);
        }
        free(g);
    }
    double train_loss, train_acc, test_loss = NAN, test_acc = NAN;
    const int conf = K > 0 && K <= DZ_CONF_MAX_K;
    int64_t *ctr = conf ? calloc((size_t)(K * K), sizeof(int64_t)) : NULL;
    int64_t *cte = conf && te ? calloc((size_t)(K * K), sizeof(int64_t)) : NULL;
    if (conf && (!ctr || (te && !cte)))
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for the %lld x %lld confusion matrices",
                 (long long)K, (long long)K);
    dz_obj_evaluate(obj, tr, p, &train_loss, &train_acc, ctr);
    if (te)
        dz_obj_evaluate(obj, te, p, &test_loss, &test_acc, cte);
    double pen = dz_obj_penalty(obj, p), J = pen > 0 ? train_loss + pen : train_loss;
    if (rank == 0) {
        if (info->status == DZ_IT_CONVERGED)
            printf("dztrain: converged: ||grad J||inf = %.3g <= tolerance %.3g after %lld "
                   "iterations, %.1f data passes\n", gmax, cfg->tolerance, (long long)done, passes);
        else if (info->status == DZ_IT_STALLED)
            printf("dztrain: stopped after %lld iterations, %.1f data passes: %s; "
                   "||grad J||inf = %.3g\n", (long long)done, passes, info->why, gmax);
        else if (cfg->tolerance > 0)
            fprintf(stderr, "dztrain: warning: not converged: ||grad J||inf = %.3g > tolerance "
                    "%.3g after [train] iterations = %lld (%.1f data passes). Raise iterations%s, "
                    "or standardise the features\n", gmax, cfg->tolerance, (long long)done, passes,
                    first_order ? ", tune learning_rate, or use optimizer = lbfgs or newton"
                                         : "");
        else if (!opts->quiet)
            printf("dztrain: reached [train] iterations = %lld (tolerance off), %.1f data passes, "
                   "||grad J||inf = %.3g\n", (long long)done, passes, gmax);
        printf("train accuracy: %.17g %%\n", train_acc);
        if (te)
            printf("test accuracy: %.17g %%\n", test_acc);
        if (conf && K <= 20) {
            print_confusion("train", K, ctr);
            if (te)
                print_confusion("test", K, cte);
        }
        printf("final loss: %.17g (training time %.6f s)\n", J, elapsed);
        fflush(stdout);
        char settings[2048];
        dz_config_describe(cfg, settings, sizeof settings);
        dz_model_info mi = {.iterations = done, .final_loss = J, .train_accuracy = train_acc,
                            .test_accuracy = test_acc, .m = tr->m, .block_rows = tr->block_rows,
                            .scale = cfg->scale, .config_hash = dz_config_hash(cfg),
                            .data_checksum = tr->checksum, .l2 = cfg->l2, .l1 = cfg->l1,
                            .passes = passes, .grad_max = gmax, .confusion_train = ctr,
                            .confusion_test = cte, .names_from = cfg->train,
                            .settings = settings};
        if (obj->stdz) {
            mi.mean = obj->stdz->mean;
            mi.std = obj->stdz->std;
            mi.original = dz_obj_kernel_params(obj, p);
        }
        snprintf(mi.optimizer, sizeof mi.optimizer, "%s", cfg->optimizer);
        snprintf(mi.stop_reason, sizeof mi.stop_reason, "%s", reason);
        if (dz_model_write(cfg->model_out, d, K, p, &mi, e) == DZ_OK)
            dz_metrics_commit(met, cfg->metrics_out, e);
    }
    free(ctr);
    free(cte);
    if (dz_err_agree(comm, e) != DZ_OK)
        return;
    /* after the model is safely written: these need memory for every row's predictions */
    for (int k = 0; k < 2; k++) {
        const dz_shard *s = k ? te : tr;
        dz_evaluation ev;
        if (s && set_metrics(comm, obj, s, p, &ev)) {
            if (rank == 0)
                dz_eval_print_line(stdout, k ? "test" : "train", &ev);
            dz_eval_free(&ev);
        }
    }
    if (rank == 0)
        fflush(stdout);
}

/* Softmax: K·(d + 1) parameters must fit the reduction's one int-counted allreduce and the
 * memory: the work space holds about 6 copies of them per thread, the optimizer up to
 * 2·memory + 7 more.  Collective (the same numbers on every rank); an agreed code. */
static int check_size(MPI_Comm comm, const dz_config *cfg, const dz_shard *s, int nthreads,
                      dz_err *e)
{
    const int64_t K = s->classes, d = s->d;
    if (!K)
        return DZ_OK;
    const double n = (double)K * (double)(d + 1) + 1.0;
    const double copies = 6.0 * nthreads + 2.0 * (double)cfg->memory + 7.0;
    const long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    const double mem = pages > 0 && psz > 0 ? (double)pages * (double)psz : INFINITY;
    const int code = cfg->classes ? DZ_ECONFIG : DZ_EDATA;
    if (DZ_FIX_DIGITS * n + DZ_NFLAGS > (double)INT_MAX)
        dz_fail(e, code, "softmax model too large: %lld classes x (%lld features + 1) = %.0f "
                "sums, but one allreduce carries at most %d / %d of them", (long long)K,
                (long long)d, n, INT_MAX, DZ_FIX_DIGITS);
    else if (8.0 * n * copies > mem)
        dz_fail(e, code, "softmax model too large: %lld classes x (%lld features + 1) parameters "
                "need about %.1f GiB of work space (%d threads), the node has %.1f GiB",
                (long long)K, (long long)d, 8.0 * n * copies / 1073741824.0, nthreads,
                mem / 1073741824.0);
    return dz_err_agree(comm, e);
}

int dz_train(MPI_Comm comm, const dz_config *cfg, const dz_run_opts *opts, dz_err *e)
{
    int rank, nranks;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    DZ_MPI(MPI_Comm_size(comm, &nranks));
    e->code = DZ_OK;

    /* Outputs are checked before any work, not discovered unwritable after it. */
    if (rank == 0) {
        if (dz_out_check_writable(cfg->model_out, "[output] model", e) == DZ_OK &&
            dz_out_check_writable(cfg->metrics_out, "[output] metrics", e) == DZ_OK &&
            cfg->ckpt_file[0])
            dz_out_check_writable(cfg->ckpt_file, "[checkpoint] file", e);
    }
    DZ_TRY(dz_err_agree(comm, e));
    dz_binding bind;
    DZ_TRY(dz_binding_setup(comm, &bind, e));
    char isa_msg[160];
    const dz_kernel_isa *isa = dz_kernel_isa_select(isa_msg, sizeof isa_msg);
    if (!isa)
        dz_fail(e, DZ_ECONFIG, "%s", isa_msg);
    DZ_TRY(dz_err_agree(comm, e));

    dz_shard tr, te;
    memset(&te, 0, sizeof te);
    /* automatic blocks are at most one mini-batch, so a batch is exactly whole blocks */
    const int64_t want_rows = cfg->block_rows == 0 && cfg->batch_size > 0 ? -cfg->batch_size
                                                                           : cfg->block_rows;
    const int softmax = !strcmp(cfg->model_type, "softmax");
    DZ_TRY(dz_shard_load(comm, cfg->train, cfg->train_x, cfg->train_y, cfg->dtype, want_rows,
                         softmax ? (cfg->classes ? cfg->classes : -1) : 0, &tr, e));
    if (cfg->test[0]) {
        if (dz_shard_load(comm, cfg->test, cfg->test_x, cfg->test_y, cfg->dtype, want_rows,
                          tr.classes, &te, e) != DZ_OK) {
            dz_shard_free(&tr);
            return e->code;
        }
        if (te.d != tr.d) {
            dz_fail(e, DZ_EDATA, /* the same on every rank: the agreement prints it once */
                    "%s: test features have %lld values per row, training features %lld", cfg->test,
                    (long long)te.d, (long long)tr.d);
            dz_err_agree(comm, e);
            dz_shard_free(&tr);
            dz_shard_free(&te);
            return e->code;
        }
    }
    const int64_t d = tr.d, K = tr.classes, n = dz_obj_nparams(d, K);
    int nthreads = bind.nthreads;
    if (check_size(comm, cfg, &tr, nthreads, e) != DZ_OK) {
        dz_shard_free(&tr);
        dz_shard_free(&te);
        return e->code;
    }
    if (K)
        dz_shard_warn_empty_classes(comm, &tr, cfg->train, cfg->train_y);
    char how[96] = "";
    if (bind.automatic)
        snprintf(how, sizeof how, " (OMP_NUM_THREADS unset: %d cores / %d rank(s) on the node)",
                 bind.node_cores, bind.local_ranks);
    char knote[48] = "";
    if (K)
        snprintf(knote, sizeof knote, " (%lld classes)", (long long)K);
    if (rank == 0 && !opts->quiet)
        printf("dztrain: %d rank(s) x %d thread(s)%s; m = %lld, d = %lld, features %s (file %s), "
               "block_rows = %lld, reproducible = %s, model %s%s, optimizer = %s, kernel %s; "
               "read %.3f s, checked %.3f s\n",
               nranks, nthreads, how, (long long)tr.m, (long long)d, dz_dtype_name(tr.dtype),
               tr.file_type, (long long)tr.block_rows, cfg->reproducible ? "true" : "false",
               cfg->model_type, knote, cfg->optimizer, dz_kernel_isa_name(isa),
               tr.read_s, tr.scan_s);

    dz_obj obj;
    dz_optim opt;
    dz_metrics met;
    dz_watchdog wd;
    memset(&wd, 0, sizeof wd);
    memset(&met, 0, sizeof met);
    memset(&obj, 0, sizeof obj);
    memset(&opt, 0, sizeof opt);
    double *p = calloc((size_t)n, sizeof(double));
    int opt_ok = dz_optim_init(&opt, cfg, &tr, n) == 0;
    int obj_ok = opt_ok && dz_obj_init(&obj, comm, &tr, cfg, nthreads, opt.ops->needs_hv,
                                       &dz_stop_signal) == 0;
    if (!p || !obj_ok || !opt_ok)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the model, optimizer state and work space "
                "(d = %lld, %d threads, optimizer %s)", (long long)d, nthreads, cfg->optimizer);
    dz_stdz stdz;
    memset(&stdz, 0, sizeof stdz);
    if (dz_err_agree(comm, e) == DZ_OK && cfg->standardize)
        standardize(comm, rank, &tr, cfg, nthreads, opts->quiet, &stdz, &obj, e);
    int64_t start = 0;
    double elapsed0 = 0;
    if (e->code == DZ_OK && opts->resume) {
        dz_ckpt c;
        memset(&c, 0, sizeof c);
        if (!cfg->ckpt_file[0])
            dz_fail(e, DZ_ECONFIG, "--resume needs [checkpoint] file in the config");
        else if (rank == 0 && dz_ckpt_read(cfg->ckpt_file, &c, e) == DZ_OK) {
            check_resume(&c, cfg, &tr, opts, e);
            if (e->code == DZ_OK && c.n != n)
                dz_fail(e, DZ_ECONFIG, "cannot resume: the checkpoint holds %lld parameters, this "
                        "model has %lld", (long long)c.n, (long long)n);
            if (e->code == DZ_OK && c.nstate != opt.nstate)
                dz_fail(e, DZ_ECONFIG, "cannot resume: the checkpoint holds %lld values of optimizer "
                        "state, optimizer '%s' has %lld", (long long)c.nstate, cfg->optimizer,
                        (long long)opt.nstate);
            if (e->code == DZ_OK) {
                if (opt.nstate)
                    memcpy(opt.state, c.state, (size_t)opt.nstate * sizeof(double));
                start = c.iteration;
                elapsed0 = c.elapsed;
                obj.passes = c.passes;
                memcpy(p, c.params, (size_t)n * sizeof(double));
                dz_metrics_free(&met);
                met = c.metrics;
                memset(&c.metrics, 0, sizeof c.metrics);
                printf("dztrain: resuming from %s at iteration %lld\n", cfg->ckpt_file,
                       (long long)start);
            }
        }
        dz_ckpt_free(&c);
    }
    if (dz_err_agree(comm, e) != DZ_OK)
        goto done;
    if (opts->resume) {
        DZ_MPI(MPI_Bcast(&start, 1, MPI_INT64_T, 0, comm));
        DZ_MPI(MPI_Bcast(&elapsed0, 1, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(&obj.passes, 1, MPI_DOUBLE, 0, comm));
        DZ_MPI(MPI_Bcast(p, (int)n, MPI_DOUBLE, 0, comm));
        if (opt.nstate)
            DZ_MPI(MPI_Bcast(opt.state, (int)opt.nstate, MPI_DOUBLE, 0, comm));
        bcast_metrics(comm, &met);
    }
    met.has_test = cfg->test[0] != 0; /* rows resumed from a run without one: empty cells */
    if (e->code == DZ_OK && rank == 0)
        dz_metrics_open(&met, cfg->metrics_out, e);
    /* every rank names the metrics file to delete: the rank that fires may not be rank 0,
     * which may be the frozen one */
    char partial[DZ_PATH_MAX + 16];
    dz_metrics_partial_path(cfg->metrics_out, partial, sizeof partial);
    if (e->code == DZ_OK && dz_watchdog_start(&wd, cfg->collective_timeout, rank, partial) != 0)
        dz_fail(e, DZ_ERUNTIME, "cannot start the collective watchdog thread");
    if (dz_err_agree(comm, e) != DZ_OK)
        goto done;
    obj.wd = &wd;

    double t0 = MPI_Wtime(), elapsed = elapsed0;
    dz_progress prog;
    dz_progress_start(&prog, rank == 0 && !opts->quiet, cfg->progress, start, cfg->iterations,
                      cfg->tolerance > 0 || !opt.ops->first_order);
    dz_iter_info info = {NAN, NAN, DZ_IT_UPDATED, ""};
    int64_t it;
    for (it = start; it < cfg->iterations; it++) {
        int log_due = it % cfg->log_every == 0;
        obj.stop = 0;
        dz_watchdog_at(&wd, it);
        double t_it = MPI_Wtime(), tl = NAN, ta = NAN;
        if (log_due && cfg->test[0])
            test_metrics(&obj, &te, p, &tl, &ta); /* at the row's parameters: before the update */
        dz_optim_iterate(&opt, &obj, p, it, log_due, &info);
        const double now = MPI_Wtime(); /* one clock read for all three */
        dz_watchdog_step_time(&wd, now - t_it);
        dz_progress_update(&prog, it, info.f, info.gmax, now);
        elapsed = elapsed0 + round((now - t0) * 1e6) / 1e6;
        if (info.status == DZ_IT_DIVERGED) {
            dz_progress_end(&prog);
            /* every rank sees the same sums, so every rank fails; the agreement prints once */
            dz_fail(e, DZ_ERUNTIME,
                    "training diverged at iteration %lld: %s (%s); no model written%s",
                    (long long)it, info.why,
                    opt.ops->first_order ? "the learning_rate is probably too large"
                                         : "check the data for extreme values",
                    cfg->ckpt_file[0] ? ", the last checkpoint is kept" : "");
            dz_err_agree(comm, e);
            goto done;
        }
        int stopped = info.status != DZ_IT_UPDATED;
        if (log_due || (stopped && !isnan(info.f))) {
            if (!log_due && cfg->test[0])
                test_metrics(&obj, &te, p, &tl, &ta); /* stopped: p was not updated */
            if (dz_metrics_add(&met, it, info.f, info.gmax, obj.passes, elapsed, tl, ta))
                dz_fatal(comm, DZ_ERUNTIME, "out of memory for metrics");
            if (rank == 0 && !opts->quiet) {
                dz_progress_end(&prog);
                printf("Cost after iteration %lld: %.17g\n", (long long)it, info.f);
                fflush(stdout);
            }
        }
        if (stopped)
            break; /* converged or stalled: p is this iteration's point, not updated */

        int64_t done_it = it + 1;
        int stop = obj.stop;
        int due = cfg->ckpt_every > 0 && done_it % cfg->ckpt_every == 0;
        if (stop || due)
            dz_progress_end(&prog); /* the checkpoint line, or the error, on a line of its own */
        if (cfg->ckpt_file[0] && (stop || due) &&
            write_checkpoint(comm, rank, cfg, &tr, done_it, elapsed, obj.passes, p, &opt, &met,
                             opts->quiet, e) != DZ_OK)
            goto done;
        if (stop) {
            dz_fail(e, DZ_EINTERRUPTED, "stopped by a signal after iteration %lld; %s", (long long)it,
                    cfg->ckpt_file[0] ? "checkpoint written, continue with --resume"
                                      : "no [checkpoint] file is configured, progress is lost");
            dz_err_agree(comm, e);
            goto done;
        }
    }
    dz_progress_end(&prog);
    finish(comm, rank, cfg, opts, &tr, cfg->test[0] ? &te : NULL, &obj, opt.ops->first_order, p, it,
           &info, elapsed, &met, e);

done:
    dz_watchdog_stop(&wd);
    dz_metrics_free(&met); /* closes an uncommitted .partial file, which stays for inspection */
    dz_optim_free(&opt);
    dz_obj_free(&obj);
    dz_stdz_free(&stdz);
    free(p);
    dz_shard_free(&tr);
    dz_shard_free(&te);
    return e->code;
}
