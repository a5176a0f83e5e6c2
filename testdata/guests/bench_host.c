/* bench_host: the bench workload as a Linux program, to check the checksum
 * the guest prints. */
#include <stdio.h>
#include "bench_body.h"
#include "mains.h"

BENCH_HOST_MAIN("bench", bench_run, BENCH_ITERATIONS)
