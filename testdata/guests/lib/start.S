/*
 * 64-bit entry point (ELF e_entry) of every C test guest.
 *
 * Entered per the ftvm ELF boot ABI (ARCHITECTURE.md section 3): long mode,
 * identity-mapped first 4 GiB, RSP = 0x80000, RDI = RAM size, RSI = physical
 * address of the NUL-terminated kernel command line or 0, RFLAGS = 0x2.
 * .bss is already zero (both ftvm's loader and QEMU's zero p_memsz beyond
 * p_filesz), so nothing is cleared here.
 *
 * Calls  int main(unsigned long ram_size)  and passes its return value to
 * exit(), which writes it to isa-debug-exit (port 0xF4).  RDI and RSI reach
 * main unchanged, so a guest may define
 *     int main(unsigned long ram_size, unsigned long cmdline_paddr)
 * instead (see GUEST_MAIN_CMDLINE in runtime.h).
 */
    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    xorl    %ebp, %ebp              /* (DF is already 0: RFLAGS = 0x2) */
    call    main                    /* RSP is 16-byte aligned here */
    movl    %eax, %edi
    call    exit
1:  cli
    hlt
    jmp     1b

    .section .note.GNU-stack, "", @progbits
