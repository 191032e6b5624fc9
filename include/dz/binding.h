/* dz/binding.h — how many OpenMP threads each rank runs, and whether the ranks that share a
 * node oversubscribe its cores.
 *
 * Why.  OpenMP starts one thread per CPU a process sees.  Two ranks on a node without task
 * binding (srun with task/none, mpirun --bind-to none) each see every core, start that many
 * threads, and every barrier then waits on a descheduled thread: a silent ~1000× slowdown
 * (README, "Under Slurm").  A rank alone cannot see this; the ranks of a node together can.
 *
 * What (Collective over comm, once at start-up):
 *   1. OMP_NUM_THREADS, when set, must be a positive integer (or a list of them, of which
 *      the first counts); anything else is a configuration error, agreed on every rank (libgomp
 *      would ignore it and start one thread per visible core).
 *   2. The ranks of each node (MPI_Comm_split_type SHARED) exchange their affinity masks.  The
 *      node's cores are the union of the masks.  When OMP_NUM_THREADS is unset and several
 *      ranks share the node, each rank uses ⌊node cores / local ranks⌋ threads (at least 1,
 *      at most its own mask), instead of all the cores it sees; the start line says so.
 *   3. Each rank's threads put a load on the CPUs they may run on: a thread pinned by
 *      OMP_PROC_BIND loads the CPUs of its place (1/|place| each), a free thread spreads over
 *      the rank's mask.  If some CPU of a node carries more than one thread, the node is
 *      oversubscribed: rank 0 prints one warning naming the node, the threads and cores, the
 *      rank pair pinned to one core when that is the cause, and the fix for the launcher in
 *      use (srun --cpu-bind=cores -c T, or mpirun --map-by slot:PE=T, with OMP_NUM_THREADS=T).
 * Threads never change the bits (dz/reduce.h), so this is about speed only.
 */
#ifndef DZ_BINDING_H
#define DZ_BINDING_H

#include <mpi.h>

#include "dz/err.h"

typedef struct dz_binding {
    int nthreads;      /* threads this rank runs (omp_set_num_threads has been called) */
    int automatic;     /* 1: OMP_NUM_THREADS was unset and nthreads was chosen here */
    int local_ranks;   /* ranks on this rank's node */
    int node_cores;    /* CPUs in the union of the node's ranks' affinity masks */
} dz_binding;

/* Collective.  Returns DZ_OK, or DZ_ECONFIG (bad OMP_NUM_THREADS) agreed on every rank. */
int dz_binding_setup(MPI_Comm comm, dz_binding *b, dz_err *e);

/* Not collective.  Parse an OMP_NUM_THREADS value: the first entry of a comma list of
 * positive integers; returns it, or 0 when the value is malformed. */
int dz_binding_parse_threads(const char *v);

#endif
