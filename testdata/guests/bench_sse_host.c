/* bench_sse_host: the SSE workload as a Linux program, to check the checksum
 * the guest prints. */
#include <stdio.h>
#include "bench_sse_body.h"

int main(void)
{
    printf("bench_sse checksum=0x%016lx\n", (unsigned long)bench_sse_run(BENCH_SSE_ITERATIONS));
    return 0;
}
