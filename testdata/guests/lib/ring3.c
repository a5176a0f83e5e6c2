/* Ring-3 guest runtime: see ring3.h. */
#include <stdarg.h>
#include <stdint.h>
#include "runtime.h"
#include "ring3.h"
#include "tss.h"

/* ---- CPL0 part ---------------------------------------------------------- */

static struct tss64 r3_tss __attribute__((aligned(16)));

static uint64_t r3_gdt[9] __attribute__((aligned(16))) = {
    0,
    0x00af9b000000ffffull, /* 0x08 kernel code, 64-bit */
    0x00cf93000000ffffull, /* 0x10 kernel data */
    0,                     /* 0x18 unused */
    0x00cffb000000ffffull, /* 0x20 user code, 32-bit (STAR[63:48] base) */
    0x00cff3000000ffffull, /* 0x28 user data */
    0x00affb000000ffffull, /* 0x30 user code, 64-bit */
    0, 0,                  /* 0x38 TSS (filled in) */
};

#define PTE_P  0x001ull
#define PTE_W  0x002ull
#define PTE_U  0x004ull
#define PTE_PS 0x080ull

static uint64_t r3_pml4[512] __attribute__((aligned(4096)));
static uint64_t r3_pdpt[512] __attribute__((aligned(4096)));
static uint64_t r3_pd[4][512] __attribute__((aligned(4096)));
static uint64_t r3_pt0[512] __attribute__((aligned(4096)));

struct __attribute__((packed)) idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

static struct idt_gate r3_idt[256] __attribute__((aligned(16)));

extern char r3_trap_entry[];

/* Called by _start at CPL0 before it enters user mode. */
void r3_setup(void);
void r3_setup(void)
{
    /* Page tables: 0-1 MiB supervisor, the rest of the first 4 GiB user. */
    for (uint64_t i = 0; i < 512; i++)
        r3_pt0[i] = i << 12 | PTE_P | PTE_W | (i >= 256 ? PTE_U : 0);
    for (uint64_t d = 0; d < 4; d++) {
        for (uint64_t i = 0; i < 512; i++)
            r3_pd[d][i] = (d << 30 | i << 21) | PTE_P | PTE_W | PTE_U | PTE_PS;
        r3_pdpt[d] = (uint64_t)r3_pd[d] | PTE_P | PTE_W | PTE_U;
    }
    r3_pd[0][0] = (uint64_t)r3_pt0 | PTE_P | PTE_W | PTE_U;
    r3_pml4[0] = (uint64_t)r3_pdpt | PTE_P | PTE_W | PTE_U;
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)r3_pml4) : "memory");

    /* GDT with the TSS; reload the data segments and the task register. */
    uint64_t base = (uint64_t)&r3_tss, limit = sizeof r3_tss - 1;
    r3_tss.rsp[0] = R3_KSTACK_TOP;
    r3_tss.iomap_base = sizeof r3_tss; /* no I/O permission bitmap */
    r3_gdt[R3_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
                         (limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
    r3_gdt[R3_TSS / 8 + 1] = base >> 32;
    struct dtr g = { sizeof r3_gdt - 1, (uint64_t)r3_gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "movl %1, %%eax\n\t"
                     "movl %%eax, %%ds\n\t"
                     "movl %%eax, %%es\n\t"
                     "movl %%eax, %%ss\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl %%eax, %%gs\n\t"
                     "ltr %w2"
                     : : "m"(g), "i"(R3_KDATA), "r"(R3_TSS) : "rax", "memory");

    /* User mode runs with IF=1 (PVM forces it there), so mask the 8259s:
     * firmware (SeaBIOS under QEMU) leaves the PIT's IRQ 0 unmasked at
     * vector 8. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    /* IDT: the fault reporter's 32 exception gates and the INT 0x80 gate
     * (DPL 3, so user mode may use it). */
    install_fault_reporter();
    struct dtr fr;
    __asm__ volatile("sidt %0" : "=m"(fr));
    memcpy(r3_idt, (const void *)fr.base, fr.limit + 1u);
    uint64_t h = (uint64_t)r3_trap_entry;
    r3_idt[3] = (struct idt_gate){ (uint16_t)h, R3_KCODE, 0, 0xEE, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0 };
    struct dtr idtr = { sizeof r3_idt - 1, (uint64_t)r3_idt };
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* The system call handler (CPL0), called by r3_trap_entry. */
long r3_syscall(long nr, long a1, long a2);
long r3_syscall(long nr, long a1, long a2)
{
    switch (nr) {
    case R3_SYS_WRITE:
        serial_write((const char *)a1, (size_t)a2);
        return a2;
    case R3_SYS_EXIT:
        exit((int)a1);
    }
    return -1;
}

/* ---- CPL3 part ---------------------------------------------------------- */

long r3_syscall2(long nr, long a1, long a2)
{
    long ret;
    __asm__ volatile("int3" : "=a"(ret) : "a"(nr), "D"(a1), "S"(a2) : "memory");
    return ret;
}

void r3_write(const char *s, size_t n)
{
    r3_syscall2(R3_SYS_WRITE, (long)s, (long)n);
}

__attribute__((noreturn)) void r3_exit(int v)
{
    r3_syscall2(R3_SYS_EXIT, v, 0);
    for (;;)
        __asm__ volatile("ud2");
}

int r3_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf_to(r3_write, fmt, ap);
    va_end(ap);
    return n;
}
