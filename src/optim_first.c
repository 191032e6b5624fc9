/* optim_first.c — first-order methods: gd, sgd, momentum, adam (see dz/optim.h).
 *
 * Update t with learning rate η_t = learning_rate / (1 + decay·t), on the gradient g of the
 * smooth part over the batch of update t (dz/batch.h; the full data set for gd or
 * batch_size = 0):
 *   gd, sgd    p −= η_t g
 *   momentum   v = μv + g;  p −= η_t v   (nesterov: p −= η_t (g + μv))
 *   adam       m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;  p −= η_t m̂ / (√v̂ + ε),
 *              m̂ = m / (1 − β1^(t+1)), v̂ = v / (1 − β2^(t+1)), the powers kept as running
 *              products (no libm pow: the same bits on every machine)
 * With l1 > 0 each update ends with the proximal step of the l1 term (soft-thresholding of
 * w_j by the step's own size times l1/m; b untouched): proximal gradient descent (ISTA).
 * State: v (momentum); m, v, β1^(t+1) and β2^(t+1) (adam); the schedule's state is the
 * iteration itself.
 * A mini-batch run makes one extra full pass where J must be reported (logged iterations).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dz/optim.h"

static double soft(double x, double thr)
{
    return x > thr ? x - thr : x < -thr ? x + thr : 0.0;
}

static int64_t len_none(const dz_config *c, int64_t n) { (void)c; (void)n; return 0; }
static int64_t len_one(const dz_config *c, int64_t n) { (void)c; return n; }
static int64_t len_adam(const dz_config *c, int64_t n) { (void)c; return 2 * n + 2; }

static int init_scratch(dz_optim *o)
{
    o->nscratch = 2 * o->n; /* g, pseudo-gradient */
    o->scratch = malloc((size_t)o->nscratch * sizeof(double));
    return o->scratch ? 0 : -1;
}

typedef void (*rule_fn)(dz_optim *o, const dz_obj *obj, double *p, const double *g, double lr,
                        int64_t t);

static void rule_sgd(dz_optim *o, const dz_obj *obj, double *p, const double *g, double lr,
                     int64_t t)
{
    (void)t;
    for (int64_t k = 0; k < o->n; k++)
        p[k] -= lr * g[k];
    if (obj->l1 > 0)
        for (int64_t j = 0; j < obj->npen; j++)
            p[j] = soft(p[j], lr * obj->l1 / (double)obj->s->m);
}

static void rule_momentum(dz_optim *o, const dz_obj *obj, double *p, const double *g, double lr,
                          int64_t t)
{
    (void)t;
    const double mu = o->cfg->momentum;
    double *v = o->state;
    for (int64_t k = 0; k < o->n; k++) {
        v[k] = mu * v[k] + g[k];
        p[k] -= lr * (o->cfg->nesterov ? g[k] + mu * v[k] : v[k]);
    }
    if (obj->l1 > 0)
        for (int64_t j = 0; j < obj->npen; j++)
            p[j] = soft(p[j], lr * obj->l1 / (double)obj->s->m);
}

static void rule_adam(dz_optim *o, const dz_obj *obj, double *p, const double *g, double lr,
                      int64_t t)
{
    const dz_config *c = o->cfg;
    double *m1 = o->state, *m2 = o->state + o->n, *pw = o->state + 2 * o->n;
    /* β^(t+1) as running products in the state (libm's pow may differ between machines) */
    pw[0] = t == 0 ? c->beta1 : pw[0] * c->beta1;
    pw[1] = t == 0 ? c->beta2 : pw[1] * c->beta2;
    const double c1 = 1.0 - pw[0], c2 = 1.0 - pw[1];
    const double lam = obj->l1 / (double)obj->s->m;
    for (int64_t k = 0; k < o->n; k++) {
        m1[k] = c->beta1 * m1[k] + (1.0 - c->beta1) * g[k];
        m2[k] = c->beta2 * m2[k] + (1.0 - c->beta2) * g[k] * g[k];
        double step = lr / (sqrt(m2[k] / c2) + c->epsilon); /* per-coordinate step size */
        p[k] -= step * (m1[k] / c1);
        if (lam > 0 && k < obj->npen) /* the prox of l1 in adam's diagonal metric */
            p[k] = soft(p[k], step * lam);
    }
}

static void first_order(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                        dz_iter_info *info, rule_fn rule)
{
    const dz_config *c = o->cfg;
    double *g = o->scratch, *pg = o->scratch + o->n, f;
    const dz_batch *b = dz_sched_batch(&o->sched, t);
    if (b && want_eval) { /* report J over all rows at p, then step on the batch */
        if (dz_obj_fg(obj, p, NULL, &f, g) != 0) {
            dz_optim_diverged(info, "the loss or gradient is NaN/Inf");
            return;
        }
        if (dz_optim_report(o, obj, p, f, g, pg, info))
            return;
    }
    if (dz_obj_fg(obj, p, b, &f, g) != 0) {
        dz_optim_diverged(info, "the loss or gradient is NaN/Inf");
        return;
    }
    if (!b) {
        info->f = f;
        if ((want_eval || c->tolerance > 0) && dz_optim_report(o, obj, p, f, g, pg, info))
            return;
    }
    rule(o, obj, p, g, c->learning_rate / (1.0 + c->decay * (double)t), t);
}

#define FIRST_ORDER(NAME, RULE)                                                              \
    static void iterate_##NAME(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval, \
                               dz_iter_info *info)                                           \
    {                                                                                        \
        first_order(o, obj, p, t, want_eval, info, RULE);                                    \
    }
FIRST_ORDER(sgd, rule_sgd)
FIRST_ORDER(momentum, rule_momentum)
FIRST_ORDER(adam, rule_adam)

const dz_optim_ops dz_optim_gd = {"gd", 0, 1, len_none, init_scratch, iterate_sgd};
const dz_optim_ops dz_optim_sgd = {"sgd", 0, 1, len_none, init_scratch, iterate_sgd};
const dz_optim_ops dz_optim_momentum = {"momentum", 0, 1, len_one, init_scratch, iterate_momentum};
const dz_optim_ops dz_optim_adam = {"adam", 0, 1, len_adam, init_scratch, iterate_adam};
