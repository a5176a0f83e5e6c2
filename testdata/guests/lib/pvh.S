/*
 * PVH entry stub: lets every ftvm test guest also boot under
 *     qemu-system-x86_64 -kernel guest.elf
 *
 * QEMU finds the XEN_ELFNOTE_PHYS32_ENTRY note (type 18, name "Xen") in the
 * PT_NOTE segment and, through its pvh.bin option ROM, enters pvh_start32 in
 * 32-bit protected mode, paging off, flat CS/DS, EBX = physical address of a
 * struct hvm_start_info.  This stub builds the exact state of ftvm's ELF boot
 * ABI (ARCHITECTURE.md section 3) and jumps to _start (the ELF e_entry):
 *
 *   - own GDT: 0x08 64-bit code, 0x10 flat data (the GDT lives in .rodata)
 *   - own page tables in .bss (section .bss.pvh): identity map of the first
 *     4 GiB with 2 MiB pages, writable, executable
 *   - CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT,
 *     EFER = LME|LMA|NXE|SCE
 *   - RFLAGS = 0x2, RSP = 0x80000, all GPRs 0 except
 *   - RSI = physical address of the NUL-terminated kernel command line
 *     (start_info.cmdline_paddr: QEMU's -append text), 0 if none;
 *   - RDI = RAM size: the highest end address of a RAM (type 1) entry of the
 *     PVH start_info memory map (version >= 1), rounded up to 1 MiB (under
 *     QEMU 7.2 the map ends at 64 MiB - 128 KiB for -m 64M because SeaBIOS
 *     reserves the top 128 KiB; rounding gives back 64 MiB).  If there is no
 *     usable map, a fixed 64 MiB.  For guests larger than ~3 GiB QEMU splits
 *     RAM around the PCI hole, so this is then the end address, not the size.
 *
 * Under ftvm this code is never executed (ftvm enters _start directly).
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC          0x336ec578
#define DEFAULT_RAM              (64 * 1024 * 1024)

    .section .note.Xen, "a", @note
    .balign 4
    .long   4                       /* namesz: "Xen\0" */
    .long   8                       /* descsz: a 64-bit entry address */
    .long   XEN_ELFNOTE_PHYS32_ENTRY
    .asciz  "Xen"
    .balign 4
    .quad   pvh_start32
    .balign 4

    .section .text.pvh, "ax"
    .code32
    .globl  pvh_start32
pvh_start32:
    cli
    cld
    movl    %ebx, %esi              /* keep the start_info pointer */
    lgdt    pvh_gdt_desc

    /* zero PML4 and PDPT */
    movl    $pvh_pml4, %edi
    xorl    %eax, %eax
    movl    $(2 * 4096 / 4), %ecx
    rep stosl
    /* PML4[0] -> PDPT */
    movl    $(pvh_pdpt + 0x3), pvh_pml4
    /* PDPT[0..3] -> 4 page directories */
    movl    $pvh_pdpt, %edi
    movl    $(pvh_pd + 0x3), %eax
    movl    $4, %ecx
1:  movl    %eax, (%edi)
    movl    $0, 4(%edi)
    addl    $4096, %eax
    addl    $8, %edi
    decl    %ecx
    jnz     1b
    /* PD entries i = 0..2047: (i << 21) | PS|RW|P */
    movl    $pvh_pd, %edi
    xorl    %ecx, %ecx
2:  movl    %ecx, %eax
    shll    $21, %eax
    orl     $0x83, %eax
    movl    %eax, (%edi)
    movl    $0, 4(%edi)
    addl    $8, %edi
    incl    %ecx
    cmpl    $2048, %ecx
    jb      2b

    movl    $0x620, %eax            /* CR4 = PAE|OSFXSR|OSXMMEXCPT */
    movl    %eax, %cr4
    movl    $pvh_pml4, %eax
    movl    %eax, %cr3
    movl    $0xC0000080, %ecx       /* EFER |= SCE|LME|NXE */
    rdmsr
    orl     $0x901, %eax
    wrmsr
    movl    $0x80010033, %eax       /* CR0 = PG|WP|NE|ET|MP|PE */
    movl    %eax, %cr0
    ljmp    $0x08, $pvh_start64

    .code64
pvh_start64:
    movl    $0x10, %eax
    movl    %eax, %ds
    movl    %eax, %es
    movl    %eax, %ss
    movl    %eax, %fs
    movl    %eax, %gs
    movl    $0x80000, %esp

    /* RDI = RAM size from the start_info memory map; R12 = command line */
    movl    $DEFAULT_RAM, %edi
    xorl    %r12d, %r12d
    movl    %esi, %esi
    testl   %esi, %esi
    jz      5f
    cmpl    $HVM_START_MAGIC, (%rsi)
    jne     5f
    movq    0x18(%rsi), %r12        /* cmdline_paddr (every version) */
    cmpl    $1, 4(%rsi)             /* memmap fields exist from version 1 */
    jb      5f
    movq    0x28(%rsi), %rbx        /* memmap_paddr */
    movl    0x30(%rsi), %ecx        /* memmap_entries */
    xorl    %edx, %edx
    testl   %ecx, %ecx
    jz      5f
3:  cmpl    $1, 16(%rbx)            /* type RAM */
    jne     4f
    movq    (%rbx), %rax
    addq    8(%rbx), %rax
    cmpq    %rdx, %rax
    cmova   %rax, %rdx
4:  addq    $24, %rbx
    decl    %ecx
    jnz     3b
    testq   %rdx, %rdx
    jz      5f
    addq    $0xFFFFF, %rdx          /* round up to 1 MiB: SeaBIOS reserves */
    andq    $-0x100000, %rdx        /* the top 128 KiB of low RAM */
    movq    %rdx, %rdi
5:
    pushq   $0x2
    popfq
    xorl    %eax, %eax
    xorl    %ebx, %ebx
    xorl    %ecx, %ecx
    xorl    %edx, %edx
    movq    %r12, %rsi              /* command line, or 0 */
    xorl    %ebp, %ebp
    xorl    %r8d, %r8d
    xorl    %r9d, %r9d
    xorl    %r10d, %r10d
    xorl    %r11d, %r11d
    xorl    %r12d, %r12d            /* (after its copy to RSI) */
    xorl    %r13d, %r13d
    xorl    %r14d, %r14d
    xorl    %r15d, %r15d
    jmp     _start

    .section .rodata.pvh, "a"
    .balign 16
pvh_gdt:
    .quad   0
    .quad   0x00af9a000000ffff      /* 0x08: 64-bit code, DPL 0 */
    .quad   0x00cf92000000ffff      /* 0x10: flat data, DPL 0 */
pvh_gdt_end:
    .balign 4
pvh_gdt_desc:
    .word   pvh_gdt_end - pvh_gdt - 1
    .long   pvh_gdt

    .section .bss.pvh, "aw", @nobits
    .balign 4096
pvh_pml4: .skip 4096
pvh_pdpt: .skip 4096
pvh_pd:   .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
