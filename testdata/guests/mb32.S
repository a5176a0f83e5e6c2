/*
 * mb32: a multiboot v1 kernel (Multiboot Specification 0.6.96) that checks
 * 32-bit protected mode and then enters long mode itself, as boot stubs do.
 * Written from the SDM Vol. 3 (chapters 3-6: segmentation, paging,
 * interrupts; 9.8.5: initializing IA-32e mode) and the multiboot spec; runs
 * unchanged under  qemu-system-x86_64 -kernel mb32.elf  and  ftvm run.
 *
 *   1. the multiboot entry state: EAX, the info's mem_lower/mem_upper and a
 *      memory map entry covering 1 MiB
 *   2. segmentation: own GDT and IDT; a segment base, limit violations
 *      (#GP(0), #SS(0)), an expand-down segment, loads that fault with the
 *      selector as error code (#GP beyond the GDT limit, #NP not present,
 *      #GP for SS with DPL != CPL), a null segment; INT n through a 32-bit
 *      interrupt gate and IRET; the instructions only 32-bit mode has;
 *      CPL 3: IRET to an outer level (data segments nulled), INT n through
 *      a DPL-3 gate with the stack from the TSS, #GP for CLI; the rights
 *      of data accesses (#GP(0) writing a read-only data or a code segment,
 *      reading execute-only code), the CS limit on fall-through and on a
 *      branch, a 16-bit stack (SS.B=0: SP, not ESP); CPL 3 calls CPL 0
 *      through a call gate (stack from the TSS, parameters copied) and
 *      returns with RETF 8
 *   3. 32-bit paging with 4 MiB (PSE) and 4 KiB pages: translation,
 *      accessed/dirty bits, #PF error codes and CR2, INVLPG
 *   4. PAE paging: translation, execute-disable, a reserved bit
 *   5. QEMU's test devices: fw_cfg (signature, ID, RAM size, CPU count, the
 *      file directory holding etc/e820) and pc-testdev (scratch register,
 *      byte lanes, an IRQ line raised and lowered through the 8259 pair)
 *   6. long mode: CR4.PAE, EFER.LME, CR0.PG (compatibility mode), a far
 *      jump to a 64-bit code segment; then isa-debug-exit with 0 (status 1)
 */

    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003           /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .balign 4
    .long   MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .set COM1, 0x3F8
    .set FLAT_CS, 0x08
    .set FLAT_DS, 0x10
    .set BASE_DS, 0x18                  /* base 0x200000, limit 0xFFFF */
    .set DOWN_DS, 0x20                  /* expand-down, limit 0xFFFF, B=1 */
    .set SMALL_SS, 0x28                 /* base 0, limit 0x7FFFF */
    .set ABSENT_DS, 0x30                /* not present */
    .set USER_DS, 0x38                  /* DPL 3 */
    .set LONG_CS, 0x40                  /* 64-bit code */
    .set USER_CS, 0x48                  /* 32-bit code, DPL 3 */
    .set TSS_SEL, 0x50                  /* 32-bit TSS */
    .set RO_DS, 0x58                    /* read-only data */
    .set XONLY_CS, 0x60                 /* execute-only 32-bit code */
    .set LIM_CS, 0x68                   /* 32-bit code, base lim_code, limit 0xF */
    .set STACK16, 0x70                  /* data, base 0x380000, limit 0xFFFF, B=0 */
    .set CALL_GATE, 0x78                /* 32-bit call gate, DPL 3, 2 parameters */

/* SAY "text": print a string */
.macro SAY str
    .section .rodata
97: .asciz "\str"
    .text
    push    %esi
    mov     $97b, %esi
    call    puts
    pop     %esi
.endm

/* TRY ... CATCH: run the code between them; a fault in it resumes after
 * CATCH (with flat DS/ES/SS and the stack as it was at TRY), last_vec and
 * last_err then tell which. */
.macro TRY
    movl    $0xFF, last_vec
    movl    $88f, recover_eip
    movl    %esp, recover_esp
.endm
.macro CATCH
88:
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     recover_esp, %esp
.endm

    .text
    .code32
    .globl  _start
_start:
    cli
    mov     $stack_top, %esp
    mov     %eax, mb_eax
    mov     %ebx, mb_info
    lgdt    gdt_desc
    ljmp    $FLAT_CS, $1f
1:  mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %fs
    mov     %ax, %gs
    mov     %ax, %ss
    call    setup_idt

    /* ---- 1. multiboot ---- */
    SAY     "mb32: eax="
    mov     mb_eax, %eax
    call    puthex
    mov     mb_info, %ebx
    SAY     " mem_lower="
    mov     4(%ebx), %eax
    call    puthex
    SAY     " mem_upper>=62M: "
    cmpl    $62 * 1024, 8(%ebx)
    setae   %al
    movzbl  %al, %eax
    call    puthex
    SAY     "\n"
    call    check_mmap
    call    check_mods

    /* ---- 2. segmentation ---- */
    mov     $BASE_DS, %ax
    mov     %ax, %ds
    movl    $0xCAFE, 0x10
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    SAY     "seg base: "
    mov     0x200010, %eax
    call    puthex
    SAY     "\n"

    SAY     "seg limit: "
    TRY
    mov     $BASE_DS, %ax
    mov     %ax, %ds
    movl    0x10000, %eax
    CATCH
    call    report
    SAY     "seg straddle: "
    TRY
    mov     $BASE_DS, %ax
    mov     %ax, %ds
    movl    0xFFFE, %eax
    CATCH
    call    report

    SAY     "expand-down above limit: "
    movl    $0, 0x200020
    TRY
    mov     $DOWN_DS, %ax
    mov     %ax, %es
    movl    $0xD0D0, %es:0x200020
    CATCH
    call    report
    SAY     "expand-down wrote: "
    mov     0x200020, %eax
    call    puthex
    SAY     "\n"
    SAY     "expand-down below limit: "
    TRY
    mov     $DOWN_DS, %ax
    mov     %ax, %es
    movl    %es:0x100, %eax
    CATCH
    call    report

    SAY     "ss limit: "
    mov     %esp, saved_esp
    TRY
    mov     $SMALL_SS, %ax
    mov     %ax, %ss
    mov     $0x7F000, %esp
    mov     $0x80000, %ebp
    movl    (%ebp), %eax
    CATCH
    mov     saved_esp, %esp
    call    report

    SAY     "gdt limit: "
    TRY
    mov     $0x80, %ax
    mov     %ax, %ds
    CATCH
    call    report
    SAY     "not present: "
    TRY
    mov     $ABSENT_DS, %ax
    mov     %ax, %ds
    CATCH
    call    report
    SAY     "ss dpl3: "
    TRY
    mov     $USER_DS, %ax
    mov     %ax, %ss
    CATCH
    call    report
    SAY     "null ds: "
    TRY
    xor     %eax, %eax
    mov     %ax, %ds
    movl    0x1000, %eax
    CATCH
    call    report
    SAY     "bound: "
    TRY
    mov     $5, %eax
    bound   %eax, bounds
    CATCH
    call    report
    SAY     "into: "
    TRY
    mov     $0x7FFFFFFF, %eax
    add     $1, %eax
    into
    CATCH
    call    report

    call    seg_rights
    call    stack16
    call    vex32

    SAY     "int 0x30: "
    mov     $0x1234, %eax
    pushf
    int     $0x30
    popf
    call    puthex
    SAY     " count="
    mov     int_count, %eax
    call    puthex
    SAY     "\n"

    call    legacy_ops
    call    qemu_devices
    call    ring3

    /* ---- 3. 32-bit paging ---- */
    movl    $0x000083, pd32                 /* 0-4 MiB: 4 MiB page */
    movl    $0x400083, pd32 + 4             /* 4-8 MiB */
    movl    $pt32 + 3, pd32 + 0x100 * 4     /* 0x40000000: a page table */
    movl    $0x200003, pt32                 /* -> 0x200000, writable */
    movl    $0x201001, pt32 + 4             /* -> 0x201000, read-only */
    mov     %cr4, %eax
    or      $0x10, %eax                     /* PSE */
    mov     %eax, %cr4
    mov     $pd32, %eax
    mov     %eax, %cr3
    mov     %cr0, %eax
    or      $0x80010000, %eax               /* PG, WP */
    mov     %eax, %cr0
    movl    $0x12345678, 0x40000000
    SAY     "pg32: "
    mov     0x200000, %eax
    call    puthex
    SAY     " pte A/D="
    mov     pt32, %eax
    and     $0x60, %eax
    call    puthex
    SAY     " pde4m A="
    mov     pd32, %eax
    and     $0x20, %eax
    call    puthex
    SAY     "\n"
    SAY     "pg32 read-only: "
    TRY
    movl    $1, 0x40001000
    CATCH
    call    report
    SAY     "pg32 not present: "
    TRY
    movl    0x40002000, %eax
    CATCH
    call    report
    movl    $0x5A5A, 0x202000
    movl    $0x202003, pt32
    invlpg  0x40000000
    SAY     "pg32 invlpg: "
    mov     0x40000000, %eax
    call    puthex
    SAY     "\n"
    mov     %cr0, %eax
    and     $0x7FFFFFFF, %eax
    mov     %eax, %cr0

    /* ---- 4. PAE paging ---- */
    mov     $0xC0000080, %ecx               /* IA32_EFER */
    rdmsr
    or      $0x800, %eax                    /* NXE */
    wrmsr
    movl    $pae_pd0 + 1, pdpt
    movl    $pae_pd1 + 1, pdpt + 8
    movl    $0x000083, pae_pd0              /* 2 MiB pages: 0-8 MiB */
    movl    $0x200083, pae_pd0 + 8
    movl    $0x400083, pae_pd0 + 16
    movl    $0x600083, pae_pd0 + 24
    movl    $pae_pt + 3, pae_pd1            /* 0x40000000: a page table */
    movl    $0x203003, pae_pt               /* -> 0x203000 */
    movl    $0x204003, pae_pt + 8           /* -> 0x204000, execute-disable */
    movl    $0x80000000, pae_pt + 12
    movl    $0x205001, pae_pt + 16          /* a reserved bit (51) set */
    movl    $0x00080000, pae_pt + 20
    movb    $0xC3, 0x204000                 /* RET */
    mov     %cr4, %eax
    or      $0x20, %eax                     /* PAE */
    mov     %eax, %cr4
    mov     $pdpt, %eax
    mov     %eax, %cr3
    mov     %cr0, %eax
    or      $0x80000000, %eax
    mov     %eax, %cr0
    movl    $0x9ABCDEF0, 0x40000000
    SAY     "pae: "
    mov     0x203000, %eax
    call    puthex
    SAY     "\n"
    SAY     "pae execute-disable: "
    TRY
    mov     $0x40001000, %eax
    call    *%eax
    CATCH
    call    report
    SAY     "pae reserved bit: "
    TRY
    movl    0x40002000, %eax
    CATCH
    call    report
    mov     %cr0, %eax
    and     $0x7FFFFFFF, %eax
    mov     %eax, %cr0

    /* ---- 5. long mode ---- */
    movl    $lm_pdpt + 3, pml4
    movl    $lm_pd + 3, lm_pdpt
    movl    $0x000083, lm_pd
    movl    $0x200083, lm_pd + 8
    movl    $0x400083, lm_pd + 16
    movl    $0x600083, lm_pd + 24
    mov     $pml4, %eax
    mov     %eax, %cr3
    mov     $0xC0000080, %ecx
    rdmsr
    or      $0x100, %eax                    /* LME */
    wrmsr
    mov     %cr0, %eax
    or      $0x80000000, %eax
    mov     %eax, %cr0
    rdmsr
    SAY     "compat: efer="
    call    puthex
    SAY     "\n"
    ljmp    $LONG_CS, $long64

/* check_mmap prints whether a type-1 entry of the memory map covers 1 MiB. */
check_mmap:
    mov     mb_info, %ebx
    SAY     "mmap: "
    testl   $0x40, (%ebx)
    jz      3f
    mov     48(%ebx), %esi                  /* mmap_addr */
    mov     %esi, %edi
    add     44(%ebx), %edi                  /* end */
1:  cmp     %edi, %esi
    jae     3f
    cmpl    $1, 20(%esi)
    jne     2f
    cmpl    $0, 8(%esi)                     /* base high */
    jne     2f
    mov     4(%esi), %eax                   /* base low */
    cmp     $0x100000, %eax
    ja      2f
    add     12(%esi), %eax                  /* + length low */
    cmp     $0x100000, %eax
    jbe     2f
    SAY     "1M usable\n"
    ret
2:  add     (%esi), %esi
    add     $4, %esi
    jmp     1b
3:  SAY     "no entry for 1M\n"
    ret

/* ring3 goes to CPL 3 twice through IRET: INT 0x31 (a DPL-3 gate) reports
 * the frame the CPU pushed on the TSS's ring-0 stack; CLI faults. */
ring3:
    mov     $tss32, %eax
    movw    $0x67, gdt + TSS_SEL
    movw    %ax, gdt + TSS_SEL + 2
    shr     $16, %eax
    movb    %al, gdt + TSS_SEL + 4
    movb    $0x89, gdt + TSS_SEL + 5
    movb    $0, gdt + TSS_SEL + 6
    movb    %ah, gdt + TSS_SEL + 7
    movl    $kstack3_top, tss32 + 4         /* ESP0 */
    movl    $FLAT_DS, tss32 + 8             /* SS0 */
    mov     $TSS_SEL, %ax
    ltr     %ax
    mov     $0x31, %eax
    mov     $ring3_int, %edx
    call    set_gate
    movb    $0xEE, idt + 0x31 * 8 + 5       /* DPL 3 */

    SAY     "ring3: "
    TRY
    pushl   $USER_DS | 3
    pushl   $ustack3_top
    pushl   $0x2
    pushl   $USER_CS | 3
    pushl   $user_a
    iret
    CATCH
    SAY     "cs="
    mov     r3_cs, %eax
    call    puthex
    SAY     " ss="
    mov     r3_ss, %eax
    call    puthex
    SAY     " ds="
    mov     r3_ebx, %eax
    call    puthex
    SAY     " eax="
    mov     r3_eax, %eax
    call    puthex
    SAY     " frame="
    mov     $kstack3_top, %eax
    sub     r3_sp, %eax
    call    puthex
    SAY     "\n"
    SAY     "ring3 cli: "
    TRY
    pushl   $USER_DS | 3
    pushl   $ustack3_top
    pushl   $0x2
    pushl   $USER_CS | 3
    pushl   $user_b
    iret
    CATCH
    call    report

    mov     $gate_target, %eax
    movw    %ax, gdt + CALL_GATE
    shr     $16, %eax
    movw    %ax, gdt + CALL_GATE + 6
    SAY     "call gate: "
    TRY
    pushl   $USER_DS | 3
    pushl   $ustack3_top
    pushl   $0x2
    pushl   $USER_CS | 3
    pushl   $user_c
    iret
    CATCH
    SAY     "cs="
    mov     g_cs, %eax
    call    puthex
    SAY     " params="
    mov     g_p0, %eax
    call    puthex
    SAY     ","
    mov     g_p1, %eax
    call    puthex
    SAY     " esp="
    mov     $ustack3_top, %eax
    sub     g_esp, %eax
    call    puthex
    SAY     " ss="
    mov     g_ss, %eax
    call    puthex
    SAY     " frame="
    mov     $kstack3_top, %eax
    sub     g_sp, %eax
    call    puthex
    SAY     " back: eax="
    mov     r3_eax, %eax
    call    puthex
    SAY     " esp="
    mov     $ustack3_top, %eax
    sub     r3_ebx, %eax
    call    puthex
    SAY     "\n"
    ret

/* gate_target: CPL 0 through CALL_GATE; notes the frame, returns to CPL 3
 * releasing the two parameters */
gate_target:
    mov     %esp, g_sp
    mov     4(%esp), %eax
    mov     %eax, g_cs
    mov     8(%esp), %eax
    mov     %eax, g_p0
    mov     12(%esp), %eax
    mov     %eax, g_p1
    mov     16(%esp), %eax
    mov     %eax, g_esp
    mov     20(%esp), %eax
    mov     %eax, g_ss
    lret    $8

/* ring3_int: INT 0x31 from CPL 3; back to the kernel through CATCH */
ring3_int:
    push    %eax
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     %ax, %es
    pop     %eax
    mov     %eax, r3_eax
    mov     %ebx, r3_ebx
    mov     %esp, r3_sp
    mov     4(%esp), %eax
    mov     %eax, r3_cs
    mov     16(%esp), %eax
    mov     %eax, r3_ss
    mov     recover_esp, %esp
    jmp     *recover_eip

user_a:
    mov     %ds, %ebx                       /* nulled by the IRET to CPL 3 */
    mov     $0x1234, %eax
    int     $0x31
    ud2
user_b:
    cli
    ud2
user_c:
    mov     $USER_DS | 3, %ax
    mov     %ax, %ds
    pushl   $0x1111
    pushl   $0x2222
    lcall   $CALL_GATE | 3, $0
    mov     %esp, %ebx
    mov     $0x4321, %eax
    int     $0x31
    ud2

/* seg_rights checks the type of a segment on data accesses (SDM Vol. 3,
 * 5.7 and MOV's protected-mode exceptions) and the CS limit (5.3). */
seg_rights:
    movl    $0x5A, 0x200100
    SAY     "ro read: "
    TRY
    mov     $RO_DS, %ax
    mov     %ax, %ds
    mov     0x200100, %eax
    CATCH
    call    report
    SAY     "ro write: "
    TRY
    mov     $RO_DS, %ax
    mov     %ax, %ds
    movl    $1, 0x200100
    CATCH
    call    report
    SAY     "cs write: "
    TRY
    movl    $2, %cs:0x200100
    CATCH
    call    report
    SAY     "execute-only read: "
    TRY
    ljmp    $XONLY_CS, $1f
1:  mov     %cs:0x200100, %eax
    CATCH
    call    report
    SAY     "unchanged: "
    mov     0x200100, %eax
    call    puthex
    SAY     "\n"

    mov     $lim_code, %eax                 /* LIM_CS's base */
    movw    %ax, gdt + LIM_CS + 2
    shr     $16, %eax
    movb    %al, gdt + LIM_CS + 4
    movb    %ah, gdt + LIM_CS + 7
    SAY     "cs limit fall-through: "
    TRY
    ljmp    $LIM_CS, $2
    CATCH
    call    report
    SAY     "cs limit jmp: "
    TRY
    ljmp    $LIM_CS, $0
    CATCH
    call    report
    ret

/* lim_code runs in LIM_CS (limit 0xF): from offset 2 it falls through past
 * the limit; at 0 it jumps beyond it. Without the checks it escapes to
 * lim_escaped ("no fault"). */
lim_code:
    .byte   0xEB, 0x40                      /* jmp .+0x42 */
    .fill   14, 1, 0x90
    ljmp    $FLAT_CS, $lim_escaped
    .fill   0x42 - 0x17, 1, 0x90
    ljmp    $FLAT_CS, $lim_escaped
lim_escaped:
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     recover_esp, %esp
    jmp     *recover_eip

/* vex32: C4/C5 are LES/LDS with a memory operand (VEX with a register one,
 * SDM Vol. 2, 2.3.5: the cpu tests check those, as AVX's #UD is counted
 * as unimplemented and the guests run with none). */
vex32:
    SAY     "les/lds: "
    movl    $0x12345678, far_ptr
    movw    $FLAT_DS, far_ptr + 4
    xor     %eax, %eax
    mov     %ax, %es
    les     far_ptr, %ecx
    mov     %es, %eax
    call    puthex
    SAY     " "
    mov     %ecx, %eax
    call    puthex
    SAY     " "
    lds     far_ptr, %edx
    mov     %edx, %eax
    call    puthex
    SAY     "\n"
    ret

/* stack16 runs PUSH, CALL and POP on a 16-bit stack segment (SS.B = 0):
 * they use SP and leave ESP's upper half alone; SP wraps at 64 KiB. */
stack16:
    SAY     "stack16: "
    mov     %esp, saved_esp
    mov     $STACK16, %ax
    mov     %ax, %ss
    mov     $0xABCD0010, %esp
    pushl   $0x11223344
    pushw   $0x5566
    call    1f
1:  pop     %ecx
    mov     %esp, %ebx
    popw    %dx
    popl    %edi
    mov     %esp, %esi
    mov     $0xABCD0000, %esp
    pushl   $0x778899AA
    mov     %esp, %ebp
    mov     $FLAT_DS, %ax
    mov     %ax, %ss
    mov     saved_esp, %esp
    mov     %ebx, %eax
    call    puthex
    SAY     " "
    mov     0x38000C, %eax
    call    puthex
    SAY     " "
    movzwl  %dx, %eax
    call    puthex
    SAY     " "
    mov     %esi, %eax
    call    puthex
    SAY     " wrap: "
    mov     %ebp, %eax
    call    puthex
    SAY     " "
    mov     0x38FFFC, %eax
    call    puthex
    SAY     "\n"
    ret

/* check_mods prints each module's arguments (its string after the file
 * name), first line and whether it starts on a page boundary. */
check_mods:
    mov     mb_info, %ebx
    SAY     "mods: "
    testl   $0x08, (%ebx)
    jz      5f
    mov     20(%ebx), %eax
    call    puthex
    SAY     "\n"
    mov     20(%ebx), %ecx
    mov     24(%ebx), %edi
1:  test    %ecx, %ecx
    jz      6f
    SAY     " args=["
    mov     8(%edi), %esi                   /* string: skip the file name */
2:  lodsb
    test    %al, %al
    jz      3f
    cmp     $' ', %al
    jne     2b
    call    puts
3:  SAY     "] aligned="
    mov     (%edi), %eax
    test    $0xFFF, %eax
    setz    %al
    movzbl  %al, %eax
    call    puthex
    SAY     " data="
    mov     (%edi), %esi
4:  lodsb
    call    putc
    cmp     $'\n', %al
    jne     4b
    add     $16, %edi
    dec     %ecx
    jmp     1b
5:  SAY     "none\n"
6:  ret

/* legacy_ops runs instructions that only exist outside 64-bit mode. */
legacy_ops:
    SAY     "legacy: "
    mov     $0x79, %al
    add     $0x35, %al
    daa
    setc    %bl
    movzbl  %al, %eax
    call    puthex                          /* 0x14 */
    SAY     " "
    movzbl  %bl, %eax
    call    puthex                          /* CF=1 */
    SAY     " "
    mov     $0x0009, %eax
    add     $0x05, %al
    aaa
    call    puthex                          /* 0x0104 */
    SAY     " "
    mov     $0x0307, %eax
    aad     $10
    call    puthex                          /* 0x25 */
    SAY     " "
    mov     $0x11, %eax
    mov     $0x22, %ecx
    mov     $0x33, %edx
    pusha
    xor     %eax, %eax
    xor     %ecx, %ecx
    xor     %edx, %edx
    popa
    add     %ecx, %eax
    add     %edx, %eax
    inc     %eax                            /* 0x40 */
    dec     %ecx                            /* 0x49 */
    add     %ecx, %eax
    call    puthex                          /* 0x11+0x22+0x33+1+0x21 = 0x88 */
    SAY     " "
    push    %ds
    push    %es
    pop     %ds
    pop     %es
    mov     %ds, %eax
    call    puthex
    SAY     " "
    les     farptr, %ecx
    mov     %es, %eax
    shl     $16, %eax
    or      %ecx, %eax
    call    puthex                          /* 0x00101234 */
    mov     $FLAT_DS, %ax
    mov     %ax, %es
    SAY     " "
    mov     %esp, %ebx
    lcall   $FLAT_CS, $far_fn               /* 9A ptr16:32 */
    sub     %esp, %ebx                      /* 0: LRET popped what LCALL pushed */
    or      %ebx, %eax
    call    puthex                          /* the CS LCALL pushed: 0x8 */
    SAY     "\n"
    ret
far_fn:
    mov     4(%esp), %eax
    lret

/* fw_select selects fw_cfg item AX; fw_read32 reads 4 bytes LE into EAX */
fw_select:
    push    %edx
    mov     $0x510, %dx
    out     %ax, %dx
    pop     %edx
    ret
fw_read32:
    push    %ecx
    push    %edx
    mov     $0x511, %dx
    mov     $4, %ecx
1:  in      %dx, %al
    ror     $8, %eax
    loop    1b
    pop     %edx
    pop     %ecx
    ret

qemu_devices:
    SAY     "fw_cfg: "
    xor     %eax, %eax
    call    fw_select
    call    fw_read32
    mov     $4, %ecx
1:  call    putc
    shr     $8, %eax
    loop    1b
    SAY     " id&1="
    mov     $1, %ax
    call    fw_select
    call    fw_read32
    and     $1, %eax
    call    puthex
    SAY     " ram="
    mov     $3, %ax
    call    fw_select
    call    fw_read32
    call    puthex
    SAY     " cpus="
    mov     $5, %ax
    call    fw_select
    call    fw_read32
    movzwl  %ax, %eax
    call    puthex
    SAY     " etc/e820="
    mov     $0x19, %ax
    call    fw_select
    call    fw_read32
    bswap   %eax
    mov     %eax, %ebx                      /* file count */
    xor     %eax, %eax
2:  test    %ebx, %ebx
    jz      4f
    dec     %ebx
    call    fw_read32                       /* size */
    call    fw_read32                       /* select, reserved */
    mov     $fw_name, %edi
    mov     $56, %ecx
    mov     $0x511, %dx
    rep insb
    mov     $fw_name, %edi
    mov     $e820_name, %esi
    mov     $9, %ecx
    repe cmpsb
    jne     2b
    mov     $1, %eax
4:  call    puthex
    SAY     "\n"

    SAY     "testdev: "
    mov     $0xE0, %dx
    mov     $0x12345678, %eax
    out     %eax, %dx
    xor     %eax, %eax
    in      %dx, %eax
    call    puthex
    SAY     " "
    mov     $0xE2, %dx
    in      %dx, %al
    movzbl  %al, %eax
    call    puthex
    SAY     " "
    mov     $0xE8, %dx
    mov     $0xAB, %al
    out     %al, %dx
    mov     $0xE0, %dx
    in      %dx, %eax
    call    puthex
    /* the 8259 pair at vectors 0x20 and 0x28, only IRQ 2 and 10 unmasked */
    mov     $0x11, %al
    out     %al, $0x20
    out     %al, $0xA0
    mov     $0x20, %al
    out     %al, $0x21
    mov     $0x28, %al
    out     %al, $0xA1
    mov     $4, %al
    out     %al, $0x21
    mov     $2, %al
    out     %al, $0xA1
    mov     $1, %al
    out     %al, $0x21
    out     %al, $0xA1
    mov     $0xFB, %al
    out     %al, $0x21
    out     %al, $0xA1
    mov     $0x2A, %eax
    mov     $irq10, %edx
    call    set_gate
    movl    $0, irq_count
    sti
    mov     $1, %al
    mov     $0x200A, %dx
    out     %al, %dx
    mov     $100000, %ecx                   /* wait (bounded) for the interrupt */
1:  cmpl    $0, irq_count
    jne     2f
    loop    1b
2:  cli
    mov     $0xFF, %al
    out     %al, $0x21
    out     %al, $0xA1
    SAY     " irq10="
    mov     irq_count, %eax
    call    puthex
    SAY     "\n"
    ret

/* irq10: counts, lowers the line, EOI to both 8259s */
irq10:
    push    %eax
    push    %edx
    incl    irq_count
    mov     $0, %al
    mov     $0x200A, %dx
    out     %al, %dx
    mov     $0x20, %al
    out     %al, $0xA0
    out     %al, $0x20
    pop     %edx
    pop     %eax
    iret

/* report prints last_vec, last_err (and CR2 for #PF) */
report:
    cmpl    $0xFF, last_vec
    jne     1f
    SAY     "no fault\n"
    ret
1:  SAY     "vec="
    mov     last_vec, %eax
    call    puthex
    SAY     " err="
    mov     last_err, %eax
    call    puthex
    cmpl    $14, last_vec
    jne     2f
    SAY     " cr2="
    mov     last_cr2, %eax
    call    puthex
2:  SAY     "\n"
    ret

/* setup_idt fills the IDT with 32-bit interrupt gates. */
setup_idt:
    mov     $0, %eax
    mov     $stub0, %edx
    call    set_gate
    mov     $4, %eax
    mov     $stub4, %edx
    call    set_gate
    mov     $5, %eax
    mov     $stub5, %edx
    call    set_gate
    mov     $6, %eax
    mov     $stub6, %edx
    call    set_gate
    mov     $10, %eax
    mov     $stub10, %edx
    call    set_gate
    mov     $11, %eax
    mov     $stub11, %edx
    call    set_gate
    mov     $12, %eax
    mov     $stub12, %edx
    call    set_gate
    mov     $13, %eax
    mov     $stub13, %edx
    call    set_gate
    mov     $14, %eax
    mov     $stub14, %edx
    call    set_gate
    mov     $0x30, %eax
    mov     $int30, %edx
    call    set_gate
    lidt    idt_desc
    ret

/* set_gate: vector EAX -> handler EDX (interrupt gate, DPL 0) */
set_gate:
    lea     idt(,%eax,8), %ecx
    movw    %dx, (%ecx)
    movw    $FLAT_CS, 2(%ecx)
    movw    $0x8E00, 4(%ecx)
    shr     $16, %edx
    movw    %dx, 6(%ecx)
    ret

.macro STUB_NOERR v
stub\v: pushl $0
    pushl   $\v
    jmp     fault_common
.endm
.macro STUB_ERR v
stub\v: pushl $\v
    jmp     fault_common
.endm
    STUB_NOERR 0
    STUB_NOERR 4
    STUB_NOERR 5
    STUB_NOERR 6
    STUB_ERR 10
    STUB_ERR 11
    STUB_ERR 12
    STUB_ERR 13
    STUB_ERR 14

fault_common:
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    popl    last_vec
    popl    last_err
    mov     %cr2, %eax
    mov     %eax, last_cr2
    mov     recover_esp, %esp
    jmp     *recover_eip

/* int30: EAX += 1 and counts; IF is clear in an interrupt gate */
int30:
    inc     %eax
    incl    int_count
    pushf
    testl   $0x200, (%esp)
    jz      1f
    addl    $0x100, int_count
1:  popf
    iret

/* output */
putc:
    push    %edx
    mov     $COM1, %dx
    out     %al, %dx
    pop     %edx
    ret
puts:
    push    %eax
    push    %esi
1:  lodsb
    test    %al, %al
    jz      2f
    call    putc
    jmp     1b
2:  pop     %esi
    pop     %eax
    ret
puthex:
    push    %eax
    push    %ecx
    push    %edx
    mov     $8, %ecx
1:  rol     $4, %eax
    mov     %eax, %edx
    and     $0xF, %edx
    push    %eax
    movb    hexdigits(%edx), %al
    call    putc
    pop     %eax
    loop    1b
    pop     %edx
    pop     %ecx
    pop     %eax
    ret

    .code64
long64:
    mov     $FLAT_DS, %ax
    mov     %ax, %ds
    mov     %ax, %ss
    mov     $long_msg, %esi
    call    puts64
    movabs  $0x0123456789ABCDEF, %rax
    mov     $16, %ecx
1:  rol     $4, %rax
    mov     %eax, %edx
    and     $0xF, %edx
    push    %rax
    mov     $hexdigits, %ebx
    movb    (%rbx,%rdx), %al
    mov     $COM1, %dx
    out     %al, %dx
    pop     %rax
    loop    1b
    mov     $'\n', %al
    mov     $COM1, %dx
    out     %al, %dx
    mov     $0, %al
    out     %al, $0xF4
    hlt
    jmp     .
puts64:
1:  lodsb
    test    %al, %al
    jz      2f
    mov     $COM1, %dx
    out     %al, %dx
    jmp     1b
2:  ret

    .section .rodata
hexdigits:
    .ascii  "0123456789ABCDEF"
long_msg:
    .asciz  "long mode: rax="
e820_name:
    .asciz  "etc/e820"
bounds:
    .long   10, 20
farptr:
    .long   0x1234
    .word   0x10

    .balign 8
gdt:
    .quad   0
    .quad   0x00CF9A000000FFFF      /* 0x08 flat 32-bit code */
    .quad   0x00CF92000000FFFF      /* 0x10 flat data */
    .quad   0x004092200000FFFF      /* 0x18 base 0x200000, limit 0xFFFF */
    .quad   0x004096000000FFFF      /* 0x20 expand-down, limit 0xFFFF, B */
    .quad   0x00C092000000007F      /* 0x28 limit 0x7FFFF (4 KiB units) */
    .quad   0x00CF12000000FFFF      /* 0x30 not present */
    .quad   0x00CFF2000000FFFF      /* 0x38 DPL 3 data */
    .quad   0x00AF9A000000FFFF      /* 0x40 64-bit code */
    .quad   0x00CFFA000000FFFF      /* 0x48 32-bit code, DPL 3 */
    .quad   0                       /* 0x50 TSS, filled in */
    .quad   0x00CF90000000FFFF      /* 0x58 read-only data */
    .quad   0x00CF98000000FFFF      /* 0x60 execute-only code */
    .quad   0x00409A000000000F      /* 0x68 code, limit 0xF, base filled in */
    .quad   0x000092380000FFFF      /* 0x70 base 0x380000, limit 0xFFFF, B=0 */
    .quad   0x0000EC0200080000      /* 0x78 call gate to 0x08:gate_target, filled in */
gdt_end:
gdt_desc:
    .word   gdt_end - gdt - 1
    .long   gdt
idt_desc:
    .word   0x40 * 8 - 1
    .long   idt

    .bss
    .balign 4096
pd32:   .skip 4096
pt32:   .skip 4096
pae_pd0: .skip 4096
pae_pd1: .skip 4096
pae_pt: .skip 4096
pml4:   .skip 4096
lm_pdpt: .skip 4096
lm_pd:  .skip 4096
pdpt:   .skip 32
idt:    .skip 0x40 * 8
tss32:  .skip 104
mb_eax: .skip 4
mb_info: .skip 4
last_vec: .skip 4
last_err: .skip 4
last_cr2: .skip 4
recover_eip: .skip 4
recover_esp: .skip 4
saved_esp: .skip 4
int_count: .skip 4
irq_count: .skip 4
fw_name: .skip 56
r3_eax: .skip 4
r3_ebx: .skip 4
r3_sp:  .skip 4
r3_cs:  .skip 4
r3_ss:  .skip 4
g_sp:   .skip 4
far_ptr: .skip 6
g_cs:   .skip 4
g_p0:   .skip 4
g_p1:   .skip 4
g_esp:  .skip 4
g_ss:   .skip 4
    .balign 16
    .skip 4096
kstack3_top:
    .skip 4096
ustack3_top:
    .balign 16
    .skip 8192
stack_top:
