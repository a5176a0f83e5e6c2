/* fpbench: runs the floating-point workload of fpbench_body.c and prints
 * its checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "fpbench_body.h"
#include "mains.h"

BENCH_GUEST_MAIN("fpbench", fpbench_run, FPBENCH_ITERATIONS)
