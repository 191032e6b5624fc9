/* kernel_isa.h — the table one instruction-set path of the block kernels exports
 * (src/kernel_isa.c, compiled once per path) and kernel.c dispatches through.  Internal. */
#ifndef DZ_KERNEL_ISA_H
#define DZ_KERNEL_ISA_H

#include "dz/kernel.h"

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
};

extern const dz_kernel_isa dz_isa_generic;
#if defined(__x86_64__)
extern const dz_kernel_isa dz_isa_avx2, dz_isa_avx512;
#endif

#endif
