/*
 * asmguest.h - the entry of the small assembly guests (halt, reset, spin,
 * triple), linked with lib/pvh.S and lib/asmlib.S.
 *
 * ASM_GUEST_START msg: defines _start in 64-bit code, which prints the
 * NUL-terminated string at msg (asm_puts) and goes on with what follows.
 */
    .macro  ASM_GUEST_START msg
    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    leaq    \msg(%rip), %rsi
    call    asm_puts
    .endm
