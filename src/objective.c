/* objective.c — J, ∇J and H·v through the kernel and the exact reduction (dz/objective.h).
 *
 * Units: the kernel sums raw features (not divided by scale), so a gradient entry is
 * tot_j / scale / rows and the bias entry tot_d / rows.  The order of the few scalar
 * operations below is fixed, so every rank computes the same bits from the same sums, and
 * with l2 = l1 = 0 the values are exactly those of plain gradient descent on the loss.
 */
#include "dz/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dz/err.h"

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

/* |b + w·x/scale| <= |b| + Σ|w_j| max|x_j| / scale, summed in a fixed order: identical on
 * all ranks.  Also bounds |u| for a direction v = (w, b). */
static double z_bound(const dz_shard *s, const double *p, double scale)
{
    double acc = 0;
    for (int64_t j = 0; j < s->d; j++)
        acc += fabs(p[j]) * s->maxabs[j];
    return fabs(p[s->d]) + acc / scale;
}

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
    o->n = s->d + 1;
    o->tot = malloc((size_t)(o->d + 2) * sizeof(double));
    int bad = !o->tot || dz_work_init(&o->wk, o->d, nthreads, cfg->reproducible) != 0;
    if (!bad && want_hv) {
        size_t rows = (size_t)(s->rows > 0 ? s->rows : 1);
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
    for (int64_t j = 0; j < o->d; j++)
        dz_acc_set_bound(&o->wk.grad[0], j, 2.0 * m * s->maxabs[j]);
    dz_acc_set_bound(&o->wk.grad[0], o->d, 2.0 * m);
    return 0;
}

void dz_obj_free(dz_obj *o)
{
    if (!o)
        return;
    dz_work_free(&o->wk);
    free(o->tot);
    free(o->curv);
    free(o->curv_trial);
    memset(o, 0, sizeof *o);
}

double dz_obj_penalty(const dz_obj *o, const double *p)
{
    double pen = 0, m = (double)o->s->m;
    if (o->l2 > 0)
        pen += o->l2 / (2.0 * m) * dz_dot(o->d, p, p);
    if (o->l1 > 0) {
        double a = 0;
        for (int64_t j = 0; j < o->d; j++)
            a += fabs(p[j]);
        pen += o->l1 / m * a;
    }
    return pen;
}

void dz_obj_pseudo_grad(const dz_obj *o, const double *p, const double *g, double *pg)
{
    double lam = o->l1 / (double)o->s->m;
    for (int64_t j = 0; j < o->d; j++) {
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
    pg[o->d] = g[o->d];
}

/* The allreduce of one pass's accumulator, carrying this rank's stop request. */
static void reduce(dz_obj *o, dz_acc *a, double *out)
{
    a->flags[DZ_FLAG_STOP] = *o->stop_signal != 0;
    dz_acc_allreduce(o->comm, a, out);
    if (a->flags[DZ_FLAG_STOP] > 0)
        o->stop = 1;
    o->evals++;
}

/* out (n) = the reduced sums in the caller's units: Σ·x_j / scale / rows for the weights,
 * Σ / rows for the bias, plus (l2/m)·x_j (the penalty's term for ∇J, or H's for H·v). */
static void scale_sums(const dz_obj *o, double rows, const double *x, double *out)
{
    const int64_t d = o->d;
    const double m = (double)o->s->m;
    for (int64_t j = 0; j < d; j++)
        out[j] = o->tot[j] / o->scale / rows;
    out[d] = o->tot[d] / rows;
    if (o->l2 > 0)
        for (int64_t j = 0; j < d; j++)
            out[j] += o->l2 / m * x[j];
}

int dz_obj_fg(dz_obj *o, const double *p, const dz_batch *batch, double *f, double *g)
{
    const dz_shard *s = o->s;
    const int64_t d = o->d;
    dz_acc *acc = &o->wk.grad[0];
    double zb = z_bound(s, p, o->scale);
    /* Σloss <= rows·(|z| + log 2): the bound of the last quantity, from the current p */
    dz_acc_set_bound(acc, d + 1, 2.0 * (double)s->m * ((isfinite(zb) ? zb : 0.0) + 1.0));
    dz_pass ps = {.mode = DZ_PASS_GRAD, .w = p, .b = p[d], .scale = o->scale,
                  .blocks = batch ? batch->blocks : NULL, .nblocks = batch ? batch->nblocks : 0,
                  .dsave = batch ? NULL : o->curv_trial};
    dz_kernel_run(s, &o->wk, &ps);
    reduce(o, acc, o->tot);
    const double rows = batch ? (double)batch->rows : (double)s->m, m = (double)s->m;
    o->passes += rows / m;
    double loss = o->tot[d + 1] / rows;
    if (!isfinite(zb) || acc->flags[DZ_FLAG_NONFINITE] || !isfinite(loss)) {
        *f = INFINITY;
        return -1;
    }
    scale_sums(o, rows, p, g);
    *f = (o->l2 > 0 || o->l1 > 0) ? loss + dz_obj_penalty(o, p) : loss;
    return 0;
}

void dz_obj_evaluate(dz_obj *o, const dz_shard *s, const double *p, double *loss, double *acc)
{
    double zb = z_bound(s, p, o->scale), out[2];
    dz_acc_set_bound(&o->wk.eval[0], 0, 2.0 * (double)s->m * ((isfinite(zb) ? zb : 0.0) + 1.0));
    dz_acc_set_bound(&o->wk.eval[0], 1, 2.0 * (double)s->m);
    dz_kernel_pass(s, p, p[s->d], o->scale, &o->wk, 1);
    dz_acc_allreduce(o->comm, &o->wk.eval[0], out);
    *loss = out[0] / (double)s->m;
    *acc = 100.0 * out[1] / (double)s->m;
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
    /* |D·u| <= |u|/4 <= ub/4, ub from v like z from p; 2x margin */
    double ub = z_bound(s, v, o->scale);
    if (!isfinite(ub))
        ub = 0; /* cannot happen for finite v; the non-finite flag would catch the result */
    for (int64_t j = 0; j < d; j++)
        dz_acc_set_bound(acc, j, 0.5 * m * ub * s->maxabs[j]);
    dz_acc_set_bound(acc, d, 0.5 * m * ub);
    dz_acc_set_bound(acc, d + 1, 0.0);
    dz_pass ps = {.mode = DZ_PASS_HV, .w = v, .b = v[d], .scale = o->scale, .dcoef = o->curv};
    dz_kernel_run(s, &o->wk, &ps);
    reduce(o, acc, o->tot);
    o->passes += 1.0;
    scale_sums(o, m, v, hv);
}
