/*
 * Interrupt entry of the wait guest (wait.c): one stub per vector 0-255,
 * each at wait_stubs + 32*vector.  A stub pushes a zero where the CPU pushes
 * no error code (SDM vol. 3 §6.13: vectors 8, 10-14, 17, 21, 29 and 30 have
 * one), then the vector, and jumps to the common code.  The common code
 * saves the registers the SysV ABI lets a C function clobber, calls
 *     void wait_isr(uint64_t vector, uint64_t *frame)
 * with frame pointing at the error code (then RIP, CS, RFLAGS, RSP, SS),
 * and returns with IRETQ.
 *
 * Stack: in 64-bit mode the CPU aligns RSP to 16 bytes and pushes 5 words
 * (SDM §6.14.2); with the error code and the vector that is 7 words, with
 * the 9 saved registers 16 words, so RSP is 16-byte aligned at the call.
 */
#include "saveregs.h"

    .text
    .code64

    .macro STUB vec
    .balign 32
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq   $0
    .endif
    pushq   $\vec
    jmp     wait_common
    .endm

    .balign 32
    .globl  wait_stubs
wait_stubs:
    .altmacro
    .set    v, 0
    .rept   256
    STUB    %v
    .set    v, v + 1
    .endr
    .noaltmacro

wait_common:
    pushq   %rax
    SAVE_SCRATCH
    movq    72(%rsp), %rdi          /* vector */
    leaq    80(%rsp), %rsi          /* error code, RIP, CS, RFLAGS, RSP, SS */
    cld
    call    wait_isr
    RESTORE_SCRATCH
    popq    %rax
    addq    $16, %rsp               /* vector and error code */
    iretq

    .section .note.GNU-stack, "", @progbits
