/*
 * fpu_body.c - x87 FPU instruction exerciser, shared by the `fpu` guest and
 * the `fpu_host` Linux program (the host CPU is the oracle).
 *
 * Written from the SDM (Vol. 1 ch. 8, Vol. 2 instruction pages), not from the
 * emulator.  Every instruction class runs with pseudo-random and special
 * operands (zeros, infinities, QNaN/SNaN, denormals, pseudo-denormals,
 * unnormals, pseudo-NaN/infinity given as raw bytes, exponent extremes,
 * values with few significant bits so that exact and tie cases occur) in all
 * twelve rounding-control x precision-control combinations, and for the
 * arithmetic also with random exceptions unmasked.
 *
 * After each instruction the state is captured with FNSTSW and FNSAVE, which
 * do not wait, so an unmasked exception never reaches #MF (the host would
 * get SIGFPE); FNSAVE also reinitializes the FPU.  What is folded into the
 * hash is what the SDM defines:
 *   - FCW and the full tag word of the FNSAVE image, and each non-empty
 *     register (empty ones hold stale bytes);
 *   - FSW: exception flags, SF, ES, B, TOP and C1 always; C0, C2, C3 only
 *     for the instructions that define them (comparisons, FXAM, FPREM*);
 *   - never FIP/FDP/FOP (AMD stores them only with an exception pending) nor
 *     reserved fields.
 * The transcendental instructions (F2XM1 ... FSINCOS) are folded at reduced
 * precision: Intel and AMD give different last bits (see the fpu-trans
 * family).
 *
 * Compiled with -mno-sse -mfpmath=387 (no float/double arguments or returns:
 * the x86-64 ABI would need SSE registers) and -mno-red-zone.
 */
#include <stdint.h>
#include "fpu_body.h"
#include "oracle.h"

#define ITERS 60

typedef struct {
    uint64_t m;
    uint16_t se;
} __attribute__((packed)) f80;

/* FNSAVE image, 32-bit protected-mode layout. */
struct fsave {
    uint16_t fcw, r0, fsw, r1, ftw, r2;
    uint32_t fip, fcs_fop, fdp, fds;
    f80 st[8];
} __attribute__((packed));

#define BIT63 0x8000000000000000ull

static const f80 fspecials[] = {
    {0, 0}, {0, 0x8000},                                  /* zeros */
    {BIT63, 0x3fff}, {BIT63, 0xbfff},                     /* +-1 */
    {BIT63, 0x7fff}, {BIT63, 0xffff},                     /* infinities */
    {0xc000000000000000ull, 0x7fff}, {0xc000000000000001ull, 0xffff}, /* QNaN */
    {0x8000000000000001ull, 0x7fff}, {0xa000000000000000ull, 0xffff}, /* SNaN */
    {1, 0}, {0x7fffffffffffffffull, 0x8000}, {0x100000000ull, 0},     /* denormals */
    {BIT63, 0}, {0xc000000000000001ull, 0x8000},                      /* pseudo-denormals */
    {0x4000000000000000ull, 0x3fff}, {0, 0x4000},                     /* unnormals */
    {0x4000000000000000ull, 0x7fff}, {0, 0xffff},                     /* pseudo-NaN, pseudo-inf */
    {~0ull, 0x7ffe}, {BIT63, 1}, {~0ull, 1},                          /* extremes */
    {0xffffff8000000000ull, 0x3fff}, {0xfffffffffffff800ull, 0x3ffe}, /* rounding edges */
    {0xc90fdaa22168c235ull, 0x4000}, {BIT63, 0x403e}, {BIT63, 0xc03e}, /* pi, +-2^63 */
};
#define NFSPECIAL (sizeof fspecials / sizeof fspecials[0])

/* fop returns an operand: a special, a value near the exponent extremes, a
 * denormal, a value with few significant bits, a half-integer, or a random
 * normal of moderate exponent. */
static f80 fop(struct fam *f)
{
    uint64_t x = rnd(f);
    uint16_t s = (uint16_t)((x >> 63) << 15);
    f80 v;
    switch (x & 15) {
    case 0:
    case 1:
        return fspecials[(x >> 8) % NFSPECIAL];
    case 2:
        v.m = rnd(f) | BIT63;
        v.se = s | (uint16_t)((x >> 8) % 80);
        return v;
    case 3:
        v.m = rnd(f) | BIT63;
        v.se = s | (uint16_t)(0x7ffe - (x >> 8) % 80);
        return v;
    case 4:
        v.m = rnd(f) >> ((x >> 8) & 63);
        v.se = s;
        return v;
    case 5:
        v.m = (rnd(f) | BIT63) & ~((1ull << ((x >> 8) & 63)) - 1);
        v.se = s | (uint16_t)(0x3fff - 40 + (x >> 16) % 80);
        return v;
    case 6: {
        uint64_t n = (x >> 8) % 4096; /* n/2: integers and half-integers */
        if (n == 0) {
            v.m = 0;
            v.se = s;
            return v;
        }
        int lz = __builtin_clzll(n);
        v.m = n << lz;
        v.se = s | (uint16_t)(0x3fff + 62 - lz);
        return v;
    }
    }
    v.m = rnd(f) | BIT63;
    v.se = s | (uint16_t)(0x3fff - 70 + (x >> 8) % 140);
    return v;
}

/* near returns a second operand close to a: cancellation, equality, ties. */
static f80 near(struct fam *f, f80 a)
{
    uint64_t x = rnd(f);
    switch (x & 3) {
    case 0:
        a.m += (x >> 8) % 5 - 2;
        break;
    case 1:
        a.se ^= 0x8000;
        break;
    case 2:
        a.se += (uint16_t)((x >> 8) % 3 - 1);
        break;
    }
    return a;
}

static f80 fop2(struct fam *f, f80 a)
{
    return rnd(f) % 3 == 0 ? near(f, a) : fop(f);
}

/* The twelve control words: RC x PC (24, 53, 64 bits), all masked. */
static uint16_t cw_of(int i) { return (uint16_t)(0x7f | (i % 3 == 0 ? 0 : i % 3 + 1) << 8 | (i / 3) << 10); }
#define NCW 12

/* fsw masks: what every instruction defines, and with the condition codes. */
#define FSW_BASE 0xbaffu /* B, TOP, C1, ES, SF, flags */
#define FSW_ALL 0xffffu

/* scrub clears a state image after it has been folded: the pointer fields
 * (FIP, FCS, FOP, FDP, FDS) and reserved bytes differ between processors and
 * must not stay in memory, which ftvm difftest compares at the end. */
static void scrub(void *p, unsigned long n)
{
    volatile uint8_t *b = p;
    for (; n >= 8; n -= 8, b += 8)
        *(volatile uint64_t *)b = 0;
    while (n--)
        *b++ = 0;
}

/* fold hashes an FNSAVE image: FCW, FSW under mask, the tag word and the
 * non-empty registers. */
#ifdef FPU_DEBUG
static void hex(uint64_t v, int n)
{
    char b[17];
    for (int i = 0; i < n; i++)
        b[i] = "0123456789abcdef"[v >> (4 * (n - 1 - i)) & 15];
    b[n] = ' ';
    ex_write(b, (unsigned long)n + 1);
}
#endif

static void fold(struct fam *f, struct fsave *sv, uint16_t fswmask)
{
#ifdef FPU_DEBUG
    hex(sv->fcw, 4);
    hex(sv->fsw & fswmask, 4);
    hex(sv->ftw, 4);
    for (int i = 0; i < 3; i++) {
        hex(sv->st[i].se, 4);
        hex(sv->st[i].m, 16);
    }
    ex_write("\n", 1);
#endif
    H(f, sv->fcw);
    /* DE alongside IE or ZE (a denormal operand of an invalid operation or
     * a division by zero) is not folded: AMD processors do not flag it, the
     * SDM's exception priorities (DE before ZE) leave room for Intel to. */
    uint16_t fsw = sv->fsw & fswmask;
    if (fsw & 0x05)
        fsw &= (uint16_t)~0x02;
    H(f, fsw);
    H(f, sv->ftw);
    int top = sv->fsw >> 11 & 7;
    for (int i = 0; i < 8; i++) {
        if ((sv->ftw >> (2 * ((top + i) & 7)) & 3) != 3) {
            H(f, sv->st[i].m);
            H(f, sv->st[i].se);
        }
    }
    scrub(sv, sizeof *sv);
}

/* Loads b then a (ST0 = a, ST1 = b), runs insn, saves into sv. */
#define RUN2(insn, cw, a, b, sv)                                                     \
    __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\t" insn "\n\t" \
                     "fnsave %[s]"                                                  \
                     : [s] "=m"(sv)                                                  \
                     : [c] "m"(cw), [x] "m"(a), [y] "m"(b)                           \
                     : "memory")

/* As RUN2 with a memory operand %[m] for insn. */
#define RUNM(insn, cw, a, b, mem, sv)                                                \
    __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\t" insn "\n\t" \
                     "fnsave %[s]"                                                  \
                     : [s] "=m"(sv), [m] "+m"(mem)                                   \
                     : [c] "m"(cw), [x] "m"(a), [y] "m"(b)                           \
                     : "memory")

/* ---------------------------------------------------------------------------
 * Arithmetic, register forms, with some exceptions unmasked (the response
 * is then the unmasked one: no result, or the exponent-wrapped result).
 * ------------------------------------------------------------------------- */
static void fam_arith(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-arith");
    for (int it = 0; it < ITERS; it++) {
        for (int c = 0; c < NCW + 4; c++) {
            uint16_t cw = c < NCW ? cw_of(c) : (uint16_t)(cw_of((int)(rnd(&f) % NCW)) & ~(rnd(&f) & 0x07));
            f80 a = fop(&f), b = fop2(&f, a);
#define A2(insn)                        \
    RUN2(insn, cw, a, b, sv);           \
    fold(&f, &sv, FSW_BASE);
            A2("fadd %%st(1), %%st");
            A2("fsub %%st(1), %%st");
            A2("fsubr %%st(1), %%st");
            A2("fmul %%st(1), %%st");
            A2("fdiv %%st(1), %%st");
            A2("fdivr %%st(1), %%st");
            A2("fadd %%st, %%st(1)");
            A2("fsub %%st, %%st(1)");
            A2("fsubr %%st, %%st(1)");
            A2("fmul %%st, %%st(1)");
            A2("fdiv %%st, %%st(1)");
            A2("fdivr %%st, %%st(1)");
            A2("faddp %%st, %%st(1)");
            A2("fsubp %%st, %%st(1)");
            A2("fsubrp %%st, %%st(1)");
            A2("fmulp %%st, %%st(1)");
            A2("fdivp %%st, %%st(1)");
            A2("fdivrp %%st, %%st(1)");
            A2("fsqrt");
            A2("frndint");
            A2("fscale");
            A2("fxtract");
            A2("fadd %%st(2), %%st"); /* ST(2) empty: stack underflow */
#undef A2
        }
    }
    emit("fpu-arith", f.h);
}

/* Memory forms of the arithmetic: m32fp, m64fp, m16int, m32int. */
static void fam_arith_mem(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-arith-mem");
    for (int it = 0; it < ITERS; it++) {
        for (int c = 0; c < NCW + 2; c++) {
            uint16_t cw = c < NCW ? cw_of(c) : (uint16_t)(cw_of((int)(rnd(&f) % NCW)) & ~(rnd(&f) & 0x07));
            f80 a = fop(&f), b = fop(&f);
            uint64_t m = rnd(&f);
            switch (rnd(&f) & 3) {
            case 0: /* small integers and exact float patterns */
                m = (uint64_t)(int64_t)(int16_t)m;
                break;
            case 1: /* float specials: exponent all ones or zero */
                m = (m & 0x807fffff807fffffull) | (rnd(&f) & 1 ? 0x7f8000007f800000ull : 0);
                break;
            case 2:
                m = (m & 0x800fffffffffffffull) | (rnd(&f) & 1 ? 0x7ff0000000000000ull : 0);
                break;
            }
#define AM(insn, fm)                                  \
    RUNM(insn " %[m]", cw, a, b, m, sv);              \
    fold(&f, &sv, fm);                                \
    H(&f, m);
            AM("fadds", FSW_BASE);
            AM("fsubs", FSW_BASE);
            AM("fsubrs", FSW_BASE);
            AM("fmuls", FSW_BASE);
            AM("fdivs", FSW_BASE);
            AM("fdivrs", FSW_BASE);
            AM("fcoms", FSW_ALL);
            AM("fcomps", FSW_ALL);
            AM("faddl", FSW_BASE);
            AM("fsubl", FSW_BASE);
            AM("fsubrl", FSW_BASE);
            AM("fmull", FSW_BASE);
            AM("fdivl", FSW_BASE);
            AM("fdivrl", FSW_BASE);
            AM("fcoml", FSW_ALL);
            AM("fcompl", FSW_ALL);
            AM("fiadds", FSW_BASE);
            AM("fisubs", FSW_BASE);
            AM("fisubrs", FSW_BASE);
            AM("fimuls", FSW_BASE);
            AM("fidivs", FSW_BASE);
            AM("fidivrs", FSW_BASE);
            AM("ficoms", FSW_ALL);
            AM("ficomps", FSW_ALL);
            AM("fiaddl", FSW_BASE);
            AM("fisubl", FSW_BASE);
            AM("fisubrl", FSW_BASE);
            AM("fimull", FSW_BASE);
            AM("fidivl", FSW_BASE);
            AM("fidivrl", FSW_BASE);
            AM("ficoml", FSW_ALL);
            AM("ficompl", FSW_ALL);
#undef AM
        }
    }
    emit("fpu-arith-mem", f.h);
}

/* ---------------------------------------------------------------------------
 * Loads and stores: m32fp, m64fp, m80fp, m16/32/64 integers, BCD.
 * ------------------------------------------------------------------------- */
static void fam_ldst(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-load-store");
    for (int it = 0; it < ITERS; it++) {
        for (int c = 0; c < NCW + 2; c++) {
            uint16_t cw = c < NCW ? cw_of(c) : (uint16_t)(cw_of((int)(rnd(&f) % NCW)) & ~(rnd(&f) & 0x07));
            f80 a = fop(&f), b = fop(&f);
            struct {
                uint64_t lo;
                uint64_t hi;
            } m = {rnd(&f), rnd(&f)};
            if (rnd(&f) & 1) /* a valid BCD for FBLD */
                for (int i = 0; i < 18; i++) {
                    uint64_t d = rnd(&f) % 10;
                    if (i < 16)
                        m.lo = (m.lo & ~(15ull << (4 * i))) | d << (4 * i);
                    else
                        m.hi = (m.hi & ~(15ull << (4 * (i - 16)))) | d << (4 * (i - 16));
                }
            m.hi &= 0x80ff;
#define LS(insn, fm)                                  \
    RUNM(insn, cw, a, b, m, sv);                      \
    fold(&f, &sv, fm);                                \
    H(&f, m.lo);                                      \
    H(&f, m.hi & 0xffff);
            LS("flds %[m]", FSW_BASE);
            LS("fldl %[m]", FSW_BASE);
            LS("fldt %[m]", FSW_BASE);
            LS("filds %[m]", FSW_BASE);
            LS("fildl %[m]", FSW_BASE);
            LS("fildll %[m]", FSW_BASE);
            LS("fbld %[m]", FSW_BASE);
            LS("fld %%st(1)", FSW_BASE);
            LS("fsts %[m]", FSW_BASE);
            LS("fstps %[m]", FSW_BASE);
            LS("fstl %[m]", FSW_BASE);
            LS("fstpl %[m]", FSW_BASE);
            LS("fstpt %[m]", FSW_BASE);
            LS("fists %[m]", FSW_BASE);
            LS("fistps %[m]", FSW_BASE);
            LS("fistl %[m]", FSW_BASE);
            LS("fistpl %[m]", FSW_BASE);
            LS("fistpll %[m]", FSW_BASE);
            LS("fisttps %[m]", FSW_BASE);
            LS("fisttpl %[m]", FSW_BASE);
            LS("fisttpll %[m]", FSW_BASE);
            LS("fbstp %[m]", FSW_BASE);
            LS("fst %%st(3)", FSW_BASE);
            LS("fstp %%st(1)", FSW_BASE);
            LS("ffree %%st(0)\n\tfstps %[m]", FSW_BASE); /* underflow */
#undef LS
        }
    }
    emit("fpu-load-store", f.h);
}

/* ---------------------------------------------------------------------------
 * Comparisons: FCOM*, FUCOM*, FCOMI*, FUCOMI*, FTST, FXAM (condition codes
 * and, for FCOMI, ZF PF CF with OF SF AF cleared).
 * ------------------------------------------------------------------------- */
static void fam_compare(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-compare");
    for (int it = 0; it < ITERS; it++) {
        for (int c = 0; c < NCW; c++) {
            uint16_t cw = cw_of(c);
            f80 a = fop(&f), b = fop2(&f, a);
#define CC(insn)                        \
    RUN2(insn, cw, a, b, sv);           \
    fold(&f, &sv, FSW_ALL);
            CC("fcom %%st(1)");
            CC("fcomp %%st(1)");
            CC("fcompp");
            CC("fucom %%st(1)");
            CC("fucomp %%st(1)");
            CC("fucompp");
            CC("ftst");
            CC("fxam");
            CC("fxch\n\tfxam");
            CC("ffree %%st(0)\n\tfxam");
            CC("fcom %%st(2)");
#undef CC
            uint64_t fl;
#define CI(insn)                                                                                      \
    __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\tpushq $0x8d5\n\tpopfq\n\t" insn \
                     "\n\tpushfq\n\tpopq %[fl]\n\tfnsave %[s]"                                     \
                     : [s] "=m"(sv), [fl] "=r"(fl)                                                  \
                     : [c] "m"(cw), [x] "m"(a), [y] "m"(b)                                          \
                     : "memory", "cc");                                                             \
    fold(&f, &sv, FSW_BASE);                                                                        \
    H(&f, fl & 0x8d5);
            CI("fcomi %%st(1), %%st");
            CI("fcomip %%st(1), %%st");
            CI("fucomi %%st(1), %%st");
            CI("fucomip %%st(1), %%st");
            CI("fcomi %%st(3), %%st");
#undef CI
        }
    }
    emit("fpu-compare", f.h);
}

/* ---------------------------------------------------------------------------
 * Register stack and control: FXCH, FCHS, FABS, FCMOVcc, constants under
 * every rounding mode, FINCSTP/FDECSTP/FFREE/FFREEP, stack overflow, FLDCW
 * and FNSTCW of any value, FNCLEX, FNSTENV/FLDENV and FXSAVE/FXRSTOR round
 * trips with edited tag words.
 * ------------------------------------------------------------------------- */
static void fam_stack(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-stack");
    for (int it = 0; it < ITERS; it++) {
        for (int c = 0; c < NCW; c++) {
            uint16_t cw = cw_of(c);
            f80 a = fop(&f), b = fop(&f);
#define ST(insn, fm)                    \
    RUN2(insn, cw, a, b, sv);           \
    fold(&f, &sv, fm);
            ST("fxch %%st(1)", FSW_BASE);
            ST("fxch %%st(5)", FSW_BASE);
            ST("fchs", FSW_BASE);
            ST("fabs", FSW_BASE);
            ST("fld1", FSW_BASE);
            ST("fldl2t", FSW_BASE);
            ST("fldl2e", FSW_BASE);
            ST("fldpi", FSW_BASE);
            ST("fldlg2", FSW_BASE);
            ST("fldln2", FSW_BASE);
            ST("fldz", FSW_BASE);
            ST("fincstp", FSW_BASE);
            ST("fdecstp\n\tfdecstp", FSW_BASE);
            ST("ffree %%st(1)", FSW_BASE);
            ST("fnop", FSW_BASE);
            ST("fld %%st\n\tfld %%st\n\tfld %%st\n\tfld %%st\n\tfld %%st\n\tfld %%st\n\tfld %%st", FSW_BASE);
            ST("fdecstp\n\tfld %%st(1)", FSW_BASE);
            ST("fdivs %[x]\n\tfnclex", FSW_BASE);
            /* the reserved encodings processors run as aliases */
            ST(".byte 0xdf, 0xc1", FSW_BASE); /* FFREEP st(1) */
            ST(".byte 0xdd, 0xc9", FSW_BASE); /* FXCH4 st(1) */
            ST(".byte 0xdf, 0xc9", FSW_BASE); /* FXCH7 st(1) */
            ST(".byte 0xd9, 0xd9", FSW_BASE); /* FSTP1 st(1) */
            ST(".byte 0xdf, 0xd1", FSW_BASE); /* FSTP8 st(1) */
            ST(".byte 0xdf, 0xd9", FSW_BASE); /* FSTP9 st(1) */
            ST(".byte 0xdc, 0xd1", FSW_ALL);  /* FCOM2 st(1) */
            ST(".byte 0xdc, 0xd9", FSW_ALL);  /* FCOMP3 st(1) */
            ST(".byte 0xde, 0xd1", FSW_ALL);  /* FCOMP5 st(1) */
            ST(".byte 0xdb, 0xe0\n\t.byte 0xdb, 0xe1\n\t.byte 0xdb, 0xe4", FSW_BASE); /* FNENI FNDISI FNSETPM */
#undef ST
            uint64_t fl = rnd(&f) & 0x8d5;
#define CM(insn)                                                                                   \
    __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\tpushq %[fl]\n\tpopfq\n\t" insn \
                     "\n\tfnsave %[s]"                                                            \
                     : [s] "=m"(sv)                                                               \
                     : [c] "m"(cw), [x] "m"(a), [y] "m"(b), [fl] "r"(fl)                          \
                     : "memory", "cc");                                                           \
    fold(&f, &sv, FSW_BASE);
            CM("fcmovb %%st(1), %%st");
            CM("fcmove %%st(1), %%st");
            CM("fcmovbe %%st(1), %%st");
            CM("fcmovu %%st(1), %%st");
            CM("fcmovnb %%st(1), %%st");
            CM("fcmovne %%st(1), %%st");
            CM("fcmovnbe %%st(1), %%st");
            CM("fcmovnu %%st(1), %%st");
            CM("fcmovb %%st(2), %%st");
#undef CM
            /* FLDCW/FNSTCW of any value (reserved bits), with an exception
             * flagged: ES follows the masks. */
            uint16_t anycw = (uint16_t)rnd(&f), got;
            __asm__ volatile("fninit\n\tfldz\n\tfld1\n\tfdivp\n\tfldcw %[c]\n\tfnstcw %[g]\n\tfnsave %[s]"
                             : [s] "=m"(sv), [g] "=m"(got)
                             : [c] "m"(anycw)
                             : "memory");
            fold(&f, &sv, FSW_BASE);
            H(&f, got);
            /* FNSTENV, edit the tag word, FLDENV, FNSTENV: the tags of
             * non-empty registers are recomputed from their contents. */
            struct {
                uint32_t w[7];
            } env, env2;
            uint16_t tags = (uint16_t)rnd(&f);
            __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\tfldz\n\t"
                             "fnstenv %[e]\n\t"
                             "movw %[t], %[e8]\n\t"
                             "fldenv %[e]\n\tfnstenv %[e2]\n\tfnsave %[s]"
                             : [s] "=m"(sv), [e] "=m"(env), [e2] "=m"(env2), [e8] "=m"(env.w[2])
                             : [c] "m"(cw), [x] "m"(a), [y] "m"(b), [t] "r"(tags)
                             : "memory");
            fold(&f, &sv, FSW_BASE);
            H(&f, env.w[0] & 0xffff);
            H(&f, env.w[1] & 0xffff);
            H(&f, env.w[2] & 0xffff);
            H(&f, env2.w[0] & 0xffff);
            H(&f, env2.w[1] & 0xffff);
            H(&f, env2.w[2] & 0xffff);
            scrub(&env, sizeof env);
            scrub(&env2, sizeof env2);
            /* FNSAVE, edit the tag word and a register, FRSTOR, FNSAVE. */
            static struct fsave img;
            uint16_t tags2 = (uint16_t)rnd(&f);
            f80 reg = fop(&f);
            __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\tfnsave %[i]"
                             : [i] "=m"(img)
                             : [c] "m"(cw), [x] "m"(a), [y] "m"(b)
                             : "memory");
            img.ftw = tags2;
            img.st[2] = reg;
            __asm__ volatile("frstor %[i]\n\tfnsave %[s]" : [s] "=m"(sv) : [i] "m"(img) : "memory");
            fold(&f, &sv, FSW_BASE);
            scrub(&img, sizeof img);
            /* FXSAVE, edit the abridged tag, FXRSTOR, FXSAVE. */
            static uint8_t fx[512] __attribute__((aligned(16)));
            static uint8_t fx2[512] __attribute__((aligned(16)));
            uint8_t atag = (uint8_t)rnd(&f);
            __asm__ volatile("fninit\n\tfldcw %[c]\n\tfldt %[y]\n\tfldt %[x]\n\tfldpi\n\t"
                             "fxsave64 %[fx]\n\tmovb %[t], %[fx4]\n\tfxrstor64 %[fx]\n\tfxsave %[fx2]\n\tfnsave %[s]"
                             : [s] "=m"(sv), [fx] "+m"(fx), [fx2] "=m"(fx2), [fx4] "=m"(fx[4])
                             : [c] "m"(cw), [x] "m"(a), [y] "m"(b), [t] "r"(atag)
                             : "memory");
            fold(&f, &sv, FSW_BASE);
            for (int i = 0; i < 5; i++) { /* FCW, FSW, abridged tag */
                H(&f, fx[i]);
                H(&f, fx2[i]);
            }
            for (int i = 0; i < 8; i++) /* ST(i), 10 bytes each */
                for (int j = 0; j < 10; j++) {
                    H(&f, fx[32 + 16 * i + j]);
                    H(&f, fx2[32 + 16 * i + j]);
                }
            scrub(fx, sizeof fx);
            scrub(fx2, sizeof fx2);
        }
    }
    emit("fpu-stack", f.h);
}

/* ---------------------------------------------------------------------------
 * FPREM and FPREM1: quotient bits in C0 C3 C1, C2 for a partial remainder.
 * Exponent differences of 64 and more give an implementation-chosen partial
 * step (SDM FPREM: "an implementation-dependent number between 32 and 63"),
 * so b is kept within 63 binades of a.
 * ------------------------------------------------------------------------- */
static void fam_prem(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-prem");
    for (int it = 0; it < 4 * ITERS; it++) {
        uint16_t cw = cw_of((int)(rnd(&f) % NCW));
        f80 a = fop(&f), b = fop(&f);
        int ea = a.se & 0x7fff, eb = b.se & 0x7fff;
        if (ea != 0x7fff && eb != 0x7fff && ea - eb >= 63 && (a.m & BIT63) && (b.m & BIT63))
            b.se = (uint16_t)((b.se & 0x8000) | (ea - (int)(rnd(&f) % 63)));
        RUN2("fprem", cw, a, b, sv);
        fold(&f, &sv, FSW_ALL);
        RUN2("fprem1", cw, a, b, sv);
        fold(&f, &sv, FSW_ALL);
    }
    emit("fpu-prem", f.h);
}

/* ---------------------------------------------------------------------------
 * The transcendental instructions.  Intel and AMD document errors below one
 * ulp, and their last bits differ (on an AMD host about 1-2% of results, FPTAN
 * more, are one ulp from the correctly rounded ones this emulator gives), so
 * results are folded rounded to 48 bits, with IE, DE, ZE, SF, TOP and C2 of
 * the status word (not PE, UE, C1, which follow the last bit).  Operands are
 * inside each instruction's domain (F2XM1 |x| <= 1, FYL2XP1 |x| < 1 -
 * sqrt(2)/2, FSIN/FCOS/FSINCOS/FPTAN 2^-30 <= |x| < 2^62, where both reduce
 * with the same 66-bit pi), plus zeros, infinities and NaNs.
 * ------------------------------------------------------------------------- */
static void fold48(struct fam *f, struct fsave *sv)
{
    uint16_t fsw = sv->fsw & 0x3c47u;
    if (fsw & 0x05)
        fsw &= (uint16_t)~0x02; /* as in fold */
    H(f, fsw);
    H(f, sv->ftw);
    int top = sv->fsw >> 11 & 7;
    for (int i = 0; i < 8; i++) {
        if ((sv->ftw >> (2 * ((top + i) & 7)) & 3) == 3)
            continue;
        uint64_t m = sv->st[i].m, r = m + 0x8000;
        uint16_t se = sv->st[i].se;
        if (r < m) { /* carry into the exponent */
            se++;
            r = BIT63;
        }
        H(f, r >> 16);
        H(f, se);
    }
    scrub(sv, sizeof *sv);
}

static f80 top_(struct fam *f, int maxexp, int minexp)
{
    uint64_t x = rnd(f);
    if ((x & 15) == 0) {
        static const f80 sp[] = {{0, 0}, {0, 0x8000}, {BIT63, 0x7fff}, {BIT63, 0xffff}, {0xc000000000000001ull, 0x7fff}};
        return sp[(x >> 8) % 5];
    }
    f80 v = {rnd(f) | BIT63, (uint16_t)((0x3fff + maxexp - 1 - (int)((x >> 8) % (unsigned)(maxexp - minexp))) | (x >> 63) << 15)};
    return v;
}

static void fam_trans(void)
{
    struct fam f;
    struct fsave sv;
    begin(&f, "fpu-trans");
    for (int it = 0; it < 2 * ITERS; it++) {
        for (int c = 0; c < NCW; c++) {
            uint16_t cw = cw_of(c);
            f80 a, b = fop(&f);
#define TR(insn, maxexp, minexp)              \
    a = top_(&f, maxexp, minexp);             \
    RUN2(insn, cw, a, b, sv);                 \
    fold48(&f, &sv);
            TR("f2xm1", 0, -40);
            TR("fyl2x", 60, -60);
            TR("fabs\n\tfyl2x", 60, -60);
            TR("fyl2xp1", -2, -40);
            TR("fpatan", 60, -60);
            TR("fsin", 62, -30);
            TR("fcos", 62, -30);
            TR("fsincos", 62, -30);
            TR("fptan", 62, -30);
            TR("fsin", 3, -30);
            TR("fcos", 3, -30);
            TR("fptan", 3, -30);
#undef TR
        }
    }
    emit("fpu-trans", f.h);
}

/* ---------------------------------------------------------------------------
 * Code the compiler generates for long double: arithmetic, comparisons
 * (FUCOMIP, FCOMIP), FCMOV, conversions to and from integers (FILD, FISTP
 * with FNSTCW/FLDCW around it).
 * ------------------------------------------------------------------------- */
static long double __attribute__((noinline)) ld_of(f80 v)
{
    union {
        f80 r;
        long double d;
    } u = {.r = v};
    return u.d;
}

static void fold_ld(struct fam *f, long double d)
{
    union {
        f80 r;
        long double d;
    } u = {.d = d};
    H(f, u.r.m);
    H(f, u.r.se);
}

static void fam_compiled(void)
{
    struct fam f;
    begin(&f, "fpu-compiled");
    for (int it = 0; it < 20 * ITERS; it++) {
        long double x = ld_of(fop(&f)), y = ld_of(fop(&f));
        int64_t n = (int64_t)rnd(&f) >> (rnd(&f) & 63);
        long double s = 0, t = 1;
        for (int k = 1; k < 12; k++) { /* a Taylor series of exp(y/8) */
            s += t;
            t = t * (y / 8) / k;
        }
        fold_ld(&f, s);
        fold_ld(&f, x * y + (long double)n);
        fold_ld(&f, x > y ? x - y : y - x);
        H(&f, (uint64_t)(x < y) | (uint64_t)(x == y) << 1 | (uint64_t)(x != x) << 2);
        long double clamp = x < -1e18L ? -1e18L : x > 1e18L ? 1e18L : x;
        if (clamp == clamp) {
            H(&f, (uint64_t)(int64_t)clamp);
            H(&f, (uint64_t)(int32_t)(clamp / 1e10L));
        }
        fold_ld(&f, (long double)(uint64_t)rnd(&f));
    }
    emit("fpu-compiled", f.h);
}

int fpu_run(void)
{
    fam_arith();
    fam_arith_mem();
    fam_ldst();
    fam_compare();
    fam_stack();
    fam_prem();
    fam_trans();
    fam_compiled();
    return 0;
}
