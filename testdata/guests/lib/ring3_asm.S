/*
 * Entry point (ELF e_entry) of the ring-3 guests: see ring3.h.  Entered at
 * CPL0 per the ELF boot ABI (RDI = RAM size, RSI = command line or 0).
 */
#include "ring3.h"
#include "saveregs.h"

    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    xorl    %ebp, %ebp
    movq    %rdi, %r12              /* RAM size and command line survive */
    movq    %rsi, %r13              /* r3_setup (callee-saved) */
    call    r3_setup
    pushq   $(R3_UDATA | 3)         /* SS */
    leaq    r3_user_stack_top(%rip), %rax
    pushq   %rax                    /* RSP */
    pushq   $0x202                  /* RFLAGS: IF (PVM user mode has IF=1) */
    pushq   $(R3_UCODE | 3)         /* CS */
    leaq    r3_user_start(%rip), %rax
    pushq   %rax                    /* RIP */
    movq    %r12, %rdi
    movq    %r13, %rsi
    xorl    %eax, %eax
    xorl    %r12d, %r12d
    xorl    %r13d, %r13d
    iretq

/* CPL3: main(ram_size, cmdline_paddr), then exit(its value). */
r3_user_start:
    call    main
    movl    %eax, %edi
    movl    $R3_SYS_EXIT, %eax
    int3
    ud2

/* INT3 system-call entry (a DPL3 interrupt gate: IF is cleared), CPL0 on the TSS
 * RSP0 stack.  Calls r3_syscall(RAX, RDI, RSI) and returns its value in RAX
 * with IRETQ; every other register is preserved. */
    .text
    .globl  r3_trap_entry
r3_trap_entry:
    SAVE_SCRATCH                    /* 5 + 8 quadwords: RSP = 8 mod 16 */
    subq    $8, %rsp
    movq    %rsi, %rdx
    movq    %rdi, %rsi
    movq    %rax, %rdi
    cld
    call    r3_syscall
    addq    $8, %rsp
    RESTORE_SCRATCH
    iretq

    .bss
    .balign 16
r3_user_stack:
    .skip   65536
r3_user_stack_top:

    .section .note.GNU-stack, "", @progbits
