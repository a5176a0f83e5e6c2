/* See faults.S. */
#include "runtime.h"

struct fault_frame {
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct __attribute__((packed)) idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};

extern char fault_stubs[];
static struct idt_gate fault_idt[32] __attribute__((aligned(16)));

__attribute__((noreturn)) void fault_report(struct fault_frame *f);

__attribute__((noreturn)) void fault_report(struct fault_frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    printf("\nFAIL unexpected exception vec=%lu err=0x%lx rip=0x%lx rsp=0x%lx rflags=0x%lx cr2=0x%lx\n",
           f->vector, f->error, f->rip, f->rsp, f->rflags, cr2);
    exit(0x7e);
}

void install_fault_reporter(void)
{
    for (int v = 0; v < 32; v++) {
        uint64_t h = (uint64_t)(fault_stubs + 16 * v);
        fault_idt[v].off0 = (uint16_t)h;
        fault_idt[v].sel = 0x08;
        fault_idt[v].ist = 0;
        fault_idt[v].type = 0x8E;
        fault_idt[v].off1 = (uint16_t)(h >> 16);
        fault_idt[v].off2 = (uint32_t)(h >> 32);
        fault_idt[v].zero = 0;
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } d = { sizeof fault_idt - 1, (uint64_t)fault_idt };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}
