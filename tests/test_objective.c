/* test_objective.c — the objective's H·v against central finite differences of its gradient
 * and against the naive reference kernel, H·v's bits independent of the thread count, the
 * gradient against finite differences of J with l2 and l1 (away from w_j = 0), and OWL-QN's
 * pseudo-gradient and orthant rules on a hand-made case.  One MPI rank.  Exits 1 on failure. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/objective.h"
#include "dz/optim.h"

#include "dzcheck.h"
#include "dzshard.h"

static volatile sig_atomic_t no_signal = 0;

static dz_config config(double l2, double l1)
{
    dz_config c;
    dz_config_defaults(&c);
    c.l2 = l2;
    c.l1 = l1;
    c.scale = 1.5;
    return c;
}

static double max_rel(int64_t n, const double *a, const double *b)
{
    double num = 0, den = 0;
    for (int64_t k = 0; k < n; k++) {
        num = fmax(num, fabs(a[k] - b[k]));
        den = fmax(den, fabs(b[k]));
    }
    return num / fmax(den, 1e-300);
}

static void check_hv(dz_dtype t, int64_t d)
{
    dz_shard s;
    make_shard(&s, t, 203, d, 8);
    if (t == DZ_DTYPE_U8) /* keep z moderate so D is not ~0 everywhere */
        for (int64_t j = 0; j < d; j++)
            s.maxabs[j] = fmax(s.maxabs[j], 1);
    dz_config c = config(0.7, 0);
    const int64_t n = d + 1;
    double *p = malloc(n * sizeof *p), *v = malloc(n * sizeof *v), *hv = malloc(n * sizeof *hv),
           *hv3 = malloc(n * sizeof *hv3), *gp = malloc(n * sizeof *gp),
           *gm = malloc(n * sizeof *gm), *x = malloc(n * sizeof *x), *fd = malloc(n * sizeof *fd),
           *ref = malloc((d + 2) * sizeof *ref);
    double wscale = t == DZ_DTYPE_U8 ? 0.01 : 0.3;
    for (int64_t k = 0; k < n; k++) {
        p[k] = wscale * (2 * urand() - 1);
        v[k] = 2 * urand() - 1;
    }
    dz_obj o1, o3;
    CHECK(dz_obj_init(&o1, MPI_COMM_SELF, &s, &c, 1, 1, &no_signal) == 0, "init T=1");
    CHECK(dz_obj_init(&o3, MPI_COMM_SELF, &s, &c, 3, 1, &no_signal) == 0, "init T=3");
    double f;
    dz_obj_fg(&o1, p, NULL, &f, gp);
    dz_obj_accept_curvature(&o1);
    dz_obj_hv(&o1, v, hv);
    dz_obj_fg(&o3, p, NULL, &f, gp);
    dz_obj_accept_curvature(&o3);
    dz_obj_hv(&o3, v, hv3);
    CHECK(memcmp(hv, hv3, n * sizeof *hv) == 0, "%s d=%lld: H·v bits differ between 1 and 3 threads",
          dz_dtype_name(t), (long long)d);
    CHECK(o1.passes == 2.0, "an fg and an H·v pass count 2 passes, got %g", o1.passes);

    /* the naive reference: Xᵀ(D ⊙ (Xv/scale + v_b)) / scale / m + l2/m v */
    dz_block_hv_ref(&s, 0, s.rows, o1.curv, v, v[d], c.scale, ref);
    for (int64_t j = 0; j < d; j++)
        ref[j] = ref[j] / c.scale / (double)s.m + c.l2 / (double)s.m * v[j];
    ref[d] = ref[d] / (double)s.m;
    double e_ref = max_rel(n, hv, ref);
    CHECK(e_ref < 1e-13, "%s d=%lld: H·v vs reference kernel: rel %.3g", dz_dtype_name(t),
          (long long)d, e_ref);

    /* central differences of the gradient along v (uint8 features are ~100x larger) */
    const double h = t == DZ_DTYPE_U8 ? 1e-7 : 1e-5;
    for (int64_t k = 0; k < n; k++)
        x[k] = p[k] + h * v[k];
    dz_obj_fg(&o1, x, NULL, &f, gp);
    for (int64_t k = 0; k < n; k++)
        x[k] = p[k] - h * v[k];
    dz_obj_fg(&o1, x, NULL, &f, gm);
    for (int64_t k = 0; k < n; k++)
        fd[k] = (gp[k] - gm[k]) / (2 * h);
    double e_fd = max_rel(n, hv, fd);
    CHECK(e_fd < 1e-7, "%s d=%lld: H·v vs finite differences of the gradient: rel %.3g",
          dz_dtype_name(t), (long long)d, e_fd);
    printf("%s d=%lld: H·v vs reference %.2g, vs finite differences %.2g\n", dz_dtype_name(t),
           (long long)d, e_ref, e_fd);
    dz_obj_free(&o1);
    dz_obj_free(&o3);
    free(p); free(v); free(hv); free(hv3); free(gp); free(gm); free(x); free(fd); free(ref);
    free(s.x); free(s.y); free(s.maxabs);
}

/* ∇ of the smooth part + l1 subgradient away from 0 against differences of J. */
static void check_grad_penalties(void)
{
    dz_shard s;
    const int64_t d = 9, n = d + 1;
    make_shard(&s, DZ_DTYPE_F64, 57, d, 4);
    dz_config c = config(2.5, 1.25);
    dz_obj o;
    CHECK(dz_obj_init(&o, MPI_COMM_SELF, &s, &c, 2, 0, &no_signal) == 0, "init");
    double p[10], g[10], pg[10], x[10], f, fp, fm, gtmp[10];
    for (int64_t k = 0; k < n; k++)
        p[k] = (k % 2 ? 0.3 : -0.2) * (1 + 0.1 * (double)k); /* no w_j near 0 */
    dz_obj_fg(&o, p, NULL, &f, g);
    dz_obj_pseudo_grad(&o, p, g, pg);
    double worst = 0;
    for (int64_t k = 0; k < n; k++) {
        const double h = 1e-6;
        memcpy(x, p, sizeof x);
        x[k] += h;
        dz_obj_fg(&o, x, NULL, &fp, gtmp);
        x[k] -= 2 * h;
        dz_obj_fg(&o, x, NULL, &fm, gtmp);
        worst = fmax(worst, fabs((fp - fm) / (2 * h) - pg[k]) / fmax(fabs(pg[k]), 1e-3));
    }
    CHECK(worst < 1e-6, "∇J (l2 and l1 away from 0) vs differences of J: rel %.3g", worst);
    double pen = c.l2 / (2.0 * 57) * dz_dot(d, p, p), a = 0;
    for (int64_t j = 0; j < d; j++)
        a += fabs(p[j]);
    pen += c.l1 / 57.0 * a;
    CHECK(fabs(dz_obj_penalty(&o, p) - pen) <= 1e-15 * pen, "penalty l2/(2m)|w|^2 + l1/m|w|_1");
    dz_obj_free(&o);
    free(s.x); free(s.y); free(s.maxabs);
}

/* OWL-QN: pseudo-gradient, direction constraint and orthant projection by hand. */
static void check_owlqn(void)
{
    dz_shard s;
    make_shard(&s, DZ_DTYPE_F64, 10, 6, 4); /* m = 10: λ = l1/m = 0.2 */
    dz_config c = config(0, 2.0);
    dz_obj o;
    CHECK(dz_obj_init(&o, MPI_COMM_SELF, &s, &c, 1, 0, &no_signal) == 0, "init");
    const double p[7] = {1, -1, 0, 0, 0, 0, 5};
    const double g[7] = {0.1, 0.1, 0.5, -0.5, 0.05, -0.2, 0.3};
    /* w≠0: g ± λ; w=0: g+λ if < 0, g−λ if > 0, else 0; b: g */
    const double want[7] = {0.3, -0.1, 0.3, -0.3, 0, 0, 0.3};
    double pg[7];
    dz_obj_pseudo_grad(&o, p, g, pg);
    for (int k = 0; k < 7; k++)
        CHECK(fabs(pg[k] - want[k]) < 1e-15, "pseudo-gradient[%d] = %g, want %g", k, pg[k], want[k]);
    /* a direction that ascends in coordinates 1 and 3 is zeroed there (b untouched) */
    double dir[7] = {-0.3, -0.4, -0.3, -0.1, 0.7, 0.2, 1.0};
    dz_owlqn_constrain(6, pg, dir);
    const double dwant[7] = {-0.3, 0, -0.3, 0, 0, 0, 1.0};
    for (int k = 0; k < 7; k++)
        CHECK(dir[k] == dwant[k], "constrained direction[%d] = %g, want %g", k, dir[k], dwant[k]);
    /* a step that crosses zero is stopped at zero; zero stays zero where pg = 0 */
    double x[7] = {-0.5, -2, -0.1, 0.4, 0.3, 0, 9};
    dz_owlqn_project(6, p, pg, x);
    const double xwant[7] = {0, -2, -0.1, 0.4, 0, 0, 9};
    for (int k = 0; k < 7; k++)
        CHECK(x[k] == xwant[k], "projected point[%d] = %g, want %g", k, x[k], xwant[k]);
    dz_obj_free(&o);
    free(s.x); free(s.y); free(s.maxabs);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    const dz_dtype types[] = {DZ_DTYPE_U8, DZ_DTYPE_F32, DZ_DTYPE_F64};
    const int64_t ds[] = {1, 7, 33, 130};
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 4; di++)
            check_hv(types[ti], ds[di]);
    check_grad_penalties();
    check_owlqn();
    printf("objective: %d passed, %d failed\n", passes, fails);
    MPI_Finalize();
    return fails ? 1 : 0;
}
