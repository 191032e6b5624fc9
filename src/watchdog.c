/* watchdog.c — see dz/watchdog.h.  The thread sleeps on a CLOCK_MONOTONIC condition variable
 * and looks at two atomics the main thread sets around each guarded collective; when one has
 * lasted longer than the limit it prints, deletes the registered temporary file, and ends the
 * job with MPI_Abort.  A backstop thread calls _exit(4) if the abort itself cannot get through
 * (its daemon unreachable), so the rank never outlives the timeout by more than DZ_WD_BACKSTOP. */
#include "dz/watchdog.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dz/err.h"

#define DZ_WD_POLL 0.25     /* seconds between looks, at most */
#define DZ_WD_BACKSTOP 5    /* seconds the abort may take before the rank exits on its own */
#define DZ_WD_SUSPENDED 1000000000 /* ns: a wake-up this much later than asked = suspended */

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void *backstop(void *arg)
{
    (void)arg;
    sleep(DZ_WD_BACKSTOP);
    _exit(DZ_ERUNTIME);
}

static _Noreturn void fire(dz_watchdog *w, int64_t waited, int64_t limit)
{
    fprintf(stderr,
            "dztrain: rank %d: iteration %lld: the allreduce has not completed after %.1f s "
            "(collective_timeout %.6g s%s): a rank or the network stopped answering; ending the "
            "job (exit %d); the last checkpoint, if any, is intact: continue with --resume\n",
            w->rank, (long long)atomic_load(&w->step), (double)waited * 1e-9, (double)limit * 1e-9,
            w->configured < 0 ? ", automatic" : "", DZ_ERUNTIME);
    fflush(stderr);
    if (w->remove[0])
        unlink(w->remove);
    pthread_t t;
    pthread_create(&t, NULL, backstop, NULL); /* if it fails, the abort is all we have */
    MPI_Abort(MPI_COMM_WORLD, DZ_ERUNTIME);
    _exit(DZ_ERUNTIME);
}

/* The loop counts only time it watched: when it wakes much later than it asked (the job was
 * suspended — Slurm's scontrol suspend, preemption, Ctrl-Z — and CLOCK_MONOTONIC ran on),
 * that gap is excused for the collective in progress, which could not have completed while
 * every rank was stopped. */
static void *run(void *arg)
{
    dz_watchdog *w = arg;
    int64_t nap = (int64_t)(DZ_WD_POLL * 1e9), woke = now_ns(), excused_since = 0, excused = 0;
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->quit)) {
        int64_t now = now_ns(); /* before since: a collective that ends meanwhile reads as 0 */
        int64_t limit = atomic_load(&w->limit_ns), since = atomic_load(&w->since_ns);
        if (since != excused_since) {
            excused_since = since;
            excused = 0;
        }
        if (now - woke > nap + DZ_WD_SUSPENDED)
            excused += now - woke - nap;
        woke = now;
        if (limit > 0 && since > 0 && now - since - excused > limit)
            fire(w, now - since - excused, limit);
        nap = (int64_t)(DZ_WD_POLL * 1e9);
        if (limit > 0 && limit / 4 < nap)
            nap = limit / 4 > 10000000 ? limit / 4 : 10000000;
        int64_t until = now + nap;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void set_limit(dz_watchdog *w, double seconds)
{
    /* the config bounds seconds to 1e9; a positive value never rounds to "off" */
    int64_t ns = seconds > 0 ? (int64_t)(seconds * 1e9) : 0;
    atomic_store(&w->limit_ns, seconds > 0 && ns < 1 ? 1 : ns);
}

int dz_watchdog_start(dz_watchdog *w, double timeout, int rank, const char *remove)
{
    memset(w, 0, sizeof *w);
    w->rank = rank;
    snprintf(w->remove, sizeof w->remove, "%s", remove ? remove : ""); /* before the thread */
    w->configured = timeout;
    set_limit(w, timeout < 0 ? DZ_WD_AUTO_MIN : timeout);
    if (timeout == 0)
        return 0;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    w->running = 1;
    return 0;
}

void dz_watchdog_at(dz_watchdog *w, int64_t step)
{
    atomic_store_explicit(&w->step, step, memory_order_relaxed);
}

void dz_watchdog_enter(dz_watchdog *w)
{
    if (w && w->running)
        atomic_store_explicit(&w->since_ns, now_ns(), memory_order_relaxed);
}

void dz_watchdog_leave(dz_watchdog *w)
{
    if (w && w->running)
        atomic_store_explicit(&w->since_ns, 0, memory_order_relaxed);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void dz_watchdog_step_time(dz_watchdog *w, double seconds)
{
    if (!w->running || w->configured >= 0 || !isfinite(seconds))
        return;
    w->ring[w->next] = seconds;
    w->next = (w->next + 1) % DZ_WD_RING;
    if (w->nring < DZ_WD_RING)
        w->nring++;
    /* the median moves slowly: recompute it (a sort, ~10 µs) every 256 steps, and at the
     * first ones */
    if (++w->since_median < 256 && w->nring > 8)
        return;
    w->since_median = 0;
    double tmp[DZ_WD_RING];
    memcpy(tmp, w->ring, (size_t)w->nring * sizeof tmp[0]);
    qsort(tmp, (size_t)w->nring, sizeof tmp[0], cmp_double);
    double limit = DZ_WD_AUTO_STEPS * tmp[w->nring / 2];
    set_limit(w, limit > DZ_WD_AUTO_MIN ? limit : DZ_WD_AUTO_MIN);
}

double dz_watchdog_limit(const dz_watchdog *w)
{
    return (double)atomic_load(&w->limit_ns) * 1e-9;
}

void dz_watchdog_stop(dz_watchdog *w)
{
    if (!w || !w->running)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->quit, 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->running = 0;
}
