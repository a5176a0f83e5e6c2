/* exercise_host: the host-CPU oracle for the exercise guest.  Same body,
 * output on stdout; must match the guest's serial output byte for byte. */
#include <stdio.h>
#include "exercise_body.h"
#include "mains.h"

ORACLE_HOST_MAIN(exercise_run)
