/* progress.c — see dz/progress.h. */
#include "dz/progress.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#define DZ_PROGRESS_TTY_EVERY 0.5 /* seconds between in-place updates */

void dz_progress_start(dz_progress *p, int on, double every, int64_t it0, int64_t limit,
                       int upper)
{
    p->tty = on && isatty(STDERR_FILENO);
    p->on = on && (every > 0 || p->tty);
    p->every = p->tty ? DZ_PROGRESS_TTY_EVERY : every;
    p->upper = upper;
    p->t0 = p->last = MPI_Wtime();
    p->it0 = it0;
    p->limit = limit;
    p->f = p->gmax = NAN;
    p->printed = 0;
}

/* h:mm:ss, or days when long */
static void clock_text(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "?");
        return;
    }
    long long t = (long long)(s + 0.5);
    if (t >= 86400)
        snprintf(buf, len, "%lldd %02lld:%02lld", t / 86400, t % 86400 / 3600, t % 3600 / 60);
    else
        snprintf(buf, len, "%lld:%02lld:%02lld", t / 3600, t % 3600 / 60, t % 60);
}

void dz_progress_update(dz_progress *p, int64_t it, double f, double gmax, double now)
{
    if (!p->on)
        return;
    if (isfinite(f))
        p->f = f;
    if (isfinite(gmax)) {
        p->gmax = gmax;
        p->git = it;
    }
    if (now - p->last < p->every)
        return;
    p->last = now;
    int64_t done = it + 1 - p->it0;
    double rate = done / (now - p->t0);
    char left[32];
    clock_text((double)(p->limit - it - 1) / rate, left, sizeof left);
    char g[64] = "";
    if (isfinite(p->gmax))
        snprintf(g, sizeof g, ", |grad J|inf %.3g (iteration %lld)", p->gmax, (long long)p->git);
    fprintf(stderr, "%sdztrain: progress: iteration %lld/%lld (%.0f %%), J %.6g%s, %.*f it/s, "
            "left %s%s%s",
            p->tty ? "\r" : "", (long long)(it + 1), (long long)p->limit,
            100.0 * (double)(it + 1) / (double)p->limit, p->f, g, rate >= 10 ? 0 : 2, rate,
            p->upper ? "<= " : "", left, p->tty ? "\033[K" : "\n");
    fflush(stderr);
    p->printed = p->tty;
}

void dz_progress_end(dz_progress *p)
{
    if (p->printed) {
        fputc('\n', stderr);
        fflush(stderr);
        p->printed = 0;
    }
}
