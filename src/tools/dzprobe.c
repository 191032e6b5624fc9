/*
 * dzprobe: memory read-bandwidth probe.
 *
 *   dzprobe --bytes B [--reps R] [--threads T]
 *
 * Allocates B bytes (64-byte aligned), first-touches them in parallel with the
 * same static OpenMP schedule the read loop uses (so pages land near the thread
 * that reads them), does untimed warm-up passes (>= 0.2 s), then times R passes of an
 * OpenMP read-and-sum over uint64 words (integer adds are associative, so the
 * compiler vectorises the reduction without -ffast-math).  Prints JSON:
 *   {"bytes":B,"threads":T,"reps":R,"gbps_median":..,"gbps_max":..,"gbps_all":[..],"checksum":..}
 * GB/s = 1e9 bytes per second.  B may carry a K/M/G suffix (powers of 1024).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: dzprobe --bytes B[K|M|G] [--reps R] [--threads T]\n");
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    static const struct option opts[] = {{"bytes", required_argument, 0, 'b'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 't'},
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
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || bytes < 64) {
        usage(stderr);
        return 2;
    }
    if (threads)
        omp_set_num_threads((int)threads);
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
