/* fpu: guest wrapper around fpu_body.c (see there).  The serial output must
 * equal the stdout of fpu_host byte for byte. */
#include "runtime.h"
#include "fpu_body.h"
#include "mains.h"

ORACLE_GUEST_MAIN(fpu_run)
