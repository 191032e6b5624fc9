/* fuzz_shape.c — libFuzzer target: made-up dataset descriptions → dz_data_validate().
 *
 * dz_data_validate() decides, from what rank 0 learned about the features and labels
 * datasets, whether they can be trained on and how the features are held in memory.  Here
 * the two dz_dsinfo come from the fuzzer's bytes (see decode() for the encoding; missing
 * bytes read as 0, so every input is valid).  On success the plan must be usable: m >= 1,
 * d >= 1, m*d*8 does not overflow, m and d are what the shapes say, the labels fit one of
 * the three layouts, and the in-memory type is uint8, float32 or float64 (the requested one
 * when one was requested).  On failure: DZ_EDATA or DZ_ECONFIG with a non-empty one-line
 * message.  A violation calls abort().
 *
 * Encoding of one dz_dsinfo (features first, then labels, then one byte for `want`):
 *   byte  ndims % 33
 *   byte  cls % 3 (DZ_CLASS_INT, _FLOAT, _OTHER)
 *   byte  size: element bytes 0..255 (the validator accepts 1..16)
 *   byte  is_signed & 1
 *   byte  type-name length % 32, then that many bytes of name (mapped to printable ASCII)
 *   ndims × dim, each a tag byte t then:
 *     t % 4 == 0: t >> 2 (0..63)            t % 4 == 1: 1 << (t >> 2), saturating at 2^63
 *     t % 4 == 2: 8 raw bytes, little-endian t % 4 == 3: the features' dims[0] + (t >> 2) - 32
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dz/shard.h"
#include "fuzz_check.h"


typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t byte(reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t dim(reader *r, uint64_t m)
{
    uint8_t t = byte(r);
    switch (t & 3) {
    case 0: return t >> 2;
    case 1: return (t >> 2) >= 63 ? (uint64_t)1 << 63 : (uint64_t)1 << (t >> 2);
    case 2: {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v |= (uint64_t)byte(r) << (8 * i);
        return v;
    }
    default: return m + (uint64_t)(t >> 2) - 32; /* near the features' row count */
    }
}

static void decode(reader *r, dz_dsinfo *s, uint64_t m)
{
    memset(s, 0, sizeof *s);
    s->ndims = byte(r) % 33;
    s->cls = byte(r) % 3;
    s->size = byte(r);
    s->is_signed = byte(r) & 1;
    size_t len = byte(r) % 32;
    for (size_t i = 0; i < len; i++) /* printable, like the names describe() makes */
        s->type[i] = (char)(0x20 + byte(r) % 95);
    s->type[len] = '\0';
    for (int i = 0; i < s->ndims; i++)
        s->dims[i] = dim(r, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    dz_dsinfo x, y;
    decode(&r, &x, 0);
    decode(&r, &y, x.ndims ? x.dims[0] : 0);
    dz_dtype want = (dz_dtype)(byte(&r) % 4);

    dz_plan p;
    dz_err e;
    memset(&p, 0x5a, sizeof p); /* garbage in: the validator must fill what it returns */
    e.code = DZ_OK;
    e.msg[0] = '\0';
    int rc = dz_data_validate("/data/train.h5", "train_set_x", "train_set_y", &x, &y, want, &p, &e);
    if (rc == DZ_OK) {
        CHECK(x.cls != DZ_CLASS_OTHER && y.cls != DZ_CLASS_OTHER);
        CHECK(x.ndims >= 1 && y.ndims >= 1);
        CHECK(p.m >= 1 && p.d >= 1 && p.d <= DZ_MAX_FEATURES);
        uint64_t m = (uint64_t)p.m, d = (uint64_t)p.d, prod = 1, bytes;
        CHECK(!__builtin_mul_overflow(m, d, &bytes) && !__builtin_mul_overflow(bytes, (uint64_t)8, &bytes));
        CHECK(bytes <= (uint64_t)INT64_MAX);
        CHECK(m == x.dims[0]);
        for (int i = 1; i < x.ndims; i++)
            CHECK(!__builtin_mul_overflow(prod, x.dims[i], &prod));
        CHECK(d == prod);
        switch (p.ylayout) {
        case 0: CHECK(y.ndims == 1 && y.dims[0] == m); break;
        case 1: CHECK(y.ndims == 2 && y.dims[0] == m && y.dims[1] == 1); break;
        case 2: CHECK(y.ndims == 2 && y.dims[0] == 1 && y.dims[1] == m); break;
        default: CHECK(!"ylayout in 0..2");
        }
        CHECK(p.mem == DZ_DTYPE_U8 || p.mem == DZ_DTYPE_F32 || p.mem == DZ_DTYPE_F64);
        CHECK(want == DZ_DTYPE_NATIVE || p.mem == want);
        /* uint8 in memory only for unsigned 8-bit integer features: anything else would
         * be truncated by the read. */
        CHECK(p.mem != DZ_DTYPE_U8 || (x.cls == DZ_CLASS_INT && x.size == 1 && !x.is_signed));
        CHECK(x.size >= 1 && x.size <= 16 && y.size >= 1 && y.size <= 16);
        CHECK(memchr(p.file_type, '\0', sizeof p.file_type) != NULL);
        CHECK(strncmp(p.file_type, x.type, sizeof p.file_type - 1) == 0);
        CHECK(e.code == DZ_OK);
    } else {
        CHECK(rc == DZ_EDATA || rc == DZ_ECONFIG);
        CHECK(e.code == rc);
        CHECK(memchr(e.msg, '\0', sizeof e.msg) != NULL);
        CHECK(e.msg[0] != '\0');
        CHECK(strchr(e.msg, '\n') == NULL);
    }
    return 0;
}
