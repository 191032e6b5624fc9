/* err.c — see dz/err.h.  The agreement is one MPI_Allreduce(MINLOC) of (failing rank, code)
 * and, when some rank failed, one MPI_Bcast of its message from that rank. */
#include "dz/err.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dz_fail(dz_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
        e->reported = 0;
    }
    return code;
}

int dz_err_agree(MPI_Comm comm, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    struct { int who; int code; } in, out;
    in.who = e->code != DZ_OK ? rank : INT_MAX;
    in.code = e->code;
    DZ_MPI(MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, comm));
    if (out.who == INT_MAX)
        return DZ_OK;
    if (rank == out.who && !e->reported) {
        fprintf(stderr, "dztrain: rank %d: %s\n", rank, e->msg);
        fflush(stderr);
    }
    DZ_MPI(MPI_Bcast(e->msg, (int)sizeof e->msg, MPI_CHAR, out.who, comm));
    e->code = out.code;
    e->reported = 1;
    return out.code;
}

_Noreturn void dz_fatal(MPI_Comm comm, int code, const char *fmt, ...)
{
    int rank = -1, inited = 0;
    MPI_Initialized(&inited);
    if (inited)
        MPI_Comm_rank(comm, &rank);
    char msg[DZ_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dztrain: rank %d: %s (ending the job)\n", rank, msg);
    fflush(stderr);
    if (inited)
        MPI_Abort(comm, code);
    _Exit(code);
}
