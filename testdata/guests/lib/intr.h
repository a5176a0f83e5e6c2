/*
 * Interrupts for ftvm test guests (link intr.c, intr_asm.S, faults.c and
 * faults_asm.S).
 *
 *   - a 256-vector IDT: vectors 0-31 go to the fault reporter of faults.c
 *     ("FAIL unexpected exception ...", debug-exit 0x7e), vectors 32-255 to
 *     handlers registered with intr_set_handler();
 *   - the 8259 pair (remapped, every line masked until pic_unmask), the
 *     8254 channel 0 as a periodic timer on IRQ 0;
 *   - the local APIC (software enable, LINT0 in ExtINT so the 8259 still
 *     reaches the CPU: virtual-wire mode) and I/O APIC redirection entries.
 *
 * End of interrupt is done by the dispatcher, after the handler returns:
 * to the 8259 for the vectors of pic_init's range (a spurious IRQ 7 / 15 is
 * recognised and not acknowledged), to the local APIC for the others once
 * lapic_enable() was called.  The spurious vector of the local APIC (0xFF)
 * gets no EOI.
 *
 * All handlers run with interrupts disabled (interrupt gates) on the
 * interrupted stack; the stubs save the caller-saved general registers (the
 * guests are built with -mgeneral-regs-only, so there is no SSE state).
 */
#ifndef FTVM_GUEST_INTR_H
#define FTVM_GUEST_INTR_H

#include <stdint.h>

typedef void (*intr_handler_t)(unsigned vector);

#define PIC_MASTER_BASE     0x20    /* vectors of IRQ 0-7 after pic_init */
#define PIC_SLAVE_BASE      0x28    /* vectors of IRQ 8-15 */
#define LAPIC_SPURIOUS_VEC  0xFF
#define LAPIC_BASE          0xFEE00000UL
#define IOAPIC_BASE         0xFEC00000UL

/* Builds the IDT and loads it (interrupts stay disabled). */
void intr_init(void);
/* Sets the handler of vector 32..255 (NULL: ignore it, EOI still sent). */
void intr_set_handler(unsigned vector, intr_handler_t fn);
/* Number of interrupts taken on vector (counted before the handler runs). */
uint64_t intr_count(unsigned vector);

static inline void intr_enable(void)  { __asm__ volatile("sti" ::: "memory"); }
static inline void intr_disable(void) { __asm__ volatile("cli" ::: "memory"); }
/* With interrupts disabled: enable them and halt until the next one (no
 * wake-up can be lost between the two), then disable them again. */
static inline void intr_wait(void)    { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
/* With interrupts disabled: let pending interrupts in, then disable. */
static inline void intr_window(void)  { __asm__ volatile("sti; nop; cli" ::: "memory"); }

/* 8259: ICW1-4 (edge triggered, 8086 mode, cascade on IRQ 2), vectors
 * PIC_MASTER_BASE and PIC_SLAVE_BASE; all lines masked but the cascade. */
void pic_init(void);
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);

/* 8254 channel 0, mode 2 (rate generator) at about hz interrupts per
 * second on IRQ 0 (divisor 1193182 / hz, rounded). */
void pit_start(unsigned hz);

/* Local APIC: spurious vector 0xFF with the APIC software-enabled, TPR 0,
 * LINT0 ExtINT (the 8259 still delivers), LINT1 NMI. */
void lapic_enable(void);
/* Virtual-wire mode, as firmware leaves a PC and as ftvm starts a guest:
 * if LINT0 is masked or not ExtINT (QEMU's microvm machine leaves it so),
 * calls lapic_enable().  Returns 1 if it had to. */
int lapic_virtual_wire(void);
uint32_t lapic_id(void);
int lapic_enabled(void);

/* I/O APIC: routes global system interrupt gsi to vector on this CPU
 * (fixed delivery, physical destination lapic_id()), edge triggered,
 * active high, unmasked.  GSI 0-23 are the pins of the I/O APIC at
 * 0xFEC00000; GSI 24-47 those of a second one at 0xFEC10000 (the layout of
 * QEMU's microvm machine with ACPI).  Returns 0, or -1 for a GSI beyond
 * the pins the I/O APIC reports. */
int ioapic_route(unsigned gsi, uint8_t vector);
void ioapic_mask(unsigned gsi);

#endif
