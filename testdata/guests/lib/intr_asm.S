/*
 * Entry stubs of vectors 32-255 for intr.c (vectors 0-31 use faults_asm.S).
 * Each stub is 16 bytes: push the vector, jump to the common code, which
 * saves the caller-saved general registers, calls intr_dispatch(vector) on
 * a 16-byte aligned stack and returns with IRETQ.
 */
#include "saveregs.h"

    .text
    .code64

    .macro ISTUB vec
    .balign 16
    pushq   $\vec
    jmp     intr_common
    .endm

    .balign 16
    .globl  intr_stubs
intr_stubs:
    .altmacro
    .set    ivec, 32
    .rept   224
    ISTUB   %ivec
    .set    ivec, ivec + 1
    .endr
    .noaltmacro

/* frame (64-bit mode: RSP 16-byte aligned before the CPU pushes 5 words):
 * vector, RIP, CS, RFLAGS, RSP, SS; 6 words, so RSP is aligned here. */
intr_common:
    pushq   %rax
    SAVE_SCRATCH
    subq    $8, %rsp                /* 10 words: aligned again */
    cld
    movq    80(%rsp), %rdi          /* the vector */
    call    intr_dispatch
    addq    $8, %rsp
    RESTORE_SCRATCH
    popq    %rax
    addq    $8, %rsp                /* drop the vector */
    iretq

    .section .note.GNU-stack, "", @progbits
