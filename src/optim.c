/* optim.c — update rules (see dz/optim.h). */
#include "dz/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dz_optim_init(dz_optim *o, const dz_config *cfg, int64_t n)
{
    (void)n;
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", cfg->optimizer);
    o->lr = cfg->learning_rate;
    if (strcmp(cfg->optimizer, "gd") != 0)
        return -1;
    return 0;
}

void dz_optim_step(dz_optim *o, int64_t n, double *p, const double *g)
{
    for (int64_t k = 0; k < n; k++)
        p[k] -= o->lr * g[k];
}

void dz_optim_free(dz_optim *o)
{
    if (!o)
        return;
    free(o->state);
    o->state = NULL;
    o->nstate = 0;
}
