/* sse_host: the host-CPU oracle for the sse guest.  Same body, output on
 * stdout; must match the guest's serial output byte for byte. */
#include <stdio.h>
#include "sse_body.h"

void ex_write(const char *s, unsigned long n)
{
    fwrite(s, 1, n, stdout);
}

int main(void)
{
    int rc = sse_run();
    fflush(stdout);
    return rc;
}
