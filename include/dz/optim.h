/* dz/optim.h — the update rule applied by every rank to the same reduced gradient.
 *
 * Parameters are one vector p of n = d + 1 doubles (w then b) and the gradient g likewise,
 * so an optimizer never needs to know the model.  Only full-batch gradient descent exists
 * now ("gd": p -= lr·g); an optimizer with state (Adam, L-BFGS) keeps it in `state`, which
 * the checkpoint saves and restores as an opaque array.  Not collective: every rank calls
 * dz_optim_step with identical inputs and so stays identical.
 * Ownership: dz_optim owns state; dz_optim_free(NULL) is safe.
 */
#ifndef DZ_OPTIM_H
#define DZ_OPTIM_H

#include <stdint.h>

#include "dz/config.h"

typedef struct dz_optim {
    char name[32];
    double lr;
    int64_t nstate;  /* doubles of optimizer state (0 for gd) */
    double *state;
} dz_optim;

/* Returns 0, or -1 when the optimizer is unknown or memory is short. */
int dz_optim_init(dz_optim *o, const dz_config *cfg, int64_t n);
void dz_optim_step(dz_optim *o, int64_t n, double *p, const double *g);
void dz_optim_free(dz_optim *o);

#endif
