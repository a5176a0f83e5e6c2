/* Shared constants of the paging guest (C and assembly). */
#ifndef FTVM_PAGING_H
#define FTVM_PAGING_H

/* Selectors of the guest's own GDT */
#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UCODE32 0x18    /* STAR[63:48] base for SYSRET */
#define SEL_UDATA   0x20    /* SYSRET SS = base + 8 */
#define SEL_UCODE   0x28    /* SYSRET CS (64-bit) = base + 16 */
#define SEL_TSS     0x30

/* Test pages: the 2-4 MiB range is mapped with 4 KiB pages (pt_test). */
#define VA_NP       0x200000    /* not present, read */
#define VA_NPW      0x201000    /* not present, write */
#define VA_RO       0x202000    /* read-only, CR0.WP=1 */
#define VA_NX       0x203000    /* no-execute */
#define VA_AD       0x204000    /* accessed / dirty */
#define VA_INV      0x205000    /* remapped, INVLPG */
#define VA_USER     0x206000    /* user read/write page */
#define VA_SUP      0x207000    /* supervisor page touched from user mode */
#define VA_DF       0x208000    /* not present page for the #DF test */
#define VA_RO2      0x209000    /* read-only, written with CR0.WP=0 */
#define PA_INV1     0x210000
#define PA_INV2     0x211000

#endif
