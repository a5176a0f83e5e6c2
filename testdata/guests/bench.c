/* bench: runs the fixed integer workload of bench_body.c and prints its
 * checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "bench_body.h"

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter();
    uint64_t sum = bench_run(BENCH_ITERATIONS);
    printf("bench checksum=0x%016lx\n", sum);
    return 0;
}
