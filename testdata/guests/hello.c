/* hello: the smallest C guest. Prints a fixed greeting and exits with
 * debug-exit value 0 (QEMU / ftvm exit status 1). */
#include "runtime.h"

int main(unsigned long ram_size)
{
    (void)ram_size;
    puts_nonl("Hello from ftvm guest\n");
    return 0;
}
