/* test_reduce.c — the exact accumulator: order independence (shuffled folds, split over
 * accumulators, merged in any order give the same bits), accuracy against a 113-bit
 * (__float128) reference — never worse than plain float64 summation — and the one-rank
 * allreduce.  Exits 1 on failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/reduce.h"

#include "dzcheck.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double urand(void) { return (double)(next() >> 11) / 9007199254740992.0; }

enum { NQ = 3, NV = 20000 };

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    /* values: quantity 0 well-conditioned, 1 heavy cancellation, 2 wide dynamic range */
    double *v = malloc(sizeof(double) * NV * NQ);
    double bound[NQ] = {0, 0, 0};
    for (int i = 0; i < NV; i++) {
        double u = urand();
        v[i * NQ + 0] = u;
        double big = (urand() - 0.5) * 1e6;
        v[i * NQ + 1] = (i % 2 ? -1 : 1) * 1e6 + big * 1e-9 + (urand() - 0.5);
        v[i * NQ + 2] = ldexp(urand() - 0.5, (int)(next() % 60) - 30);
        for (int k = 0; k < NQ; k++)
            bound[k] += fabs(v[i * NQ + k]);
    }
    /* exact-ish reference */
    __float128 ref[NQ] = {0, 0, 0};
    double plain[NQ] = {0, 0, 0};
    for (int i = 0; i < NV; i++)
        for (int k = 0; k < NQ; k++) {
            ref[k] += (__float128)v[i * NQ + k];
            plain[k] += v[i * NQ + k];
        }

    dz_acc a;
    CHECK(dz_acc_init(&a, NQ, 1) == 0, "init");
    for (int k = 0; k < NQ; k++)
        dz_acc_set_bound(&a, k, 2 * bound[k]);
    dz_acc_zero(&a);
    for (int i = 0; i < NV; i++)
        dz_acc_fold(&a, v + i * NQ);
    double r1[NQ];
    dz_acc_result(&a, r1);

    for (int k = 0; k < NQ; k++) {
        double err_fix = fabs((double)((__float128)r1[k] - ref[k]));
        double err_plain = fabs((double)((__float128)plain[k] - ref[k]));
        double ulp = nextafter(fabs((double)ref[k]), INFINITY) - fabs((double)ref[k]);
        CHECK(err_fix <= err_plain && err_fix <= ulp,
              "quantity %d: fixed-point error %.3g, plain float64 error %.3g, ulp %.3g", k, err_fix,
              err_plain, ulp);
    }

    /* shuffled order, split into 3 accumulators, merged in another order: same bits */
    int *perm = malloc(sizeof(int) * NV);
    for (int i = 0; i < NV; i++) perm[i] = i;
    for (int i = NV - 1; i > 0; i--) {
        int j = (int)(next() % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    dz_acc parts[3];
    for (int p = 0; p < 3; p++) {
        dz_acc_init(&parts[p], NQ, 1);
        dz_acc_copy_bounds(&parts[p], &a);
        dz_acc_zero(&parts[p]);
    }
    for (int i = 0; i < NV; i++)
        dz_acc_fold(&parts[perm[i] % 3], v + perm[i] * NQ);
    dz_acc_merge(&parts[2], &parts[0]);
    dz_acc_merge(&parts[2], &parts[1]);
    double r2[NQ];
    dz_acc_result(&parts[2], r2);
    CHECK(!memcmp(r1, r2, sizeof r1), "shuffled/split/merged sum differs: %.17g vs %.17g", r1[1], r2[1]);

    /* plain mode is order-dependent; just check it adds */
    dz_acc pl;
    dz_acc_init(&pl, NQ, 0);
    dz_acc_zero(&pl);
    for (int i = 0; i < NV; i++)
        dz_acc_fold(&pl, v + i * NQ);
    double r3[NQ];
    dz_acc_result(&pl, r3);
    CHECK(!memcmp(r3, plain, sizeof r3), "plain accumulator is not the sequential sum");

    /* non-finite partials are flagged, not turned into garbage */
    double bad[NQ] = {NAN, 1, INFINITY};
    dz_acc_fold(&a, bad);
    double out[NQ];
    dz_acc_allreduce(MPI_COMM_WORLD, &a, out);
    CHECK(a.flags[DZ_FLAG_NONFINITE] > 0, "NaN/Inf partial not flagged");

    /* one-rank allreduce equals the local result */
    dz_acc_zero(&parts[0]);
    for (int i = 0; i < NV; i++)
        dz_acc_fold(&parts[0], v + i * NQ);
    dz_acc_allreduce(MPI_COMM_WORLD, &parts[0], out);
    CHECK(!memcmp(out, r1, sizeof out), "allreduce on one rank changed the result");

    for (int p = 0; p < 3; p++) dz_acc_free(&parts[p]);
    dz_acc_free(&a);
    dz_acc_free(&pl);
    dz_acc_free(NULL);
    free(v);
    free(perm);
    printf("reduce: %d passed, %d failed\n", passes, fails);
    MPI_Finalize();
    return fails ? 1 : 0;
}
