/*
 * paging guest: interrupt stubs, SYSCALL entry, user-mode entry/exit and the
 * user-mode test code (section .usertext, mapped with U=1).
 */
#include "paging.h"
#include "saveregs.h"

    .code64
    .text

/* ---- 256 interrupt stubs, 16 bytes apart: isr_stubs + 16 * vector ---- */
    .balign 16
    .globl  isr_stubs
isr_stubs:
    .altmacro
    .set    vec, 0
    .rept   256
    VECTOR_STUB %vec, isr_common
    .set    vec, vec + 1
    .endr
    .noaltmacro

/* Frame layout = struct frame in paging.c */
isr_common:
    pushq   %rax
    pushq   %rbx
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %rbp
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, %rdi
    cld
    call    trap
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rbp
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rbx
    popq    %rax
    addq    $16, %rsp               /* vector, error code */
    iretq

/* ---- SYSCALL entry (LSTAR).  RCX = user RIP, R11 = user RFLAGS. ---- */
    .globl  syscall_entry
syscall_entry:
    movq    %rsp, sys_user_rsp(%rip)
    leaq    sys_stack_top(%rip), %rsp
    pushq   sys_user_rsp(%rip)
    pushq   %r11
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %rax
    subq    $8, %rsp                /* struct sysframe.pad; keeps alignment */
    movq    %rsp, %rdi
    call    syscall_c               /* returns the value for user RAX */
    addq    $16, %rsp               /* pad, rax */
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %r11
    popq    %rsp
    sysretq

/* SAVE_KERNEL_CONTEXT: push the callee-saved registers and keep the stack
 * pointer, for user_return to pop them. */
    .macro SAVE_KERNEL_CONTEXT
    pushq   %rbx
    pushq   %rbp
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, kctx_rsp(%rip)
    .endm

/* CLEAR_ARGS: zero RAX, RDX, RSI and RDI, which user code starts with. */
    .macro CLEAR_ARGS
    xorl    %eax, %eax
    xorl    %edx, %edx
    xorl    %esi, %esi
    xorl    %edi, %edi
    .endm

/* uint64_t enter_user_sysret(uint64_t rip, uint64_t rsp) */
    .globl  enter_user_sysret
enter_user_sysret:
    SAVE_KERNEL_CONTEXT
    movq    %rdi, %rcx
    movl    $0x2, %r11d
    movq    %rsi, %rsp
    CLEAR_ARGS
    sysretq

/* uint64_t enter_user_iret(uint64_t rip, uint64_t rsp) */
    .globl  enter_user_iret
enter_user_iret:
    SAVE_KERNEL_CONTEXT
    pushq   $(SEL_UDATA | 3)        /* SS */
    pushq   %rsi                    /* RSP */
    pushq   $0x2                    /* RFLAGS */
    pushq   $(SEL_UCODE | 3)        /* CS */
    pushq   %rdi                    /* RIP */
    CLEAR_ARGS
    iretq

/* void user_return(uint64_t code): back to the caller of enter_user_* */
    .globl  user_return
user_return:
    movq    kctx_rsp(%rip), %rsp
    movq    %rdi, %rax
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbp
    popq    %rbx
    ret

    .bss
    .balign 16
kctx_rsp:       .quad 0
sys_user_rsp:   .quad 0
    .balign 16
sys_stack:      .skip 8192
sys_stack_top:

/* ---- user-mode code (CPL3).  Conventions: syscall 1 = log RDI,
 * syscall 2 = exit(RDI), syscall 3 = report kernel view; int $0x80 returns
 * RDI*2+1; before an instruction that must fault, R15 = resume address. ---- */
    .section .usertext, "ax"
    .globl  user_entry_sysret
user_entry_sysret:
    pushfq
    popq    %rdi
    movl    $1, %eax
    syscall                         /* log: RFLAGS at entry (0x2) */
    movl    %cs, %edi
    movl    $1, %eax
    syscall                         /* log: CS (0x2b) */
    movl    %ss, %edi
    movl    $1, %eax
    syscall                         /* log: SS (0x23) */
    std
    movl    $3, %eax
    syscall                         /* kernel checks FMASK cleared DF, R11 has DF */
    cld
    movq    %rax, %rdi
    movl    $1, %eax
    syscall                         /* log: 0x33 */
    movq    $0x1234, %rdi
    int     $0x80
    movq    %rax, %rdi
    movl    $1, %eax
    syscall                         /* log: 0x2469 */
    leaq    1f(%rip), %r15
    movabsq $VA_SUP, %rbx
    movq    (%rbx), %rax            /* #PF, error U|P = 0x5 */
1:  leaq    2f(%rip), %r15
    movq    %rax, (%rbx)            /* #PF, error U|W|P = 0x7 */
2:  leaq    3f(%rip), %r15
    int     $0x81                   /* gate DPL 0: #GP(0x81*8+2) */
3:  leaq    4f(%rip), %r15
    hlt                             /* #GP(0) */
4:  leaq    5f(%rip), %r15
    inb     $0x61, %al              /* IOPL 0, no I/O bitmap: #GP(0) */
5:  movabsq $VA_USER, %rbx
    movq    $0x5555, (%rbx)
    movq    (%rbx), %rdi
    movl    $1, %eax
    syscall                         /* log: 0x5555 */
    xorl    %edi, %edi
    movl    $2, %eax
    syscall                         /* exit(0) */
    ud2

    .globl  user_entry_iret
user_entry_iret:
    pushfq
    popq    %rdi
    movl    $1, %eax
    syscall                         /* log: RFLAGS (0x2) */
    movl    %cs, %edi
    movl    $1, %eax
    syscall                         /* log: CS */
    movl    %ss, %edi
    movl    $1, %eax
    syscall                         /* log: SS */
    movq    %rsp, %rdi
    movl    $1, %eax
    syscall                         /* log: RSP (top of the user stack) */
    movq    $7, %rdi
    int     $0x80
    movq    %rax, %rdi
    movl    $1, %eax
    syscall                         /* log: 15 */
    movl    $0x77, %edi
    movl    $2, %eax
    syscall                         /* exit(0x77) */
    ud2

    .section .note.GNU-stack, "", @progbits
