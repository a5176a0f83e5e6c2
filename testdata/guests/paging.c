/*
 * paging: paging, exception and privilege-level guest.
 *
 * Builds its own GDT (with user segments and a 64-bit TSS: RSP0 and two IST
 * stacks), a 256-entry IDT of interrupt gates, and its own 4-level page
 * tables: 4 GiB identity in 2 MiB pages, except 0-2 MiB (the image, with the
 * user-mode code and stack pages marked U=1; page 0 not present) and 2-4 MiB
 * (test pages) which use 4 KiB pages.  Then it checks, printing one line per
 * check ("ok NAME" or "FAIL NAME details"):
 *
 *   #PF on not-present pages (read/write; CR2, error code, fix and retry),
 *   #PF on a write to a read-only page with CR0.WP=1, no fault with WP=0,
 *   #PF on an instruction fetch from an NX page (error code I bit),
 *   #DE (div by 0), #UD (ud2), #GP (non-canonical address), #BP (int3),
 *   int $0x80 through a DPL3 gate, int $2 on IST1, #DF on IST2 (a #PF whose
 *   IDT gate is not present raises #NP during delivery: #PF + #NP = #DF),
 *   accessed/dirty bits of PTE and PDE, INVLPG and CR3 reload after a PTE
 *   change, CPL3 entered with SYSRET and IRETQ, SYSCALL back (STAR, LSTAR,
 *   FMASK), RSP0 stack switch, user accesses to a supervisor page (#PF with
 *   the U bit), int to a DPL0 gate, hlt and in from CPL3 (#GP).
 *
 * Exit: debug-exit value 0 if every check passed, else the number of failed
 * checks; 0x7f after an unexpected exception.
 */
#include "runtime.h"
#include "paging.h"
#include "tss.h"

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_US  0x004ull
#define PTE_A   0x020ull
#define PTE_D   0x040ull
#define PTE_PS  0x080ull
#define PTE_NX  (1ull << 63)

#define PF_P    0x01
#define PF_W    0x02
#define PF_U    0x04
#define PF_I    0x10

#define CR0_WP  (1ul << 16)

/* ------------------------------------------------------------------------ */
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static uint64_t pt_lo[512] __attribute__((aligned(4096)));
static uint64_t pt_test[512] __attribute__((aligned(4096)));

static uint8_t user_stack[4096] __attribute__((aligned(4096)));
static uint8_t kstack0[8192] __attribute__((aligned(16)));
static uint8_t ist1_stack[4096] __attribute__((aligned(16)));
static uint8_t ist2_stack[4096] __attribute__((aligned(16)));

static struct tss64 tss __attribute__((aligned(16)));

static uint64_t gdt[8] __attribute__((aligned(16))) = {
    0,
    0x00af9a000000ffffull, /* 0x08 kernel code, 64-bit */
    0x00cf92000000ffffull, /* 0x10 kernel data */
    0x00cffa000000ffffull, /* 0x18 user code, 32-bit (SYSRET base) */
    0x00cff2000000ffffull, /* 0x20 user data */
    0x00affa000000ffffull, /* 0x28 user code, 64-bit */
    0, 0,                  /* 0x30 TSS (16 bytes) */
};

struct gate {
    uint16_t off0;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off1;
    uint32_t off2;
    uint32_t zero;
} __attribute__((packed));

static struct gate idt[256] __attribute__((aligned(16)));

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

struct sysframe {
    uint64_t pad, rax, rdi, rsi, rdx, rcx, r11, rsp;
};

extern char isr_stubs[];
extern char syscall_entry[];
extern char user_entry_sysret[], user_entry_iret[];
extern char __usertext_start[], __usertext_end[];
uint64_t enter_user_sysret(uint64_t rip, uint64_t rsp);
uint64_t enter_user_iret(uint64_t rip, uint64_t rsp);
__attribute__((noreturn)) void user_return(uint64_t code);
void trap(struct frame *fr);
uint64_t syscall_c(struct sysframe *sf);

/* ------------------------------------------------------------------------ */
static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t read_rflags(void)
{
    uint64_t v;
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(v));
    return v;
}
static inline uint16_t read_cs(void) { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline uint16_t read_ss(void) { uint16_t v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }

/* Page-table entries are always accessed through volatile pointers: the
 * compiler must not cache or reorder them around the (volatile) accesses
 * that make the CPU walk the tables. */
static volatile uint64_t *pte_of(uint64_t va)
{
    if (va < 0x200000)
        return &pt_lo[va >> 12];
    return &pt_test[(va - 0x200000) >> 12];
}

/* ------------------------------------------------------------------------ */
enum {
    EXPECT_NONE,   /* any exception is unexpected */
    EXPECT_FIX_P,  /* #PF: set P in the PTE of CR2, retry */
    EXPECT_FIX_RW, /* #PF: set RW, retry */
    EXPECT_FIX_NX, /* #PF: clear NX, retry */
    EXPECT_SKIP,   /* any: resume at R15 */
    EXPECT_RETURN, /* traps / int n: just return (int 0x80 returns RDI*2+1) */
    EXPECT_DF,     /* #DF: restore IDT[14], resume at R15 with df_resume_rsp */
};

struct trapinfo {
    uint64_t vec, err, cr2, rip, cs, ss, rsp, sstop;
};

static volatile int expect;
static volatile int ntraps;
static volatile struct trapinfo last;
static struct trapinfo utraps[16];
static volatile int nutraps;
static uint64_t ulog[32];
static volatile int nulog;
static volatile uint64_t sys3_kflags, sys3_r11, sys3_cs, sys3_ss;
uint64_t df_resume_rsp;

static int failures, checks;

static void check(const char *name, int ok, const char *fmt, ...)
{
    checks++;
    if (ok) {
        printf("ok %s\n", name);
        return;
    }
    failures++;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("FAIL %s %s\n", name, buf);
}

static void dump_and_die(struct frame *fr, const char *why)
{
    printf("FAIL unexpected-exception %s vec=%lu err=0x%lx rip=0x%lx cs=0x%lx rsp=0x%lx "
           "cr2=0x%lx expect=%d\n",
           why, fr->vector, fr->error, fr->rip, fr->cs, fr->rsp, read_cr2(), expect);
    exit(0x7f);
}

void trap(struct frame *fr)
{
    struct trapinfo ti = {
        .vec = fr->vector, .err = fr->error, .cr2 = read_cr2(), .rip = fr->rip,
        .cs = fr->cs, .ss = fr->ss, .rsp = fr->rsp, .sstop = (uint64_t)&fr->ss + 8,
    };
    last = ti;
    ntraps++;

    if ((fr->cs & 3) == 3) {
        /* from user mode */
        if (nutraps < 16)
            utraps[nutraps++] = ti;
        if (fr->vector == 0x80) {
            fr->rax = fr->rdi * 2 + 1;
            return;
        }
        if (fr->vector == 13 || fr->vector == 14) {
            fr->rip = fr->r15;
            return;
        }
        dump_and_die(fr, "user");
    }

    switch (expect) {
    case EXPECT_FIX_P:
    case EXPECT_FIX_RW:
    case EXPECT_FIX_NX:
        if (fr->vector == 14) {
            /* grant what the fault is about; the access is retried */
            volatile uint64_t *pte = pte_of(ti.cr2);
            if (expect == EXPECT_FIX_P)
                *pte |= PTE_P;
            else if (expect == EXPECT_FIX_RW)
                *pte |= PTE_RW;
            else
                *pte &= ~PTE_NX;
            invlpg(ti.cr2);
            return;
        }
        break;
    case EXPECT_SKIP:
        fr->rip = fr->r15;
        return;
    case EXPECT_RETURN:
        if (fr->vector == 0x80)
            fr->rax = fr->rdi * 2 + 1;
        return;
    case EXPECT_DF:
        if (fr->vector == 8) {
            idt[14].type |= 0x80; /* present again */
            fr->rip = fr->r15;
            fr->rsp = df_resume_rsp;
            fr->cs = SEL_KCODE;
            fr->ss = SEL_KDATA;
            fr->rflags = 0x2;
            return;
        }
        break;
    }
    dump_and_die(fr, "kernel");
}

uint64_t syscall_c(struct sysframe *sf)
{
    switch (sf->rax) {
    case 1:
        if (nulog < 32)
            ulog[nulog++] = sf->rdi;
        return sf->rdi;
    case 2:
        user_return(sf->rdi);
    case 3:
        sys3_kflags = read_rflags();
        sys3_r11 = sf->r11;
        sys3_cs = read_cs();
        sys3_ss = read_ss();
        return 0x33;
    }
    printf("FAIL bad-syscall rax=0x%lx\n", sf->rax);
    exit(0x7f);
}

/* ------------------------------------------------------------------------ */
static void set_gate(int v, int ist, int dpl)
{
    uint64_t h = (uint64_t)(isr_stubs + 16 * v);
    idt[v].off0 = (uint16_t)h;
    idt[v].sel = SEL_KCODE;
    idt[v].ist = (uint8_t)ist;
    idt[v].type = (uint8_t)(0x8E | (dpl << 5)); /* present, 64-bit interrupt gate */
    idt[v].off1 = (uint16_t)(h >> 16);
    idt[v].off2 = (uint32_t)(h >> 32);
    idt[v].zero = 0;
}

static void setup_cpu(void)
{
    /* TSS descriptor */
    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    gdt[7] = base >> 32;
    tss.rsp[0] = (uint64_t)(kstack0 + sizeof kstack0);
    tss.ist[0] = (uint64_t)(ist1_stack + sizeof ist1_stack);
    tss.ist[1] = (uint64_t)(ist2_stack + sizeof ist2_stack);
    tss.iomap_base = sizeof tss; /* no I/O permission bitmap */

    struct dtr g = { sizeof gdt - 1, (uint64_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\tmovl $0x10, %%eax\n\t"
                     "movl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss\n\t"
                     "xorl %%eax, %%eax\n\tmovl %%eax, %%fs\n\tmovl %%eax, %%gs\n\t"
                     "movw $0x30, %%ax\n\tltr %%ax"
                     : : "m"(g) : "rax", "memory");

    for (int v = 0; v < 256; v++)
        set_gate(v, 0, 0);
    set_gate(2, 1, 0);    /* NMI vector on IST1 */
    set_gate(8, 2, 0);    /* #DF on IST2 */
    set_gate(3, 0, 3);    /* int3 allowed from CPL3 */
    set_gate(0x80, 0, 3); /* system call gate */
    struct dtr i = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(i) : "memory");

    /* SYSCALL/SYSRET */
    wrmsr(0xC0000080, rdmsr(0xC0000080) | 1); /* EFER.SCE (already set by the ABI) */
    wrmsr(0xC0000081, ((uint64_t)SEL_UCODE32 << 48) | ((uint64_t)SEL_KCODE << 32));
    wrmsr(0xC0000082, (uint64_t)syscall_entry);
    wrmsr(0xC0000084, 0x4700); /* FMASK: TF IF DF NT */
}

static void setup_paging(void)
{
    const uint64_t up = PTE_P | PTE_RW | PTE_US;
    pml4[0] = (uint64_t)pdpt | up;
    for (int i = 0; i < 4; i++) {
        pdpt[i] = (uint64_t)pd[i] | up;
        for (int j = 0; j < 512; j++)
            pd[i][j] = ((uint64_t)(i * 512 + j) << 21) | PTE_P | PTE_RW | PTE_PS;
    }
    pd[0][0] = (uint64_t)pt_lo | up;
    pd[0][1] = (uint64_t)pt_test | up;
    for (int k = 0; k < 512; k++) {
        pt_lo[k] = ((uint64_t)k << 12) | PTE_P | PTE_RW;
        pt_test[k] = (0x200000 + ((uint64_t)k << 12)) | PTE_P | PTE_RW;
    }
    pt_lo[0] = 0; /* catch null pointers */
    for (uint64_t a = (uint64_t)__usertext_start; a < (uint64_t)__usertext_end; a += 4096)
        *pte_of(a) |= PTE_US;
    *pte_of((uint64_t)user_stack) |= PTE_US;
    *pte_of(VA_USER) |= PTE_US;
    *pte_of(VA_RO) &= ~PTE_RW;
    *pte_of(VA_RO2) &= ~PTE_RW;
    *pte_of(VA_NP) &= ~PTE_P;
    *pte_of(VA_NPW) &= ~PTE_P;
    *pte_of(VA_DF) &= ~PTE_P;
    write_cr3((uint64_t)pml4);
}

/* ------------------------------------------------------------------------ */
static void test_cpu_state(unsigned long ram)
{
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    check("ram-size", ram >= (16ul << 20) && (ram & 0xfff) == 0, "rdi=0x%lx", ram);
    check("gdt-tss-loaded", read_cs() == SEL_KCODE && read_ss() == SEL_KDATA && tr == SEL_TSS,
          "cs=0x%x ss=0x%x tr=0x%x", read_cs(), read_ss(), tr);
    check("own-page-tables", read_cr3() == (uint64_t)pml4 && (read_cr0() & CR0_WP),
          "cr3=0x%lx cr0=0x%lx", read_cr3(), read_cr0());
}

/* check_pf checks that one #PF with error code err at cr2 was taken and that
 * the value v read after it is want. */
static void check_pf(const char *name, uint64_t err, uint64_t cr2, uint64_t v, uint64_t want)
{
    check(name, ntraps == 1 && last.vec == 14 && last.err == err && last.cr2 == cr2 && v == want,
          "n=%d vec=%lu err=0x%lx cr2=0x%lx v=0x%lx", ntraps, last.vec, last.err, last.cr2, v);
}

static void test_pf(void)
{
    /* read of a not-present page: the handler maps it, the load is retried */
    *pte_of(VA_NP) |= PTE_P;
    invlpg(VA_NP);
    *(volatile uint64_t *)VA_NP = 0xC0FFEE0123ull;
    *pte_of(VA_NP) &= ~PTE_P;
    invlpg(VA_NP);
    ntraps = 0;
    expect = EXPECT_FIX_P;
    uint64_t v = *(volatile uint64_t *)VA_NP;
    expect = EXPECT_NONE;
    check_pf("pf-not-present-read", 0, VA_NP, v, 0xC0FFEE0123ull);

    /* write to a not-present page */
    ntraps = 0;
    expect = EXPECT_FIX_P;
    *(volatile uint64_t *)(VA_NPW + 0x18) = 0xABCDull;
    expect = EXPECT_NONE;
    v = *(volatile uint64_t *)(VA_NPW + 0x18);
    check_pf("pf-not-present-write", PF_W, VA_NPW + 0x18, v, 0xABCD);

    /* supervisor write to a read-only page with CR0.WP=1 */
    ntraps = 0;
    expect = EXPECT_FIX_RW;
    *(volatile uint32_t *)(VA_RO + 0x100) = 0x5a5a5a5a;
    expect = EXPECT_NONE;
    v = *(volatile uint32_t *)(VA_RO + 0x100);
    check_pf("pf-write-readonly-wp1", PF_P | PF_W, VA_RO + 0x100, v, 0x5a5a5a5a);

    /* with CR0.WP=0 a supervisor write to a read-only page succeeds */
    ntraps = 0;
    write_cr0(read_cr0() & ~CR0_WP);
    *(volatile uint64_t *)(VA_RO2 + 8) = 0x77;
    write_cr0(read_cr0() | CR0_WP);
    v = *(volatile uint64_t *)(VA_RO2 + 8);
    check("write-readonly-wp0", ntraps == 0 && v == 0x77 && !(*pte_of(VA_RO2) & PTE_RW),
          "n=%d v=0x%lx", ntraps, v);

    /* instruction fetch from an NX page: mov $0x1234, %eax; ret */
    static const uint8_t code[] = { 0xB8, 0x34, 0x12, 0x00, 0x00, 0xC3 };
    for (unsigned i = 0; i < sizeof code; i++)
        ((volatile uint8_t *)VA_NX)[i] = code[i];
    *pte_of(VA_NX) |= PTE_NX;
    invlpg(VA_NX);
    ntraps = 0;
    expect = EXPECT_FIX_NX;
    uint32_t r = ((uint32_t(*)(void))VA_NX)();
    expect = EXPECT_NONE;
    check("pf-nx-fetch",
          ntraps == 1 && last.vec == 14 && last.err == (PF_P | PF_I) && last.cr2 == VA_NX &&
              last.rip == VA_NX && r == 0x1234,
          "n=%d vec=%lu err=0x%lx cr2=0x%lx rip=0x%lx r=0x%x", ntraps, last.vec, last.err, last.cr2,
          last.rip, r);
}

/* SKIP_FAULT(at, setup, insn, clobbers...) runs the instructions setup, then
 * insn, which must fault: the handler resumes after it (EXPECT_SKIP, R15).
 * at receives insn's address; ntraps counts from zero. */
#define SKIP_FAULT(at, setup, insn, ...)                                              \
    do {                                                                              \
        ntraps = 0;                                                                   \
        expect = EXPECT_SKIP;                                                         \
        __asm__ volatile("leaq 0f(%%rip), %[at]\n\t"                                  \
                         "leaq 1f(%%rip), %%r15\n\t" setup "\n"                        \
                         "0:\t" insn "\n1:"                                            \
                         : [at] "=&r"(at) : : "r15", __VA_ARGS__);                    \
        expect = EXPECT_NONE;                                                         \
    } while (0)

static void test_exceptions(void)
{
    uint64_t at, after;

    SKIP_FAULT(at, "xorl %%ecx, %%ecx\n\tmovl $5, %%eax\n\txorl %%edx, %%edx", "divl %%ecx",
               "rax", "rcx", "rdx", "cc");
    check("de-divide-by-zero", ntraps == 1 && last.vec == 0 && last.rip == at,
          "n=%d vec=%lu rip=0x%lx want 0x%lx", ntraps, last.vec, last.rip, at);

    SKIP_FAULT(at, "movq $-1, %%rax\n\tmovq $0x7fffffffffffffff, %%rdx\n\tmovq $-1, %%rcx", "idivq %%rcx",
               "rax", "rcx", "rdx", "cc");
    check("de-divide-overflow", ntraps == 1 && last.vec == 0 && last.rip == at,
          "n=%d vec=%lu rip=0x%lx want 0x%lx", ntraps, last.vec, last.rip, at);

    SKIP_FAULT(at, "", "ud2", "cc");
    check("ud-ud2", ntraps == 1 && last.vec == 6 && last.rip == at,
          "n=%d vec=%lu rip=0x%lx want 0x%lx", ntraps, last.vec, last.rip, at);

    SKIP_FAULT(at, "movabsq $0x8000000000000000, %%rax", "movq (%%rax), %%rax", "rax", "memory");
    check("gp-non-canonical", ntraps == 1 && last.vec == 13 && last.err == 0 && last.rip == at,
          "n=%d vec=%lu err=0x%lx rip=0x%lx want 0x%lx", ntraps, last.vec, last.err, last.rip, at);

    ntraps = 0;
    expect = EXPECT_RETURN;
    __asm__ volatile("int3\n1:\tleaq 1b(%%rip), %[after]" : [after] "=r"(after));
    expect = EXPECT_NONE;
    check("bp-int3", ntraps == 1 && last.vec == 3 && last.rip == after && last.cs == SEL_KCODE,
          "n=%d vec=%lu rip=0x%lx want 0x%lx", ntraps, last.vec, last.rip, after);

    ntraps = 0;
    expect = EXPECT_RETURN;
    uint64_t r = 21;
    __asm__ volatile("movq %[r], %%rdi\n\tint $0x80\n\tmovq %%rax, %[r]" : [r] "+r"(r) : : "rax", "rdi");
    expect = EXPECT_NONE;
    check("int80-kernel", ntraps == 1 && last.vec == 0x80 && r == 43 && last.ss == SEL_KDATA,
          "n=%d vec=%lu r=%lu ss=0x%lx", ntraps, last.vec, r, last.ss);

    ntraps = 0;
    expect = EXPECT_RETURN;
    __asm__ volatile("int $2");
    expect = EXPECT_NONE;
    uint64_t ist1 = (uint64_t)(ist1_stack + sizeof ist1_stack);
    check("int2-ist1-stack", ntraps == 1 && last.vec == 2 && last.sstop == ist1,
          "n=%d vec=%lu stack top=0x%lx want 0x%lx", ntraps, last.vec, last.sstop, ist1);

    /* #DF: #PF on VA_DF while IDT[14] is not present -> #NP -> #DF (IST2) */
    ntraps = 0;
    expect = EXPECT_DF;
    idt[14].type &= 0x7f;
    __asm__ volatile("leaq 1f(%%rip), %%r15\n\t"
                     "movq %%rsp, df_resume_rsp(%%rip)\n\t"
                     "movq (%[p]), %%rax\n1:"
                     : : [p] "r"((uint64_t)VA_DF) : "rax", "r15", "memory");
    expect = EXPECT_NONE;
    uint64_t ist2 = (uint64_t)(ist2_stack + sizeof ist2_stack);
    check("df-ist2-stack",
          ntraps == 1 && last.vec == 8 && last.err == 0 && last.sstop == ist2 && (idt[14].type & 0x80),
          "n=%d vec=%lu err=0x%lx stack top=0x%lx want 0x%lx", ntraps, last.vec, last.err, last.sstop,
          ist2);
}

static void test_ad_invlpg(void)
{
    /* accessed / dirty */
    *pte_of(VA_AD) &= ~(PTE_A | PTE_D);
    volatile uint64_t *pde = &pd[0][1];
    *pde &= ~PTE_A;
    write_cr3(read_cr3());
    (void)*(volatile uint64_t *)VA_AD;
    uint64_t e1 = *pte_of(VA_AD), pde1 = *pde;
    *(volatile uint64_t *)VA_AD = 1;
    uint64_t e2 = *pte_of(VA_AD);
    check("accessed-dirty",
          (e1 & PTE_A) && !(e1 & PTE_D) && (pde1 & PTE_A) && (e2 & PTE_A) && (e2 & PTE_D),
          "pte after read=0x%lx pde=0x%lx pte after write=0x%lx", e1, pde1, e2);

    /* INVLPG after a PTE change */
    *(volatile uint64_t *)PA_INV1 = 0x1111111111111111ull;
    *(volatile uint64_t *)PA_INV2 = 0x2222222222222222ull;
    *pte_of(VA_INV) = PA_INV1 | PTE_P | PTE_RW;
    invlpg(VA_INV);
    uint64_t a = *(volatile uint64_t *)VA_INV;
    *pte_of(VA_INV) = PA_INV2 | PTE_P | PTE_RW;
    invlpg(VA_INV);
    uint64_t b = *(volatile uint64_t *)VA_INV;
    check("invlpg-remap", a == 0x1111111111111111ull && b == 0x2222222222222222ull,
          "before=0x%lx after=0x%lx", a, b);

    /* CR3 reload flushes non-global translations */
    *pte_of(VA_INV) = PA_INV1 | PTE_P | PTE_RW;
    write_cr3(read_cr3());
    uint64_t c = *(volatile uint64_t *)VA_INV;
    check("cr3-reload-flush", c == 0x1111111111111111ull, "got=0x%lx", c);
}

static void test_user(void)
{
    uint64_t ustack_top = (uint64_t)(user_stack + sizeof user_stack);
    uint64_t kstack_top = (uint64_t)(kstack0 + sizeof kstack0);

    nulog = 0;
    nutraps = 0;
    uint64_t rc = enter_user_sysret((uint64_t)user_entry_sysret, ustack_top);
    check("sysret-to-cpl3", rc == 0 && nulog >= 3 && ulog[0] == 0x2 && ulog[1] == (SEL_UCODE | 3) &&
                                ulog[2] == (SEL_UDATA | 3),
          "rc=0x%lx n=%d rflags=0x%lx cs=0x%lx ss=0x%lx", rc, nulog, ulog[0], ulog[1], ulog[2]);
    check("syscall-star-fmask",
          nulog >= 4 && ulog[3] == 0x33 && !(sys3_kflags & 0x4700) && (sys3_r11 & 0x400) &&
              sys3_cs == SEL_KCODE && sys3_ss == SEL_KDATA,
          "ret=0x%lx kflags=0x%lx r11=0x%lx cs=0x%lx ss=0x%lx", ulog[3], sys3_kflags, sys3_r11, sys3_cs,
          sys3_ss);
    check("int80-from-user-rsp0",
          nulog >= 5 && ulog[4] == 0x2469 && nutraps >= 1 && utraps[0].vec == 0x80 &&
              utraps[0].cs == (SEL_UCODE | 3) && utraps[0].ss == (SEL_UDATA | 3) &&
              utraps[0].sstop == kstack_top,
          "r=0x%lx vec=%lu cs=0x%lx ss=0x%lx stack top=0x%lx want 0x%lx", ulog[4], utraps[0].vec,
          utraps[0].cs, utraps[0].ss, utraps[0].sstop, kstack_top);
    check("user-read-supervisor-page",
          nutraps >= 2 && utraps[1].vec == 14 && utraps[1].err == (PF_U | PF_P) && utraps[1].cr2 == VA_SUP,
          "vec=%lu err=0x%lx cr2=0x%lx", utraps[1].vec, utraps[1].err, utraps[1].cr2);
    check("user-write-supervisor-page",
          nutraps >= 3 && utraps[2].vec == 14 && utraps[2].err == (PF_U | PF_W | PF_P) &&
              utraps[2].cr2 == VA_SUP,
          "vec=%lu err=0x%lx cr2=0x%lx", utraps[2].vec, utraps[2].err, utraps[2].cr2);
    check("user-int-dpl0-gate-gp", nutraps >= 4 && utraps[3].vec == 13 && utraps[3].err == 0x81 * 8 + 2,
          "vec=%lu err=0x%lx", utraps[3].vec, utraps[3].err);
    check("user-hlt-gp", nutraps >= 5 && utraps[4].vec == 13 && utraps[4].err == 0,
          "vec=%lu err=0x%lx", utraps[4].vec, utraps[4].err);
    check("user-in-gp", nutraps >= 6 && utraps[5].vec == 13 && utraps[5].err == 0,
          "vec=%lu err=0x%lx", utraps[5].vec, utraps[5].err);
    check("user-write-user-page",
          nulog >= 6 && ulog[5] == 0x5555 && *(volatile uint64_t *)VA_USER == 0x5555 && nutraps == 6,
          "log=0x%lx mem=0x%lx traps=%d", ulog[5], *(volatile uint64_t *)VA_USER, nutraps);

    nulog = 0;
    nutraps = 0;
    rc = enter_user_iret((uint64_t)user_entry_iret, ustack_top);
    check("iretq-to-cpl3",
          rc == 0x77 && nulog == 5 && ulog[0] == 0x2 && ulog[1] == (SEL_UCODE | 3) &&
              ulog[2] == (SEL_UDATA | 3) && ulog[3] == ustack_top,
          "rc=0x%lx n=%d rflags=0x%lx cs=0x%lx ss=0x%lx rsp=0x%lx", rc, nulog, ulog[0], ulog[1], ulog[2],
          ulog[3]);
    check("int80-after-iretq", ulog[4] == 15 && nutraps == 1 && utraps[0].sstop == kstack_top,
          "r=%lu traps=%d", ulog[4], nutraps);
    check("kernel-after-user", read_cs() == SEL_KCODE && read_ss() == SEL_KDATA, "cs=0x%x ss=0x%x",
          read_cs(), read_ss());
}

int main(unsigned long ram_size)
{
    puts_nonl("paging: start\n");
    setup_cpu();
    setup_paging();
    test_cpu_state(ram_size);
    test_pf();
    test_exceptions();
    test_ad_invlpg();
    test_user();
    printf("paging: %d checks, %d failed\n", checks, failures);
    return failures;
}
