/* ssefp: guest wrapper around ssefp_body.c (see there).  The serial output
 * must equal the stdout of ssefp_host byte for byte. */
#include "runtime.h"
#include "ssefp_body.h"

void ex_write(const char *s, unsigned long n)
{
    serial_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter(); /* an unimplemented opcode reports, not triple-faults */
    return ssefp_run();
}
