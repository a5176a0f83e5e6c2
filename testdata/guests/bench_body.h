/* Fixed integer workload shared by the `bench` guest and `bench_host`. */
#ifndef FTVM_BENCH_BODY_H
#define FTVM_BENCH_BODY_H
#include <stdint.h>

/* Number of outer iterations: about 533k instructions each (measured with
 * valgrind on this code built with the guest's compiler flags), so about
 * 1.5 billion guest instructions in all.  Override with -DBENCH_ITERATIONS=n
 * for quick runs. */
#ifndef BENCH_ITERATIONS
#define BENCH_ITERATIONS 2800
#endif

uint64_t bench_run(unsigned iterations);

#endif
