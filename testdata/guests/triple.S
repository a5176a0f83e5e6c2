/* triple: prints a line, loads an empty IDT (limit 0) and executes ud2:
 * #UD cannot be delivered (#GP), nor can #GP (#DF), nor #DF: triple fault.
 * ftvm exits with status 126; QEMU -no-reboot exits with status 0. */
#include "asmguest.h"
    ASM_GUEST_START msg
    lidt    empty_idt(%rip)
    ud2
    cli
1:  hlt
    jmp     1b

    .section .rodata
    .balign 8
empty_idt:
    .word   0                       /* limit 0 */
    .quad   0                       /* base 0 */
msg:    .asciz "triple: ud2 with an empty IDT\n"
    .section .note.GNU-stack, "", @progbits
