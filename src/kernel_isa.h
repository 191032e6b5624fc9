/* kernel_isa.h — the table one instruction-set path of the block kernels exports
 * (src/kernel_isa.c, compiled once per path) and kernel.c dispatches through.  Internal. */
#ifndef DZ_KERNEL_ISA_H
#define DZ_KERNEL_ISA_H

#include "dz/kernel.h"

/* One column of a binary CSR pass, per thread: the weight (or direction), the block's partial
 * sum (a double, in row order) and the column's two fixed-point digits (plain mode: the double
 * sum in d0.f), side by side in 32 bytes, so that a stored value's gather (the dot product)
 * and its scatter touch one cache line (dz/kernel.h). */
typedef struct dz_slot {
    double w, acc;
    union { int64_t i; double f; } d0;
    int64_t d1;
} dz_slot;

struct dz_kernel_isa {
    const char *name; /* "generic", "avx2", "avx512" */
    /* gradient sums of rows [i0, i0+n) into out (d + 2); H·v when hvd (D per row from i0);
     * D saved per row into dsave when not NULL */
    void (*grad)(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                 double scale, double *out, const double *hvd, double *dsave);
    /* out[0] = Σ loss, out[1] = correct predictions */
    void (*eval)(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                 double scale, double *out);
    void (*logistic)(double z, double y, double *a, double *loss);
    /* softmax, K classes, W (K, d), bv (K): sums of rows [i0, i0+n) into out (K·d + K + 1:
     * Σ c·xᵀ per class, Σ c, Σ loss) with c = a − onehot(y), or the H·v coefficient when hva
     * (A per row from i0, n × K); A saved per row into asave when not NULL.  scr: 2·DZ_SM_TILE·K
     * doubles of scratch. */
    void (*sgrad)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                  const double *bv, double scale, double *out, const double *hva, double *asave,
                  double *scr);
    /* out[0] = Σ loss, out[1] = correct predictions (argmax, ties to the lowest class), and
     * when conf: out[2 + y·K + pred] counts (the confusion matrix) */
    void (*seval)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                  const double *bv, double scale, double *out, int conf, double *scr);
    /* proba[r] = σ(z) of rows [i0, i0+n), z and σ exactly as eval's */
    void (*predict)(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                    double scale, double *proba);
    /* softmax: proba (n × K, row-major) = A of each row exactly as sgrad saves it, label[r] =
     * seval's prediction (argmax of the logits, ties to the lowest class); scr as sgrad's */
    void (*spredict)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                     const double *bv, double scale, double *proba, int64_t *label, double *scr);
    /* softmax (K >= 2) on CSR rows [i0, i0+n) of s: the gradient sums (K·d + K + 1) with
     * every value folded into acc as it is made (dz_acc_add); H·v when hv (A per row from
     * i0); A saved per row into save when not NULL.  scr: 2·SM_RT·K doubles.  (The binary
     * model's CSR passes are csr_grad_slots.) */
    void (*csr_grad)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                     const double *bv, double scale, dz_acc *acc, const double *hv,
                     double *save, double *scr);
    /* binary CSR gradient or H·v of one block, rows [i0, i0+n), with the columns in slots
     * (w filled by the caller, acc zero, digits accumulated): each column's block partial
     * is summed in row order in its slot, the columns touched are listed in touched (room
     * for d entries), and the partials are folded exactly into the digits with the scales
     * to_fix (repro) at the end of the block, or when the list is full; the block's Σc and
     * Σloss go to acc.  Returns the number of folds (each adds at most once to a digit). */
    int64_t (*csr_grad_slots)(const dz_shard *s, int64_t i0, int64_t n, dz_slot *slots,
                              int32_t *touched, const double *to_fix, int repro, double b,
                              double scale, dz_acc *acc, const double *hv, double *save);
    /* as eval / seval (a block partial into out) */
    void (*csr_eval)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                     const double *bv, double scale, double *out, int conf, double *scr);
    /* as predict (then label = proba > 0.5) / spredict */
    void (*csr_predict)(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *w,
                        const double *bv, double scale, double *proba, int64_t *label,
                        double *scr);
};

#define DZ_SM_TILE 32 /* softmax rows per tile: logits computed together, then scattered */

extern const dz_kernel_isa dz_isa_generic;
#if defined(__x86_64__)
extern const dz_kernel_isa dz_isa_avx2, dz_isa_avx512;
#endif

#endif
