/* Fixed floating-point workload shared by the `fpbench` guest and
 * `fpbench_host`: compiled -O2 -msse2, so scalar and packed SSE2 code. */
#ifndef FTVM_FPBENCH_BODY_H
#define FTVM_FPBENCH_BODY_H
#include <stdint.h>

/* Outer iterations; override with -DFPBENCH_ITERATIONS=n for quick runs. */
#ifndef FPBENCH_ITERATIONS
#define FPBENCH_ITERATIONS 100
#endif

/* Runs the workload and returns a checksum of its results' bits (IEEE
 * arithmetic in round-to-nearest: the same on every x86-64). */
uint64_t fpbench_run(unsigned iterations);

#endif
