/* halt: prints a line, then cli; hlt.  ftvm ends the run with status 0
 * (halted with interrupts disabled).  QEMU just stays halted. */
    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    leaq    msg(%rip), %rsi
    call    asm_puts
    cli
1:  hlt
    jmp     1b

    .section .rodata
msg:    .asciz "halt: cli; hlt\n"
    .section .note.GNU-stack, "", @progbits
