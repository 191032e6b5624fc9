/*
 * dzprobe: memory read-bandwidth probe, and float64 FMA-throughput probe.
 *
 *   dzprobe --bytes B [--reps R] [--threads T]
 *   dzprobe --fma [--reps R] [--threads T] [--isa auto|avx512|avx2|generic]
 *
 * Allocates B bytes (64-byte aligned), first-touches them in parallel with the
 * same static OpenMP schedule the read loop uses (so pages land near the thread
 * that reads them), does untimed warm-up passes (>= 0.2 s), then times R passes of an
 * OpenMP read-and-sum over uint64 words (integer adds are associative, so the
 * compiler vectorises the reduction without -ffast-math).  Prints JSON:
 *   {"bytes":B,"threads":T,"reps":R,"gbps_median":..,"gbps_max":..,"gbps_all":[..],"checksum":..}
 * GB/s = 1e9 bytes per second.  B may carry a K/M/G suffix (powers of 1024).
 *
 * --fma: the float64 FMA ceiling of the cores.  Every thread runs FMA_CHAINS independent
 * chains acc = acc * a + c in vector registers (a, c opaque to the compiler; acc stays
 * finite and normal), enough of them to cover the FMA latency on every x86-64 core of the
 * last decade (latency 4-5 cycles x 2 FMA ports).  The kernels are compiled for their ISA
 * with target attributes (the build has no -march for them to rely on) and the widest one
 * the CPU has is picked at run time with __builtin_cpu_supports (or forced by --isa).
 * Untimed warm-up >= 0.2 s that sizes a pass to ~0.05 s, then R timed passes of the parallel
 * region (all threads; a pass ends when the slowest thread is done); prints JSON:
 *   {"probe":"fma","isa":..,"lanes":L,"chains":C,"threads":T,"reps":R,
 *    "gflops_median":..,"gflops_max":..,"gflops_all":[..],"gflops_per_thread_median":..,
 *    "gfma_per_s_median":..,"seconds_per_rep":..,"checksum":..}
 * GFLOP/s counts an FMA as 2 flops (per float64 lane); gfma_per_s = 1e9 lane-FMAs per second,
 * i.e. gflops / 2.  Threads beyond the cores share them (the figure is then the cores' total).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DZ_X86 1
#endif

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dzprobe --bytes B[K|M|G] [--reps R] [--threads T]\n"
               "       dzprobe --fma [--reps R] [--threads T] [--isa auto|avx512|avx2|generic]\n");
}

/* ---- FMA throughput ---------------------------------------------------------------------
 * Each kernel: `iters` rounds of FMA_CHAINS independent vector FMAs; returns a value that
 * depends on every chain (so nothing is dead code).  16 chains: 2 ports x latency 4-5 needs
 * >= 10 in flight; 16 accumulators + 2 operands fit in 18 of AVX-512's 32 registers and in
 * AVX2's 16 only if the operands are memory/broadcast operands, so AVX2 uses 12 chains. */
#define FMA_CHAINS_512 16
#define FMA_CHAINS_256 12
#define FMA_CHAINS_GEN 16

static volatile double g_fma_a = 0.99999999, g_fma_c = 1e-8; /* fixed point 1, no overflow */

#ifdef DZ_X86
__attribute__((target("avx512f"))) static double fma_avx512(long long iters)
{
    const __m512d a = _mm512_set1_pd(g_fma_a), c = _mm512_set1_pd(g_fma_c);
    __m512d r0 = _mm512_set1_pd(1.0), r1 = _mm512_set1_pd(1.01), r2 = _mm512_set1_pd(1.02),
            r3 = _mm512_set1_pd(1.03), r4 = _mm512_set1_pd(1.04), r5 = _mm512_set1_pd(1.05),
            r6 = _mm512_set1_pd(1.06), r7 = _mm512_set1_pd(1.07), r8 = _mm512_set1_pd(1.08),
            r9 = _mm512_set1_pd(1.09), r10 = _mm512_set1_pd(1.10), r11 = _mm512_set1_pd(1.11),
            r12 = _mm512_set1_pd(1.12), r13 = _mm512_set1_pd(1.13), r14 = _mm512_set1_pd(1.14),
            r15 = _mm512_set1_pd(1.15);
    for (long long i = 0; i < iters; ++i) {
        r0 = _mm512_fmadd_pd(r0, a, c);   r1 = _mm512_fmadd_pd(r1, a, c);
        r2 = _mm512_fmadd_pd(r2, a, c);   r3 = _mm512_fmadd_pd(r3, a, c);
        r4 = _mm512_fmadd_pd(r4, a, c);   r5 = _mm512_fmadd_pd(r5, a, c);
        r6 = _mm512_fmadd_pd(r6, a, c);   r7 = _mm512_fmadd_pd(r7, a, c);
        r8 = _mm512_fmadd_pd(r8, a, c);   r9 = _mm512_fmadd_pd(r9, a, c);
        r10 = _mm512_fmadd_pd(r10, a, c); r11 = _mm512_fmadd_pd(r11, a, c);
        r12 = _mm512_fmadd_pd(r12, a, c); r13 = _mm512_fmadd_pd(r13, a, c);
        r14 = _mm512_fmadd_pd(r14, a, c); r15 = _mm512_fmadd_pd(r15, a, c);
    }
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(r0, r1), _mm512_add_pd(r2, r3)),
                              _mm512_add_pd(_mm512_add_pd(r4, r5), _mm512_add_pd(r6, r7)));
    s = _mm512_add_pd(s, _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(r8, r9), _mm512_add_pd(r10, r11)),
                                       _mm512_add_pd(_mm512_add_pd(r12, r13), _mm512_add_pd(r14, r15))));
    return _mm512_reduce_add_pd(s);
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long long iters)
{
    const __m256d a = _mm256_set1_pd(g_fma_a), c = _mm256_set1_pd(g_fma_c);
    __m256d r0 = _mm256_set1_pd(1.0), r1 = _mm256_set1_pd(1.01), r2 = _mm256_set1_pd(1.02),
            r3 = _mm256_set1_pd(1.03), r4 = _mm256_set1_pd(1.04), r5 = _mm256_set1_pd(1.05),
            r6 = _mm256_set1_pd(1.06), r7 = _mm256_set1_pd(1.07), r8 = _mm256_set1_pd(1.08),
            r9 = _mm256_set1_pd(1.09), r10 = _mm256_set1_pd(1.10), r11 = _mm256_set1_pd(1.11);
    for (long long i = 0; i < iters; ++i) {
        r0 = _mm256_fmadd_pd(r0, a, c);   r1 = _mm256_fmadd_pd(r1, a, c);
        r2 = _mm256_fmadd_pd(r2, a, c);   r3 = _mm256_fmadd_pd(r3, a, c);
        r4 = _mm256_fmadd_pd(r4, a, c);   r5 = _mm256_fmadd_pd(r5, a, c);
        r6 = _mm256_fmadd_pd(r6, a, c);   r7 = _mm256_fmadd_pd(r7, a, c);
        r8 = _mm256_fmadd_pd(r8, a, c);   r9 = _mm256_fmadd_pd(r9, a, c);
        r10 = _mm256_fmadd_pd(r10, a, c); r11 = _mm256_fmadd_pd(r11, a, c);
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(r0, r1), _mm256_add_pd(r2, r3)),
                              _mm256_add_pd(_mm256_add_pd(r4, r5), _mm256_add_pd(r6, r7)));
    s = _mm256_add_pd(s, _mm256_add_pd(_mm256_add_pd(r8, r9), _mm256_add_pd(r10, r11)));
    double t[4];
    _mm256_storeu_pd(t, s);
    return (t[0] + t[1]) + (t[2] + t[3]);
}
#endif

/* Any CPU: scalar __builtin_fma (one instruction where the baseline ISA has FMA, e.g.
 * aarch64; a library call on x86-64 without -mfma, which the "isa" field then says). */
static double fma_generic(long long iters)
{
    const double a = g_fma_a, c = g_fma_c;
    double r[FMA_CHAINS_GEN];
    for (int k = 0; k < FMA_CHAINS_GEN; ++k)
        r[k] = 1.0 + 0.01 * k;
    for (long long i = 0; i < iters; ++i)
        for (int k = 0; k < FMA_CHAINS_GEN; ++k)
            r[k] = __builtin_fma(r[k], a, c);
    double s = 0.0;
    for (int k = 0; k < FMA_CHAINS_GEN; ++k)
        s += r[k];
    return s;
}

struct fma_kernel {
    const char *isa;
    int lanes, chains;
    double (*fn)(long long);
};

static int pick_fma(const char *want, struct fma_kernel *k)
{
    int auto_ = !strcmp(want, "auto");
#ifdef DZ_X86
    __builtin_cpu_init();
    if ((auto_ || !strcmp(want, "avx512")) && __builtin_cpu_supports("avx512f")) {
        *k = (struct fma_kernel){"avx512f", 8, FMA_CHAINS_512, fma_avx512};
        return 0;
    }
    if ((auto_ || !strcmp(want, "avx2")) && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        *k = (struct fma_kernel){"avx2+fma", 4, FMA_CHAINS_256, fma_avx2};
        return 0;
    }
    if (auto_ || !strcmp(want, "generic")) {
#ifdef __FMA__
        *k = (struct fma_kernel){"generic (scalar fma)", 1, FMA_CHAINS_GEN, fma_generic};
#else
        *k = (struct fma_kernel){"generic (scalar fma, library call)", 1, FMA_CHAINS_GEN, fma_generic};
#endif
        return 0;
    }
#else
    if (auto_ || !strcmp(want, "generic")) {
        *k = (struct fma_kernel){"generic (scalar fma)", 1, FMA_CHAINS_GEN, fma_generic};
        return 0;
    }
#endif
    return -1;
}

static int run_fma(const char *want, unsigned long long reps)
{
    struct fma_kernel k;
    if (pick_fma(want, &k)) {
        fprintf(stderr, "dzprobe: --isa %s: not available on this CPU/build\n", want);
        return 1;
    }
    const int nthr = omp_get_max_threads();
    double *gf = malloc(reps * sizeof *gf), *sorted = malloc(reps * sizeof *sorted);
    if (!gf || !sorted) return 1;
    volatile double sink = 0.0;
    /* warm-up, all threads, >= 0.2 s (clocks ramp up, the wide units power on), which also
     * sizes a rep to ~0.05 s from the last warm passes */
    long long iters = 1 << 12;
    double tw = omp_get_wtime();
    for (;;) {
        double t0 = omp_get_wtime(), acc = 0.0;
#pragma omp parallel reduction(+ : acc)
        acc += k.fn(iters);
        double t1 = omp_get_wtime();
        sink += acc;
        double f = 0.05 / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
        iters = (long long)((double)iters * (f > 8.0 ? 8.0 : f));
        if (iters < 1024) iters = 1024;
        if (t1 - tw >= 0.2 && f > 0.5 && f < 2.0)
            break;
        if (t1 - tw >= 2.0) /* a loaded machine: settle for the last estimate */
            break;
    }
    double check = 0.0, tsum = 0.0;
    const double flops = 2.0 * (double)k.lanes * (double)k.chains * (double)iters * nthr;
    for (unsigned long long r = 0; r < reps; ++r) {
        double acc = 0.0;
        double t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : acc)
        acc += k.fn(iters);
        double t1 = omp_get_wtime();
        check += acc;
        tsum += t1 - t0;
        gf[r] = flops / (t1 - t0) / 1e9;
    }
    sink += check;
    memcpy(sorted, gf, reps * sizeof *sorted);
    qsort(sorted, reps, sizeof *sorted, cmp_double);
    double med = reps % 2 ? sorted[reps / 2] : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);
    printf("{\"probe\":\"fma\",\"isa\":\"%s\",\"lanes\":%d,\"chains\":%d,\"threads\":%d,"
           "\"reps\":%llu,\"gflops_median\":%.4f,\"gflops_max\":%.4f,\"gflops_all\":[",
           k.isa, k.lanes, k.chains, nthr, reps, med, sorted[reps - 1]);
    for (unsigned long long r = 0; r < reps; ++r)
        printf("%s%.4f", r ? "," : "", gf[r]);
    printf("],\"gflops_per_thread_median\":%.4f,\"gfma_per_s_median\":%.4f,"
           "\"seconds_per_rep\":%.4f,\"checksum\":%.6g}\n",
           med / nthr, med / 2.0, tsum / (double)reps, (double)sink);
    free(gf);
    free(sorted);
    return 0;
}

static int parse_size(const char *s, unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || s[0] == '-' || s[0] == '\0')
        return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1ULL << 10; break;
        case 'm': case 'M': mul = 1ULL << 20; break;
        case 'g': case 'G': mul = 1ULL << 30; break;
        default: return -1;
        }
        ++end;
        if (*end == 'i' && end[1] == 'B') end += 2;
        else if (*end == 'B') ++end;
        if (*end)
            return -1;
    }
    if (v > ~0ULL / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static uint64_t sum_words(const uint64_t *restrict p, long long n)
{
    uint64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (long long i = 0; i < n; ++i)
        s += p[i];
    return s;
}

int main(int argc, char **argv)
{
    unsigned long long bytes = 0, reps = 10, threads = 0;
    int fma = 0;
    const char *isa = "auto";
    static const struct option opts[] = {{"bytes", required_argument, 0, 'b'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'},
                                         {"fma", no_argument, 0, 'f'},
                                         {"isa", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_size(optarg, &bytes)) { fprintf(stderr, "dzprobe: bad --bytes\n"); return 2; }
            break;
        case 'r':
            if (parse_size(optarg, &reps) || reps == 0 || reps > 100000) { fprintf(stderr, "dzprobe: bad --reps\n"); return 2; }
            break;
        case 't':
            if (parse_size(optarg, &threads) || threads == 0 || threads > 4096) { fprintf(stderr, "dzprobe: bad --threads\n"); return 2; }
            break;
        case 'f': fma = 1; break;
        case 'i':
            if (strcmp(optarg, "auto") && strcmp(optarg, "avx512") && strcmp(optarg, "avx2") &&
                strcmp(optarg, "generic")) { fprintf(stderr, "dzprobe: bad --isa\n"); return 2; }
            isa = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (fma ? bytes != 0 : bytes < 64)) {
        usage(stderr);
        return 2;
    }
    if (threads)
        omp_set_num_threads((int)threads);
    if (fma)
        return run_fma(isa, reps);
    int nthr = omp_get_max_threads();

    const long long n = (long long)(bytes / sizeof(uint64_t));
    const size_t alloc = ((size_t)n * sizeof(uint64_t) + 63) / 64 * 64;
    uint64_t *p = aligned_alloc(64, alloc);
    if (!p) {
        fprintf(stderr, "dzprobe: cannot allocate %llu bytes\n", bytes);
        return 1;
    }
    /* parallel first touch, same static partition as the read loop */
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < n; ++i)
        p[i] = (uint64_t)i;

    const double used = (double)n * sizeof(uint64_t);
    double *gbps = malloc(reps * sizeof *gbps), *sorted = malloc(reps * sizeof *sorted);
    if (!gbps || !sorted) return 1;

    /* warm-up: at least one pass and at least 0.2 s (clocks ramp up, TLBs fill) */
    volatile uint64_t sink = 0;
    double tw = omp_get_wtime();
    do
        sink ^= sum_words(p, n);
    while (omp_get_wtime() - tw < 0.2);
    uint64_t check = 0;
    for (unsigned long long r = 0; r < reps; ++r) {
        double t0 = omp_get_wtime();
        uint64_t s = sum_words(p, n);
        double t1 = omp_get_wtime();
        check ^= s;
        gbps[r] = used / (t1 - t0) / 1e9;
    }
    sink ^= check;
    memcpy(sorted, gbps, reps * sizeof *sorted);
    qsort(sorted, reps, sizeof *sorted, cmp_double);
    double med = reps % 2 ? sorted[reps / 2] : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);

    printf("{\"bytes\":%.0f,\"threads\":%d,\"reps\":%llu,\"gbps_median\":%.4f,\"gbps_max\":%.4f,"
           "\"gbps_all\":[", used, nthr, reps, med, sorted[reps - 1]);
    for (unsigned long long r = 0; r < reps; ++r)
        printf("%s%.4f", r ? "," : "", gbps[r]);
    printf("],\"checksum\":%llu}\n", (unsigned long long)sink);
    free(gbps);
    free(sorted);
    free(p);
    return 0;
}
