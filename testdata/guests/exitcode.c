/* exitcode: prints a line and ends with debug-exit value 0x21, so QEMU and
 * ftvm exit with status (0x21 << 1) | 1 = 0x43 (67). */
#include "runtime.h"

#define EXIT_VALUE 0x21

int main(unsigned long ram_size)
{
    (void)ram_size;
    printf("exitcode: debug-exit value 0x%x, expected exit status %d\n", EXIT_VALUE,
           (EXIT_VALUE << 1) | 1);
    return EXIT_VALUE;
}
