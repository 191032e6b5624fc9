/* optim_lbfgs.c — L-BFGS with a strong Wolfe line search; OWL-QN when l1 > 0 (dz/optim.h).
 *
 * Direction: the two-loop recursion over the last M = [train] memory pairs
 * s = p_{k+1} − p_k, y = g_{k+1} − g_k (smooth gradients), with H0 = (sᵀy / yᵀy)·I from the
 * newest pair (Nocedal & Wright, Numerical Optimization, alg. 7.4).  A pair is kept only
 * when sᵀy > 1e-16·yᵀy, so H stays positive definite.  The first step is scaled to
 * length min(1, 1/‖g‖₂); later ones start at α = 1.
 *
 * Line search, l1 = 0: bracketing and zoom with safeguarded cubic interpolation until the
 * strong Wolfe conditions hold, f(α) <= f + c1·α·gᵀd and |g(α)ᵀd| <= c2·|gᵀd| with
 * c1 = 1e-4, c2 = 0.9 (N&W alg. 3.5 and 3.6); at most 25 evaluations.  If the curvature
 * condition cannot be met but a point with sufficient decrease was found, that point is
 * taken (the pair is then kept only if sᵀy > 0).
 *
 * OWL-QN, l1 > 0 (Andrew & Gao, ICML 2007): the pseudo-gradient ◇J replaces g in the
 * two-loop; the direction is zeroed where its sign does not oppose ◇J; every trial point is
 * projected onto the orthant of the current point (sign of w_j, or of −◇J_j where w_j = 0),
 * so no step crosses zero; backtracking by halves until
 * J(x) <= J(p) + c1·◇Jᵀ(x − p).  b is unpenalised and never projected.
 *
 * When the line search fails with curvature pairs in memory they are dropped and the
 * search retried along −◇J once; when it fails along −◇J too, no step can decrease J in
 * floating point: status STALLED (the optimum to machine precision).
 *
 * Every trial point costs one full pass (J and ∇J together).  State (saved): flags, J and
 * g at p, the pairs and ρ = 1/sᵀy.  Scratch: direction, pseudo-gradient, trial point and two
 * trial gradients.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/optim.h"

enum { ST_HAVE = 0, ST_F, ST_NPAIRS, ST_HEAD, ST_HDR };
#define C1 1e-4
#define C2 0.9
#define MAX_EVALS 25

typedef struct lb {
    int64_t n, M;
    double *st, *g, *S, *Y, *rho;            /* views into state */
    double *dir, *pg, *x, *gt, *glo, *alpha; /* views into scratch */
} lb;

static lb view(dz_optim *o)
{
    lb v;
    v.n = o->n;
    v.M = o->cfg->memory;
    v.st = o->state;
    v.g = o->state + ST_HDR;
    v.S = v.g + v.n;
    v.Y = v.S + v.M * v.n;
    v.rho = v.Y + v.M * v.n;
    v.dir = o->scratch;
    v.pg = v.dir + v.n;
    v.x = v.pg + v.n;
    v.gt = v.x + v.n;
    v.glo = v.gt + v.n;
    v.alpha = v.glo + v.n;
    return v;
}

static int64_t state_len(const dz_config *c, int64_t n)
{
    return ST_HDR + n + 2 * c->memory * n + c->memory;
}

static int init(dz_optim *o)
{
    o->nscratch = 5 * o->n + o->cfg->memory;
    o->scratch = malloc((size_t)o->nscratch * sizeof(double));
    return o->scratch ? 0 : -1;
}

/* dir = −H·q by the two-loop recursion (q = the (pseudo-)gradient). */
static void two_loop(const lb *v, const double *q)
{
    const int64_t n = v->n, M = v->M, k = (int64_t)v->st[ST_NPAIRS], head = (int64_t)v->st[ST_HEAD];
    double *r = v->dir;
    memcpy(r, q, (size_t)n * sizeof(double));
    for (int64_t i = 0; i < k; i++) { /* newest to oldest */
        int64_t j = (head - 1 - i + M) % M;
        v->alpha[j] = v->rho[j] * dz_dot(n, v->S + j * n, r);
        const double *y = v->Y + j * n;
        for (int64_t c = 0; c < n; c++)
            r[c] -= v->alpha[j] * y[c];
    }
    if (k > 0) {
        int64_t j = (head - 1 + M) % M;
        const double *y = v->Y + j * n;
        double gamma = 1.0 / (v->rho[j] * dz_dot(n, y, y)); /* sᵀy / yᵀy */
        for (int64_t c = 0; c < n; c++)
            r[c] *= gamma;
    }
    for (int64_t i = k - 1; i >= 0; i--) { /* oldest to newest */
        int64_t j = (head - 1 - i + M) % M;
        double beta = v->rho[j] * dz_dot(n, v->Y + j * n, r);
        const double *s = v->S + j * n;
        for (int64_t c = 0; c < n; c++)
            r[c] += (v->alpha[j] - beta) * s[c];
    }
    for (int64_t c = 0; c < n; c++)
        r[c] = -r[c];
}

/* Store the pair (xnew − p, gnew − g) when sᵀy is safely positive (computed first, so a
 * refused pair never overwrites the oldest one). */
static void push_pair(lb *v, const double *p, const double *xnew, const double *gnew)
{
    const int64_t n = v->n, M = v->M, head = (int64_t)v->st[ST_HEAD];
    double sy = 0, yy = 0;
    for (int64_t c = 0; c < n; c++) {
        double sc = xnew[c] - p[c], yc = gnew[c] - v->g[c];
        sy += sc * yc;
        yy += yc * yc;
    }
    if (!(sy > 1e-16 * yy) || !isfinite(sy))
        return;
    double *s = v->S + head * n, *y = v->Y + head * n;
    for (int64_t c = 0; c < n; c++) {
        s[c] = xnew[c] - p[c];
        y[c] = gnew[c] - v->g[c];
    }
    v->rho[head] = 1.0 / sy;
    v->st[ST_HEAD] = (double)((head + 1) % M);
    if (v->st[ST_NPAIRS] < (double)M)
        v->st[ST_NPAIRS] += 1;
}

typedef struct pt {
    double a, f, dphi;
} pt;

/* x = p + a·dir (projected for OWL-QN), J and ∇J there into gt.  0, or -1 if not finite. */
static int trial(dz_obj *obj, lb *v, const double *p, double a, pt *t)
{
    const int64_t n = v->n;
    for (int64_t c = 0; c < n; c++)
        v->x[c] = p[c] + a * v->dir[c];
    if (obj->l1 > 0)
        dz_owlqn_project(obj->npen, p, v->pg, v->x);
    t->a = a;
    if (dz_obj_fg(obj, v->x, NULL, &t->f, v->gt) != 0 || !isfinite(t->f)) {
        t->f = INFINITY;
        t->dphi = NAN;
        return -1;
    }
    t->dphi = dz_dot(n, v->gt, v->dir);
    return 0;
}

void dz_owlqn_constrain(int64_t npen, const double *pg, double *dir)
{
    for (int64_t j = 0; j < npen; j++)
        if (dir[j] * pg[j] >= 0)
            dir[j] = 0;
}

void dz_owlqn_project(int64_t npen, const double *p, const double *pg, double *x)
{
    for (int64_t j = 0; j < npen; j++) { /* orthant of p (or of −◇J where p_j = 0) */
        double xi = p[j] != 0 ? p[j] : -pg[j];
        if ((xi > 0 && x[j] < 0) || (xi < 0 && x[j] > 0) || xi == 0)
            x[j] = 0;
    }
}

/* Keep the trial in x / gt as the best point so far: swap gt into glo. */
static void keep(lb *v)
{
    double *t = v->glo;
    v->glo = v->gt;
    v->gt = t;
}

/* Safeguarded cubic minimiser between lo and hi (N&W eq. 3.59), else the midpoint. */
static double interpolate(pt lo, pt hi)
{
    double a = lo.a, b = hi.a, w = fabs(b - a);
    double mid = 0.5 * (a + b), lo_lim = fmin(a, b) + 0.1 * w, hi_lim = fmax(a, b) - 0.1 * w;
    if (!isfinite(hi.f) || !isfinite(hi.dphi))
        return mid;
    double d1 = lo.dphi + hi.dphi - 3.0 * (lo.f - hi.f) / (a - b);
    double disc = d1 * d1 - lo.dphi * hi.dphi;
    if (!(disc >= 0))
        return mid;
    double d2 = copysign(sqrt(disc), b - a);
    double den = hi.dphi - lo.dphi + 2.0 * d2;
    if (den == 0)
        return mid;
    double c = b - (b - a) * (hi.dphi + d2 - d1) / den;
    return isfinite(c) && c >= lo_lim && c <= hi_lim ? c : mid;
}

/* Strong Wolfe search from p along dir (gᵀdir = d0 < 0).  Returns the accepted step, with
 * its J in *fa and gradient in v->glo; 0 when nothing decreased J. */
static double wolfe(dz_obj *obj, lb *v, const double *p, double f0, double d0, double a0,
                    double *fa)
{
    pt prev = {0, f0, d0}, cur, lo, hi, best = {0, f0, d0};
    int evals = 0, have_lo = 0;
    cur.a = a0;
    for (;;) { /* bracketing */
        if (evals++ >= MAX_EVALS)
            goto out;
        trial(obj, v, p, cur.a, &cur);
        int decrease = isfinite(cur.f) && cur.f <= f0 + C1 * cur.a * d0;
        if (!decrease || (prev.a > 0 && cur.f >= prev.f)) {
            lo = prev;
            hi = cur;
            have_lo = prev.a > 0;
            break;
        }
        keep(v);
        best = cur;
        if (fabs(cur.dphi) <= -C2 * d0)
            goto out;
        if (cur.dphi >= 0) {
            lo = cur;
            hi = prev;
            have_lo = 1;
            break;
        }
        prev = cur;
        cur.a = 2.0 * cur.a;
    }
    (void)have_lo;
    for (;;) { /* zoom: lo has the least J among points with sufficient decrease */
        if (evals++ >= MAX_EVALS || fabs(hi.a - lo.a) <= 1e-15 * fmax(lo.a, hi.a))
            goto out;
        trial(obj, v, p, interpolate(lo, hi), &cur);
        if (!isfinite(cur.f) || cur.f > f0 + C1 * cur.a * d0 || cur.f >= lo.f) {
            hi = cur;
            continue;
        }
        keep(v);
        best = cur;
        if (fabs(cur.dphi) <= -C2 * d0)
            goto out;
        if (cur.dphi * (hi.a - lo.a) >= 0)
            hi = lo;
        lo = cur;
    }
out:
    *fa = best.f;
    return best.a;
}

/* OWL-QN backtracking with orthant projection; the accepted point stays in x, its gradient
 * in glo.  Returns 1 when a point was accepted. */
static int backtrack(dz_obj *obj, lb *v, const double *p, double f0, double a0, double *fa)
{
    double a = a0;
    for (int k = 0; k < MAX_EVALS; k++, a *= 0.5) {
        pt t;
        if (trial(obj, v, p, a, &t) == 0) {
            double dec = 0;
            for (int64_t c = 0; c < v->n; c++)
                dec += v->pg[c] * (v->x[c] - p[c]);
            if (t.f <= f0 + C1 * dec) {
                keep(v);
                *fa = t.f;
                return 1;
            }
        }
    }
    return 0;
}

static void iterate(dz_optim *o, dz_obj *obj, double *p, int64_t t, int want_eval,
                    dz_iter_info *info)
{
    (void)t;
    (void)want_eval;
    lb v = view(o);
    const int64_t n = v.n;
    if (v.st[ST_HAVE] == 0) {
        if (dz_obj_fg(obj, p, NULL, &v.st[ST_F], v.g) != 0) {
            dz_optim_diverged(info, "the loss or gradient is NaN/Inf at the starting point");
            return;
        }
        v.st[ST_HAVE] = 1;
    }
    const double f = v.st[ST_F];
    if (dz_optim_report(o, obj, p, f, v.g, v.pg, info))
        return;
    if (info->gmax == 0) {
        info->status = DZ_IT_CONVERGED;
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        two_loop(&v, v.pg);
        if (obj->l1 > 0)
            dz_owlqn_constrain(obj->npen, v.pg, v.dir);
        double d0 = dz_dot(n, v.pg, v.dir);
        if (!(d0 < 0)) { /* not a descent direction: restart from −◇J */
            v.st[ST_NPAIRS] = 0;
            for (int64_t c = 0; c < n; c++)
                v.dir[c] = -v.pg[c];
            d0 = dz_dot(n, v.pg, v.dir);
        }
        double a0 = 1.0;
        if (v.st[ST_NPAIRS] == 0)
            a0 = fmin(1.0, 1.0 / sqrt(-d0)); /* −d0 = ‖◇J‖² along −◇J */
        double fa = f, a;
        int ok;
        if (obj->l1 > 0) {
            ok = backtrack(obj, &v, p, f, a0, &fa);
        } else {
            a = wolfe(obj, &v, p, f, d0, a0, &fa);
            ok = a > 0;
            if (ok) /* x = the accepted point, as evaluated */
                for (int64_t c = 0; c < n; c++)
                    v.x[c] = p[c] + a * v.dir[c];
        }
        if (ok) {
            push_pair(&v, p, v.x, v.glo);
            memcpy(p, v.x, (size_t)n * sizeof(double));
            memcpy(v.g, v.glo, (size_t)n * sizeof(double));
            v.st[ST_F] = fa;
            return;
        }
        if (v.st[ST_NPAIRS] == 0)
            break;
        v.st[ST_NPAIRS] = 0; /* retry along −◇J */
    }
    info->status = DZ_IT_STALLED;
    snprintf(info->why, sizeof info->why,
             "no step along -grad decreases J in floating point (the optimum to machine "
             "precision)");
}

const dz_optim_ops dz_optim_lbfgs = {"lbfgs", 0, 0, state_len, init, iterate};
