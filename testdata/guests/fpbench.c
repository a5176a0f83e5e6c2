/* fpbench: runs the floating-point workload of fpbench_body.c and prints
 * its checksum; exits with debug-exit value 0. */
#include "runtime.h"
#include "fpbench_body.h"

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter();
    uint64_t sum = fpbench_run(FPBENCH_ITERATIONS);
    printf("fpbench checksum=0x%016lx\n", sum);
    return 0;
}
