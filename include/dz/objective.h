/* dz/objective.h — the regularised logistic or multinomial objective: the only view of the
 * problem that an optimizer has (as liblinear's fun / grad / Hv).
 *
 *   binary:  J(w, b) = (1/m) Σ_i L(a_i, y_i) + l2/(2m)‖w‖² + l1/m ‖w‖₁,  a_i = σ(w·x_i/scale + b)
 *   softmax: J(W, b) = (1/m) Σ_i −log A_i[y_i] + l2/(2m)‖W‖²_F + l1/m ‖W‖₁,
 *            A_i = softmax(W x_i/scale + b), K classes (the shard's `classes`)
 *
 * m is the global row count and b is never penalised, so l2 = l1 = 0 is the course's loss
 * and scikit-learn's C is 1/l2 (or 1/l1).  Parameters p are n = nk·(d + 1) doubles,
 * identical on every rank: the nk·d weights (W row-major, class by class; nk = 1 for the
 * binary model, K for softmax), then the nk biases.  Only the first npen = nk·d are
 * penalised.
 *
 * Evaluations (Collective: one fused kernel pass over the rank's rows, then one exact
 * allreduce, dz/reduce.h):
 *   dz_obj_fg   J(p) and g = ∇ of the smooth part (mean loss + l2 term).  Over all rows, or
 *               over a mini-batch (the mean loss and its gradient over the batch's rows; the
 *               penalty as above, so g is an unbiased estimate).  J includes the l1 term, g
 *               does not: the optimizers that accept l1 handle it (proximal steps, OWL-QN,
 *               dz_obj_pseudo_grad).  Can keep the rows' curvature D = a(1−a) for H·v.
 *   dz_obj_hv   H·v = Xᵀ(D ⊙ X̃v)/m + (l2/m)·v_w at the point whose curvature was accepted
 *               (dz_obj_accept_curvature): one more kernel pass, same exact reduction.
 * Bounds of the exact sums hold for every pass: |a − y| <= 1 (gradient, fixed per run; per
 * class for softmax), loss_i <= |z_i| + log 2 (softmax: 2 max|z_ik| + log K) with |z_ik| <=
 * |b_k| + Σ|w_kj| max|x_j|/scale (per evaluation), and |D_i u_i| <= |u_i|/4 (softmax:
 * |a_k(u_k − aᵀu)| <= 2 max|u|) with the same bound on |u| for v (per H·v).
 *
 * Accounting: `passes` grows by rows visited / m per pass (a mini-batch counts as its
 * share; an H·v pass as 1), `evals` by one per allreduce.  `stop` becomes 1 when any rank's
 * signal flag was set at an evaluation (it travels in the same allreduce; the caller clears
 * it).  A non-finite sum makes dz_obj_fg return -1 with J = +inf on every rank alike.
 *
 * Standardisation (dz_obj_set_standardize): p is in standardised units, the penalty applies to
 * it, and every pass runs with the equivalent parameters in the data's units; gradients and
 * H·v come back by the chain rule (dz/standardize.h), O(n) per evaluation.
 *
 * Ownership: dz_obj owns its work space and buffers, borrows the shard; dz_obj_free(NULL)
 * is safe.
 */
#ifndef DZ_OBJECTIVE_H
#define DZ_OBJECTIVE_H

#include <signal.h>
#include <stdint.h>
#include <mpi.h>

#include "dz/config.h"
#include "dz/kernel.h"
#include "dz/shard.h"

/* A mini-batch: this rank's blocks in it (local block numbers) and its global row count. */
typedef struct dz_batch {
    const int64_t *blocks;
    int64_t nblocks;
    int64_t rows;   /* rows in the batch over all ranks (> 0) */
} dz_batch;

typedef struct dz_obj {
    MPI_Comm comm;
    const dz_shard *s;               /* borrowed */
    const volatile sig_atomic_t *stop_signal; /* borrowed: this rank's signal flag */
    double scale, l2, l1;
    int64_t d;                       /* features */
    int64_t K;                       /* 0: binary logistic; >= 2: softmax classes */
    int64_t nk, npen, n;             /* logit rows (1 or K), penalised weights nk·d, all nk·(d+1) */
    dz_work wk;
    double *tot;                     /* n + 1 reduced sums */
    double *evtot;                   /* wk.neval reduced evaluation sums */
    double *curv, *curv_trial;       /* D (softmax: A, K values) per local row: accepted / last
                                        full evaluation (NULL unless init asked for H·v) */
    double passes;                   /* kernel passes over the data, see above */
    int64_t evals;                   /* allreduces made */
    int stop;                        /* a rank asked to stop */
    struct dz_watchdog *wd;          /* borrowed, NULL = none: guards every allreduce */
    const struct dz_stdz *stdz;      /* borrowed, NULL = none: p is in standardised units and
                                        the kernels see dz_stdz_to_kernel(p) (dz/standardize.h) */
    double *qbuf;                    /* n, with stdz: the kernel's parameters */
} dz_obj;

/* Parameters of a model with d features: d + 1 (binary, K = 0) or K·(d + 1) (softmax). */
int64_t dz_obj_nparams(int64_t d, int64_t K);

/* Not collective: train in standardised units (z borrowed, must outlive o).  0, or -1 when
 * memory is short (the caller agrees on the result). */
int dz_obj_set_standardize(dz_obj *o, const struct dz_stdz *z);

/* Not collective: the parameters the kernels use for p (p itself without standardisation;
 * else dz_stdz_to_kernel(p) in a buffer of o, valid until the next call on o). */
const double *dz_obj_kernel_params(dz_obj *o, const double *p);

/* Not collective (allocation only; the caller agrees on the result). want_hv allocates the
 * curvature buffers and H·v accumulators.  Returns 0, or -1 when memory is short. */
int dz_obj_init(dz_obj *o, MPI_Comm comm, const dz_shard *s, const dz_config *cfg,
                int nthreads, int want_hv, const volatile sig_atomic_t *stop_signal);
void dz_obj_free(dz_obj *o);

/* Collective.  *f = J(p); g (n) = gradient of the smooth part.  batch NULL = all rows.  With
 * H·v enabled a full evaluation also saves the curvature at p (see accept).  Returns 0, or
 * -1 when a sum was not finite (then *f = +inf, g undefined), identically on every rank. */
int dz_obj_fg(dz_obj *o, const double *p, const dz_batch *batch, double *f, double *g);

/* Collective.  Mean loss (no penalty) and accuracy in percent (prediction a > 0.5; softmax:
 * argmax, ties to the lowest class) of p on data set s (the training shard or a test shard of
 * the same d and classes).  conf (K × K, rows true class, columns predicted) is filled when
 * not NULL, for softmax with K <= DZ_CONF_MAX_K. */
void dz_obj_evaluate(dz_obj *o, const dz_shard *s, const double *p, double *loss, double *acc,
                     int64_t *conf);

/* Not collective: the curvature saved by the last full dz_obj_fg becomes the one H·v uses. */
void dz_obj_accept_curvature(dz_obj *o);

/* Collective.  hv (n) = H·v at the accepted point. */
void dz_obj_hv(dz_obj *o, const double *v, double *hv);

/* Not collective.  l2/(2m)‖w‖² + l1/m‖w‖₁ (0 when both are 0), summed in index order. */
double dz_obj_penalty(const dz_obj *o, const double *p);

/* Not collective.  The minimum-norm subgradient of J (OWL-QN's pseudo-gradient) from the
 * smooth gradient g: for w_j ≠ 0, g_j + λ sign(w_j); at w_j = 0, g_j ± λ shrunk to 0 when
 * |g_j| <= λ (λ = l1/m), j < npen; the biases unpenalised.  Equals g when l1 = 0.  pg may alias g. */
void dz_obj_pseudo_grad(const dz_obj *o, const double *p, const double *g, double *pg);

/* Sequential helpers over n doubles (the same order on every rank). */
double dz_dot(int64_t n, const double *a, const double *b);
double dz_norm_inf(int64_t n, const double *a);

#endif
