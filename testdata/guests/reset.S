/* reset: prints a line, then writes 0xFE to the keyboard controller (port
 * 0x64): ftvm exits with status 0; QEMU -no-reboot exits with status 0. */
#include "asmguest.h"
    ASM_GUEST_START msg
    movb    $0xFE, %al
    outb    %al, $0x64
    cli
1:  hlt
    jmp     1b

    .section .rodata
msg:    .asciz "reset: writing 0xfe to port 0x64\n"
    .section .note.GNU-stack, "", @progbits
