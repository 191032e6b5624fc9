/* dtype.c — the in-memory feature types (dz_dtype, dz/config.h): size and name, declared in
 * dz/shard.h.  On its own so the fuzz targets and the cross build can link it without the
 * rest. */
#include "dz/shard.h"

size_t dz_dtype_size(dz_dtype t)
{
    return t == DZ_DTYPE_U8 ? 1 : t == DZ_DTYPE_F32 ? 4 : 8;
}

const char *dz_dtype_name(dz_dtype t)
{
    static const char *n[] = {"native", "uint8", "float32", "float64"};
    return n[t];
}
