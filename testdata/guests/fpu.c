/* fpu: guest wrapper around fpu_body.c (see there).  The serial output must
 * equal the stdout of fpu_host byte for byte. */
#include "runtime.h"
#include "fpu_body.h"

void ex_write(const char *s, unsigned long n)
{
    serial_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter(); /* an unimplemented opcode reports, not triple-faults */
    return fpu_run();
}
