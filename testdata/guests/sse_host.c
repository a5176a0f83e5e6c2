/* sse_host: the host-CPU oracle for the sse guest.  Same body, output on
 * stdout; must match the guest's serial output byte for byte. */
#include <stdio.h>
#include "sse_body.h"
#include "mains.h"

ORACLE_HOST_MAIN(sse_run)
