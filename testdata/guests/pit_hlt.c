/*
 * pit_hlt: a timer-driven guest that sleeps in HLT between PIT ticks.
 *
 * Written from the 8254 and 8259A data sheets, the Intel SDM (vol. 3, 6.10
 * and 6.14 on the IDT, 3.5.1 on the GDT) and the ftvm boot ABI
 * (ARCHITECTURE.md 3); it shares no code with the other guests' interrupt
 * library. It loads its own GDT and IDT, remaps the 8259 pair to vectors
 * 0x20-0x2F with only IRQ 0 unmasked, and programs PIT channel 0 in mode 2
 * (rate generator) at 100 Hz (divisor 11932). Between ticks it waits with
 * `sti; hlt`. Every 10 ticks it reads the TSC (which must not go back),
 * mutates a 4 KiB buffer with 20,000 rounds of an integer hash and prints a
 * line. After "lines=N" lines (command line; default 20) it ends with
 * debug-exit 0 (exit status 1).
 */
#define GUEST_MAIN_CMDLINE
#include "lib/runtime.h"
#include "lib/gates.h"

static volatile uint64_t ticks;
static uint64_t buf[512];

static const uint64_t gdt[] __attribute__((aligned(8))) = {
	0,
	0x00AF9A000000FFFFull, /* 0x08: 64-bit code, DPL 0 */
	0x00CF92000000FFFFull, /* 0x10: flat data */
};

__attribute__((interrupt)) static void on_tick(struct interrupt_frame *f)
{
	(void)f;
	ticks++;
	outb(0x20, 0x20);
}

static void load_tables(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr = {sizeof gdt - 1, (uint64_t)gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "pushq $0x08\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl $0x10, %%eax\n\t"
			 "movl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss\n\t"
			 "movl %%eax, %%fs\n\tmovl %%eax, %%gs"
			 : : "m"(gdtr) : "rax", "memory");
	gates_init();
	gates_set(32, on_tick);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* lines_wanted returns N of "lines=N" on the command line s, or 20. */
static unsigned long lines_wanted(const char *s)
{
	for (const char *p = s; p && *p; p++)
		if ((p == s || p[-1] == ' ') && memcmp(p, "lines=", 6) == 0) {
			unsigned long n = 0;
			for (p += 6; *p >= '0' && *p <= '9'; p++)
				n = n * 10 + (unsigned long)(*p - '0');
			return n;
		}
	return 20;
}

int main(unsigned long ram_size, unsigned long cmdline)
{
	(void)ram_size;
	unsigned long want = lines_wanted((const char *)cmdline);
	load_tables();
	outb(0x20, 0x11); outb(0xA0, 0x11); /* ICW1: edge, cascade, ICW4 */
	outb(0x21, 0x20); outb(0xA1, 0x28); /* ICW2: vector bases */
	outb(0x21, 0x04); outb(0xA1, 0x02); /* ICW3: slave on IRQ 2 */
	outb(0x21, 0x01); outb(0xA1, 0x01); /* ICW4: 8086 mode */
	outb(0x21, 0xFE);                   /* only IRQ 0 */
	outb(0xA1, 0xFF);
	outb(0x43, 0x34);                   /* channel 0, lobyte/hibyte, mode 2 */
	outb(0x40, 11932 & 0xFF);
	outb(0x40, 11932 >> 8);
	for (int i = 0; i < 512; i++)
		buf[i] = (uint64_t)i * 0x9E3779B97F4A7C15ull;
	printf("pit_hlt: 100 Hz, a line every 10 ticks\n");
	uint64_t last_tsc = rdtsc(), seen = 0;
	for (unsigned long line = 1; line <= want; line++) {
		while (seen < line * 10) {
			wait_change(&ticks, seen);
			seen = ticks;
		}
		uint64_t tsc = rdtsc();
		int tsc_ok = tsc > last_tsc;
		last_tsc = tsc;
		uint64_t h = 0;
		for (int r = 0; r < 20000; r++) {
			uint64_t *p = &buf[(uint64_t)r * 7 % 512];
			*p = (*p ^ (*p >> 29)) * 0xBF58476D1CE4E5B9ull + (uint64_t)r;
			h = (h ^ *p) * 0x100000001B3ull;
		}
		printf("line %lu: tsc %s, hash %016lx\n", line, tsc_ok ? "ok" : "BACKWARDS", (unsigned long)h);
	}
	return 0;
}
