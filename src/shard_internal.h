/* shard_internal.h — what the dense reader (shard.c) shares with the CSR reader
 * (shard_csr.c).  Internal to the shard module; see dz/shard.h for the contract. */
#ifndef DZ_SHARD_INTERNAL_H
#define DZ_SHARD_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>
#include <mpi.h>

#include "dz/shard.h"

/* Describe dataset name of f (shape, type) without reading it; DZ_EDATA when it is missing or
 * not a dataset (what: "features", "labels", ...).  Not collective. */
int dz_shard_describe(hid_t f, const char *path, const char *name, const char *what,
                      dz_dsinfo *info, dz_err *e);

/* Collective.  Refuse (DZ_EDATA, agreed) when the ranks of a node together need more than
 * 90 % of the memory the node still has; need = this rank's bytes. */
int dz_shard_check_memory(MPI_Comm comm, const char *path, double need, const char *what,
                          dz_err *e);

/* Collective.  Open path with the MPI-IO driver and make a collective transfer list; a
 * failure is fatal (every rank is past the inspection).  Close both with H5Pclose/H5Fclose. */
hid_t dz_shard_open_mpio(MPI_Comm comm, const char *path, hid_t *dxpl);

/* Collective.  Labels of rows [s->row0, +s->rows) into s->y (allocated by the caller). */
void dz_shard_read_labels(MPI_Comm comm, hid_t f, hid_t dxpl, const char *path,
                          const char *yname, int ylayout, dz_shard *s);

/* Collective.  Labels valid for the model ({0,1}, or 0 … K−1); sets s->classes. */
int dz_shard_check_labels(MPI_Comm comm, const dz_shard_req *r, dz_shard *s, dz_err *e);

/* Collective: the end of a data scan whose verdict is in e (set by the caller, rank-local):
 * s->maxabs = the max of the nt threads' maxima mxall (nt × d, freed here; NULL when memory
 * was short) over all ranks, s->checksum = the sum of every rank's checksum.  Returns the
 * agreed code. */
int dz_shard_scan_finish(MPI_Comm comm, dz_shard *s, double *mxall, int nt, uint64_t checksum,
                         dz_err *e);

/* Hash of one row's bytes keyed by its global row and label (checksums are sums of these). */
uint64_t dz_shard_row_hash(const unsigned char *p, size_t n, int64_t grow, double y);
uint64_t dz_shard_mix64(uint64_t h);

/* 2 MiB-aligned, huge-page-hinted allocation for large buffers (free with free()). */
void *dz_shard_alloc_big(size_t bytes);

/* CSR features (shard_csr.c).  dz_csr_is_group: 1 when name in f is an HDF5 group. */
int dz_csr_is_group(hid_t f, const char *name);
/* Rank 0: inspect the CSR group xname (datasets data, indices, indptr; attributes shape and
 * encoding-type) and describe it as a dense (m, d) data set of data's type, so that
 * dz_data_validate can judge it with the labels; *nnz = stored values. */
int dz_csr_inspect(hid_t f, const char *path, const char *xname, dz_dsinfo *x, int64_t *nnz,
                   dz_err *e);
/* Collective: phases 2–4 of the load for a CSR plan p (p->csr set). */
int dz_csr_load(MPI_Comm comm, const dz_shard_req *r, const dz_plan *p, dz_shard *s,
                dz_err *e);

#endif
