/* tests/cross/omp.h — one-thread stand-in for the OpenMP calls of kernel.c, for the
 * cross-architecture build (scripts/test-cross); the pragmas are ignored there. */
#ifndef DZ_CROSS_OMP_H
#define DZ_CROSS_OMP_H
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif
