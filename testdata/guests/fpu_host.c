/* fpu_host: the host-CPU oracle for the fpu guest.  Same body, output on
 * stdout; must match the guest's serial output byte for byte. */
#include <stdio.h>
#include "fpu_body.h"

void ex_write(const char *s, unsigned long n)
{
    fwrite(s, 1, n, stdout);
}

int main(void)
{
    int rc = fpu_run();
    fflush(stdout);
    return rc;
}
