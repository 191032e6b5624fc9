/* main.c — the command line: `mpirun -n N trainer [train] config.ini [options]`.
 *
 * Starts MPI with MPI_THREAD_FUNNELED (OpenMP threads compute, only the main thread calls
 * MPI), reads the command line and runs one subcommand from the table `commands`; the
 * process exit code is the agreed dztrain code (dz/err.h).  train (`trainer config.ini` is
 * short for `trainer train config.ini`) installs the SIGTERM/SIGUSR1 handler that asks for a
 * checkpoint-and-stop, loads the config with the --set overrides (collective) and trains.
 * predict and evaluate (dz/predict.h, dz/metrics.h) parse their own options: when one of them
 * is the first argument, the rest of argv goes to it unparsed.  A subcommand is a row in
 * `commands` and a function; --help prints the table.
 *
 * Usage errors (unknown option or subcommand, missing or extra config file, --set without
 * its argument) are found from argv alone, which is the same on every rank: every rank
 * reaches the same verdict, rank 0 prints it once with the usage, and all exit 2 without
 * communicating.  The one file-system question (is an unknown bare word a config file?) is
 * answered by rank 0 and broadcast.  Errors in the config or an override go through
 * dz_config_load, which agrees on them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dz/config.h"
#include "dz/err.h"
#include "dz/info.h"
#include "dz/kernel.h"
#include "dz/metrics.h"
#include "dz/predict.h"
#include "dz/train.h"

#include <hdf5.h>

static void on_signal(int sig)
{
    (void)sig;
    dz_stop_signal = 1;
}

/* The parsed command line (argv's strings, not copied). */
typedef struct cli {
    const char *const *pos; /* positional arguments after the subcommand */
    int npos;
    const char *const *sets; /* --set overrides, in order */
    int nsets;
    dz_run_opts opts;
} cli;

typedef struct command {
    const char *name;
    const char *args;    /* for --help */
    const char *summary; /* for --help */
    int npos;            /* positional arguments it takes */
    int (*run)(MPI_Comm comm, const cli *c);
    /* or, for a subcommand with its own options: argv[0] is its name (it comes first) */
    int (*main)(MPI_Comm comm, int argc, char **argv);
} command;

static int cmd_train(MPI_Comm comm, const cli *c);
static int cmd_info(MPI_Comm comm, const cli *c);

/* The subcommands.  The first is the default: `trainer config.ini` runs it. */
static const command commands[] = {
    {"train", "CONFIG.ini", "train the model the config file describes (the default command)", 1,
     cmd_train, NULL},
    {"predict", "--model M --data F [--x X] [--out pred.h5]",
     "score F's rows with model M: pred.h5 (proba, label), written with parallel HDF5", 0, NULL,
     dz_predict_main},
    {"evaluate", "--model M --data F [--x X] [--y Y] [--json J]",
     "accuracy, log loss, precision/recall/F1, ROC AUC, confusion of M on F", 0, NULL,
     dz_evaluate_main},
    {"info", "FILE.h5", "describe an HDF5 file: datasets, shapes, types, label counts; for a "
     "model or checkpoint its provenance", 1, cmd_info, NULL},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

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

static const char usage_lines[] = "usage: mpirun -n N trainer [COMMAND] ARGS [options]\n"
                                  "       trainer --version | --help\n";

/* --help: the whole text, on stdout. */
static void usage(FILE *f)
{
    fprintf(f, "%scommands:\n", usage_lines);
    for (int k = 0; k < NCOMMANDS; k++)
        fprintf(f, "  %-8s %s\n  %-8s   %s\n", commands[k].name, commands[k].args, "",
                commands[k].summary);
    fprintf(f,
            "  `trainer CONFIG.ini` is `trainer train CONFIG.ini`.  predict and evaluate come\n"
            "  first on the line; `trainer predict --help` and `trainer evaluate --help` list\n"
            "  their options (--x and --y default to test_set_x and test_set_y).\n"
            "options of train:\n"
            "  --set SECTION.KEY=VALUE\n"
            "            override a config key after the file is read (repeatable, in order:\n"
            "            the last --set of a key wins); checked like a line of the file; a\n"
            "            relative path is relative to the current directory, not the config's\n"
            "            folder.  Example: --set train.l2=0.5 --set train.iterations=500\n"
            "  --resume  continue from the config's [checkpoint] file\n"
            "  --force   with --resume: accept changed training settings or iterations\n"
            "  --quiet   print only errors and the final accuracies\n"
            "other options:\n"
            "  --version version, git commit, compiler, kernel paths, MPI and HDF5 libraries\n"
            "  --help    this text (also -h)\n"
            "config keys: README.md, section \"Configuration\" (installed as\n"
            "            share/dztrain/README.md under the install prefix)\n"
            "exit codes: 0 ok, 1 internal, 2 usage/config, 3 data, 4 diverged/out of memory,\n"
            "            5 output/checkpoint files, 75 stopped by SIGTERM/SIGUSR1 (checkpoint written)\n");
}

static const command *find_command(const char *name)
{
    for (int k = 0; k < NCOMMANDS; k++)
        if (!strcmp(name, commands[k].name))
            return &commands[k];
    return NULL;
}

static int cmd_train(MPI_Comm comm, const cli *c)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    dz_err e = {.code = DZ_OK};
    dz_config cfg;
    int code = dz_config_load(comm, c->pos[0], c->sets, c->nsets, &cfg, &e);
    if (code == DZ_OK)
        code = dz_train(comm, &cfg, &c->opts, &e);
    return code;
}

/* A usage error: rank 0 prints the message and the short usage; every rank returns 2. */
static int usage_error(int rank, const char *msg, const char *arg)
{
    if (rank == 0)
        fprintf(stderr, "dztrain: %s%s%s%s\n%s(`trainer --help` lists the commands and options)\n",
                msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", usage_lines);
    return DZ_ECONFIG;
}

static int cmd_info(MPI_Comm comm, const cli *c)
{
    int rank;
    DZ_MPI(MPI_Comm_rank(comm, &rank));
    if (c->nsets || c->opts.resume || c->opts.force)
        return usage_error(rank, "info takes a file and no --set, --resume or --force", NULL);
    dz_err e = {.code = DZ_OK};
    return dz_info_run(comm, c->pos[0], &e);
}

/* Parse argv and run the subcommand; returns the exit code. */
static int run(int argc, char **argv, int rank)
{
    /* a subcommand with its own options takes the rest of the line */
    const command *own = argc > 1 ? find_command(argv[1]) : NULL;
    if (own && own->main)
        return own->main(MPI_COMM_WORLD, argc - 1, argv + 1);
    /* --help and --version win over everything else on the line (not as --set's argument). */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set")) {
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (rank == 0)
                usage(stdout);
            return DZ_OK;
        } else if (!strcmp(argv[i], "--version")) {
            if (rank == 0)
                version();
            return DZ_OK;
        }
    }
    /* argv has room for every --set and every positional argument */
    const char **sets = calloc((size_t)argc, sizeof *sets);
    const char **pos = calloc((size_t)argc, sizeof *pos);
    if (!sets || !pos) /* a rank may fail alone: end the job rather than leave the others waiting */
        dz_fatal(MPI_COMM_WORLD, DZ_ERUNTIME, "out of memory for the command line");
    cli c = {pos, 0, sets, 0, {0, 0, 0}};
    const char *bad_option = NULL; /* reported after the subcommand, which matters more */
    int code = DZ_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--resume")) c.opts.resume = 1;
        else if (!strcmp(a, "--force")) c.opts.force = 1;
        else if (!strcmp(a, "--quiet")) c.opts.quiet = 1;
        else if (!strcmp(a, "--set")) {
            if (i + 1 < argc)
                sets[c.nsets++] = argv[++i];
            else if (!bad_option)
                bad_option = a;
        } else if (!strncmp(a, "--set=", 6)) {
            sets[c.nsets++] = a + 6;
        } else if (a[0] == '-' && a[1] != '\0') {
            if (!bad_option)
                bad_option = a;
        } else {
            pos[c.npos++] = a;
        }
    }
    const command *cmd = NULL;
    if (c.npos > 0) {
        cmd = find_command(pos[0]);
        if (cmd && cmd->main) {
            char msg[160];
            snprintf(msg, sizeof msg, "'%s' must be the first argument: trainer %s --help",
                     cmd->name, cmd->name);
            code = usage_error(rank, msg, NULL);
            cmd = NULL;
        } else if (cmd) {
            c.pos++;
            c.npos--;
        } else {
            /* Not a subcommand: a config file for the default command, unless it is a bare
             * word (no '.' or '/') that names no file: then it was meant as a subcommand. */
            int is_file = 1;
            if (!strpbrk(pos[0], "./")) {
                is_file = rank == 0 ? access(pos[0], F_OK) == 0 : 0;
                DZ_MPI(MPI_Bcast(&is_file, 1, MPI_INT, 0, MPI_COMM_WORLD));
            }
            if (is_file) {
                cmd = &commands[0];
            } else {
                char msg[256];
                snprintf(msg, sizeof msg, "unknown command '%.60s' (commands: train, predict, "
                         "evaluate, info; or give a config file such as ./%.60s)", pos[0], pos[0]);
                code = usage_error(rank, msg, NULL);
            }
        }
    }
    if (code == DZ_OK && bad_option)
        code = strcmp(bad_option, "--set")
                   ? usage_error(rank, "unknown option", bad_option)
                   : usage_error(rank, "--set needs an argument SECTION.KEY=VALUE", NULL);
    if (code == DZ_OK && cmd && cmd != &commands[0] && c.npos < cmd->npos) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s needs %s", cmd->name, cmd->args);
        code = usage_error(rank, msg, NULL);
    }
    if (code == DZ_OK && (!cmd || c.npos < cmd->npos))
        code = usage_error(rank, "no config file given", NULL);
    if (code == DZ_OK && c.npos > cmd->npos)
        code = usage_error(rank, "more than one config file:", c.pos[cmd->npos]);
    if (code == DZ_OK)
        code = cmd->run(MPI_COMM_WORLD, &c);
    free(sets);
    free(pos);
    return code;
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
    int code = run(argc, argv, rank);
    MPI_Finalize();
    return code;
}
