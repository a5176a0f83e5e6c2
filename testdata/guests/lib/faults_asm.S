/*
 * Optional fault reporter for C guests: an IDT whose 32 exception vectors
 * print "FAIL unexpected exception ..." on COM1 and exit with debug-exit value
 * 0x7e, instead of the silent triple fault an unhandled exception causes.
 * Call install_fault_reporter() from main().  Uses the boot GDT's CS 0x08.
 */
    .text
    .code64

    .macro FSTUB vec
    .balign 16
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq   $0
    .endif
    pushq   $\vec
    jmp     fault_common
    .endm

    .balign 16
    .globl  fault_stubs
fault_stubs:
    .altmacro
    .set    fvec, 0
    .rept   32
    FSTUB   %fvec
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
