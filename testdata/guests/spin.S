/* spin: prints a line, then counts in RAX forever; used with --max-insns
 * (ftvm exit status 124).  About 80 instructions run before the loop. */
    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    leaq    msg(%rip), %rsi
    call    asm_puts
    xorl    %eax, %eax
1:  addq    $1, %rax
    jmp     1b

    .section .rodata
msg:    .asciz "spin\n"
    .section .note.GNU-stack, "", @progbits
