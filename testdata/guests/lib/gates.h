/*
 * A 48-vector long-mode IDT for small guests whose handlers are C functions
 * with __attribute__((interrupt)) (GCC, -mgeneral-regs-only), written from
 * the Intel SDM vol. 3, 6.14.1 (64-bit interrupt gates):
 *
 *   gates_init()       vectors 0-31: print "FAIL unexpected exception" and
 *                      exit 0x7e; 32-47 (the remapped 8259 pair): ignored,
 *                      as a spurious IRQ 7/15 needs no EOI; then LIDT
 *   gates_set(v, fn)   installs fn at vector v (code selector 0x08)
 *
 * Used by idle_wake.c and pit_hlt.c; the interrupt library lib/intr.c is
 * the other guests' and is not used here.
 */
#ifndef FTVM_GUEST_GATES_H
#define FTVM_GUEST_GATES_H

#include "runtime.h"

struct interrupt_frame;
typedef void (*gate_fn)(struct interrupt_frame *);

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

static struct idt_gate gates_idt[48];

static inline void gates_set(int vec, gate_fn fn)
{
	uint64_t a = (uint64_t)fn;
	gates_idt[vec] = (struct idt_gate){(uint16_t)a, 0x08, 0, 0x8E, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
}

__attribute__((interrupt)) static void gates_fault(struct interrupt_frame *f)
{
	(void)f;
	printf("FAIL unexpected exception\n");
	exit(0x7e);
}

__attribute__((interrupt)) static void gates_spurious(struct interrupt_frame *f)
{
	(void)f;
}

static inline void gates_init(void)
{
	for (int v = 0; v < 32; v++)
		gates_set(v, gates_fault);
	for (int v = 32; v < 48; v++)
		gates_set(v, gates_spurious);
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = {sizeof gates_idt - 1, (uint64_t)gates_idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

#endif
