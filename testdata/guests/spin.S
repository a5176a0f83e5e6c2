/* spin: prints a line, then counts in RAX forever; used with --max-insns
 * (ftvm exit status 124).  About 80 instructions run before the loop. */
#include "asmguest.h"
    ASM_GUEST_START msg
    xorl    %eax, %eax
1:  addq    $1, %rax
    jmp     1b

    .section .rodata
msg:    .asciz "spin\n"
    .section .note.GNU-stack, "", @progbits
