/* bench_sse: runs the fixed SSE workload of bench_sse_body.c and prints its
 * checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "bench_sse_body.h"
#include "mains.h"

BENCH_GUEST_MAIN("bench_sse", bench_sse_run, BENCH_SSE_ITERATIONS)
