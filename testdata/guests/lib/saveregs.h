/*
 * Assembler macros for interrupt and trap entry code (.S files): save and
 * restore the caller-saved general registers of the SysV ABI other than
 * RAX (RCX, RDX, RSI, RDI, R8-R11: 8 quadwords) around a call into C.
 */
#ifndef FTVM_GUEST_SAVEREGS_H
#define FTVM_GUEST_SAVEREGS_H

    .macro SAVE_SCRATCH
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    .endm

    .macro RESTORE_SCRATCH
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    .endm

#endif
