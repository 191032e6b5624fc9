/* main.c — the command line: `mpirun -n N trainer [--resume] [--force] [--quiet] config.ini`.
 *
 * Starts MPI with MPI_THREAD_FUNNELED (OpenMP threads compute, only the main thread calls
 * MPI), installs the SIGTERM/SIGUSR1 handler that asks for a checkpoint-and-stop, loads the
 * config (collective) and trains.  The process exit code is the agreed dztrain code (dz/err.h).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dz/config.h"
#include "dz/err.h"
#include "dz/kernel.h"
#include "dz/train.h"

#include <hdf5.h>

static void on_signal(int sig)
{
    (void)sig;
    dz_stop_signal = 1;
}

/* --version: what this binary is and what it runs with.  Rank 0 only. */
static void version(void)
{
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    char *nl = strchr(mpi, '\n');
    if (nl)
        *nl = '\0';
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    char msg[160];
    const dz_kernel_isa *isa = dz_kernel_isa_select(msg, sizeof msg);
#if defined(__clang__)
    const char *cc = "clang";
#else
    const char *cc = "gcc";
#endif
    printf("dztrain %s (commit %s at configure time)\ncompiler: %s %s\nkernel paths: ", DZ_VERSION,
           DZ_GIT_COMMIT, cc, __VERSION__);
    for (int k = 0; dz_kernel_isa_get(k); k++)
        printf("%s%s%s", k ? ", " : "", dz_kernel_isa_name(dz_kernel_isa_get(k)),
               dz_kernel_isa_supported(dz_kernel_isa_get(k)) ? "" : " (not on this CPU)");
    printf("; this CPU runs: %s (8 float64 lanes on every path, the same bits)\n",
           isa ? dz_kernel_isa_name(isa) : msg);
    printf("MPI: %s\nHDF5: %u.%u.%u\n", mpi, maj, min, rel);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -n N trainer [--resume] [--force] [--quiet] config.ini\n"
            "       trainer --version | --help\n"
            "  --resume  continue from the config's [checkpoint] file\n"
            "  --force   with --resume: accept changed training settings or iterations\n"
            "  --quiet   print only errors and the final accuracies\n"
            "exit codes: 0 ok, 1 internal, 2 usage/config, 3 data, 4 diverged/out of memory,\n"
            "            5 output/checkpoint files, 75 stopped by SIGTERM/SIGUSR1 (checkpoint written)\n");
}

int main(int argc, char **argv)
{
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "dztrain: MPI_Init_thread failed\n");
        return DZ_EINTERNAL;
    }
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (provided < MPI_THREAD_FUNNELED)
        dz_fatal(MPI_COMM_WORLD, DZ_EINTERNAL, "MPI provides thread level %d, need FUNNELED", provided);

    dz_run_opts opts = {0, 0, 0};
    const char *path = NULL;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) opts.resume = 1;
        else if (!strcmp(argv[i], "--force")) opts.force = 1;
        else if (!strcmp(argv[i], "--quiet")) opts.quiet = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (rank == 0) usage(stdout);
            MPI_Finalize();
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            if (rank == 0) version();
            MPI_Finalize();
            return 0;
        } else if (argv[i][0] == '-' || path) {
            if (!bad && rank == 0)
                fprintf(stderr, "dztrain: %s '%s'\n",
                        argv[i][0] == '-' ? "unknown option" : "more than one config file:", argv[i]);
            bad = 1;
        } else path = argv[i];
    }
    if (bad || !path) {
        if (rank == 0) {
            if (!bad)
                fprintf(stderr, "dztrain: no config file given\n");
            usage(stderr);
        }
        MPI_Finalize();
        return DZ_ECONFIG;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    dz_err e = {DZ_OK, ""};
    dz_config cfg;
    int code = dz_config_load(MPI_COMM_WORLD, path, &cfg, &e);
    if (code == DZ_OK)
        code = dz_train(MPI_COMM_WORLD, &cfg, &opts, &e);
    MPI_Finalize();
    return code;
}
