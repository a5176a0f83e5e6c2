/*
 * ssefp_body.c - SSE, SSE2, SSE3 and SSE4.1 floating-point exerciser.
 *
 * Portable between the freestanding `ssefp` guest and the Linux `ssefp_host`
 * oracle (only <stdint.h> and ex_write()); both must print the same bytes.
 *
 * Every instruction runs with pseudo-random operands (xorshift64, seeded per
 * family from its name) whose lanes are mostly special: zeros, denormals,
 * the smallest and largest normals, infinities, quiet and signaling NaNs,
 * values with few significant bits (exact results and rounding ties), tiny
 * and huge exponents, integers.  Each runs under sixteen MXCSR settings
 * (the four rounding modes, FTZ and DAZ on and off), all exceptions masked,
 * with the exception flags clear or with PE already set; the destination
 * register and the resulting MXCSR are folded into the family's hash
 * (COMISS/UCOMISS: RFLAGS' six status flags).  Register and memory source
 * forms alternate.
 *
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS results are implementation specific (Intel
 * and AMD differ; the SDM bounds the relative error by 1.5*2^-12): their
 * hash folds only whether each lane is within that bound of the exact value
 * (computed with DIVSD/SQRTSD), and the exact bits of special results.
 *
 * The xm-* families run a selection of the instructions with a random set of
 * exceptions unmasked: an unmasked exception must raise #XM (the environment
 * resumes after the instruction, see ssefp_body.h) with the destination
 * unchanged and MXCSR holding the flags the SDM's pre- and post-computation
 * rules give; whether it faulted, the destination and MXCSR are hashed.
 *
 * The C code is compiled with -mgeneral-regs-only: the compiler never uses
 * an XMM register, so the asm blocks use XMM0-XMM2 freely.
 */
#include <stdint.h>
#include "oracle.h"
#include "ssefp_body.h"

#define ITERS 96

typedef struct {
    uint64_t q[2];
} __attribute__((aligned(16))) xmm_t;

/* A binary32 (dbl = 0) or binary64 lane, mostly special. */
static uint64_t lane(struct fam *f, int dbl)
{
    unsigned fb = dbl ? 52 : 23, eb = dbl ? 11 : 8;
    uint64_t emax = (1ull << eb) - 1, bias = emax >> 1;
    uint64_t fmask = (1ull << fb) - 1, sign = 1ull << (fb + eb);
    uint64_t r = rnd(f), frac = rnd(f) & fmask, x;
    if ((r & 3) == 0) /* few significant bits */
        frac &= fmask << (fb - (r >> 2) % 6);
    switch ((r >> 8) % 13) {
    case 0:  x = 0; break;
    case 1:  x = frac; break;                                   /* denormal */
    case 2:  x = (1ull << fb) | frac; break;                    /* smallest binade */
    case 3:  x = (emax << fb) - 1 - (r >> 20 & 7); break;       /* near the largest */
    case 4:  x = emax << fb; break;                             /* infinity */
    case 5:  x = (emax << fb) | frac | 1; break;                /* NaN */
    case 6:  x = ((r >> 16) % emax) << fb | frac; break;
    case 7:  x = (bias - 4 + (r >> 16) % 8) << fb | frac; break; /* near 1 */
    case 8:  x = (1 + (r >> 16) % (bias / 2)) << fb | frac; break;
    case 9:  x = (emax - 1 - (r >> 16) % (bias / 2)) << fb | frac; break;
    case 10: x = (bias + (r >> 16) % 40) << fb | (frac & (fmask << (fb / 2))); break; /* integral-ish */
    case 11: x = (bias - 1) << fb | (1ull << (fb - 1)) | (frac & 1); break;        /* near 0.75, ties */
    default: x = rnd(f) & (sign - 1); break;
    }
    if (r >> 40 & 1)
        x |= sign;
    return x;
}

static void operand(struct fam *f, xmm_t *v, int dbl)
{
    if (dbl) {
        v->q[0] = lane(f, 1);
        v->q[1] = lane(f, 1);
    } else {
        v->q[0] = lane(f, 0) | lane(f, 0) << 32;
        v->q[1] = lane(f, 0) | lane(f, 0) << 32;
    }
}

/* A 32- or 64-bit integer, mostly near the float conversion boundaries. */
static uint64_t integer(struct fam *f)
{
    uint64_t r = rnd(f), v = rnd(f);
    switch (r % 6) {
    case 0: return v >> (r >> 8) % 64;
    case 1: return -(v >> (r >> 8) % 64);
    case 2: return (1ull << (r >> 8) % 64) + (r >> 16 & 3) - 2;
    case 3: return v & 0xFFFFFF;
    default: return v;
    }
}

/* MXCSR of run i: mode, FTZ, DAZ from i's bits; flags clear or PE. */
static uint32_t csr_of(int cfg, int i)
{
    return 0x1F80 | (cfg & 3) << 13 | (cfg >> 2 & 1) << 15 | (cfg >> 3 & 1) << 6 | (i & 1) << 5;
}

static uint32_t run_csr;

/* ------------------------------------------------------------------------
 * Instruction wrappers: d = d OP s (register or memory source), MXCSR
 * loaded before and stored after.
 * --------------------------------------------------------------------- */
typedef void (*xop)(xmm_t *d, const xmm_t *s, int mem);

#define XOP(fn, text)                                                              \
    static void fn(xmm_t *d, const xmm_t *s, int mem)                              \
    {                                                                              \
        if (mem)                                                                   \
            __asm__ volatile("ldmxcsr %2\n\tmovdqa %0, %%xmm0\n\t" text " %1, %%xmm0\n\t" \
                             "movdqa %%xmm0, %0\n\tstmxcsr %2"                     \
                             : "+m"(*d) : "m"(*s), "m"(run_csr));                  \
        else                                                                       \
            __asm__ volatile("ldmxcsr %2\n\tmovdqa %0, %%xmm0\n\tmovdqa %1, %%xmm1\n\t" \
                             text " %%xmm1, %%xmm0\n\tmovdqa %%xmm0, %0\n\tstmxcsr %2" \
                             : "+m"(*d) : "m"(*s), "m"(run_csr));                  \
    }
/* Scalar memory sources are 32 or 64 bits: the same address works. */
#define XOPI(fn, text, imm) XOP(fn, text " $" #imm ",")

#define ARITH(n) XOP(n##ps, #n "ps") XOP(n##ss, #n "ss") XOP(n##pd, #n "pd") XOP(n##sd, #n "sd")
ARITH(add) ARITH(sub) ARITH(mul) ARITH(div) ARITH(min) ARITH(max) ARITH(sqrt)
XOP(addsubps, "addsubps") XOP(addsubpd, "addsubpd")
XOP(haddps, "haddps") XOP(haddpd, "haddpd") XOP(hsubps, "hsubps") XOP(hsubpd, "hsubpd")
XOP(cvtss2sd, "cvtss2sd") XOP(cvtsd2ss, "cvtsd2ss") XOP(cvtps2pd, "cvtps2pd") XOP(cvtpd2ps, "cvtpd2ps")
XOP(cvtdq2ps, "cvtdq2ps") XOP(cvtps2dq, "cvtps2dq") XOP(cvttps2dq, "cvttps2dq")
XOP(cvtdq2pd, "cvtdq2pd") XOP(cvtpd2dq, "cvtpd2dq") XOP(cvttpd2dq, "cvttpd2dq")
XOP(rcpps, "rcpps") XOP(rcpss, "rcpss") XOP(rsqrtps, "rsqrtps") XOP(rsqrtss, "rsqrtss")

#define CMP(n, p) XOPI(cmp##n##p, "cmp" #n, p)
#define CMPS(n) CMP(n, 0) CMP(n, 1) CMP(n, 2) CMP(n, 3) CMP(n, 4) CMP(n, 5) CMP(n, 6) CMP(n, 7)
CMPS(ps) CMPS(ss) CMPS(pd) CMPS(sd)
#define RND(n, i) XOPI(round##n##i, "round" #n, i)
#define RNDS(n) RND(n, 0) RND(n, 1) RND(n, 2) RND(n, 3) RND(n, 4) RND(n, 8) RND(n, 9) RND(n, 10) RND(n, 11) RND(n, 12)
RNDS(ps) RNDS(pd) RNDS(ss) RNDS(sd)
XOPI(dpps_ff, "dpps", 0xff) XOPI(dpps_f1, "dpps", 0xf1) XOPI(dpps_71, "dpps", 0x71)
XOPI(dpps_3c, "dpps", 0x3c) XOPI(dpps_b2, "dpps", 0xb2) XOPI(dpps_5f, "dpps", 0x5f)
XOPI(dpps_0f, "dpps", 0x0f) XOPI(dppd_33, "dppd", 0x33) XOPI(dppd_31, "dppd", 0x31)
XOPI(dppd_12, "dppd", 0x12) XOPI(dppd_23, "dppd", 0x23) XOPI(dppd_03, "dppd", 0x03)

struct xfam {
    const char *name;
    xop fn;
    int dbl; /* operand lanes are binary64 */
    int src; /* 0: float operands; 1: int32 source lanes */
};

static const struct xfam xfams[] = {
#define A4(n) {#n "ps", n##ps, 0, 0}, {#n "ss", n##ss, 0, 0}, {#n "pd", n##pd, 1, 0}, {#n "sd", n##sd, 1, 0},
    A4(add) A4(sub) A4(mul) A4(div) A4(min) A4(max) A4(sqrt)
    {"addsubps", addsubps, 0, 0}, {"addsubpd", addsubpd, 1, 0},
    {"haddps", haddps, 0, 0}, {"haddpd", haddpd, 1, 0}, {"hsubps", hsubps, 0, 0}, {"hsubpd", hsubpd, 1, 0},
    {"cvtss2sd", cvtss2sd, 0, 0}, {"cvtsd2ss", cvtsd2ss, 1, 0}, {"cvtps2pd", cvtps2pd, 0, 0},
    {"cvtpd2ps", cvtpd2ps, 1, 0}, {"cvtdq2ps", cvtdq2ps, 0, 1}, {"cvtps2dq", cvtps2dq, 0, 0},
    {"cvttps2dq", cvttps2dq, 0, 0}, {"cvtdq2pd", cvtdq2pd, 0, 1}, {"cvtpd2dq", cvtpd2dq, 1, 0},
    {"cvttpd2dq", cvttpd2dq, 1, 0},
#define C8(n) {"cmp" #n "0", cmp##n##0, 0, 0}, {"cmp" #n "1", cmp##n##1, 0, 0}, {"cmp" #n "2", cmp##n##2, 0, 0}, \
    {"cmp" #n "3", cmp##n##3, 0, 0}, {"cmp" #n "4", cmp##n##4, 0, 0}, {"cmp" #n "5", cmp##n##5, 0, 0},        \
    {"cmp" #n "6", cmp##n##6, 0, 0}, {"cmp" #n "7", cmp##n##7, 0, 0},
    C8(ps) C8(ss)
#undef C8
#define C8(n) {"cmp" #n "0", cmp##n##0, 1, 0}, {"cmp" #n "1", cmp##n##1, 1, 0}, {"cmp" #n "2", cmp##n##2, 1, 0}, \
    {"cmp" #n "3", cmp##n##3, 1, 0}, {"cmp" #n "4", cmp##n##4, 1, 0}, {"cmp" #n "5", cmp##n##5, 1, 0},        \
    {"cmp" #n "6", cmp##n##6, 1, 0}, {"cmp" #n "7", cmp##n##7, 1, 0},
    C8(pd) C8(sd)
#define R10(n, d) {"round" #n "0", round##n##0, d, 0}, {"round" #n "1", round##n##1, d, 0},                  \
    {"round" #n "2", round##n##2, d, 0}, {"round" #n "3", round##n##3, d, 0}, {"round" #n "4", round##n##4, d, 0}, \
    {"round" #n "8", round##n##8, d, 0}, {"round" #n "9", round##n##9, d, 0}, {"round" #n "10", round##n##10, d, 0}, \
    {"round" #n "11", round##n##11, d, 0}, {"round" #n "12", round##n##12, d, 0},
    R10(ps, 0) R10(ss, 0) R10(pd, 1) R10(sd, 1)
    {"dpps_ff", dpps_ff, 0, 0}, {"dpps_f1", dpps_f1, 0, 0}, {"dpps_71", dpps_71, 0, 0},
    {"dpps_3c", dpps_3c, 0, 0}, {"dpps_b2", dpps_b2, 0, 0}, {"dpps_5f", dpps_5f, 0, 0},
    {"dpps_0f", dpps_0f, 0, 0}, {"dppd_33", dppd_33, 1, 0}, {"dppd_31", dppd_31, 1, 0},
    {"dppd_12", dppd_12, 1, 0}, {"dppd_23", dppd_23, 1, 0}, {"dppd_03", dppd_03, 1, 0},
};

static void run_xfam(const struct xfam *x)
{
    struct fam f;
    begin(&f, x->name);
    for (int cfg = 0; cfg < 16; cfg++) {
        for (int i = 0; i < ITERS; i++) {
            xmm_t d, s;
            operand(&f, &d, x->dbl);
            if (x->src) {
                s.q[0] = integer(&f);
                s.q[1] = integer(&f);
            } else {
                operand(&f, &s, x->dbl);
            }
            run_csr = csr_of(cfg, i);
            x->fn(&d, &s, i >> 1 & 1);
            H(&f, d.q[0]);
            H(&f, d.q[1]);
            H(&f, run_csr);
        }
    }
    emit(x->name, f.h);
}

/* ------------------------------------------------------------------------
 * COMISS/UCOMISS/COMISD/UCOMISD: RFLAGS' status flags.
 * --------------------------------------------------------------------- */
#define COMI(fn, text)                                                             \
    static uint64_t fn(const xmm_t *a, const xmm_t *b)                             \
    {                                                                              \
        uint64_t fl;                                                               \
        __asm__ volatile("ldmxcsr %3\n\tmovdqa %1, %%xmm0\n\t" text " %2, %%xmm0\n\t" \
                         "pushfq\n\tpopq %0\n\tstmxcsr %3"                         \
                         : "=r"(fl) : "m"(*a), "m"(*b), "m"(run_csr) : "cc");      \
        return fl & 0x8D5;                                                         \
    }
COMI(comiss, "comiss") COMI(ucomiss, "ucomiss") COMI(comisd, "comisd") COMI(ucomisd, "ucomisd")

static const struct {
    const char *name;
    uint64_t (*fn)(const xmm_t *, const xmm_t *);
    int dbl;
} comis[] = {
    {"comiss", comiss, 0}, {"ucomiss", ucomiss, 0}, {"comisd", comisd, 1}, {"ucomisd", ucomisd, 1},
};

/* ------------------------------------------------------------------------
 * Conversions between XMM lanes and general registers.
 * --------------------------------------------------------------------- */
#define TOINT(fn, text, reg)                                                       \
    static uint64_t fn(const xmm_t *s)                                             \
    {                                                                              \
        uint64_t r = 0x5555555555555555ull;                                        \
        __asm__ volatile("ldmxcsr %2\n\t" text " %1, %" reg "0\n\tstmxcsr %2"       \
                         : "+r"(r) : "m"(*s), "m"(run_csr));                       \
        return r;                                                                  \
    }
TOINT(cvtss2si32, "cvtss2si", "k") TOINT(cvtss2si64, "cvtss2si", "q")
TOINT(cvttss2si32, "cvttss2si", "k") TOINT(cvttss2si64, "cvttss2si", "q")
TOINT(cvtsd2si32, "cvtsd2si", "k") TOINT(cvtsd2si64, "cvtsd2si", "q")
TOINT(cvttsd2si32, "cvttsd2si", "k") TOINT(cvttsd2si64, "cvttsd2si", "q")

#define FROMINT(fn, text, reg)                                                     \
    static void fn(xmm_t *d, uint64_t v, int mem)                                  \
    {                                                                              \
        if (mem)                                                                   \
            __asm__ volatile("ldmxcsr %2\n\tmovdqa %0, %%xmm0\n\t" text " %1, %%xmm0\n\t" \
                             "movdqa %%xmm0, %0\n\tstmxcsr %2"                     \
                             : "+m"(*d) : "m"(v), "m"(run_csr));                   \
        else                                                                       \
            __asm__ volatile("ldmxcsr %2\n\tmovdqa %0, %%xmm0\n\t" text " %" reg "1, %%xmm0\n\t" \
                             "movdqa %%xmm0, %0\n\tstmxcsr %2"                     \
                             : "+m"(*d) : "r"(v), "m"(run_csr));                   \
    }
FROMINT(cvtsi2ss32, "cvtsi2ssl", "k") FROMINT(cvtsi2ss64, "cvtsi2ssq", "q")
FROMINT(cvtsi2sd32, "cvtsi2sdl", "k") FROMINT(cvtsi2sd64, "cvtsi2sdq", "q")

static const struct {
    const char *name;
    uint64_t (*fn)(const xmm_t *);
    int dbl;
} toints[] = {
    {"cvtss2si32", cvtss2si32, 0}, {"cvtss2si64", cvtss2si64, 0}, {"cvttss2si32", cvttss2si32, 0},
    {"cvttss2si64", cvttss2si64, 0}, {"cvtsd2si32", cvtsd2si32, 1}, {"cvtsd2si64", cvtsd2si64, 1},
    {"cvttsd2si32", cvttsd2si32, 1}, {"cvttsd2si64", cvttsd2si64, 1},
};

static const struct {
    const char *name;
    void (*fn)(xmm_t *, uint64_t, int);
    int dbl;
} fromints[] = {
    {"cvtsi2ss32", cvtsi2ss32, 0}, {"cvtsi2ss64", cvtsi2ss64, 0},
    {"cvtsi2sd32", cvtsi2sd32, 1}, {"cvtsi2sd64", cvtsi2sd64, 1},
};

/* ------------------------------------------------------------------------
 * RCP/RSQRT: within the architectural bound, special results exact.
 * --------------------------------------------------------------------- */
static uint64_t f2d(uint32_t x)
{
    xmm_t v = {{x, 0}};
    __asm__ volatile("movdqa %0, %%xmm0\n\tcvtss2sd %%xmm0, %%xmm0\n\tmovdqa %%xmm0, %0" : "+m"(v));
    return v.q[0];
}

/* |approx - exact| <= 1.5*2^-12 * |exact|, all binary64 bit patterns of
 * positive finite values. */
static int within(uint64_t approx, uint64_t exact)
{
    xmm_t v = {{approx, exact}};
    static const xmm_t k = {{0x3F38000000000000ull, 0}}; /* 1.5*2^-12 */
    uint64_t ok;
    __asm__ volatile("movdqa %1, %%xmm0\n\tmovq %2, %%xmm2\n\tmovhlps %%xmm0, %%xmm1\n\t"
                     "subsd %%xmm1, %%xmm0\n\tmulsd %%xmm1, %%xmm2\n\t"
                     "andpd %3, %%xmm0\n\tcomisd %%xmm0, %%xmm2\n\tsetae %b0\n\tmovzbl %b0, %k0"
                     : "=&r"(ok) : "m"(v), "m"(k), "m"(*(const xmm_t[]){{{0x7FFFFFFFFFFFFFFFull, 0}}}) : "cc");
    return (int)ok;
}

static uint64_t exact_recip(uint32_t x, int sqrt)
{
    xmm_t v = {{f2d(x), 0x3FF0000000000000ull}};
    if (sqrt)
        __asm__ volatile("sqrtsd %0, %%xmm0\n\tmovq %%xmm0, %0" : "+m"(v.q[0]));
    __asm__ volatile("movq %1, %%xmm0\n\tmovq %0, %%xmm1\n\tdivsd %%xmm0, %%xmm1\n\tmovq %%xmm1, %0"
                     : "+m"(v.q[1]) : "m"(v.q[0]));
    return v.q[1];
}

static void run_approx(const char *name, xop fn, int lanes, int sqrt)
{
    struct fam f;
    begin(&f, name);
    for (int i = 0; i < ITERS * 8; i++) {
        xmm_t d = {{0x1111111122222222ull, 0x3333333344444444ull}}, s;
        operand(&f, &s, 0);
        run_csr = 0x1F80 | (i & 1) << 5;
        fn(&d, &s, i & 1);
        H(&f, run_csr);
        for (int l = 0; l < 4; l++) {
            uint32_t x = (uint32_t)(s.q[l / 2] >> (l % 2 * 32));
            uint32_t r = (uint32_t)(d.q[l / 2] >> (l % 2 * 32));
            if (l >= lanes) {
                H(&f, r);
                continue;
            }
            uint32_t e = x >> 23 & 0xFF, re = r >> 23 & 0xFF;
            int special = e == 0 || e == 0xFF || re == 0 || re == 0xFF || (x >> 31 && sqrt);
            /* Near the flush boundary implementations differ: skip. */
            if (!sqrt && (e == 0xFD || e == 0xFE))
                continue;
            if (special)
                H(&f, r);
            else
                H(&f, (uint64_t)within(f2d(r), exact_recip(x & 0x7FFFFFFF, sqrt)) << 32 | (r >> 31));
        }
    }
    emit(name, f.h);
}

/* ------------------------------------------------------------------------
 * Unmasked exceptions.
 * --------------------------------------------------------------------- */
volatile uint64_t xm_resume, xm_caught;

static const uint32_t default_csr = 0x1F80;

/* d = d OP s with xm_resume set to the instruction after; on #XM the store
 * of the result is skipped. */
#define XMOP(fn, text)                                                             \
    static void fn(xmm_t *d, const xmm_t *s, int mem)                              \
    {                                                                              \
        (void)mem; /* register source only */                                      \
        __asm__ volatile("leaq 1f(%%rip), %%rax\n\tmovq %%rax, %2\n\tldmxcsr %3\n\t" \
                         "movdqa %0, %%xmm0\n\tmovdqa %1, %%xmm1\n\t" text " %%xmm1, %%xmm0\n\t" \
                         "movdqa %%xmm0, %0\n1:\tstmxcsr %3\n\tldmxcsr %4"       \
                         : "+m"(*d) : "m"(*s), "m"(xm_resume), "m"(run_csr), "m"(default_csr) \
                         : "rax", "memory");                                       \
    }
XMOP(xm_addps, "addps") XMOP(xm_addsd, "addsd") XMOP(xm_subpd, "subpd") XMOP(xm_mulps, "mulps")
XMOP(xm_mulsd, "mulsd") XMOP(xm_divps, "divps") XMOP(xm_divsd, "divsd") XMOP(xm_sqrtps, "sqrtps")
XMOP(xm_sqrtsd, "sqrtsd") XMOP(xm_maxps, "maxps") XMOP(xm_minsd, "minsd") XMOP(xm_cvtsd2ss, "cvtsd2ss")
XMOP(xm_cvtpd2ps, "cvtpd2ps") XMOP(xm_cvtps2dq, "cvtps2dq") XMOP(xm_cvttpd2dq, "cvttpd2dq")
XMOP(xm_cmpltps, "cmpltps") XMOP(xm_cmpeqsd, "cmpeqsd") XMOP(xm_haddps, "haddps")
XMOP(xm_addsubpd, "addsubpd") XMOP(xm_dpps, "dpps $0xff,") XMOP(xm_roundsd, "roundsd $4,")
XMOP(xm_comisd, "comisd") XMOP(xm_cvtss2sd, "cvtss2sd") XMOP(xm_dppd, "dppd $0x33,")

static const struct xfam xmfams[] = {
    {"xm-addps", xm_addps, 0, 0}, {"xm-addsd", xm_addsd, 1, 0}, {"xm-subpd", xm_subpd, 1, 0},
    {"xm-mulps", xm_mulps, 0, 0}, {"xm-mulsd", xm_mulsd, 1, 0}, {"xm-divps", xm_divps, 0, 0},
    {"xm-divsd", xm_divsd, 1, 0}, {"xm-sqrtps", xm_sqrtps, 0, 0}, {"xm-sqrtsd", xm_sqrtsd, 1, 0},
    {"xm-maxps", xm_maxps, 0, 0}, {"xm-minsd", xm_minsd, 1, 0}, {"xm-cvtsd2ss", xm_cvtsd2ss, 1, 0},
    {"xm-cvtpd2ps", xm_cvtpd2ps, 1, 0}, {"xm-cvtps2dq", xm_cvtps2dq, 0, 0},
    {"xm-cvttpd2dq", xm_cvttpd2dq, 1, 0}, {"xm-cmpltps", xm_cmpltps, 0, 0},
    {"xm-cmpeqsd", xm_cmpeqsd, 1, 0}, {"xm-haddps", xm_haddps, 0, 0}, {"xm-addsubpd", xm_addsubpd, 1, 0},
    {"xm-dpps", xm_dpps, 0, 0}, {"xm-roundsd", xm_roundsd, 1, 0}, {"xm-comisd", xm_comisd, 1, 0},
    {"xm-cvtss2sd", xm_cvtss2sd, 0, 0}, {"xm-dppd", xm_dppd, 1, 0},
};

/* Each exception unmasked with probability 3/8, the rounding mode, FTZ and
 * DAZ random, the flags clear. */
static uint32_t unmasked_csr(struct fam *f)
{
    uint64_t r = rnd(f);
    uint32_t masks = 0;
    for (int i = 0; i < 6; i++)
        if ((r >> (3 * i) & 7) >= 3)
            masks |= 1u << (7 + i);
    return masks | (uint32_t)(r >> 20 & 3) << 13 | (uint32_t)(r >> 22 & 1) << 15 | (uint32_t)(r >> 23 & 1) << 6;
}

static void run_xmfam(const struct xfam *x)
{
    struct fam f;
    begin(&f, x->name);
    for (int i = 0; i < ITERS * 16; i++) {
        xmm_t d, s;
        operand(&f, &d, x->dbl);
        operand(&f, &s, x->dbl);
        run_csr = unmasked_csr(&f);
        uint64_t before = xm_caught;
        x->fn(&d, &s, 0);
        H(&f, xm_caught - before);
        H(&f, d.q[0]);
        H(&f, d.q[1]);
        H(&f, run_csr);
    }
    emit(x->name, f.h);
}

int ssefp_run(int catch_xm)
{
    for (unsigned i = 0; i < sizeof xfams / sizeof xfams[0]; i++)
        run_xfam(&xfams[i]);
    for (unsigned i = 0; i < sizeof comis / sizeof comis[0]; i++) {
        struct fam f;
        begin(&f, comis[i].name);
        for (int cfg = 0; cfg < 16; cfg++)
            for (int j = 0; j < ITERS; j++) {
                xmm_t a, b;
                operand(&f, &a, comis[i].dbl);
                operand(&f, &b, comis[i].dbl);
                if (j & 2)
                    b = a; /* equal operands */
                run_csr = csr_of(cfg, j);
                H(&f, comis[i].fn(&a, &b));
                H(&f, run_csr);
            }
        emit(comis[i].name, f.h);
    }
    for (unsigned i = 0; i < sizeof toints / sizeof toints[0]; i++) {
        struct fam f;
        begin(&f, toints[i].name);
        for (int cfg = 0; cfg < 16; cfg++)
            for (int j = 0; j < ITERS; j++) {
                xmm_t s;
                operand(&f, &s, toints[i].dbl);
                run_csr = csr_of(cfg, j);
                H(&f, toints[i].fn(&s));
                H(&f, run_csr);
            }
        emit(toints[i].name, f.h);
    }
    for (unsigned i = 0; i < sizeof fromints / sizeof fromints[0]; i++) {
        struct fam f;
        begin(&f, fromints[i].name);
        for (int cfg = 0; cfg < 16; cfg++)
            for (int j = 0; j < ITERS; j++) {
                xmm_t d;
                operand(&f, &d, 1);
                run_csr = csr_of(cfg, j);
                fromints[i].fn(&d, integer(&f), j & 1);
                H(&f, d.q[0]);
                H(&f, d.q[1]);
                H(&f, run_csr);
            }
        emit(fromints[i].name, f.h);
    }
    run_approx("rcpps", rcpps, 4, 0);
    run_approx("rcpss", rcpss, 1, 0);
    run_approx("rsqrtps", rsqrtps, 4, 1);
    run_approx("rsqrtss", rsqrtss, 1, 1);
    if (catch_xm)
        for (unsigned i = 0; i < sizeof xmfams / sizeof xmfams[0]; i++)
            run_xmfam(&xmfams[i]);
    run_csr = 0x1F80;
    __asm__ volatile("ldmxcsr %0" : : "m"(run_csr));
    return 0;
}
