/* ssefp_r3: the ssefp guest (ssefp_body.c) run at CPL3 by the ring-3 runtime
 * (lib/ring3.h), so a KVM whose CPL0 is emulated (PVM) runs it natively and
 * ftvm difftest compares it with the host CPU.  Its serial output is
 * ssefp_r3.golden: ssefp.golden without the xm-* families (no #XM catcher at
 * CPL3). */
#include "runtime.h"
#include "ring3.h"
#include "ssefp_body.h"

void ex_write(const char *s, unsigned long n)
{
    r3_write(s, n);
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    return ssefp_run(0); /* no #XM catcher at CPL3: no xm-* families */
}
