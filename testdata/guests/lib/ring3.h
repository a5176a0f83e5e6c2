/*
 * Ring-3 guest runtime (ring3.c, ring3_asm.S): the guest's body runs at CPL3.
 *
 * Why: on a host whose KVM is PVM (no VMX/SVM), guest code at CPL3 runs
 * natively on the host CPU while CPL0 code goes through the host kernel's
 * instruction emulator (about a thousand times slower, and incomplete).
 * A ring-3 guest keeps its CPL0 part to a few thousand instructions, so it
 * runs at native speed there (`ftvm run --accel kvm`, `ftvm difftest`), and
 * it runs unchanged under the ftvm interpreter and QEMU.
 *
 * What the CPL0 part does (_start in ring3_asm.S, r3_setup in ring3.c):
 *   - its own GDT: 0x08 kernel code, 0x10 kernel data, 0x23 user code
 *     (32-bit), 0x2b user data, 0x33 user code (64-bit; the selectors
 *     Linux uses, which PVM expects of user mode), 0x38 a 64-bit TSS whose
 *     RSP0 is the kernel stack;
 *   - its own 4-level page tables: 0-1 MiB supervisor-only 4 KiB pages
 *     (boot structures, kernel stack), 1 MiB-4 GiB user pages (U=1);
 *   - both 8259s masked (user mode runs with IF=1);
 *   - an IDT with the fault reporter's exception gates (faults.c: an
 *     exception at CPL3 switches to RSP0 and prints FAIL ...) and a DPL3
 *     interrupt gate for INT 0x80 (r3_int80_entry);
 *   - IRETQ to CPL3 (CS 0x33, SS 0x2b, RFLAGS 0x202) at r3_user_start,
 *     which calls main(ram_size, cmdline_paddr) and passes its return
 *     value to the exit system call.
 *
 * System calls (INT 0x80, number in RAX, arguments in RDI and RSI, result
 * in RAX; every other register is preserved):
 *   R3_SYS_WRITE (1)  write(buf, len) to COM1
 *   R3_SYS_EXIT  (2)  exit(value): isa-debug-exit, never returns
 * The kernel returns with IRETQ.
 *
 * Why INT 0x80 and not SYSCALL: on this host's PVM a SYSCALL from CPL3
 * reaches LSTAR with RCX and R11 set but without supervisor rights (the
 * handler's first access to a supervisor page faults with U=1), while
 * exceptions and interrupt gates from CPL3 are delivered architecturally
 * (TSS stack switch, CPL0 handler).
 */
#ifndef FTVM_GUEST_RING3_H
#define FTVM_GUEST_RING3_H

#define R3_KCODE      0x08
#define R3_KDATA      0x10
#define R3_UCODE32    0x20
#define R3_UDATA      0x28
#define R3_UCODE      0x30
#define R3_TSS        0x38
#define R3_KSTACK_TOP 0x80000   /* the boot stack, in a supervisor page */

#define R3_SYS_WRITE  1
#define R3_SYS_EXIT   2

#ifndef __ASSEMBLER__
#include <stddef.h>

/* User-mode (CPL3) calls. */
long r3_syscall2(long nr, long a1, long a2);
void r3_write(const char *s, size_t n);
__attribute__((noreturn)) void r3_exit(int v);
int r3_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

#endif
