/* tests/cross/mpi.h — a one-process stand-in for the few MPI calls that the kernel, the
 * reduction and the error module make, so that they build for another architecture without
 * an MPI library (scripts/test-cross).  Not a general MPI: one rank, in-place or copying
 * reductions of one process, no messages. */
#ifndef DZ_CROSS_MPI_H
#define DZ_CROSS_MPI_H
#include <stdlib.h>
#include <string.h>

typedef int MPI_Comm, MPI_Datatype, MPI_Op, MPI_Info;
#define MPI_SUCCESS 0
#define MPI_COMM_WORLD 0
#define MPI_COMM_SELF 1
#define MPI_INFO_NULL 0
#define MPI_IN_PLACE ((void *)1)
#define MPI_MAX_PROCESSOR_NAME 256
enum { MPI_CHAR = 1, MPI_BYTE = 1, MPI_INT = 4, MPI_INT64_T = 8, MPI_DOUBLE = 8, MPI_LONG = 8,
       MPI_2INT = 8 };
enum { MPI_SUM, MPI_MAX, MPI_MIN, MPI_MINLOC, MPI_BOR };

static inline int MPI_Allreduce(const void *in, void *out, int n, MPI_Datatype t, MPI_Op op,
                                MPI_Comm c)
{
    (void)op; (void)c;
    if (in != MPI_IN_PLACE)
        memcpy(out, in, (size_t)n * (size_t)t);
    return 0;
}
static inline int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm c)
{
    (void)b; (void)n; (void)t; (void)root; (void)c;
    return 0;
}
static inline int MPI_Comm_rank(MPI_Comm c, int *r) { (void)c; *r = 0; return 0; }
static inline int MPI_Comm_size(MPI_Comm c, int *n) { (void)c; *n = 1; return 0; }
static inline int MPI_Initialized(int *f) { *f = 1; return 0; }
static inline int MPI_Abort(MPI_Comm c, int code) { (void)c; exit(code); }
#endif
