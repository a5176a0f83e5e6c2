/* bench: runs the fixed integer workload of bench_body.c and prints its
 * checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "bench_body.h"
#include "mains.h"

BENCH_GUEST_MAIN("bench", bench_run, BENCH_ITERATIONS)
