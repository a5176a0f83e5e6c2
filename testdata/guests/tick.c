/* tick: waits in HLT for 20 interrupts of the 8254 timer (1 kHz, IRQ 0
 * through the 8259 and the local APIC in virtual-wire mode), then prints a
 * fixed line and exits with debug-exit value 0.  Used to test interrupt
 * injection and timers under ftvm run --accel kvm (machine/accel_kvm_test.go)
 * and by ftvm difftest, which compares the final RAM: so neither the output
 * nor the final state depends on timing.  Under KVM the timer follows host
 * time, and a stalled host can deliver two ticks in one wait; the handler
 * therefore masks IRQ 0 at the 20th tick, and the loop waits for the count,
 * not for a number of wake-ups. */
#include "runtime.h"
#include "intr.h"

#define TICKS 20

static void on_tick(unsigned vector)
{
    if (intr_count(vector) >= TICKS)
        pic_mask(0);    /* before the dispatcher's EOI: no 21st tick */
}

int main(unsigned long ram_size)
{
    (void)ram_size;
    intr_init();
    intr_set_handler(PIC_MASTER_BASE, on_tick);
    pic_init();
    lapic_virtual_wire();
    pit_start(1000);
    pic_unmask(0);
    while (intr_count(PIC_MASTER_BASE) < TICKS)
        intr_wait();
    printf("tick: %d interrupts, %s\n", TICKS, intr_count(PIC_MASTER_BASE) == TICKS ? "each woken by the timer" : "FAIL: more than asked for");
    return 0;
}
