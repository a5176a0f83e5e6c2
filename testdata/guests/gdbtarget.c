/* gdbtarget: the debugger's guest, built with -g -O0 so gdb finds its
 * functions, lines and variables. main calls bump five times; bump adds to
 * the global counter (the watched variable) and records the last step. It
 * reads the TSC so a recording holds inputs for a replay to deliver. Prints
 * the total and exits with debug-exit value 0. */
#include "runtime.h"

volatile unsigned long counter;
unsigned long last_step;
unsigned long tsc_low;

static unsigned long rdtsc_low(void)
{
    unsigned int lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo;
}

void __attribute__((noinline)) bump(unsigned long step)
{
    last_step = step;
    counter += step * 10;
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    for (unsigned long i = 1; i <= 5; i++) {
        bump(i);
        tsc_low ^= rdtsc_low();
    }
    printf("counter=%lu\n", counter);
    return 0;
}
