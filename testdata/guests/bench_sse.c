/* bench_sse: runs the fixed SSE workload of bench_sse_body.c and prints its
 * checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "bench_sse_body.h"

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter();
    uint64_t sum = bench_sse_run(BENCH_SSE_ITERATIONS);
    printf("bench_sse checksum=0x%016lx\n", sum);
    return 0;
}
