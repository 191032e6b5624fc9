/* dz/info.h — the `info` command: describe an HDF5 file (data, model, checkpoint or
 * predictions) on stdout; see src/info.c for what is printed.
 * Collective: rank 0 reads and prints, every rank returns the agreed code (DZ_EDATA when the
 * file is missing, not HDF5 or unreadable). */
#ifndef DZ_INFO_H
#define DZ_INFO_H

#include <mpi.h>

#include "dz/err.h"

int dz_info_run(MPI_Comm comm, const char *path, dz_err *e);

#endif
