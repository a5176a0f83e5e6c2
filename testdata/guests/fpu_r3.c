/* fpu_r3: the fpu guest (fpu_body.c) run at CPL3 by the ring-3 runtime
 * (lib/ring3.h), so a KVM whose CPL0 is emulated (PVM) runs it natively and
 * ftvm difftest compares it with the host CPU.  Its serial output is
 * fpu.golden. */
#include "runtime.h"
#include "ring3.h"
#include "fpu_body.h"

void ex_write(const char *s, unsigned long n)
{
    r3_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    return fpu_run();
}
