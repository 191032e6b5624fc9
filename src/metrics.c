/* metrics.c — confusion, precision/recall/F1, log loss and ROC AUC over all ranks' rows (see
 * dz/metrics.h for the definitions and why every number is the same for any N × T).
 *
 * Phases of dz_eval_compute (Collective): the confusion matrix (one int64 allreduce) → the
 * log loss (one exact dz_acc allreduce) → per positive class, the AUC pair counts (a ring of
 * N − 1 sendrecvs and one int64 allreduce).  Memory is checked and agreed first, so no rank
 * leaves a collective early.
 */
#include "dz/metrics.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dz/dzmath.h"
#include "dz/reduce.h"

/* ---- counts ------------------------------------------------------------------------------ */

static int64_t true_class(const dz_shard *s, int64_t i) { return (int64_t)s->y[i]; }

/* Collective: C (nc × nc) summed over ranks. */
static void confusion(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, int64_t nc,
                      int64_t *C)
{
    memset(C, 0, (size_t)(nc * nc) * sizeof(int64_t));
    for (int64_t i = 0; i < s->rows; i++)
        C[true_class(s, i) * nc + pr->label[i]]++;
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, C, (int)(nc * nc), MPI_INT64_T, MPI_SUM, comm));
}

/* scikit-learn's one-vs-rest precision, recall, F1 of class k (0 for a zero denominator). */
static void prf_class(const int64_t *C, int64_t nc, int64_t k, double *p, double *r, double *f,
                      int64_t *support, int64_t *predicted)
{
    int64_t tp = C[k * nc + k], sup = 0, pp = 0;
    for (int64_t j = 0; j < nc; j++) {
        sup += C[k * nc + j];
        pp += C[j * nc + k];
    }
    *p = pp ? (double)tp / (double)pp : 0.0;
    *r = sup ? (double)tp / (double)sup : 0.0;
    double den = *p + *r;
    *f = den > 0 ? 2.0 * *p * *r / den : 0.0;
    *support = sup;
    *predicted = pp;
}

/* Binary: class 1.  Softmax: per class, macro over the classes present in the labels or the
 * predictions, weighted by support. */
static void prf(dz_evaluation *ev)
{
    const int64_t nc = ev->nc;
    double p, r, f, sp = 0, sr = 0, sf = 0, wp = 0, wr = 0, wf = 0;
    int64_t sup, pp, present = 0, total = 0;
    if (!ev->K) {
        prf_class(ev->confusion, nc, 1, &ev->precision, &ev->recall, &ev->f1, &sup, &pp);
        return;
    }
    for (int64_t k = 0; k < nc; k++) {
        prf_class(ev->confusion, nc, k, &p, &r, &f, &sup, &pp);
        ev->per_class[k] = p;
        ev->per_class[nc + k] = r;
        ev->per_class[2 * nc + k] = f;
        if (sup == 0 && pp == 0)
            continue;
        present++;
        sp += p, sr += r, sf += f;
        wp += p * (double)sup, wr += r * (double)sup, wf += f * (double)sup;
        total += sup;
    }
    ev->precision = sp / (double)present;
    ev->recall = sr / (double)present;
    ev->f1 = sf / (double)present;
    ev->precision_w = wp / (double)total;
    ev->recall_w = wr / (double)total;
    ev->f1_w = wf / (double)total;
}

/* ---- log loss ---------------------------------------------------------------------------- */

/* −log(q_y) of one row, q = clip(proba, ε, 1 − ε) / its row sum, as scikit-learn's log_loss. */
static double row_log_loss(const double *pr, int64_t ncol, int64_t y)
{
    const double eps = DBL_EPSILON, hi = 1.0 - DBL_EPSILON;
    if (ncol == 1) {
        double q1 = pr[0] < eps ? eps : pr[0] > hi ? hi : pr[0], q0 = 1.0 - q1;
        double sum = q0 + q1;
        return -log((y ? q1 : q0) / sum);
    }
    double sum = 0, qy = 0;
    for (int64_t k = 0; k < ncol; k++) {
        double q = pr[k] < eps ? eps : pr[k] > hi ? hi : pr[k];
        sum += q;
        if (k == y)
            qy = q;
    }
    return -log(qy / sum);
}

/* Collective: the mean log loss; block partials (global blocks, rows in order) added exactly. */
static int log_loss(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, double *out, dz_err *e)
{
    dz_acc a;
    if (dz_acc_init(&a, 1, 1) != 0)
        dz_fail(e, DZ_ERUNTIME, "out of memory for the log-loss sum");
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_acc_free(&a); /* what a failed init allocated, or all of it on the other ranks */
        return e->code;
    }
    /* a row's term is at most −log(ε / (1 + ncol·ε)) < 37; log by dz_log_ge1: the bound sets
     * the fixed-point scale, which must not depend on the machine's libm */
    dz_acc_set_bound(&a, 0, 2.0 * (double)s->m * (40.0 + dz_log_ge1((double)pr->ncol + 1.0)));
    dz_acc_zero(&a);
    const int64_t B = s->block_rows;
    for (int64_t i0 = 0; i0 < s->rows; i0 += B) {
        double v = 0;
        for (int64_t i = i0; i < s->rows && i < i0 + B; i++)
            v += row_log_loss(pr->proba + i * pr->ncol, pr->ncol, true_class(s, i));
        dz_acc_fold(&a, &v);
    }
    dz_acc_flush(&a);
    double tot = 0;
    dz_acc_allreduce(comm, &a, &tot);
    dz_acc_free(&a);
    *out = tot / (double)s->m;
    return DZ_OK;
}

/* ---- ROC AUC: exact pair counts on a ring (dz/metrics.h) ---------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* cnt[0] += pairs with positive > negative, cnt[1] += ties; both arrays sorted ascending. */
static void merge_count(const double *pos, int64_t np, const double *neg, int64_t nn,
                        int64_t cnt[2])
{
    int64_t lo = 0, hi = 0;
    for (int64_t j = 0; j < nn; j++) {
        const double v = neg[j];
        while (lo < np && pos[lo] < v)
            lo++;
        if (hi < lo)
            hi = lo;
        while (hi < np && pos[hi] <= v)
            hi++;
        cnt[0] += np - hi;
        cnt[1] += hi - lo;
    }
}

/* Collective: this rank's sorted positives cur (ncur) go around the ring; every rank counts
 * its negatives against each rank's positives.  spare and cur hold cap values. */
static void ring_count(MPI_Comm comm, double *cur, int64_t ncur, double *spare,
                       const double *neg, int64_t nn, int64_t cnt[2])
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    for (int step = 0; step < size; step++) {
        merge_count(cur, ncur, neg, nn, cnt);
        if (step + 1 == size)
            break;
        int64_t nrecv = 0;
        DZ_MPI(MPI_Sendrecv(&ncur, 1, MPI_INT64_T, right, 0, &nrecv, 1, MPI_INT64_T, left, 0,
                            comm, MPI_STATUS_IGNORE));
        DZ_MPI(MPI_Sendrecv(cur, (int)ncur, MPI_DOUBLE, right, 1, spare, (int)nrecv, MPI_DOUBLE,
                            left, 1, comm, MPI_STATUS_IGNORE));
        double *t = cur;
        cur = spare;
        spare = t;
        ncur = nrecv;
    }
}

/* Work space of the AUC: this rank's negatives, and two ring buffers of cap values. */
typedef struct auc_buf {
    double *neg, *cur, *spare;
    int64_t cap;
} auc_buf;

/* Collective: the AUC of positive class k with score column col (binary: k = 1, col 0);
 * P, N are the global positives and negatives (both > 0). */
static double auc_class(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, int64_t k,
                        int64_t col, int64_t P, int64_t N, auc_buf *b)
{
    int64_t np = 0, nn = 0, cnt[2] = {0, 0};
    for (int64_t i = 0; i < s->rows; i++) {
        double v = pr->proba[i * pr->ncol + col];
        if (true_class(s, i) == k)
            b->cur[np++] = v;
        else
            b->neg[nn++] = v;
    }
    qsort(b->cur, (size_t)np, sizeof(double), cmp_double);
    qsort(b->neg, (size_t)nn, sizeof(double), cmp_double);
    ring_count(comm, b->cur, np, b->spare, b->neg, nn, cnt);
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 2, MPI_INT64_T, MPI_SUM, comm));
    return ((double)cnt[0] + 0.5 * (double)cnt[1]) / ((double)P * (double)N);
}

/* Collective: buffers for the largest class's positives on any rank (cap, agreed). */
static int auc_alloc(MPI_Comm comm, const dz_shard *s, int64_t nc, auc_buf *b, dz_err *e)
{
    int64_t *cnt = calloc((size_t)nc, sizeof(int64_t));
    if (!cnt)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for %lld class counts", (long long)nc);
    for (int64_t i = 0; i < s->rows; i++)
        cnt[true_class(s, i)]++;
    DZ_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, (int)nc, MPI_INT64_T, MPI_MAX, comm));
    b->cap = 1;
    for (int64_t k = 0; k < nc; k++)
        b->cap = cnt[k] > b->cap ? cnt[k] : b->cap;
    free(cnt);
    if (b->cap > INT_MAX)
        dz_fail(e, DZ_ERUNTIME, "ROC AUC: a rank holds %lld rows of one class, more than one MPI "
                "message can carry (2^31 - 1); run on more ranks", (long long)b->cap);
    b->neg = malloc((size_t)(s->rows ? s->rows : 1) * sizeof(double));
    b->cur = malloc((size_t)b->cap * sizeof(double));
    b->spare = malloc((size_t)b->cap * sizeof(double));
    if (e->code == DZ_OK && (!b->neg || !b->cur || !b->spare))
        dz_fail(e, DZ_ERUNTIME, "out of memory for the ROC AUC buffers (%lld rows)",
                (long long)s->rows);
    return dz_err_agree(comm, e);
}

/* Collective: roc_auc (and the per-class ones) from the confusion matrix's supports. */
static int roc_auc(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, dz_evaluation *ev,
                   dz_err *e)
{
    const int64_t nc = ev->nc;
    auc_buf b = {0};
    int code = auc_alloc(comm, s, nc, &b, e);
    double sum = 0;
    int64_t missing = -1, missP = 0;
    for (int64_t k = ev->K ? 0 : 1; code == DZ_OK && k < nc; k++) {
        int64_t P = 0;
        for (int64_t j = 0; j < nc; j++)
            P += ev->confusion[k * nc + j];
        double a = NAN;
        if (P > 0 && P < ev->m)
            a = auc_class(comm, s, pr, k, ev->K ? k : 0, P, ev->m - P, &b);
        else if (missing < 0) {
            missing = k;
            missP = P;
        }
        if (ev->K)
            ev->per_class[3 * nc + k] = a;
        sum += a;
    }
    ev->roc_auc = ev->K ? sum / (double)nc : sum;
    if (code == DZ_OK && missing >= 0 && ev->K)
        snprintf(ev->note, sizeof ev->note, "class %lld has %s of the %lld labels: one-vs-rest "
                 "ROC AUC is undefined unless every class occurs", (long long)missing,
                 missP ? "all" : "none", (long long)ev->m);
    else if (code == DZ_OK && missing >= 0)
        snprintf(ev->note, sizeof ev->note, "every label is %d: ROC AUC is undefined with one "
                 "class", missP ? 1 : 0);
    free(b.neg);
    free(b.cur);
    free(b.spare);
    return code;
}

/* ---- the whole evaluation ------------------------------------------------------------------ */

void dz_eval_free(dz_evaluation *ev)
{
    if (!ev)
        return;
    free(ev->confusion);
    free(ev->per_class);
    ev->confusion = NULL;
    ev->per_class = NULL;
}

int dz_eval_compute(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, int64_t K,
                    dz_evaluation *ev, dz_err *e)
{
    memset(ev, 0, sizeof *ev);
    ev->m = s->m;
    ev->K = K;
    ev->nc = K ? K : 2;
    ev->cross_entropy = NAN;
    ev->precision_w = ev->recall_w = ev->f1_w = NAN;
    ev->confusion = malloc((size_t)(ev->nc * ev->nc) * sizeof(int64_t));
    ev->per_class = K ? malloc((size_t)(4 * K) * sizeof(double)) : NULL;
    if (!ev->confusion || (K && !ev->per_class))
        dz_fail(e, DZ_ERUNTIME, "out of memory for a %lld x %lld confusion matrix",
                (long long)ev->nc, (long long)ev->nc);
    if (dz_err_agree(comm, e) != DZ_OK) {
        dz_eval_free(ev);
        return e->code;
    }
    confusion(comm, s, pr, ev->nc, ev->confusion);
    int64_t correct = 0;
    for (int64_t k = 0; k < ev->nc; k++)
        correct += ev->confusion[k * ev->nc + k];
    ev->accuracy = (double)correct / (double)ev->m;
    prf(ev);
    int code = log_loss(comm, s, pr, &ev->log_loss, e);
    if (code == DZ_OK)
        code = roc_auc(comm, s, pr, ev, e);
    if (code != DZ_OK)
        dz_eval_free(ev);
    return code;
}
