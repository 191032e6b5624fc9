/* optim.c — the optimizer table and what the methods share (see dz/optim.h). */
#include "dz/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dz_optim_ops *const table[] = {&dz_optim_gd,   &dz_optim_sgd,   &dz_optim_momentum,
                                            &dz_optim_adam, &dz_optim_lbfgs, &dz_optim_newton};

const dz_optim_ops *dz_optim_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i]->name, name))
            return table[i];
    return NULL;
}

int dz_optim_init(dz_optim *o, const dz_config *cfg, const dz_shard *s, int64_t n)
{
    memset(o, 0, sizeof *o);
    o->ops = dz_optim_find(cfg->optimizer);
    o->cfg = cfg;
    o->n = n;
    if (!o->ops)
        return -1;
    o->nstate = o->ops->state_len(cfg, n);
    o->state = calloc((size_t)(o->nstate > 0 ? o->nstate : 1), sizeof(double));
    if (!o->state || dz_sched_init(&o->sched, s, cfg->batch_size, (uint64_t)cfg->seed) != 0 ||
        (o->ops->init && o->ops->init(o) != 0)) {
        dz_optim_free(o);
        return -1;
    }
    return 0;
}

void dz_optim_iterate(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                      dz_iter_info *info)
{
    info->f = NAN;
    info->gmax = NAN;
    info->status = DZ_IT_UPDATED;
    info->why[0] = '\0';
    o->ops->iterate(o, obj, p, t, want_eval, info);
}

void dz_optim_free(dz_optim *o)
{
    if (!o)
        return;
    free(o->state);
    free(o->scratch);
    dz_sched_free(&o->sched);
    memset(o, 0, sizeof *o);
}

int dz_optim_report(const dz_optim *o, const dz_obj *obj, const double *p, double f,
                    const double *g, double *pg, dz_iter_info *info)
{
    dz_obj_pseudo_grad(obj, p, g, pg);
    info->f = f;
    info->gmax = dz_norm_inf(o->n, pg);
    if (o->cfg->tolerance > 0 && info->gmax <= o->cfg->tolerance) {
        info->status = DZ_IT_CONVERGED;
        return 1;
    }
    return 0;
}

void dz_optim_diverged(dz_iter_info *info, const char *what)
{
    info->status = DZ_IT_DIVERGED;
    snprintf(info->why, sizeof info->why, "%s", what);
}
