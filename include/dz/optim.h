/* dz/optim.h — optimizers: each drives the objective (dz/objective.h) and owns its state.
 *
 * Contract.  An optimizer sees the problem only through dz_obj (J, ∇J, H·v: collective) and
 * keeps everything it needs to continue in `state`, one flat array of doubles that the
 * checkpoint saves and restores, so that a resumed run continues bit for bit (counters are
 * stored as doubles, exact below 2^53).  Every rank runs the same optimizer code on the same
 * reduced sums, so every rank holds the same parameters after every iteration; all vector
 * work outside the kernel passes is plain sequential code over the n parameters (a fixed
 * order, no threads), which keeps the bits independent of N × T.
 *
 * One call of dz_optim_iterate is one iteration t (0-based):
 *   1. J and ‖∇J‖∞ at the current p (the pseudo-gradient under l1) go into info, when the
 *      method has them or want_eval asks (mini-batch methods then make one full pass);
 *   2. if that gradient norm is <= [train] tolerance, status DZ_IT_CONVERGED, p unchanged;
 *   3. otherwise one update: a (mini-)batch step, an L-BFGS step with its line search, or a
 *      trust-region Newton step; status DZ_IT_UPDATED, or DZ_IT_STALLED (p unchanged) when no
 *      step can decrease J any more (at the optimum to machine precision), or DZ_IT_DIVERGED
 *      when the loss or gradient became NaN/Inf.
 *
 * Methods (src/optim_*.c; adding one touches only its file and the table in optim.c):
 *   gd, sgd, momentum, adam  first-order, learning rate η_t = η / (1 + decay·t), optional
 *                            mini-batches (dz/batch.h), l1 by a proximal (soft-threshold) step
 *   lbfgs                    L-BFGS, strong Wolfe line search; OWL-QN when l1 > 0
 *   newton                   trust-region Newton with conjugate gradients (TRON)
 * Ownership: dz_optim owns state and scratch; dz_optim_free(NULL) is safe.
 */
#ifndef DZ_OPTIM_H
#define DZ_OPTIM_H

#include <stdint.h>

#include "dz/batch.h"
#include "dz/config.h"
#include "dz/objective.h"

enum { DZ_IT_UPDATED = 0, DZ_IT_CONVERGED, DZ_IT_STALLED, DZ_IT_DIVERGED };

typedef struct dz_iter_info {
    double f;          /* J at p before this iteration's update; NaN when not evaluated */
    double gmax;       /* ‖∇J‖∞ (pseudo-gradient under l1) at the same p; NaN likewise */
    int status;        /* DZ_IT_* */
    char why[160];     /* STALLED / DIVERGED: what happened */
} dz_iter_info;

typedef struct dz_optim dz_optim;

typedef struct dz_optim_ops {
    const char *name;
    int needs_hv;                                  /* allocate H·v support in the objective */
    int first_order;                               /* a learning-rate method (gd … adam) */
    int64_t (*state_len)(const dz_config *cfg, int64_t n);
    int (*init)(dz_optim *o);                      /* scratch; 0 or -1 (no memory) */
    void (*iterate)(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                    dz_iter_info *info);
} dz_optim_ops;

struct dz_optim {
    const dz_optim_ops *ops;
    const dz_config *cfg;   /* borrowed */
    int64_t n;
    int64_t nstate;
    double *state;          /* saved in checkpoints */
    double *scratch;        /* work vectors, not saved */
    int64_t nscratch;
    dz_sched sched;         /* first-order methods */
};

/* Look up cfg->optimizer and allocate its state (zeroed) and scratch for n parameters of
 * shard s.  Returns 0, or -1 (unknown optimizer, or no memory).  Not collective. */
int dz_optim_init(dz_optim *o, const dz_config *cfg, const dz_shard *s, int64_t n);
const dz_optim_ops *dz_optim_find(const char *name);
void dz_optim_iterate(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                      dz_iter_info *info);
void dz_optim_free(dz_optim *o);

/* The methods (their files). */
extern const dz_optim_ops dz_optim_gd, dz_optim_sgd, dz_optim_momentum, dz_optim_adam;
extern const dz_optim_ops dz_optim_lbfgs, dz_optim_newton;

/* Shared by the methods: the info of an evaluated point, convergence included.  g is the
 * smooth gradient; pg (n) receives the pseudo-gradient.  Returns 1 when converged. */
int dz_optim_report(const dz_optim *o, const dz_obj *obj, const double *p, double f,
                    const double *g, double *pg, dz_iter_info *info);
void dz_optim_diverged(dz_iter_info *info, const char *what);

/* OWL-QN's orthant rules over the first npen parameters, the weights (the biases after them
 * are left alone).  Not collective.
 * constrain: zero dir_j where it does not oppose the pseudo-gradient (dir_j·pg_j >= 0).
 * project: zero x_j where it left the orthant of p (sign of p_j, or of −pg_j at p_j = 0;
 * with both 0, x_j = 0), so that no step crosses zero. */
void dz_owlqn_constrain(int64_t npen, const double *pg, double *dir);
void dz_owlqn_project(int64_t npen, const double *p, const double *pg, double *x);

#endif
