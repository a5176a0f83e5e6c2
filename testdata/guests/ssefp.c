/* ssefp: guest wrapper around ssefp_body.c (see there).  The serial output
 * must equal the stdout of ssefp_host byte for byte.  Vector 19 (#XM) gets
 * its own gate: it resumes at xm_resume and counts the exception. */
#include "runtime.h"
#include "ssefp_body.h"

void ex_write(const char *s, unsigned long n)
{
    serial_write(s, n);
}

void xm_gate(void);
__asm__(".text\n"
        "xm_gate:\n\t"
        "pushq %rax\n\t"
        "movq xm_resume(%rip), %rax\n\t"
        "movq %rax, 8(%rsp)\n\t" /* the saved RIP */
        "incq xm_caught(%rip)\n\t"
        "popq %rax\n\t"
        "iretq\n");

int main(unsigned long ram_size)
{
    (void)ram_size;
    install_fault_reporter(); /* an unimplemented opcode reports, not triple-faults */
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    uint16_t *gate = (uint16_t *)(idtr.base + 16 * 19); /* offset bits 0-15, 16-31 (word 3), 32-63 */
    uint64_t h = (uint64_t)xm_gate;
    gate[0] = (uint16_t)h;
    gate[3] = (uint16_t)(h >> 16);
    *(uint32_t *)&gate[4] = (uint32_t)(h >> 32);
    return ssefp_run(1);
}
