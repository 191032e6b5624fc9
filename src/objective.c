/* objective.c — J, ∇J and H·v through the kernel and the exact reduction (dz/objective.h).
 *
 * Units: the kernel sums raw features (not divided by scale), so a gradient entry is
 * tot_j / scale / rows and the bias entry tot_d / rows.  The order of the few scalar
 * operations below is fixed, so every rank computes the same bits from the same sums, and
 * with l2 = l1 = 0 the values are exactly those of plain gradient descent on the loss.
 */
#include "dz/objective.h"
#include "dz/standardize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dz/dzmath.h"
#include "dz/err.h"
#include "dz/watchdog.h"

double dz_dot(int64_t n, const double *a, const double *b)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}

double dz_norm_inf(int64_t n, const double *a)
{
    double r = 0;
    for (int64_t k = 0; k < n; k++) {
        double v = fabs(a[k]);
        if (v > r || isnan(v))
            r = v;
    }
    return r;
}

/* max over the logit rows k of |b_k| + Σ|w_kj| max|x_j| / scale, summed in a fixed order:
 * identical on all ranks, bounds every |z_k|.  Also bounds |u_k| for a direction v. */
static double z_bound(const dz_obj *o, const dz_shard *s, const double *p)
{
    double zb = 0;
    for (int64_t k = 0; k < o->nk; k++) {
        double acc = 0;
        for (int64_t j = 0; j < s->d; j++)
            acc += fabs(p[k * s->d + j]) * s->maxabs[j];
        double b = fabs(p[o->npen + k]) + acc / o->scale;
        if (b > zb || isnan(b))
            zb = b;
    }
    return zb;
}

/* A bound (2x margin) of Σ loss over `rows` rows: loss <= |z| + log 2 (binary), loss <=
 * 2 max|z_k| + log K (softmax).  log K by dz_log_ge1, not libm: the bound sets the exact
 * sum's fixed-point scale, which must be the same on every machine. */
static double loss_bound(const dz_obj *o, double rows, double zb)
{
    zb = isfinite(zb) ? zb : 0.0; /* a non-finite z is caught by the flag */
    return o->K ? 2.0 * rows * (2.0 * zb + dz_log_ge1((double)o->K) + 1.0)
                : 2.0 * rows * (zb + 1.0);
}

int64_t dz_obj_nparams(int64_t d, int64_t K) { return (K ? K : 1) * (d + 1); }

int dz_obj_init(dz_obj *o, MPI_Comm comm, const dz_shard *s, const dz_config *cfg,
                int nthreads, int want_hv, const volatile sig_atomic_t *stop_signal)
{
    memset(o, 0, sizeof *o);
    o->comm = comm;
    o->s = s;
    o->stop_signal = stop_signal;
    o->scale = cfg->scale;
    o->l2 = cfg->l2;
    o->l1 = cfg->l1;
    o->d = s->d;
    o->K = s->classes;
    o->nk = o->K ? o->K : 1;
    o->npen = o->nk * o->d;
    o->n = dz_obj_nparams(o->d, o->K);
    o->tot = malloc((size_t)(o->n + 1) * sizeof(double));
    int bad = !o->tot || dz_work_init(&o->wk, o->d, o->K, nthreads, cfg->reproducible) != 0;
    if (!bad) {
        o->evtot = malloc((size_t)o->wk.neval * sizeof(double));
        bad = !o->evtot;
    }
    if (!bad && dz_shard_is_csr(s) && !o->K)
        bad = dz_work_init_csr(&o->wk) != 0;
    if (!bad && want_hv) {
        size_t rows = (size_t)(s->rows > 0 ? s->rows : 1) * (size_t)o->nk;
        o->curv = calloc(rows, sizeof(double));
        o->curv_trial = calloc(rows, sizeof(double));
        bad = !o->curv || !o->curv_trial || dz_work_init_hv(&o->wk) != 0;
    }
    if (bad) {
        dz_obj_free(o);
        return -1;
    }
    /* Σ(a − y)·x_j and Σ(a − y): |a − y| <= 1, so these bounds hold for the whole run. */
    double m = (double)s->m;
    for (int64_t k = 0; k < o->nk; k++) {
        for (int64_t j = 0; j < o->d; j++)
            dz_acc_set_bound(&o->wk.grad[0], k * o->d + j, 2.0 * m * s->maxabs[j]);
        dz_acc_set_bound(&o->wk.grad[0], o->npen + k, 2.0 * m);
    }
    return 0;
}

int dz_obj_set_standardize(dz_obj *o, const dz_stdz *z)
{
    o->qbuf = malloc((size_t)o->n * sizeof(double));
    if (!o->qbuf)
        return -1;
    o->stdz = z;
    return 0;
}

const double *dz_obj_kernel_params(dz_obj *o, const double *p)
{
    if (!o->stdz)
        return p;
    dz_stdz_to_kernel(o->stdz, o->nk, p, o->qbuf);
    return o->qbuf;
}

void dz_obj_free(dz_obj *o)
{
    if (!o)
        return;
    dz_work_free(&o->wk);
    free(o->qbuf);
    free(o->tot);
    free(o->evtot);
    free(o->curv);
    free(o->curv_trial);
    memset(o, 0, sizeof *o);
}

double dz_obj_penalty(const dz_obj *o, const double *p)
{
    double pen = 0, m = (double)o->s->m;
    if (o->l2 > 0)
        pen += o->l2 / (2.0 * m) * dz_dot(o->npen, p, p);
    if (o->l1 > 0) {
        double a = 0;
        for (int64_t j = 0; j < o->npen; j++)
            a += fabs(p[j]);
        pen += o->l1 / m * a;
    }
    return pen;
}

void dz_obj_pseudo_grad(const dz_obj *o, const double *p, const double *g, double *pg)
{
    double lam = o->l1 / (double)o->s->m;
    for (int64_t j = 0; j < o->npen; j++) {
        double gj = g[j];
        if (lam <= 0)
            pg[j] = gj;
        else if (p[j] > 0)
            pg[j] = gj + lam;
        else if (p[j] < 0)
            pg[j] = gj - lam;
        else if (gj + lam < 0)
            pg[j] = gj + lam;
        else if (gj - lam > 0)
            pg[j] = gj - lam;
        else
            pg[j] = 0;
    }
    for (int64_t k = o->npen; k < o->n; k++)
        pg[k] = g[k];
}

/* The allreduce of one pass's accumulator, carrying this rank's stop request. */
static void reduce(dz_obj *o, dz_acc *a, double *out)
{
    a->flags[DZ_FLAG_STOP] = *o->stop_signal != 0;
    dz_watchdog_enter(o->wd);
    dz_acc_allreduce(o->comm, a, out);
    dz_watchdog_leave(o->wd);
    if (a->flags[DZ_FLAG_STOP] > 0)
        o->stop = 1;
    o->evals++;
}

/* out (n) = the reduced sums in the caller's units: Σ·x_j / scale / rows for the weights,
 * Σ / rows for the bias (with standardisation taken back to p's units), plus (l2/m)·x_j
 * (the penalty's term for ∇J, or H's for H·v). */
static void scale_sums(const dz_obj *o, double rows, const double *x, double *out)
{
    const double m = (double)o->s->m;
    for (int64_t j = 0; j < o->npen; j++)
        out[j] = o->tot[j] / o->scale / rows;
    for (int64_t k = o->npen; k < o->n; k++)
        out[k] = o->tot[k] / rows;
    if (o->stdz) /* back to the standardised units of x */
        dz_stdz_grad_back(o->stdz, o->nk, out, out);
    if (o->l2 > 0)
        for (int64_t j = 0; j < o->npen; j++)
            out[j] += o->l2 / m * x[j];
}

int dz_obj_fg(dz_obj *o, const double *p, const dz_batch *batch, double *f, double *g)
{
    const dz_shard *s = o->s;
    dz_acc *acc = &o->wk.grad[0];
    const double *kp = dz_obj_kernel_params(o, p);
    double zb = z_bound(o, s, kp);
    /* the bound of the last quantity, Σ loss, from the current p */
    dz_acc_set_bound(acc, o->n, loss_bound(o, (double)s->m, zb));
    dz_pass ps = {.mode = DZ_PASS_GRAD, .w = kp, .b = kp[o->npen], .bv = kp + o->npen, .scale = o->scale,
                  .blocks = batch ? batch->blocks : NULL, .nblocks = batch ? batch->nblocks : 0,
                  .dsave = batch ? NULL : o->curv_trial};
    dz_kernel_run(s, &o->wk, &ps);
    reduce(o, acc, o->tot);
    const double rows = batch ? (double)batch->rows : (double)s->m, m = (double)s->m;
    o->passes += rows / m;
    double loss = o->tot[o->n] / rows;
    if (!isfinite(zb) || acc->flags[DZ_FLAG_NONFINITE] || !isfinite(loss)) {
        *f = INFINITY;
        return -1;
    }
    scale_sums(o, rows, p, g);
    *f = (o->l2 > 0 || o->l1 > 0) ? loss + dz_obj_penalty(o, p) : loss;
    return 0;
}

void dz_obj_evaluate(dz_obj *o, const dz_shard *s, const double *p, double *loss, double *acc,
                     int64_t *conf)
{
    dz_acc *a = &o->wk.eval[0];
    double *out = o->evtot;
    const double *kp = dz_obj_kernel_params(o, p);
    dz_acc_set_bound(a, 0, loss_bound(o, (double)s->m, z_bound(o, s, kp)));
    for (int64_t k = 1; k < o->wk.neval; k++) /* counts */
        dz_acc_set_bound(a, k, 2.0 * (double)s->m);
    dz_pass ps = {.mode = DZ_PASS_EVAL, .w = kp, .b = kp[o->npen], .bv = kp + o->npen, .scale = o->scale};
    dz_kernel_run(s, &o->wk, &ps);
    dz_watchdog_enter(o->wd);
    dz_acc_allreduce(o->comm, a, out);
    dz_watchdog_leave(o->wd);
    *loss = out[0] / (double)s->m;
    *acc = 100.0 * out[1] / (double)s->m;
    if (conf)
        for (int64_t k = 2; k < o->wk.neval; k++)
            conf[k - 2] = (int64_t)out[k];
}

void dz_obj_accept_curvature(dz_obj *o)
{
    double *t = o->curv;
    o->curv = o->curv_trial;
    o->curv_trial = t;
}

void dz_obj_hv(dz_obj *o, const double *v, double *hv)
{
    const dz_shard *s = o->s;
    const int64_t d = o->d;
    const double m = (double)s->m;
    dz_acc *acc = &o->wk.hv[0];
    /* binary |D·u| <= |u|/4 <= ub/4; softmax |a_k (u_k − Σ a_l u_l)| <= 2 ub; ub from v like
     * z from p; 2x margin */
    const double *kv = dz_obj_kernel_params(o, v); /* J v: the map is linear */
    double ub = z_bound(o, s, kv);
    if (!isfinite(ub))
        ub = 0; /* cannot happen for finite v; the non-finite flag would catch the result */
    const double coef = o->K ? 4.0 * m * ub : 0.5 * m * ub;
    for (int64_t k = 0; k < o->nk; k++) {
        for (int64_t j = 0; j < d; j++)
            dz_acc_set_bound(acc, k * d + j, coef * s->maxabs[j]);
        dz_acc_set_bound(acc, o->npen + k, coef);
    }
    dz_acc_set_bound(acc, o->n, 0.0);
    dz_pass ps = {.mode = DZ_PASS_HV, .w = kv, .b = kv[o->npen], .bv = kv + o->npen,
                  .scale = o->scale, .dcoef = o->curv};
    dz_kernel_run(s, &o->wk, &ps);
    reduce(o, acc, o->tot);
    o->passes += 1.0;
    scale_sums(o, m, v, hv);
}
