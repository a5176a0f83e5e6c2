/*
 * Minimal helpers for the assembly-only guests (halt, reset, triple, spin):
 * asm_puts prints the NUL-terminated string at RSI on COM1, polling LSR
 * bit 5 before every byte.  Clobbers RAX, RCX, RDX, RSI.
 */
    .text
    .code64
    .globl  asm_puts
asm_puts:
    movb    (%rsi), %cl
    testb   %cl, %cl
    jz      3f
2:  movw    $0x3FD, %dx
    inb     %dx, %al
    testb   $0x20, %al
    jz      2b
    movw    $0x3F8, %dx
    movb    %cl, %al
    outb    %al, %dx
    incq    %rsi
    jmp     asm_puts
3:  ret

    .section .note.GNU-stack, "", @progbits
