/* fuzz_check.h — CHECK for the fuzz targets: a violated invariant prints itself and abort()s,
 * which libFuzzer reports as a crash and saves the input. */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s: invariant violated: %s (line %d)\n", __FILE__,     \
                    #cond, __LINE__);                                               \
            abort();                                                                \
        }                                                                           \
    } while (0)
#endif
