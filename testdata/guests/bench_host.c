/* bench_host: the bench workload as a Linux program, to check the checksum
 * the guest prints. */
#include <stdio.h>
#include "bench_body.h"

int main(void)
{
    printf("bench checksum=0x%016lx\n", (unsigned long)bench_run(BENCH_ITERATIONS));
    return 0;
}
