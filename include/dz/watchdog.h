/* dz/watchdog.h — ends the job when a collective stops answering.
 *
 * Why.  When a rank or a network link stops answering (a node frozen, a cable or switch port
 * down), the other ranks wait inside MPI_Allreduce.  Open MPI notices a rank that dies, but not
 * one that is merely silent: its TCP timeouts are minutes long or infinite, so the job would
 * sit until the batch system's time limit, hours later.  dztrain promises not to hang, so each
 * rank runs a watchdog thread that ends the whole job (MPI_Abort, exit code DZ_ERUNTIME = 4)
 * when one guarded collective has lasted longer than the timeout.  The last checkpoint, written
 * atomically before, stays intact and resumable.
 *
 * What is guarded: the allreduce of every evaluation in the training loop (dz_obj, the place a
 * run spends its waiting).  Start-up (the data read, which may legitimately take long on one
 * rank) and the final output are not.
 *
 * The timeout.  [train] collective_timeout: seconds, or 0 = off, or unset = automatic:
 * max(300 s, 100 × the median of the last DZ_WD_RING step times).  A healthy allreduce waits at
 * most for the slowest rank's share of one step, so 100 medians cannot be reached by load
 * imbalance or a noisy neighbour.
 *
 * Cost: two clock_gettime calls (vDSO, ~20 ns) and a few relaxed atomic stores per guarded
 * collective on the main thread; the watchdog thread sleeps on a condition variable and wakes
 * a few times a second.
 *
 * Suspension: a job stopped and continued (scontrol suspend, preemption, Ctrl-Z) is not a
 * timeout: time during which the watchdog itself was not running is not counted.
 *
 * Threads: dz_watchdog_start/stop and every other call belong to the rank's main thread; the
 * only other thread is the watchdog's own.  It calls MPI_Abort while the main thread is inside
 * MPI_Allreduce, which MPI_THREAD_FUNNELED (what the trainer asks for) does not allow; Open MPI
 * 4.1 ends the job correctly (tests faults and cluster), and a backstop _exit bounds any other
 * MPI's behaviour to DZ_WD_BACKSTOP seconds.  Requesting MPI_THREAD_MULTIPLE instead would
 * slow every message on some transports.  Not collective (no call here communicates).
 * Ownership: the struct is the caller's; start allocates a thread, stop joins it.
 * dz_watchdog_stop on a zeroed or never-started watchdog is safe.
 */
#ifndef DZ_WATCHDOG_H
#define DZ_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dz/config.h"

#define DZ_WD_RING 255      /* step times kept for the automatic timeout's median */
#define DZ_WD_AUTO_MIN 300.0 /* seconds: the automatic timeout's floor */
#define DZ_WD_AUTO_STEPS 100.0

typedef struct dz_watchdog {
    int running;                 /* the thread exists */
    int rank;
    double configured;           /* [train] collective_timeout: < 0 automatic, 0 off, > 0 s */
    _Atomic int64_t limit_ns;    /* the timeout now in force (0 = off) */
    _Atomic int64_t since_ns;    /* CLOCK_MONOTONIC start of the guarded collective, 0 = none */
    _Atomic int64_t step;        /* the iteration being computed, for the message */
    _Atomic int quit;
    char remove[DZ_PATH_MAX + 16]; /* a temporary file to delete before ending the job ("" none) */
    double ring[DZ_WD_RING];     /* main thread only: recent step times */
    int nring, next, since_median;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} dz_watchdog;

/* Start the watchdog thread.  timeout: < 0 automatic, 0 off (no thread is started), > 0
 * seconds.  remove: a temporary file (rank-local path) to delete before the job is ended, or
 * NULL.  Returns 0, or -1 when the thread cannot be created (the caller agrees on it). */
int dz_watchdog_start(dz_watchdog *w, double timeout, int rank, const char *remove);

/* The iteration now being computed (for the message). */
void dz_watchdog_at(dz_watchdog *w, int64_t step);

/* Bracket one guarded collective.  w may be NULL (no-op). */
void dz_watchdog_enter(dz_watchdog *w);
void dz_watchdog_leave(dz_watchdog *w);

/* One step took seconds (feeds the automatic timeout). */
void dz_watchdog_step_time(dz_watchdog *w, double seconds);

/* The timeout in force now, in seconds (0 = off). */
double dz_watchdog_limit(const dz_watchdog *w);

/* Stop and join the thread.  Safe on a zeroed or stopped watchdog. */
void dz_watchdog_stop(dz_watchdog *w);

#endif
