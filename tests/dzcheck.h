/* dzcheck.h — the CHECK macro of the C unit tests: counts passes, prints each failure, and
 * the test's main returns non-zero when any check failed. */
#ifndef DZCHECK_H
#define DZCHECK_H
#include <stdio.h>

static int fails = 0, passes = 0;
#define CHECK(cond, ...)                                                \
    do {                                                                \
        if (cond) {                                                     \
            passes++;                                                   \
        } else {                                                        \
            fails++;                                                    \
            printf("FAIL: " __VA_ARGS__);                               \
            printf("\n");                                               \
        }                                                               \
    } while (0)
#endif
