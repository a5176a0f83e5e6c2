/* Fixed SSE workload shared by the `bench_sse` guest and `bench_sse_host`. */
#ifndef FTVM_BENCH_SSE_BODY_H
#define FTVM_BENCH_SSE_BODY_H
#include <stdint.h>

/* Number of outer iterations: about 11,100 guest instructions each (ftvm
 * --stats), so about 222 million in all.  Override with
 * -DBENCH_SSE_ITERATIONS=n for quick runs. */
#ifndef BENCH_SSE_ITERATIONS
#define BENCH_SSE_ITERATIONS 20000
#endif

uint64_t bench_sse_run(unsigned iterations);

#endif
