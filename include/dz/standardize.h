/* dz/standardize.h — [data] standardize: train on (x/scale − μ)/σ per feature without a
 * standardised copy of the data.
 *
 * μ_j and σ_j are the mean and the population standard deviation (ddof = 0, as scikit-learn's
 * StandardScaler) of feature j of x/scale over all m training rows.  Both come from exact
 * sums (dz/reduce.h): Σ x_ij first, then Σ (x_ij/scale − μ_j)² (two passes, so no
 * cancellation of Σx² − mμ²; CSR data add (m − stored_j)·μ_j² for the implicit zeros), so
 * they are the same bits for any N × T.  A feature with σ_j = 0 (constant) gets σ_j = 1.
 *
 * The model's parameters p stay in standardised units (the penalty applies to them, as in a
 * StandardScaler + LogisticRegression pipeline), and the kernels see the equivalent
 * parameters in the data's own units (x/scale), for each logit row k:
 *   q_kj = p_kj / σ_j,   q_b,k = p_b,k − Σ_j p_kj μ_j / σ_j   (Σ in index order),
 * so that z = q_b + q·(x/scale) = p_b + Σ_j p_j (x_j/scale − μ_j)/σ_j: the unchanged kernel
 * does the work, and the transformation costs O(K·d) per evaluation.  Gradients come back by
 * the chain rule, g_kj = (G_kj − μ_j G_b,k)/σ_j, g_b,k = G_b,k, and H·v as Jᵀ H_q J v (J is
 * the map p → q itself: it is linear).  q is what model.h5 stores as w_original/b_original
 * and what predict and evaluate score with.  Precision: z is q_b + q·x, so features whose
 * |μ_j| is many σ_j lose about log10(|μ_j|/σ_j) digits in z against a kernel that subtracts
 * μ per value (README).
 *
 * Ownership: dz_stdz owns mean and std; dz_stdz_free(NULL) is safe.
 */
#ifndef DZ_STANDARDIZE_H
#define DZ_STANDARDIZE_H

#include <stdint.h>
#include <mpi.h>

#include "dz/err.h"
#include "dz/shard.h"

typedef struct dz_stdz {
    int64_t d;
    double *mean, *std;   /* d each, of x/scale */
    int64_t nconst;       /* features with σ = 0 (given σ = 1) */
} dz_stdz;

/* Collective: μ and σ of shard s (all ranks' rows) with nthreads threads.  Returns an agreed
 * code (DZ_ERUNTIME when memory is short). */
int dz_stdz_compute(MPI_Comm comm, const dz_shard *s, double scale, int nthreads, dz_stdz *z,
                    dz_err *e);
void dz_stdz_free(dz_stdz *z);

/* Not collective.  q = the kernel's parameters for model parameters p (nk logit rows of d
 * weights, then nk biases).  The map is linear, so it also carries a direction v to J v. */
void dz_stdz_to_kernel(const dz_stdz *z, int64_t nk, const double *p, double *q);

/* Not collective.  g = the gradient in p's units from G in q's units (g may be G). */
void dz_stdz_grad_back(const dz_stdz *z, int64_t nk, const double *G, double *g);

#endif
