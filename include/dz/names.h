/* dz/names.h — feature names: the optional root dataset "feature_names" (1-D, fixed- or
 * variable-length strings, one per feature) that dzconvert and the example data write.
 *
 * Training copies the training file's names into model.h5 when there are exactly d of them;
 * predict and evaluate refuse data whose names differ from the model's when both have names
 * (a model applied to columns in another order gives wrong answers without any error).
 * All functions here are Not collective (rank 0 calls them) and use serial HDF5.
 * Ownership: dz_names_read allocates the array and each string; dz_names_free(NULL, 0) is safe.
 */
#ifndef DZ_NAMES_H
#define DZ_NAMES_H

#include <stdint.h>

#include "dz/err.h"

#define DZ_NAMES_DATASET "feature_names"

/* Read the names of the open HDF5 file (an hid_t) into *names (*n of them).  Returns 1 when
 * read, 0 when the file has no such 1-D string dataset (then *names = NULL, *n = 0), -1 on a
 * read error or out of memory. */
int dz_names_read(long long file, char ***names, int64_t *n);
void dz_names_free(char **names, int64_t n);

/* Copy data_path's names into the open model file when there are exactly d of them.
 * Returns 0 (copied, or nothing to copy) or -1 (the copy failed). */
int dz_names_copy(const char *data_path, long long model_file, int64_t d);

/* DZ_OK when either file has no names or both have the same; otherwise DZ_EDATA with a message
 * naming the first feature whose name differs. */
int dz_names_check(const char *model_path, const char *data_path, dz_err *e);

#endif
