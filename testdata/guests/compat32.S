/*
 * compat32: a 64-bit kernel runs a 32-bit user process in compatibility mode
 * (SDM Vol. 3, 5.8.7-5.8.8 and 6.14: IA-32e mode interrupts, SYSENTER and
 * SYSEXIT; 2.2.1: compatibility mode). Entered by ftvm's ELF64 boot ABI, or
 * by QEMU through lib/pvh.S.
 *
 * The kernel (CPL 0, 64-bit): own GDT (64-bit kernel code 0x08 and data
 * 0x10, 32-bit user code 0x18 and data 0x20, 64-bit user code 0x28 and data
 * 0x30, a 64-bit TSS at 0x38 whose RSP0 is the kernel stack), own page
 * tables with user access, an IDT with a DPL-3 interrupt gate for INT 0x80
 * and gates that report #UD, #GP and #PF, IA32_SYSENTER_CS/ESP/EIP; then
 * IRETQ to the 32-bit user code at CPL 3.
 *
 * The user process (CPL 3, 32-bit code under long mode) makes system calls
 * the i386 Linux way, EAX = number, EBX/ECX/EDX = arguments: through INT
 * 0x80, and through SYSENTER (the kernel returns with SYSEXIT to EDX = the
 * ESI the user set, ESP = EDI). Calls: 4 write(fd, buf, len) to COM1,
 * 100 (print EBX in hex, with the caller's CS and how it entered), 1
 * exit(code): isa-debug-exit with code.
 */
    .set COM1, 0x3F8
    .set KCODE, 0x08
    .set KDATA, 0x10
    .set UCODE32, 0x18
    .set UDATA, 0x20
    .set TSSSEL, 0x38

    .section .text.start, "ax"
    .code64
    .globl  _start
_start:
    leaq    kstack_top(%rip), %rsp
    leaq    hello(%rip), %rsi
    call    asm_puts

    /* page tables: 1 GiB identity-mapped with 2 MiB user pages */
    leaq    pd(%rip), %rdi
    xorl    %eax, %eax
    movl    $0x87, %eax                     /* P, RW, US, PS */
    movl    $512, %ecx
1:  movq    %rax, (%rdi)
    addq    $0x200000, %rax
    addq    $8, %rdi
    loop    1b
    leaq    pd(%rip), %rax
    orq     $7, %rax
    movq    %rax, pdpt(%rip)
    leaq    pdpt(%rip), %rax
    orq     $7, %rax
    movq    %rax, pml4(%rip)
    leaq    pml4(%rip), %rax
    movq    %rax, %cr3

    /* the TSS descriptor (base = tss, limit 0x67, type 9, present) */
    leaq    tss(%rip), %rax
    movq    %rax, %rdx
    andq    $0xFFFFFF, %rdx
    shlq    $16, %rdx
    orq     $0x67, %rdx
    movq    %rax, %rcx
    shrq    $24, %rcx
    andq    $0xFF, %rcx
    shlq    $56, %rcx
    orq     %rcx, %rdx
    movabsq $0x0000890000000000, %rcx
    orq     %rcx, %rdx
    movq    %rdx, gdt + TSSSEL(%rip)
    shrq    $32, %rax
    movq    %rax, gdt + TSSSEL + 8(%rip)
    leaq    kstack_top(%rip), %rax
    movq    %rax, tss + 4(%rip)             /* RSP0 */

    lgdt    gdt_desc(%rip)
    pushq   $KCODE
    leaq    1f(%rip), %rax
    pushq   %rax
    lretq
1:  movl    $KDATA, %eax
    movl    %eax, %ds
    movl    %eax, %es
    movl    %eax, %ss
    movw    $TSSSEL, %ax
    ltr     %ax

    /* IDT */
    movl    $6, %edi
    leaq    fault_ud(%rip), %rsi
    movl    $0x8E00, %edx
    call    set_gate
    movl    $13, %edi
    leaq    fault_gp(%rip), %rsi
    call    set_gate
    movl    $14, %edi
    leaq    fault_pf(%rip), %rsi
    call    set_gate
    movl    $0x80, %edi
    leaq    int80(%rip), %rsi
    movl    $0xEE00, %edx                   /* DPL 3 */
    call    set_gate
    lidt    idt_desc(%rip)

    /* SYSENTER */
    movl    $0x174, %ecx
    movl    $KCODE, %eax
    xorl    %edx, %edx
    wrmsr
    movl    $0x175, %ecx
    leaq    sstack_top(%rip), %rax
    movq    %rax, %rdx
    shrq    $32, %rdx
    wrmsr
    movl    $0x176, %ecx
    leaq    sysenter_entry(%rip), %rax
    movq    %rax, %rdx
    shrq    $32, %rdx
    wrmsr

    /* to the 32-bit user code at CPL 3 */
    pushq   $UDATA | 3
    leaq    ustack_top(%rip), %rax
    pushq   %rax
    pushq   $0x2
    pushq   $UCODE32 | 3
    leaq    user_start(%rip), %rax
    pushq   %rax
    iretq

/* set_gate: vector EDI -> handler RSI, type/DPL bits EDX (<< 32 of the low quadword) */
set_gate:
    leaq    idt(%rip), %r8
    shlq    $4, %rdi
    addq    %rdi, %r8
    movq    %rsi, %rax
    andq    $0xFFFF, %rax
    orq     $KCODE << 16, %rax
    movq    %rdx, %rcx
    shlq    $32, %rcx
    orq     %rcx, %rax
    movq    %rsi, %rcx
    shrq    $16, %rcx
    andq    $0xFFFF, %rcx
    shlq    $48, %rcx
    orq     %rcx, %rax
    movq    %rax, (%r8)
    movq    %rsi, %rax
    shrq    $32, %rax
    movq    %rax, 8(%r8)
    ret

/* syscall dispatch: EAX number, EBX/ECX/EDX arguments, R8 = the caller's CS,
 * R9 = 'i' (INT 0x80) or 's' (SYSENTER); returns RAX */
dispatch:
    cmpl    $4, %eax
    je      sys_write
    cmpl    $100, %eax
    je      sys_hex
    cmpl    $1, %eax
    je      sys_exit
    movq    $-38, %rax                      /* ENOSYS */
    ret
sys_write:
    movl    %ecx, %esi
    movl    %edx, %ecx
    movq    %rcx, %r10
    movw    $COM1, %dx
    jrcxz   2f
1:  lodsb
    outb    %al, %dx
    loop    1b
2:  movq    %r10, %rax
    ret
sys_hex:
    pushq   %rbx
    movq    %r9, %rax
    call    putc
    leaq    via(%rip), %rsi
    call    kputs
    movq    %r8, %rax
    call    puthex16
    leaq    colon(%rip), %rsi
    call    kputs
    popq    %rax
    call    puthex32
    movb    $'\n', %al
    call    putc
    xorl    %eax, %eax
    ret
sys_exit:
    leaq    bye(%rip), %rsi
    call    kputs
    movl    %ebx, %eax
    outb    %al, $0xF4
    cli
1:  hlt
    jmp     1b

/* INT 0x80 from the 32-bit process: the frame holds its CS at 8(%rsp) */
int80:
    movq    8(%rsp), %r8
    movq    $'i', %r9
    call    dispatch
    iretq

/* SYSENTER: back with SYSEXIT to ESI, stack EDI */
sysenter_entry:
    movl    $UCODE32 | 3, %r8d              /* SYSENTER saves nothing: the caller was the 32-bit process */
    movq    $'s', %r9
    pushq   %rsi
    pushq   %rdi
    call    dispatch
    popq    %rcx
    popq    %rdx
    sysexitl

fault_ud:
    movl    $6, %ebx
    jmp     fault
fault_gp:
    movl    $13, %ebx
    jmp     fault
fault_pf:
    movl    $14, %ebx
fault:
    leaq    fault_msg(%rip), %rsi
    call    kputs
    movl    %ebx, %eax
    call    puthex32
    movb    $'\n', %al
    call    putc
    movb    $0x7F, %al
    outb    %al, $0xF4
    cli
    hlt

/* kernel output helpers */
putc:
    pushq   %rdx
    movw    $COM1, %dx
    outb    %al, %dx
    popq    %rdx
    ret
kputs:
    pushq   %rax
1:  lodsb
    testb   %al, %al
    jz      2f
    call    putc
    jmp     1b
2:  popq    %rax
    ret
puthex16:
    movl    $4, %ecx
    shll    $16, %eax
    jmp     puthex
puthex32:
    movl    $8, %ecx
puthex:
    roll    $4, %eax
    movl    %eax, %edx
    andl    $0xF, %edx
    pushq   %rax
    leaq    hexdigits(%rip), %rax
    movb    (%rax,%rdx), %al
    call    putc
    popq    %rax
    loop    puthex
    ret

/* ---- the 32-bit user process ---- */
    .code32
user_start:
    mov     $UDATA | 3, %ax
    mov     %ax, %ds
    mov     %ax, %es
    /* write(1, msg, len) through INT 0x80 */
    mov     $4, %eax
    mov     $1, %ebx
    mov     $umsg, %ecx
    mov     $umsg_len, %edx
    int     $0x80
    mov     %eax, %ebx                      /* bytes written */
    mov     $100, %eax
    int     $0x80
    /* 32-bit arithmetic: INC (0x40), PUSH/POP, CALL/RET with 4-byte slots */
    mov     $0x7FFFFFFF, %ebx
    inc     %ebx
    push    %ebx
    call    scale
    pop     %ecx
    mov     %esp, %edx
    sub     $ustack_top, %edx               /* 0: the stack is balanced */
    or      %edx, %ebx
    mov     $100, %eax
    int     $0x80
    /* the same write through SYSENTER */
    mov     $4, %eax
    mov     $1, %ebx
    mov     $umsg2, %ecx
    mov     $umsg2_len, %edx
    mov     $1f, %esi
    mov     %esp, %edi
    sysenter
1:  mov     %eax, %ebx
    mov     $100, %eax
    mov     $2f, %esi
    mov     %esp, %edi
    sysenter
2:  mov     %cs, %ebx                       /* back at CPL 3 in the 32-bit segment */
    mov     $100, %eax
    int     $0x80
    mov     $1, %eax
    mov     $0, %ebx
    int     $0x80
    ud2

/* scale: EBX = 3 * ([ESP+4] / 2) + 0x10 (a 32-bit stack frame) */
scale:
    push    %ebp
    mov     %esp, %ebp
    mov     8(%ebp), %ebx
    shr     $1, %ebx
    lea     0x10(%ebx,%ebx,2), %ebx
    pop     %ebp
    ret

    .section .rodata
hello:  .asciz "compat32: 64-bit kernel, 32-bit user process\n"
via:    .asciz " from cs="
colon:  .asciz ": "
bye:    .asciz "exit\n"
fault_msg: .asciz "unexpected fault "
hexdigits: .ascii "0123456789ABCDEF"
umsg:   .ascii "user: hello through int 0x80\n"
    .set umsg_len, . - umsg
umsg2:  .ascii "user: hello through sysenter\n"
    .set umsg2_len, . - umsg2

    .data
    .balign 16
gdt:
    .quad   0
    .quad   0x00AF9A000000FFFF      /* 0x08 kernel code, 64-bit */
    .quad   0x00CF92000000FFFF      /* 0x10 kernel data */
    .quad   0x00CFFA000000FFFF      /* 0x18 user code, 32-bit */
    .quad   0x00CFF2000000FFFF      /* 0x20 user data */
    .quad   0x00AFFA000000FFFF      /* 0x28 user code, 64-bit */
    .quad   0x00CFF2000000FFFF      /* 0x30 user data */
    .quad   0, 0                    /* 0x38 TSS, filled in */
gdt_end:
gdt_desc:
    .word   gdt_end - gdt - 1
    .quad   gdt
idt_desc:
    .word   256 * 16 - 1
    .quad   idt

    .bss
    .balign 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096
idt:    .skip 256 * 16
tss:    .skip 104
    .balign 16
    .skip 4096
kstack_top:
    .skip 4096
sstack_top:
    .skip 4096
ustack_top:

    .section .note.GNU-stack, "", @progbits
