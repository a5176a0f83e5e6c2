/* fpu_host: the host-CPU oracle for the fpu guest.  Same body, output on
 * stdout; must match the guest's serial output byte for byte. */
#include <stdio.h>
#include "fpu_body.h"
#include "mains.h"

ORACLE_HOST_MAIN(fpu_run)
