/*
 * Optional fault reporter for C guests: an IDT whose 32 exception vectors
 * print "FAIL unexpected exception ..." on COM1 and exit with debug-exit value
 * 0x7e, instead of the silent triple fault an unhandled exception causes.
 * Call install_fault_reporter() from main().  Uses the boot GDT's CS 0x08.
 */
#include "saveregs.h"

    .text
    .code64

    .balign 16
    .globl  fault_stubs
fault_stubs:
    .altmacro
    .set    fvec, 0
    .rept   32
    VECTOR_STUB %fvec, fault_common
    .set    fvec, fvec + 1
    .endr
    .noaltmacro

/* stack: vector, error code, RIP, CS, RFLAGS, RSP, SS */
fault_common:
    movq    %rsp, %rdi
    andq    $-16, %rsp
    call    fault_report            /* does not return */
1:  cli
    hlt
    jmp     1b

    .section .note.GNU-stack, "", @progbits
