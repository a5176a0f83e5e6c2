/* sse: guest wrapper around sse_body.c (see there).  The serial output must
 * equal the stdout of sse_host byte for byte.  The boot state already has
 * CR4.OSFXSR and CR4.OSXMMEXCPT set and CR0.EM clear (lib/pvh.S). */
#include "runtime.h"
#include "sse_body.h"

void ex_write(const char *s, unsigned long n)
{
    serial_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter(); /* an unimplemented opcode reports, not triple-faults */
    return sse_run();
}
