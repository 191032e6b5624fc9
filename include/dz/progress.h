/* dz/progress.h — the progress line that rank 0 writes to stderr during training.
 *
 * Two modes, chosen by whether rank 0's stderr is a terminal:
 *   - terminal (a run without mpirun, or a rank given a pty): one line rewritten in place
 *     ("\r" … "\033[K") about twice a second, ended with a newline when training ends;
 *   - otherwise (batch logs, and every run under mpirun, whose rank stderr is a pipe): a plain
 *     line every `every` seconds ([output] progress; 0 = off).
 * The line: iteration i/limit, the last evaluated J, the last evaluated ‖∇J‖∞ with its
 * iteration (first-order methods evaluate it at logged iterations only), iterations per second over
 * the run so far, and the time left at that rate ("≤" when a tolerance or a solver may stop
 * earlier).  It starts "dztrain: progress:" and never looks like an error line.
 * Not collective: only the rank that called dz_progress_start with on = 1 prints.  The struct
 * owns nothing.
 */
#ifndef DZ_PROGRESS_H
#define DZ_PROGRESS_H

#include <stdint.h>

typedef struct dz_progress {
    int on, tty, upper;    /* printing; in place; the time left is an upper bound */
    double every;          /* seconds between lines */
    double t0, last;       /* MPI_Wtime of the start and of the last line */
    int64_t it0, limit;    /* first iteration of this run; the iteration limit */
    double f, gmax;        /* the last evaluated values (NaN before) */
    int64_t git;           /* the iteration gmax was evaluated at */
    int printed;           /* an in-place line is showing */
} dz_progress;

/* every: seconds between plain lines (0 = off); on: this rank prints (rank 0, not --quiet);
 * upper: the run may stop before limit (tolerance, lbfgs, newton). */
void dz_progress_start(dz_progress *p, int on, double every, int64_t it0, int64_t limit,
                       int upper);
/* Iteration it has been computed at time now (MPI_Wtime; the caller's clock read, shared with
 * its other uses); f, gmax: its values, NaN when not evaluated. */
void dz_progress_update(dz_progress *p, int64_t it, double f, double gmax, double now);
/* Before other output: end an in-place line with a newline. */
void dz_progress_end(dz_progress *p);

#endif
