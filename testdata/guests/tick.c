/* tick: waits in HLT for 20 interrupts of the 8254 timer (1 kHz, IRQ 0
 * through the 8259 and the local APIC in virtual-wire mode), then prints a
 * fixed line and exits with debug-exit value 0.  Used to test interrupt
 * injection and timers under ftvm run --accel kvm (machine/accel_kvm_test.go);
 * the output does not depend on timing. */
#include "runtime.h"
#include "intr.h"

#define TICKS 20

int main(unsigned long ram_size)
{
    (void)ram_size;
    intr_init();
    pic_init();
    lapic_virtual_wire();
    pit_start(1000);
    pic_unmask(0);
    for (int i = 0; i < TICKS; i++)
        intr_wait();
    pic_mask(0);
    printf("tick: %d waits, %s\n", TICKS, intr_count(PIC_MASTER_BASE) >= TICKS ? "each woken by the timer" : "FAIL: too few interrupts");
    return 0;
}
