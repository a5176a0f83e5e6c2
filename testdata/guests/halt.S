/* halt: prints a line, then cli; hlt.  ftvm ends the run with status 0
 * (halted with interrupts disabled).  QEMU just stays halted. */
#include "asmguest.h"
    ASM_GUEST_START msg
    cli
1:  hlt
    jmp     1b

    .section .rodata
msg:    .asciz "halt: cli; hlt\n"
    .section .note.GNU-stack, "", @progbits
