/* dz/kernel.h — the per-rank compute: one fused pass over a shard's rows.
 *
 * For each row i (features x_i raw, label y_i):  z = b + (w·x_i)/scale,  a = σ(z),
 * dz = a − y,  loss = softplus(z) − y·z  (= −[y log a + (1−y) log(1−a)], never log(0)).
 * A block kernel sums over the rows of one reduction block, sequentially in row order:
 *   out[j]   = Σ dz_i · x_ij   (j < d, raw units: the caller divides by scale·m)
 *   out[d]   = Σ dz_i
 *   out[d+1] = Σ loss_i
 * All arithmetic is float64 whatever the stored feature type (uint8, float32, float64).
 * The dot product w·x_i is always computed in the same order (8 lanes, then the tail), so a
 * row's z does not depend on where the row sits.  dz_block_grad_ref is the naive sequential
 * reference the tests compare against.
 *
 * Instruction-set paths: the block kernels are compiled for several targets (generic,
 * avx2, avx512 on x86-64; generic elsewhere) that give the same bits (kernel_isa.c says
 * how); the widest one the CPU runs is used, or the one DZ_ISA names.
 *
 * The same block kernel computes a Hessian-vector product when given the per-row curvature
 * D_i = a_i(1 − a_i) of the current point and a direction v (w := v_w, b := v_b): the row
 * coefficient a − y becomes D_i·u_i with u_i = v_b + (v_w·x_i)/scale, so
 *   out[j] = Σ D_i u_i x_ij,  out[d] = Σ D_i u_i,  out[d+1] = 0
 * (H·v = Xᵀ(D ⊙ Xv)/m in the caller's units).  A gradient pass can save D for later H·v.
 *
 * Softmax (K >= 2 classes, dz/kernel_isa.c has the formulas): the same pass with W (K × d)
 * and b (K); a block's sums are K·d + K + 1 (Σ c·xᵀ per class row, Σ c, Σ loss, c = a −
 * onehot(y)), or H·v with the saved A per row (rows × K); evaluation adds the confusion
 * counts (K·K, when K <= DZ_CONF_MAX_K).  Binary logistic is K = 0 below, and its layout is
 * the K = 1 case of this one (d weights, 1 bias, the loss).
 *
 * CSR (sparse) shards (dz_shard_is_csr): the same passes over rows [i0, i0+n), z from the
 * row's stored values only.  A block partial of all K·d + K + 1 quantities would cost O(d) per
 * block to fold, more than the block itself, so gradient and H·v passes fold only what the
 * block touched: the binary model sums each touched column's block partial in row order in
 * a per-thread slot (weight, partial and digits in one 32-byte line, kernel_isa.h) and folds
 * the touched columns exactly at the block's end; softmax folds every product c_k·x_ij as it
 * is made (dz_acc_add).  Either way a block costs O(its stored values + rows), the partials
 * depend only on the block, and the bits are the same for any N × T.  Sparse and dense
 * storage of one matrix agree to rounding, not bit for bit (the dense dot product runs in 8
 * lanes, the CSR one in 4 chains over the stored values).
 *
 * dz_kernel_run runs the block kernel over this rank's blocks (all, or a list: a mini-batch)
 * with OpenMP (each block by one thread; with exact sums a static share, then the last
 * quarter on demand: dz_sched in kernel.c) and folds every block partial into the thread's
 * dz_acc; the thread accumulators are merged into accs[0] of the pass's kind
 * (wk->grad, wk->eval or wk->hv).  Not collective.
 */
#ifndef DZ_KERNEL_H
#define DZ_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "dz/reduce.h"
#include "dz/shard.h"

/* Scratch for dz_kernel_pass, sized for d features and T threads. Owns everything;
 * dz_work_free(NULL) is safe. */
typedef struct dz_kernel_isa dz_kernel_isa; /* one instruction-set path (kernel_isa.h) */

#define DZ_CONF_MAX_K 1024 /* the evaluation counts a confusion matrix up to this K */

typedef struct dz_work {
    const dz_kernel_isa *isa;   /* the path this work space runs (dz_kernel_isa_select) */
    int nthreads;
    int64_t d;
    int64_t K;      /* 0: binary logistic; >= 2: softmax classes */
    int64_t nsum;   /* quantities of a gradient or H·v block: d + 2, or K·d + K + 1 */
    int64_t neval;  /* quantities of an evaluation block: 2, or 2 + K·K (confusion) */
    double *blk;    /* T × max(nsum, neval) block partials */
    double *scr;    /* softmax: T × 2·DZ_SM_TILE·K scratch (logits, coefficients) */
    dz_acc *grad;   /* T accumulators of nsum quantities */
    dz_acc *eval;   /* T accumulators of neval quantities: loss, correct predictions, counts */
    dz_acc *hv;     /* T accumulators of nsum for H·v (NULL until dz_work_init_hv) */
    struct dz_slot *slots; /* binary model on CSR data (dz_work_init_csr): T × d column slots
                              (kernel_isa.h); NULL otherwise */
    int32_t *touched;      /* with them: T × d, each thread's list of touched columns */
    int repro;
} dz_work;

/* K = 0 for the binary model.  0 ok, -1 no memory. */
int dz_work_init(dz_work *wk, int64_t d, int64_t K, int nthreads, int repro);
int dz_work_init_hv(dz_work *wk);                                    /* 0 ok, -1 no memory */
/* The binary model's CSR gradient and H·v passes need these (slots, touched). 0 ok, -1 no memory */
int dz_work_init_csr(dz_work *wk);
void dz_work_free(dz_work *wk);

enum { DZ_PASS_GRAD = 0, DZ_PASS_EVAL = 1, DZ_PASS_HV = 2 };

/* One kernel pass over local blocks. */
typedef struct dz_pass {
    int mode;               /* DZ_PASS_* */
    const double *w;        /* d (K × d): weights (GRAD, EVAL) or the direction v_w (HV) */
    double b;               /* binary: bias, or v_b (HV) */
    const double *bv;       /* softmax: K biases, or v_b (HV) */
    double scale;           /* features are divided by it */
    const int64_t *blocks;  /* local block numbers to visit (block k = local rows [kB, kB+B)),
                               or NULL for all */
    int64_t nblocks;        /* entries in blocks */
    const double *dcoef;    /* HV: D per local row (softmax: A, K per local row) */
    double *dsave;          /* GRAD: if not NULL, D (A) per local row is stored here */
} dz_pass;

/* Block kernels over local rows [i0, i0+n). */
void dz_block_grad(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out);
void dz_block_grad_ref(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                       double scale, double *out);
/* out[0] = Σ loss_i, out[1] = number of rows with (a > 0.5) == y. */
void dz_block_eval(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out);

/* Naive softmax reference: out (K·d + K + 1) as the block kernel's, z_k = b_k + Σ_j W_kj x_j/scale
 * in index order, libm exp/log; with hva (A per row, K each, from i0) the H·v sums instead. */
void dz_block_sgrad_ref(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                        const double *bv, double scale, const double *hva, double *out);
/* The current path's softmax block kernels (tests); scr as in kernel_isa.h. */
void dz_block_sgrad(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                    const double *bv, double scale, double *out, const double *hva,
                    double *asave);

/* Naive reference for H·v over local rows [i0, i0+n) (dcoef indexed by local row). */
void dz_block_hv_ref(const dz_shard *s, int64_t i0, int64_t n, const double *dcoef,
                     const double *v, double vb, double scale, double *out);

/* Stable per-row logistic: a = σ(z), loss = softplus(z) − y·z. */
void dz_logistic(double z, double y, double *a, double *loss);

/* The path to use: DZ_ISA's when set (NULL with a message when it is unknown or this CPU
 * cannot run it), else the widest this CPU runs.  Not collective. */
const dz_kernel_isa *dz_kernel_isa_select(char *msg, size_t len);
const char *dz_kernel_isa_name(const dz_kernel_isa *isa);
int dz_kernel_isa_supported(const dz_kernel_isa *isa);
/* The compiled paths, k = 0, 1, … (NULL past the last). */
const dz_kernel_isa *dz_kernel_isa_get(int k);

/* Per-row predictions of local rows [i0, i0+n) of s, with training's own arithmetic (no sums,
 * so a row's values depend only on the row, never on N, T or its block).  Binary (K = 0, w
 * = d weights, bv = &b): proba[r] = σ(z_r) exactly as the evaluation pass computes it and
 * label[r] = (proba[r] > 0.5).  Softmax (W = K × d, bv = K biases): proba (n × K, row-major)
 * = the row's A as the gradient pass computes it, label[r] = argmax_k of the logits (ties to
 * the lowest k), as the evaluation pass predicts.  isa: the path (NULL = the current one);
 * scr: dz_kernel_scratch(K) doubles.  Not collective. */
void dz_kernel_predict(const dz_kernel_isa *isa, const dz_shard *s, int64_t i0, int64_t n,
                       int64_t K, const double *w, const double *bv, double scale,
                       double *proba, int64_t *label, double *scr);
/* Doubles of one thread's scratch for the softmax block kernels (one cache line for the binary
 * ones); always whole 64-byte lines, so that threads' scratch never shares a line. */
int64_t dz_kernel_scratch(int64_t K);
/* Memory for per-thread arrays laid end to end: 64-byte aligned (a cache line), so that with
 * strides of whole lines no two threads write into one line (false sharing cost the softmax
 * step ~7 % at 1 x 2).  bytes > 0; NULL when out of memory.  Release with free(). */
void *dz_alloc_lines(size_t bytes);

/* A pass (OpenMP); the result is in accs[0] of its kind, whose bounds the caller has set
 * (the other threads' accumulators share them). */
void dz_kernel_run(const dz_shard *s, dz_work *wk, const dz_pass *ps);
/* All local blocks: result in wk->grad[0] (eval = 0) or wk->eval[0] (eval = 1). */
void dz_kernel_pass(const dz_shard *s, const double *w, double b, double scale, dz_work *wk,
                    int eval);

#endif
