/* bench_r3: the bench guest (bench_body.c) run at CPL3 by the ring-3
 * runtime (lib/ring3.h).  Its serial output is bench.golden. */
#include "runtime.h"
#include "ring3.h"
#include "bench_body.h"

int main(unsigned long ram_size)
{
    (void)ram_size;
    uint64_t sum = bench_run(BENCH_ITERATIONS);
    r3_printf("bench checksum=0x%016lx\n", sum);
    return 0;
}
