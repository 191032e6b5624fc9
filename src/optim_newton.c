/* optim_newton.c — trust-region Newton with conjugate gradients (TRON; Lin, Weng & Keerthi,
 * "Trust region Newton method for large-scale logistic regression", JMLR 2008), as in
 * liblinear's tron.cpp (see dz/optim.h).
 *
 * Iteration: solve H s = −g approximately by conjugate gradients inside the trust region
 * ‖s‖ <= Δ (stop when ‖r‖ <= 0.1‖g‖, or at the boundary, or on non-positive curvature);
 * each CG step costs one H·v pass (dz_obj_hv, at the curvature of the current point).  Then
 * evaluate J and ∇J at p + s in one pass (which also saves the curvature there), compare the
 * actual reduction with the model's prediction and update Δ with the paper's rules
 * (η0 = 1e-4, η1 = 0.25, η2 = 0.75; σ1 = 0.25, σ2 = 0.5, σ3 = 4).  A step is accepted when
 * actred > η0·prered; otherwise Δ shrinks and CG runs again from the same point, within the
 * same iteration (an iteration ends with an accepted step).  When both reductions are below
 * 1e-12·|J| and the step is still refused, J cannot be decreased in floating point:
 * status STALLED.  Δ starts at ‖g₀‖₂ and, until the first accepted step, is capped by ‖s‖.
 *
 * State (saved): Δ and the count of accepted steps.  J, ∇J and the curvature at p are not
 * saved (the curvature is per local row, so it depends on N): a resumed run recomputes them
 * in one pass, which gives the same bits; `passes` then counts that pass too.
 * l1 is refused by the configuration (J must be twice differentiable).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/optim.h"

enum { ST_DELTA = 0, ST_STEPS, ST_LEN };
enum { SC_HAVE = 0, SC_F, SC_HDR }; /* scratch header: J and ∇J at p are valid, J */
#define ETA0 1e-4
#define ETA1 0.25
#define ETA2 0.75
#define SIGMA1 0.25
#define SIGMA2 0.5
#define SIGMA3 4.0
#define MAX_TRIES 50

typedef struct tr {
    int64_t n;
    double *g, *s, *r, *d, *hd, *x, *gx;
} tr;

static tr view(dz_optim *o)
{
    tr v;
    v.n = o->n;
    v.g = o->scratch + SC_HDR;
    v.s = v.g + v.n;
    v.r = v.s + v.n;
    v.d = v.r + v.n;
    v.hd = v.d + v.n;
    v.x = v.hd + v.n;
    v.gx = v.x + v.n;
    return v;
}

static int64_t state_len(const dz_config *c, int64_t n)
{
    (void)c;
    (void)n;
    return ST_LEN;
}

static int init(dz_optim *o)
{
    o->nscratch = SC_HDR + 7 * o->n;
    o->scratch = calloc((size_t)o->nscratch, sizeof(double));
    return o->scratch ? 0 : -1;
}

/* τ >= 0 with ‖s + τ d‖ = Δ (s inside the region). */
static double to_boundary(const tr *v, double delta)
{
    double sd = dz_dot(v->n, v->s, v->d), ss = dz_dot(v->n, v->s, v->s);
    double dd = dz_dot(v->n, v->d, v->d), dsq = delta * delta;
    double rad = sqrt(sd * sd + dd * (dsq - ss));
    return sd >= 0 ? (dsq - ss) / (sd + rad) : (rad - sd) / dd;
}

/* Truncated CG for H s = −g within ‖s‖ <= Δ; leaves r = −g − H s.  Returns the H·v count. */
static int64_t trcg(dz_obj *obj, tr *v, double delta)
{
    const int64_t n = v->n;
    for (int64_t c = 0; c < n; c++) {
        v->s[c] = 0;
        v->r[c] = -v->g[c];
        v->d[c] = v->r[c];
    }
    double rtr = dz_dot(n, v->r, v->r), cgtol = 0.1 * sqrt(rtr);
    int64_t it = 0;
    while (sqrt(rtr) > cgtol && it <= n) {
        it++;
        dz_obj_hv(obj, v->d, v->hd);
        double dhd = dz_dot(n, v->d, v->hd);
        if (!(dhd > 0)) { /* no positive curvature along d: go to the boundary */
            double tau = to_boundary(v, delta);
            for (int64_t c = 0; c < n; c++) {
                v->s[c] += tau * v->d[c];
                v->r[c] -= tau * v->hd[c];
            }
            break;
        }
        double alpha = rtr / dhd;
        for (int64_t c = 0; c < n; c++)
            v->s[c] += alpha * v->d[c];
        if (sqrt(dz_dot(n, v->s, v->s)) > delta) { /* back up, then stop at the boundary */
            for (int64_t c = 0; c < n; c++)
                v->s[c] -= alpha * v->d[c];
            double tau = to_boundary(v, delta);
            for (int64_t c = 0; c < n; c++) {
                v->s[c] += tau * v->d[c];
                v->r[c] -= tau * v->hd[c];
            }
            break;
        }
        for (int64_t c = 0; c < n; c++)
            v->r[c] -= alpha * v->hd[c];
        double rnew = dz_dot(n, v->r, v->r), beta = rnew / rtr;
        for (int64_t c = 0; c < n; c++)
            v->d[c] = v->r[c] + beta * v->d[c];
        rtr = rnew;
    }
    return it;
}

/* The paper's trust-region radius update. */
static double new_radius(double delta, double snorm, double f, double fnew, double gs,
                         double actred, double prered)
{
    double alpha = fnew - f - gs <= 0 ? SIGMA3 : fmax(SIGMA1, -0.5 * (gs / (fnew - f - gs)));
    if (actred < ETA0 * prered)
        return fmin(fmax(alpha, SIGMA1) * snorm, SIGMA2 * delta);
    if (actred < ETA1 * prered)
        return fmax(SIGMA1 * delta, fmin(alpha * snorm, SIGMA2 * delta));
    if (actred < ETA2 * prered)
        return fmax(SIGMA1 * delta, fmin(alpha * snorm, SIGMA3 * delta));
    return fmax(delta, fmin(alpha * snorm, SIGMA3 * delta));
}

static void iterate(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                    dz_iter_info *info)
{
    (void)t;
    (void)want_eval;
    tr v = view(o);
    const int64_t n = v.n;
    double *st = o->state, *sc = o->scratch;
    if (sc[SC_HAVE] == 0) {
        if (dz_obj_fg(obj, p, NULL, &sc[SC_F], v.g) != 0) {
            dz_optim_diverged(info, "the loss or gradient is NaN/Inf");
            return;
        }
        dz_obj_accept_curvature(obj);
        sc[SC_HAVE] = 1;
    }
    double f = sc[SC_F];
    if (dz_optim_report(o, obj, p, f, v.g, v.x, info))
        return;
    if (info->gmax == 0) {
        info->status = DZ_IT_CONVERGED;
        return;
    }
    if (st[ST_STEPS] == 0 && st[ST_DELTA] == 0)
        st[ST_DELTA] = sqrt(dz_dot(n, v.g, v.g));
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        double delta = st[ST_DELTA];
        trcg(obj, &v, delta);
        for (int64_t c = 0; c < n; c++)
            v.x[c] = p[c] + v.s[c];
        double gs = dz_dot(n, v.g, v.s);
        double prered = -0.5 * (gs - dz_dot(n, v.s, v.r));
        double fnew;
        if (dz_obj_fg(obj, v.x, NULL, &fnew, v.gx) != 0)
            fnew = INFINITY; /* too long a step: the radius shrinks */
        double actred = f - fnew, snorm = sqrt(dz_dot(n, v.s, v.s));
        if (st[ST_STEPS] == 0)
            delta = fmin(delta, snorm);
        st[ST_DELTA] = new_radius(delta, snorm, f, fnew, gs, actred, prered);
        if (actred > ETA0 * prered) {
            memcpy(p, v.x, (size_t)n * sizeof(double));
            memcpy(v.g, v.gx, (size_t)n * sizeof(double));
            sc[SC_F] = fnew;
            dz_obj_accept_curvature(obj);
            st[ST_STEPS] += 1;
            return;
        }
        if ((fabs(actred) <= 0 && prered <= 0) ||
            (fabs(actred) <= 1e-12 * fabs(f) && fabs(prered) <= 1e-12 * fabs(f)))
            break;
    }
    info->status = DZ_IT_STALLED;
    snprintf(info->why, sizeof info->why,
             "the trust region cannot decrease J any further in floating point (the optimum to "
             "machine precision)");
}

const dz_optim_ops dz_optim_newton = {"newton", 1, 0, state_len, init, iterate};
