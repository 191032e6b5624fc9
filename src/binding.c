/* binding.c — threads per rank and the node-level oversubscription check (dz/binding.h). */
#include "dz/binding.h"

#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NCPU CPU_SETSIZE

int dz_binding_parse_threads(const char *v)
{
    long first = 0;
    const char *p = v;
    do {
        while (*p == ' ')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        char *end;
        long n = strtol(p, &end, 10);
        if (n < 1 || n > 1 << 20)
            return 0;
        if (!first)
            first = n;
        p = end;
        while (*p == ' ')
            p++;
    } while (*p == ',' && *++p);
    return *p == '\0' ? (int)first : 0;
}

static int pinned_by_openmp(void)
{
    const char *bind = getenv("OMP_PROC_BIND");
    return bind && *bind && strcasecmp(bind, "false") != 0;
}

/* The CPUs this rank may use.  Under OMP_PROC_BIND the runtime has already pinned the
 * initial thread to its place, so the process's mask is the union of the OpenMP places
 * (which the runtime built from the mask it started with). */
static void rank_mask(cpu_set_t *mask)
{
    CPU_ZERO(mask);
    int np = pinned_by_openmp() ? omp_get_num_places() : 0;
    for (int p = 0; p < np; p++) {
        int k = omp_get_place_num_procs(p);
        int *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof(int));
        if (!ids)
            break;
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < k; i++)
            if (ids[i] >= 0 && ids[i] < NCPU)
                CPU_SET(ids[i], mask);
        free(ids);
    }
    if (CPU_COUNT(mask) == 0 && sched_getaffinity(0, sizeof *mask, mask) != 0)
        CPU_SET(0, mask);
}

/* Add this rank's thread loads to load[NCPU]: pinned threads on their places, free ones
 * spread over the mask. */
static void thread_loads(const cpu_set_t *mask, int nthreads, double *load)
{
    if (!pinned_by_openmp()) {
        int n = CPU_COUNT(mask);
        for (int c = 0; c < NCPU && n > 0; c++)
            if (CPU_ISSET(c, mask))
                load[c] += (double)nthreads / n;
        return;
    }
#pragma omp parallel num_threads(nthreads)
    {
        cpu_set_t place;
        if (sched_getaffinity(0, sizeof place, &place) != 0)
            place = *mask;
        int n = CPU_COUNT(&place);
        for (int c = 0; c < NCPU && n > 0; c++)
            if (CPU_ISSET(c, &place)) {
#pragma omp atomic
                load[c] += 1.0 / n;
            }
    }
}

/* What one node reports to rank 0. */
typedef struct node_report {
    int leader;          /* 1 on the node's first rank: count this node once */
    int bad;             /* some CPU carries more than one thread */
    int threads, cores, ranks;
    int cpu;             /* the most loaded CPU */
    double load;         /* its load */
    int pair[2];         /* two world ranks with threads pinned to that CPU, or -1 */
    char name[MPI_MAX_PROCESSOR_NAME];
} node_report;

static void print_warning(const node_report *r, int nbad, int suggest)
{
    const char *srun = getenv("SLURM_STEP_ID") || getenv("SLURM_PROCID") ? "srun" : NULL;
    char cause[256];
    if (r->threads > r->cores)
        snprintf(cause, sizeof cause, "%d ranks run %d OpenMP threads on %d core(s)", r->ranks,
                 r->threads, r->cores);
    else if (r->pair[1] >= 0)
        snprintf(cause, sizeof cause, "ranks %d and %d have threads pinned to the same core %d "
                 "(OMP_PROC_BIND with overlapping masks)", r->pair[0], r->pair[1], r->cpu);
    else
        snprintf(cause, sizeof cause, "%.1f threads share core %d", r->load, r->cpu);
    fprintf(stderr,
            "dztrain: warning: node %s is oversubscribed: %s%s. Threads that share a core wait on "
            "each other at every step (up to ~1000x slower). Fix: give each rank as many cores as "
            "threads (%s with OMP_NUM_THREADS=T), or run at most %d thread(s) per rank on the "
            "cores the ranks have now\n",
            r->name, cause, nbad > 1 ? " (and other nodes likewise)" : "",
            srun ? "`srun --cpu-bind=cores -c T`" : "`mpirun --map-by slot:PE=T`", suggest);
}

int dz_binding_setup(MPI_Comm comm, dz_binding *b, dz_err *e)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    memset(b, 0, sizeof *b);
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && !dz_binding_parse_threads(env))
        dz_fail(e, DZ_ECONFIG, "OMP_NUM_THREADS = '%s': must be a positive integer (unset it to "
                "let dztrain choose the threads per rank)", env);
    DZ_TRY(dz_err_agree(comm, e));

    MPI_Comm node;
    DZ_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
    int lrank, lsize;
    DZ_MPI(MPI_Comm_rank(node, &lrank));
    DZ_MPI(MPI_Comm_size(node, &lsize));
    cpu_set_t mask, all;
    rank_mask(&mask);
    /* the node's cores: the union of its ranks' masks (bitwise OR over the node) */
    DZ_MPI(MPI_Allreduce(&mask, &all, (int)sizeof mask, MPI_BYTE, MPI_BOR, node));
    b->local_ranks = lsize;
    b->node_cores = CPU_COUNT(&all);
    int fair = b->node_cores / lsize > 1 ? b->node_cores / lsize : 1;
    if (!env) {
        int own = CPU_COUNT(&mask);
        b->nthreads = fair < own ? fair : own;
        b->automatic = 1;
        omp_set_num_threads(b->nthreads);
    } else {
        b->nthreads = omp_get_max_threads();
    }

    double *load = calloc(NCPU, sizeof(double)), *tot = calloc(NCPU, sizeof(double));
    if (!load || !tot)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for the binding check");
    thread_loads(&mask, b->nthreads, load);
    DZ_MPI(MPI_Allreduce(load, tot, NCPU, MPI_DOUBLE, MPI_SUM, node));
    node_report r;
    memset(&r, 0, sizeof r);
    r.leader = lrank == 0;
    DZ_MPI(MPI_Allreduce(&b->nthreads, &r.threads, 1, MPI_INT, MPI_SUM, node));
    r.cores = b->node_cores;
    r.ranks = lsize;
    for (int c = 0; c < NCPU; c++)
        if (tot[c] > r.load) {
            r.load = tot[c];
            r.cpu = c;
        }
    r.bad = r.load > 1.0 + 1e-9;
    /* which ranks load the worst CPU (the two lowest): their world ranks, by a MIN then a
     * MIN over the rest */
    int mine = load[r.cpu] > 0 ? rank : 1 << 30, first, second;
    DZ_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, node));
    int rest = mine != first ? mine : 1 << 30;
    DZ_MPI(MPI_Allreduce(&rest, &second, 1, MPI_INT, MPI_MIN, node));
    r.pair[0] = first;
    r.pair[1] = second < (1 << 30) ? second : -1;
    int len = 0;
    MPI_Get_processor_name(r.name, &len);
    free(load);
    free(tot);
    MPI_Comm_free(&node);

    int nranks;
    DZ_MPI(MPI_Comm_size(comm, &nranks));
    node_report *all_r = rank == 0 ? malloc((size_t)nranks * sizeof *all_r) : NULL;
    if (rank == 0 && !all_r)
        dz_fatal(comm, DZ_ERUNTIME, "out of memory for the binding check");
    DZ_MPI(MPI_Gather(&r, (int)sizeof r, MPI_BYTE, all_r, (int)sizeof r, MPI_BYTE, 0, comm));
    if (rank == 0) {
        int nbad = 0, firstbad = -1;
        for (int k = 0; k < nranks; k++)
            if (all_r[k].leader && all_r[k].bad && nbad++ == 0)
                firstbad = k;
        if (nbad) {
            const node_report *w = &all_r[firstbad];
            print_warning(w, nbad, w->cores / w->ranks > 1 ? w->cores / w->ranks : 1);
        }
        free(all_r);
    }
    return DZ_OK;
}
