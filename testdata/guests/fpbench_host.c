/* fpbench_host: the fpbench workload as a Linux program, to check the
 * checksum the guest prints. */
#include <stdio.h>
#include "fpbench_body.h"

int main(void)
{
    printf("fpbench checksum=0x%016lx\n", (unsigned long)fpbench_run(FPBENCH_ITERATIONS));
    return 0;
}
