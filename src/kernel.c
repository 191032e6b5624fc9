/* kernel.c — the OpenMP pass, the work space, the naive reference kernels and the choice
 * of instruction-set path (see dz/kernel.h; the block kernels are in kernel_isa.c).
 *
 * Path choice: DZ_ISA (generic, avx2, avx512) when set, else the widest path this CPU runs
 * (AVX-512F+BW, else AVX2+FMA, else the baseline).  Every path gives the same bits, so the
 * choice changes only the speed.
 */
#include "dz/kernel.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_isa.h"

static const dz_kernel_isa *const paths[] = {
#if defined(__x86_64__)
    &dz_isa_avx512, &dz_isa_avx2,
#endif
    &dz_isa_generic};
enum { NPATHS = sizeof paths / sizeof paths[0] };

const char *dz_kernel_isa_name(const dz_kernel_isa *isa) { return isa->name; }

int dz_kernel_isa_supported(const dz_kernel_isa *isa)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == &dz_isa_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == &dz_isa_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == &dz_isa_generic;
}

const dz_kernel_isa *dz_kernel_isa_get(int k) { return k >= 0 && k < NPATHS ? paths[k] : NULL; }

const dz_kernel_isa *dz_kernel_isa_select(char *msg, size_t len)
{
    const char *want = getenv("DZ_ISA");
    char names[64] = "";
    for (int k = 0; k < NPATHS; k++) {
        if (want && *want && !strcmp(want, paths[k]->name)) {
            if (dz_kernel_isa_supported(paths[k]))
                return paths[k];
            snprintf(msg, len, "DZ_ISA=%s: this CPU cannot run the %s kernels", want, want);
            return NULL;
        }
        if (!(want && *want) && dz_kernel_isa_supported(paths[k]))
            return paths[k];
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", paths[k]->name);
    }
    snprintf(msg, len, "DZ_ISA=%s: unknown kernel path (this build has: %s)", want ? want : "",
             names);
    return NULL;
}

static const dz_kernel_isa *current(void)
{
    char msg[160];
    const dz_kernel_isa *isa = dz_kernel_isa_select(msg, sizeof msg);
    return isa ? isa : &dz_isa_generic;
}

void dz_block_grad(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out)
{
    current()->grad(s, i0, n, w, b, scale, out, NULL, NULL);
}

void dz_block_eval(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                   double scale, double *out)
{
    current()->eval(s, i0, n, w, b, scale, out);
}

void dz_logistic(double z, double y, double *a, double *loss)
{
    current()->logistic(z, y, a, loss);
}

#define LINE_DOUBLES 8 /* doubles per 64-byte cache line */
static int64_t whole_lines(int64_t n) { return (n + LINE_DOUBLES - 1) / LINE_DOUBLES * LINE_DOUBLES; }

int64_t dz_kernel_scratch(int64_t K) { return whole_lines(K ? 2 * DZ_SM_TILE * K : 1); }

void *dz_alloc_lines(size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}

/* Doubles of one thread's block partial: the larger of a gradient and an evaluation block,
 * in whole cache lines. */
static int64_t blk_len(const dz_work *wk)
{
    return whole_lines(wk->nsum > wk->neval ? wk->nsum : wk->neval);
}

void dz_kernel_predict(const dz_kernel_isa *isa, const dz_shard *s, int64_t i0, int64_t n,
                       int64_t K, const double *w, const double *bv, double scale,
                       double *proba, int64_t *label, double *scr)
{
    if (!isa)
        isa = current();
    if (dz_shard_is_csr(s)) {
        isa->csr_predict(s, i0, n, K, w, bv, scale, proba, label, scr);
        return;
    }
    if (K) {
        isa->spredict(s, i0, n, K, w, bv, scale, proba, label, scr);
        return;
    }
    isa->predict(s, i0, n, w, *bv, scale, proba);
    for (int64_t r = 0; r < n; r++)
        label[r] = proba[r] > 0.5;
}

/* The block kernel of one pass: gradient (saving D when asked) or H·v. */
static void block_pass(const dz_shard *s, const dz_work *wk, const dz_pass *ps, int64_t i0,
                       int64_t n, double *out, double *scr)
{
    if (dz_shard_is_csr(s)) { /* evaluation only: the other passes fold as they go */
        wk->isa->csr_eval(s, i0, n, wk->K, ps->w, wk->K ? ps->bv : &ps->b, ps->scale, out,
                          wk->neval > 2, scr);
        return;
    }
    if (wk->K) {
        const int64_t K = wk->K;
        if (ps->mode == DZ_PASS_EVAL) {
            wk->isa->seval(s, i0, n, K, ps->w, ps->bv, ps->scale, out, wk->neval > 2, scr);
            return;
        }
        const double *hva = ps->mode == DZ_PASS_HV ? ps->dcoef + i0 * K : NULL;
        double *asave = ps->mode == DZ_PASS_GRAD && ps->dsave ? ps->dsave + i0 * K : NULL;
        wk->isa->sgrad(s, i0, n, K, ps->w, ps->bv, ps->scale, out, hva, asave, scr);
        return;
    }
    if (ps->mode == DZ_PASS_EVAL) {
        wk->isa->eval(s, i0, n, ps->w, ps->b, ps->scale, out);
        return;
    }
    const double *hvd = ps->mode == DZ_PASS_HV ? ps->dcoef + i0 : NULL;
    double *dsave = ps->mode == DZ_PASS_GRAD && ps->dsave ? ps->dsave + i0 : NULL;
    wk->isa->grad(s, i0, n, ps->w, ps->b, ps->scale, out, hvd, dsave);
}

static double feature(const dz_shard *s, int64_t i, int64_t j)
{
    size_t k = (size_t)i * (size_t)s->d + (size_t)j;
    switch (s->dtype) {
    case DZ_DTYPE_U8: return ((const uint8_t *)s->x)[k];
    case DZ_DTYPE_F32: return ((const float *)s->x)[k];
    default: return ((const double *)s->x)[k];
    }
}

void dz_block_grad_ref(const dz_shard *s, int64_t i0, int64_t n, const double *w, double b,
                       double scale, double *out)
{
    int64_t d = s->d;
    for (int64_t j = 0; j < d + 2; j++)
        out[j] = 0;
    for (int64_t i = i0; i < i0 + n; i++) {
        double dot = 0;
        for (int64_t j = 0; j < d; j++)
            dot += w[j] * (feature(s, i, j) / scale);
        double z = dot + b;
        double a = 1.0 / (1.0 + exp(-z));
        double loss = z >= 0 ? log1p(exp(-z)) + (1 - s->y[i]) * z : log1p(exp(z)) - s->y[i] * z;
        double dz = a - s->y[i];
        for (int64_t j = 0; j < d; j++)
            out[j] += dz * feature(s, i, j);
        out[d] += dz;
        out[d + 1] += loss;
    }
}

void dz_block_sgrad(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                    const double *bv, double scale, double *out, const double *hva,
                    double *asave)
{
    double *scr = malloc((size_t)dz_kernel_scratch(K) * sizeof(double));
    if (scr)
        current()->sgrad(s, i0, n, K, W, bv, scale, out, hva, asave, scr);
    free(scr);
}

void dz_block_sgrad_ref(const dz_shard *s, int64_t i0, int64_t n, int64_t K, const double *W,
                        const double *bv, double scale, const double *hva, double *out)
{
    const int64_t d = s->d;
    double *z = calloc((size_t)K, sizeof(double));
    if (!z)
        return;
    memset(out, 0, (size_t)(K * d + K + 1) * sizeof(double));
    for (int64_t i = i0; i < i0 + n; i++) {
        for (int64_t k = 0; k < K; k++) {
            double dot = 0;
            for (int64_t j = 0; j < d; j++)
                dot += W[k * d + j] * (feature(s, i, j) / scale);
            z[k] = dot + bv[k];
        }
        const int64_t y = (int64_t)s->y[i];
        if (hva) {
            const double *a = hva + (i - i0) * K;
            double t = 0;
            for (int64_t k = 0; k < K; k++)
                t += a[k] * z[k];
            for (int64_t k = 0; k < K; k++)
                z[k] = a[k] * (z[k] - t);
        } else {
            double zmax = z[0], sum = 0;
            for (int64_t k = 1; k < K; k++)
                zmax = z[k] > zmax ? z[k] : zmax;
            for (int64_t k = 0; k < K; k++)
                sum += exp(z[k] - zmax);
            out[K * d + K] += zmax + log(sum) - z[y];
            for (int64_t k = 0; k < K; k++)
                z[k] = exp(z[k] - zmax) / sum - (k == y);
        }
        for (int64_t k = 0; k < K; k++) {
            for (int64_t j = 0; j < d; j++)
                out[k * d + j] += z[k] * feature(s, i, j);
            out[K * d + k] += z[k];
        }
    }
    free(z);
}

void dz_block_hv_ref(const dz_shard *s, int64_t i0, int64_t n, const double *dcoef,
                     const double *v, double vb, double scale, double *out)
{
    int64_t d = s->d;
    for (int64_t j = 0; j < d + 2; j++)
        out[j] = 0;
    for (int64_t i = i0; i < i0 + n; i++) {
        double u = 0;
        for (int64_t j = 0; j < d; j++)
            u += v[j] * (feature(s, i, j) / scale);
        double t = dcoef[i] * (u + vb);
        for (int64_t j = 0; j < d; j++)
            out[j] += t * feature(s, i, j);
        out[d] += t;
    }
}

int dz_work_init(dz_work *wk, int64_t d, int64_t K, int nthreads, int repro)
{
    memset(wk, 0, sizeof *wk);
    wk->isa = current();
    wk->nthreads = nthreads;
    wk->d = d;
    wk->K = K;
    wk->nsum = K ? K * d + K + 1 : d + 2;
    wk->neval = K ? (K <= DZ_CONF_MAX_K ? 2 + K * K : 2) : 2;
    wk->blk = dz_alloc_lines((size_t)nthreads * (size_t)blk_len(wk) * sizeof(double));
    wk->scr = dz_alloc_lines((size_t)nthreads * (size_t)dz_kernel_scratch(K) * sizeof(double));
    wk->grad = calloc((size_t)nthreads, sizeof(dz_acc));
    wk->eval = calloc((size_t)nthreads, sizeof(dz_acc));
    wk->repro = repro;
    if (!wk->blk || !wk->scr || !wk->grad || !wk->eval) {
        dz_work_free(wk);
        return -1;
    }
    /* thread t > 0 sums with thread 0's bounds */
    for (int t = 0; t < nthreads; t++)
        if ((t == 0 ? dz_acc_init(&wk->grad[0], wk->nsum, repro) : dz_acc_init_shared(&wk->grad[t], &wk->grad[0])) ||
            (t == 0 ? dz_acc_init(&wk->eval[0], wk->neval, repro) : dz_acc_init_shared(&wk->eval[t], &wk->eval[0]))) {
            dz_work_free(wk);
            return -1;
        }
    return 0;
}

int dz_work_init_hv(dz_work *wk)
{
    wk->hv = calloc((size_t)wk->nthreads, sizeof(dz_acc));
    if (!wk->hv)
        return -1;
    for (int t = 0; t < wk->nthreads; t++)
        if (t == 0 ? dz_acc_init(&wk->hv[0], wk->nsum, wk->repro)
                   : dz_acc_init_shared(&wk->hv[t], &wk->hv[0]))
            return -1; /* dz_work_free releases what was made */
    return 0;
}

int dz_work_init_csr(dz_work *wk)
{
    wk->slots = malloc((size_t)wk->nthreads * (size_t)wk->d * sizeof(dz_slot));
    wk->touched = malloc((size_t)wk->nthreads * (size_t)wk->d * sizeof(int32_t));
    return wk->slots && wk->touched ? 0 : -1; /* dz_work_free releases what was made */
}

void dz_work_free(dz_work *wk)
{
    if (!wk)
        return;
    for (int t = 0; t < wk->nthreads; t++) {
        if (wk->grad) dz_acc_free(&wk->grad[t]);
        if (wk->eval) dz_acc_free(&wk->eval[t]);
        if (wk->hv) dz_acc_free(&wk->hv[t]);
    }
    free(wk->blk);
    free(wk->scr);
    free(wk->slots);
    free(wk->touched);
    free(wk->grad);
    free(wk->eval);
    free(wk->hv);
    memset(wk, 0, sizeof *wk);
}

/* A binary CSR pass of thread-local slots: fill the weights (O(d)), run the blocks, then move
 * the digits into the thread's accumulator (O(d)) every 2^20 folds and at the end. */
static void slots_to_acc(dz_slot *sl, int64_t d, dz_acc *a, int64_t folds)
{
    for (int64_t j = 0; j < d; j++) {
        if (a->repro) {
            a->fix[j] += sl[j].d0.i;
            a->fix[a->n + j] += sl[j].d1;
        } else {
            a->sum[j] += sl[j].d0.f;
        }
        sl[j].d0.i = 0;
        sl[j].d1 = 0;
    }
    dz_acc_rows_added(a, folds);
}

/* Which thread runs which block.  Plain sums (reproducible = false) are merged in thread order,
 * so their blocks are split statically, as OpenMP's schedule(static) does: thread t takes
 * ⌊n/T⌋ or ⌈n/T⌉ consecutive blocks.  Exact sums do not depend on who adds what, so there
 * each thread first takes its consecutive share of the first three quarters of the blocks
 * (the same rows every pass: caches and NUMA placement stay), and the last quarter goes one
 * block at a time to whichever thread is free.  A thread on a slower or busier core then
 * takes fewer blocks instead of holding the others at the barrier (on this machine one core
 * runs the kernel 10-25 % slower than the other).  Shared by the team of one pass. */
typedef struct dz_sched {
    int64_t n;            /* blocks of the pass */
    int dynamic;          /* exact sums: a static head, then blocks on demand */
    _Atomic int64_t next; /* dynamic: tail blocks handed out so far */
} dz_sched;

/* Thread t's (of nt) next block: *k = -1 to start; returns 0 when there is none left. */
static int sched_next(dz_sched *sc, int t, int nt, int64_t *k)
{
    const int64_t n = sc->n, head = sc->dynamic ? n * 3 / 4 / nt * nt : n;
    const int64_t q = head / nt, r = head % nt;
    const int64_t lo = q * t + (t < r ? t : r), hi = lo + q + (t < r);
    if (*k < 0 && lo < hi) {
        *k = lo;
        return 1;
    }
    if (*k >= lo && *k + 1 < hi) {
        ++*k;
        return 1;
    }
    if (!sc->dynamic)
        return 0;
    *k = head + atomic_fetch_add_explicit(&sc->next, 1, memory_order_relaxed);
    return *k < n;
}

static void csr_slots_pass(const dz_shard *s, const dz_work *wk, const dz_pass *ps, dz_acc *a,
                           dz_slot *sl, int32_t *touched, dz_sched *sc, int t, int nt)
{
    const int64_t B = s->block_rows, d = s->d;
    for (int64_t j = 0; j < d; j++)
        sl[j] = (dz_slot){.w = ps->w[j]};
    int64_t folds = 0;
    for (int64_t k = -1; sched_next(sc, t, nt, &k);) {
        int64_t i0 = (ps->blocks ? ps->blocks[k] : k) * B;
        int64_t rows = s->rows - i0 < B ? s->rows - i0 : B;
        const double *hv = ps->mode == DZ_PASS_HV ? ps->dcoef + i0 : NULL;
        double *save = ps->mode == DZ_PASS_GRAD && ps->dsave ? ps->dsave + i0 : NULL;
        folds += wk->isa->csr_grad_slots(s, i0, rows, sl, touched, a->to_fix, wk->repro, ps->b,
                                         ps->scale, a, hv, save);
        if (folds >= ((int64_t)1 << 20)) {
            slots_to_acc(sl, d, a, folds);
            folds = 0;
        }
    }
    slots_to_acc(sl, d, a, folds);
}

/* One thread's share of the blocks (dz_sched): each block's partial folded into a, or, for
 * softmax CSR gradient and H·v passes, every value folded as it is made. */
static void blocks_pass(const dz_shard *s, const dz_work *wk, const dz_pass *ps, dz_acc *a,
                        double *blk, double *scr, dz_sched *sc, int t, int nt)
{
    const int64_t B = s->block_rows;
    for (int64_t k = -1; sched_next(sc, t, nt, &k);) {
        int64_t i0 = (ps->blocks ? ps->blocks[k] : k) * B;
        int64_t rows = s->rows - i0 < B ? s->rows - i0 : B;
        if (dz_shard_is_csr(s) && ps->mode != DZ_PASS_EVAL) { /* softmax: A (K) per row */
            const int64_t K = wk->K;
            const double *hv = ps->mode == DZ_PASS_HV ? ps->dcoef + i0 * K : NULL;
            double *save = ps->mode == DZ_PASS_GRAD && ps->dsave ? ps->dsave + i0 * K : NULL;
            wk->isa->csr_grad(s, i0, rows, K, ps->w, ps->bv, ps->scale, a, hv, save, scr);
        } else {
            block_pass(s, wk, ps, i0, rows, blk, scr);
            dz_acc_fold(a, blk);
        }
    }
}

void dz_kernel_run(const dz_shard *s, dz_work *wk, const dz_pass *ps)
{
    dz_acc *accs = ps->mode == DZ_PASS_EVAL ? wk->eval : ps->mode == DZ_PASS_HV ? wk->hv : wk->grad;
    const int64_t B = s->block_rows, n = accs[0].n;
    const int64_t nblk = blk_len(wk), nscr = dz_kernel_scratch(wk->K);
    const int64_t nblocks = ps->blocks ? ps->nblocks : (s->rows + B - 1) / B;
    int team = 1;
    dz_sched sc = {.n = nblocks, .dynamic = wk->repro};
    atomic_init(&sc.next, 0);
    const int use_slots = dz_shard_is_csr(s) && !wk->K && ps->mode != DZ_PASS_EVAL;
    if (use_slots && !wk->slots)
        dz_fatal(MPI_COMM_WORLD, DZ_EINTERNAL, "%s:%d: a binary CSR pass without "
                 "dz_work_init_csr (a bug)", __FILE__, __LINE__);
#pragma omp parallel num_threads(wk->nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(); /* nt may be < nthreads */
        if (t == 0)
            team = nt;
        dz_acc *a = &accs[t]; /* shares accs[0]'s bounds */
        dz_acc_zero(a);
        double *blk = wk->blk + (size_t)t * (size_t)nblk, *scr = wk->scr + (size_t)t * (size_t)nscr;
        if (use_slots)
            csr_slots_pass(s, wk, ps, a, wk->slots + (size_t)t * (size_t)s->d,
                           wk->touched + (size_t)t * (size_t)s->d, &sc, t, nt);
        else
            blocks_pass(s, wk, ps, a, blk, scr, &sc, t, nt);
        dz_acc_flush(a);
#pragma omp barrier
        /* threads merge disjoint ranges of quantities into accs[0] */
        dz_acc_merge_range(accs, nt, n * t / nt, n * (t + 1) / nt);
    }
    dz_acc_merge_flags(accs, team);
}

void dz_kernel_pass(const dz_shard *s, const double *w, double b, double scale, dz_work *wk,
                    int eval)
{
    dz_pass ps = {.mode = eval ? DZ_PASS_EVAL : DZ_PASS_GRAD, .w = w, .b = b, .scale = scale};
    dz_kernel_run(s, wk, &ps);
}
