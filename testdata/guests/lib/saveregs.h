/*
 * Assembler macros for interrupt and trap entry code (.S files): the stub
 * of one vector, and saving and restoring the caller-saved general
 * registers of the SysV ABI other than RAX (RCX, RDX, RSI, RDI, R8-R11:
 * 8 quadwords) around a call into C.
 */
#ifndef FTVM_GUEST_SAVEREGS_H
#define FTVM_GUEST_SAVEREGS_H

/* VECTOR_STUB vec, common: 16-byte aligned entry of vector vec that pushes a
 * dummy error code where the CPU pushes none, then vec, and jumps to common
 * (which finds vector, error code, RIP, CS, RFLAGS, RSP, SS on the stack). */
    .macro VECTOR_STUB vec, common
    .balign 16
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq   $0                      /* dummy error code */
    .endif
    pushq   $\vec
    jmp     \common
    .endm

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
