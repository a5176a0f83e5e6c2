/* fpbench_host: the fpbench workload as a Linux program, to check the
 * checksum the guest prints. */
#include <stdio.h>
#include "fpbench_body.h"
#include "mains.h"

BENCH_HOST_MAIN("fpbench", fpbench_run, FPBENCH_ITERATIONS)
