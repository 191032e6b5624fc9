/* dz/reduce.h — summing per-block partial sums so the result does not depend on how blocks
 * are spread over ranks and threads.
 *
 * Why this way.  Floating-point addition is not associative, so a plain sum over ranks and
 * threads changes in the last bits with N and T.  We fix the order of every inexact
 * addition: a block of B global rows is always summed by one thread, sequentially, in row
 * order (kernel.c), so a block's partial sum is the same whoever computes it.  Block partials
 * are then added EXACTLY, which makes their order irrelevant: each partial v of quantity k is
 * cut into two 40-bit integer digits of v·2^-E_k (fixed point, as in E3SM's reprosum), and
 * digits are added as int64, in threads and then by MPI_Allreduce(MPI_SUM) — integer
 * addition is associative, so one stock allreduce is exact.  E_k is a power of two that
 * bounds |Σ v| for the whole data set and is the same on every rank: from the data's max |x|
 * (gradient), m (db) and a bound on |z| from the current w (loss); it needs no extra
 * communication.  Bits below 2^(E_k−80) are dropped, an absolute error of at most
 * nblocks·2^(E_k−80), where 2^E_k <= 4·Σ|v|: about nblocks·2^−78·Σ|v|, far below the
 * ~m·2^−53·Σ|v| worst case of plain float64 summation (two digits, not three: the fold is a
 * fifth of the step on wide data, and the third digit bought accuracy nobody can see).
 * Carries are normalised before digits could overflow (every 4096 folds, and before the
 * allreduce).  The cost is O(d) per block of B·d kernel work; README has the measurement.
 *
 * With reproducible = false the same accumulator keeps plain float64 sums (threads added in
 * thread order, then MPI_SUM on doubles) — faster, but the last bits vary with N × T.
 *
 * Sparse (CSR) softmax passes fold every value as it is made instead of a block partial per
 * quantity (a block touches few of the K·d quantities, so an O(K·d) fold per block would cost
 * more than the block): dz_acc_add adds one value's two digits straight into the int64 digits,
 * O(1) per stored value, and is exact in the same way, so the order of rows, blocks, threads
 * and ranks is again irrelevant.  The caller may add at most one value per quantity per row
 * and reports its rows (dz_acc_rows_added): digits are normalised every 2^20 rows, before an
 * int64 digit could overflow (each add is < 2^41 in magnitude).
 *
 * Two int64 flags travel in the same allreduce: [0] count of non-finite block partials,
 * [1] count of ranks that asked to stop (signals), so agreeing on them costs nothing.
 */
#ifndef DZ_REDUCE_H
#define DZ_REDUCE_H

#include <stdint.h>
#include <mpi.h>

#define DZ_FIX_DIGITS 2
#define DZ_FIX_BITS 40

enum { DZ_FLAG_NONFINITE = 0, DZ_FLAG_STOP = 1, DZ_NFLAGS = 2 };

typedef struct dz_acc {
    int64_t n;          /* quantities summed */
    int repro;          /* 1: exact fixed point; 0: plain double */
    double *to_fix;     /* n: 2^(40-E_k), the scale that puts a value's top digit in place;
                           owned, or borrowed from another accumulator (dz_acc_init_shared) */
    int owns_bounds;
    int64_t *fix;       /* repro: DZ_FIX_DIGITS planes of n int64 digits, then DZ_NFLAGS slots */
    double *sum;        /* repro: DZ_FIX_DIGITS planes of n double digits (flushed every 4096 folds);
                           plain: n sums, then DZ_NFLAGS slots */
    int64_t flags[DZ_NFLAGS];
    int64_t folds;      /* folds since the last carry normalisation */
    int64_t rows;       /* rows of dz_acc_add values since the last normalisation */
} dz_acc;

/* Allocate for n quantities. Returns 0 on success, -1 out of memory. Not collective. */
int dz_acc_init(dz_acc *a, int64_t n, int repro);
/* The same, but using owner's bounds (its to_fix array; owner must outlive a): the per-thread
 * accumulators of one sum, so setting a bound on the owner sets it for all. */
int dz_acc_init_shared(dz_acc *a, const dz_acc *owner);
void dz_acc_free(dz_acc *a);  /* safe on a zeroed or NULL acc */

/* Set the bound for quantity k: every partial and every total of k has |value| <= bound.
 * bound must be finite and >= 0. Not collective; must be identical on all ranks. */
void dz_acc_set_bound(dz_acc *a, int64_t k, double bound);
/* Copy bounds from another accumulator of the same n. */
void dz_acc_copy_bounds(dz_acc *dst, const dz_acc *src);

/* Zero sums and flags (bounds are kept). */
void dz_acc_zero(dz_acc *a);

/* Add one block partial v[0..n). Non-finite values set flags[DZ_FLAG_NONFINITE]. */
void dz_acc_fold(dz_acc *a, const double *v);

/* Add the two digits of x = v·2^(40−E_k) (v times the quantity's to_fix) to d[0] and d[1]:
 * q0 = rint(x), q1 = rint((x − q0)·2^40), exact as in dz_acc_fold.  Returns 0, or −1 (nothing
 * added) when x is NaN or |x| > 2^41, i.e. not within its bound.  Not collective. */
static inline int dz_fix_add(double x, int64_t *d0, int64_t *d1)
{
    const double rnd = 6755399441055744.0; /* 1.5·2^52 */
    if (!(x <= 2199023255552.0 && x >= -2199023255552.0))
        return -1;
    const double q0 = (x + rnd) - rnd, q1 = ((x - q0) * 1099511627776.0 + rnd) - rnd;
    *d0 += (int64_t)q0;
    *d1 += (int64_t)q1;
    return 0;
}

/* Add one value v to quantity k (sparse passes, see above).  Not collective. */
static inline void dz_acc_add(dz_acc *a, int64_t k, double v)
{
    if (!a->repro)
        a->sum[k] += v;
    else if (dz_fix_add(v * a->to_fix[k], &a->fix[k], &a->fix[a->n + k]) != 0)
        a->flags[DZ_FLAG_NONFINITE]++;
}
/* rows more rows of dz_acc_add values were added (normalises when due). Not collective. */
void dz_acc_rows_added(dz_acc *a, int64_t rows);

/* Move the double digits into the int64 digits (repro; a no-op when nothing was folded since
 * the last flush). Not collective. */
void dz_acc_flush(dz_acc *a);

/* accs[0] += accs[1..count) for quantities [k0, k1) (exact in repro mode; in plain mode the
 * thread order fixes the result). All must be flushed. Threads may merge disjoint ranges at
 * once. The flags are merged by dz_acc_merge_flags. Not collective. */
void dz_acc_merge_range(dz_acc *accs, int count, int64_t k0, int64_t k1);
void dz_acc_merge_flags(dz_acc *accs, int count);

/* into += from, all quantities and flags. Not collective. */
void dz_acc_merge(dz_acc *into, dz_acc *from);

/* Collective: one MPI_Allreduce of the sums and flags over comm; then out[0..n) holds the
 * totals (identical on every rank) and a->flags the global flags. */
void dz_acc_allreduce(MPI_Comm comm, dz_acc *a, double *out);

/* The totals of a without communication (for tests). */
void dz_acc_result(dz_acc *a, double *out);

#endif
