/* sse: guest wrapper around sse_body.c (see there).  The serial output must
 * equal the stdout of sse_host byte for byte.  The boot state already has
 * CR4.OSFXSR and CR4.OSXMMEXCPT set and CR0.EM clear (lib/pvh.S). */
#include "runtime.h"
#include "sse_body.h"
#include "mains.h"

ORACLE_GUEST_MAIN(sse_run)
