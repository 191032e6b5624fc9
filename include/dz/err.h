/* dz/err.h — error values, messages and the collective agreement on them.
 *
 * Contract: every fallible dztrain function returns an int code (DZ_OK == 0) and, on failure,
 * fills a caller-owned dz_err with the code and a one-line message naming the file, dataset,
 * config line or values involved.  Rank-local functions never call MPI on an error path.
 * Errors become collective only at phase boundaries, through dz_err_agree(): every rank
 * calls it, all learn whether any rank failed, and exactly one rank (the lowest that failed)
 * prints its message, prefixed with its rank.  Inside a collective HDF5 or MPI operation no
 * such agreement is possible (a failing rank cannot leave while the others wait in it); there
 * we print and end the job with dz_fatal(), which calls MPI_Abort.  Either way no rank is left
 * waiting: see "Errors" in README.md.
 */
#ifndef DZ_ERR_H
#define DZ_ERR_H

#include <mpi.h>

/* Process exit codes (documented in README.md). */
enum {
    DZ_OK = 0,
    DZ_EINTERNAL = 1,   /* a bug or an MPI failure */
    DZ_ECONFIG = 2,     /* usage, config file, config values */
    DZ_EDATA = 3,       /* input HDF5 files: missing, malformed, bad values, too large */
    DZ_ERUNTIME = 4,    /* training diverged (NaN/Inf), out of memory */
    DZ_EOUTPUT = 5,     /* output or checkpoint files cannot be written or read back */
    DZ_EINTERRUPTED = 75 /* SIGTERM/SIGUSR1: a checkpoint was written, resume with --resume */
};

#define DZ_MSG_MAX 1024

typedef struct dz_err {
    int code;              /* DZ_OK or one of the codes above */
    char msg[DZ_MSG_MAX];  /* one line, no trailing newline */
    int reported;          /* 1 once an agreement has printed msg (dz_fail clears it) */
} dz_err;

/* Set *e (if e is not NULL) to code and a printf-formatted message; returns code.
 * Not collective. */
int dz_fail(dz_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Collective over comm.  Returns DZ_OK on every rank when no rank has e->code != 0;
 * otherwise the lowest failing rank prints "dztrain: rank R: <msg>" to stderr and every
 * rank returns that rank's code (the message is copied into e on every rank).  Agreeing
 * again on an error that was already agreed prints nothing more, so a phase may agree
 * without knowing whether an earlier one did. */
int dz_err_agree(MPI_Comm comm, dz_err *e);

/* Not collective: print "dztrain: rank R: <msg>" and end the whole job with MPI_Abort(code).
 * For failures inside collective operations, where agreement would hang. */
_Noreturn void dz_fatal(MPI_Comm comm, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Check an MPI call; on failure abort the job with file:line (MPI errors are not
 * recoverable in a collective). */
#define DZ_MPI(call)                                                                    \
    do {                                                                                \
        int dz_mpi_rc_ = (call);                                                        \
        if (dz_mpi_rc_ != MPI_SUCCESS)                                                  \
            dz_fatal(MPI_COMM_WORLD, DZ_EINTERNAL, "%s:%d: MPI call failed (%d): %s",   \
                     __FILE__, __LINE__, dz_mpi_rc_, #call);                            \
    } while (0)

/* Propagate a non-zero code from a dztrain call. */
#define DZ_TRY(call)                  \
    do {                              \
        int dz_try_rc_ = (call);      \
        if (dz_try_rc_ != DZ_OK)      \
            return dz_try_rc_;        \
    } while (0)

#endif
