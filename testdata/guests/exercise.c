/* exercise: guest wrapper around exercise_body.c (see there).  The serial
 * output must equal the stdout of exercise_host byte for byte. */
#include "runtime.h"
#include "exercise_body.h"
#include "mains.h"

ORACLE_GUEST_MAIN(exercise_run)
