/* exercise_r3: the exercise guest (exercise_body.c) run at CPL3 by the
 * ring-3 runtime (lib/ring3.h).  Its serial output is exercise.golden. */
#include "runtime.h"
#include "ring3.h"
#include "exercise_body.h"

void ex_write(const char *s, unsigned long n)
{
    r3_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    return exercise_run();
}
