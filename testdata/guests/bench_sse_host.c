/* bench_sse_host: the SSE workload as a Linux program, to check the checksum
 * the guest prints. */
#include <stdio.h>
#include "bench_sse_body.h"
#include "mains.h"

BENCH_HOST_MAIN("bench_sse", bench_sse_run, BENCH_SSE_ITERATIONS)
