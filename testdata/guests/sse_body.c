/*
 * sse_body.c - SSE/SSE2/SSE3/SSSE3/SSE4.1/SSE4.2 integer, logic, shuffle,
 * data-movement and string instruction exerciser, and MMX.
 *
 * Portable between the freestanding `sse` guest and the Linux `sse_host`
 * oracle (compiled with -msse4.2 for both): only <stdint.h>, oracle.h and
 * ex_write(); no address is ever hashed.  Every instruction runs with
 * pseudo-random operands (per-instruction xorshift64 seeded from its name)
 * in its register and memory forms, every immediate form over all 256 imm8
 * values, with random incoming status flags; the destination and RFLAGS'
 * six status flags are hashed (every instruction here either leaves the
 * flags alone or defines all six), and one line is printed per
 * instruction.  None of these instructions has an undefined result, so the
 * hashes are the same on every x86-64 CPU with SSE4.2.
 */
#include <stdint.h>
#include "sse_body.h"
#include "oracle.h"

#define ITERS 48

typedef long long v2 __attribute__((vector_size(16)));

static v2 V(uint64_t lo, uint64_t hi)
{
    v2 v = {(long long)lo, (long long)hi};
    return v;
}

static void HV(struct fam *f, v2 v)
{
    H(f, (uint64_t)v[0]);
    H(f, (uint64_t)v[1]);
}

/* Bytes that make saturation, sign and string-compare cases likely. */
static const uint8_t bspec[] = {0, 1, 2, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x41, 0x42, 0x61, 0x62, 0x7a, 0x30};

static uint64_t bytes_of(struct fam *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)bspec[rnd(f) % sizeof bspec] << (8 * i);
    return v;
}

/* An XMM operand. */
static v2 xop(struct fam *f)
{
    uint64_t x = rnd(f);
    switch (x & 7) {
    case 0:
    case 1:
        return V(bytes_of(f), bytes_of(f));
    case 2:
        return V(opnd(f), opnd(f));
    case 3:
        return V(rnd(f) & 0x8080808080808080ull, rnd(f) & 0x8000800080008000ull);
    default:
        return V(rnd(f), rnd(f));
    }
}

/* A second operand: a quarter of the time some doublewords equal a's. */
static v2 xop2(struct fam *f, v2 a)
{
    v2 b = xop(f);
    uint64_t x = rnd(f);
    if ((x & 3) == 0) {
        uint64_t m0 = ((x >> 8 & 1) ? 0xffffffffull : 0) | ((x >> 9 & 1) ? 0xffffffff00000000ull : 0);
        uint64_t m1 = ((x >> 10 & 1) ? 0xffffffffull : 0) | ((x >> 11 & 1) ? 0xffffffff00000000ull : 0);
        b = V(((uint64_t)a[0] & m0) | ((uint64_t)b[0] & ~m0), ((uint64_t)a[1] & m1) | ((uint64_t)b[1] & ~m1));
    }
    return b;
}

static void begin_op(struct fam *f, const char *name) { begin(f, name); }
static void end_op(struct fam *f, const char *name) { emit(name, f->h); }

/* ---------------------------------------------------------------------------
 * Two-operand instructions: ins src, dst in the xmm,xmm and xmm,m128 forms.
 * ------------------------------------------------------------------------- */
#define OP2(f, ins, d0, s0) do {                                                              \
        uint64_t fo_, fin_ = rflags_in(f);                                                    \
        v2 d1_ = (d0), d2_ = (d0), s_ = (s0);                                                 \
        __asm__ volatile(PRE ins " %[s], %[d]" POST : [d] "+x"(d1_), [fo] "=&r"(fo_)          \
                         : [s] "x"(s_), [fin] "r"(fin_) : "cc");                              \
        HV(f, d1_); H(f, fo_ & M_ALL);                                                        \
        __asm__ volatile(PRE ins " %[s], %[d]" POST : [d] "+x"(d2_), [fo] "=&r"(fo_)          \
                         : [s] "m"(s_), [fin] "r"(fin_) : "cc");                              \
        HV(f, d2_); H(f, fo_ & M_ALL);                                                        \
    } while (0)

#define TWO_OPS(X)                                                                             \
    X(paddb) X(paddw) X(paddd) X(paddq) X(psubb) X(psubw) X(psubd) X(psubq)                    \
    X(paddsb) X(paddsw) X(paddusb) X(paddusw) X(psubsb) X(psubsw) X(psubusb) X(psubusw)        \
    X(pmullw) X(pmulld) X(pmulhw) X(pmulhuw) X(pmulhrsw) X(pmuludq) X(pmuldq)                  \
    X(pmaddwd) X(pmaddubsw) X(pavgb) X(pavgw) X(psadbw)                                        \
    X(pminub) X(pminsb) X(pminuw) X(pminsw) X(pminud) X(pminsd)                                \
    X(pmaxub) X(pmaxsb) X(pmaxuw) X(pmaxsw) X(pmaxud) X(pmaxsd)                                \
    X(pcmpeqb) X(pcmpeqw) X(pcmpeqd) X(pcmpeqq) X(pcmpgtb) X(pcmpgtw) X(pcmpgtd) X(pcmpgtq)    \
    X(psignb) X(psignw) X(psignd) X(pabsb) X(pabsw) X(pabsd)                                   \
    X(phaddw) X(phaddd) X(phaddsw) X(phsubw) X(phsubd) X(phsubsw) X(phminposuw)                \
    X(pand) X(pandn) X(por) X(pxor) X(andps) X(andpd) X(andnps) X(andnpd)                      \
    X(orps) X(orpd) X(xorps) X(xorpd) X(ptest)                                                 \
    X(psllw) X(pslld) X(psllq) X(psrlw) X(psrld) X(psrlq) X(psraw) X(psrad)                    \
    X(pshufb) X(unpcklps) X(unpckhps) X(unpcklpd) X(unpckhpd)                                  \
    X(punpcklbw) X(punpcklwd) X(punpckldq) X(punpcklqdq)                                       \
    X(punpckhbw) X(punpckhwd) X(punpckhdq) X(punpckhqdq)                                       \
    X(packsswb) X(packssdw) X(packuswb) X(packusdw)                                            \
    X(movaps) X(movapd) X(movdqa) X(movups) X(movupd) X(movdqu) X(movsldup) X(movshdup)        \
    X(pmovsxbw) X(pmovzxbw) X(pmovsxwd) X(pmovzxwd) X(pmovsxdq) X(pmovzxdq)

/* Shift counts in the low quadword: mostly small, sometimes past the width. */
static v2 shift_count(struct fam *f, const char *name)
{
    uint64_t x = rnd(f);
    if (name[0] == 'p' && name[1] == 's' && (x & 3) != 0)
        return V(x >> 58, rnd(f));
    return xop(f);
}

#define DEF_TWO(name)                                                                          \
    static void t_##name(void)                                                                 \
    {                                                                                          \
        struct fam f;                                                                          \
        begin_op(&f, #name);                                                                   \
        for (int i = 0; i < ITERS; i++) {                                                      \
            v2 a = xop(&f);                                                                    \
            v2 b = xop2(&f, a);                                                                \
            if (#name[1] == 's' && (#name[2] == 'l' || #name[2] == 'r'))                       \
                b = shift_count(&f, #name);                                                    \
            OP2(&f, #name, a, b);                                                              \
        }                                                                                      \
        end_op(&f, #name);                                                                     \
    }
TWO_OPS(DEF_TWO)

/* The narrower PMOVSX/ZX forms read m32 or m16 from memory: same macro, the
 * asm template names the operand size through the instruction. */
#define NARROW_OPS(X) X(pmovsxbd) X(pmovzxbd) X(pmovsxbq) X(pmovzxbq) X(pmovsxwq) X(pmovzxwq) \
    X(movddup)
#define DEF_NARROW(name)                                                                       \
    static void t_##name(void)                                                                 \
    {                                                                                          \
        struct fam f;                                                                          \
        begin_op(&f, #name);                                                                   \
        for (int i = 0; i < ITERS; i++) {                                                      \
            v2 a = xop(&f), b = xop(&f);                                                       \
            uint64_t fo_, fin_ = rflags_in(&f), m = (uint64_t)b[0];                            \
            v2 d1 = a, d2 = a;                                                                 \
            __asm__ volatile(PRE #name " %[s], %[d]" POST : [d] "+x"(d1), [fo] "=&r"(fo_)      \
                             : [s] "x"(b), [fin] "r"(fin_) : "cc");                            \
            HV(&f, d1); H(&f, fo_ & M_ALL);                                                    \
            __asm__ volatile(PRE #name " %[s], %[d]" POST : [d] "+x"(d2), [fo] "=&r"(fo_)      \
                             : [s] "m"(m), [fin] "r"(fin_) : "cc");                            \
            HV(&f, d2); H(&f, fo_ & M_ALL);                                                    \
        }                                                                                      \
        end_op(&f, #name);                                                                     \
    }
NARROW_OPS(DEF_NARROW)

/* BLENDVPS, BLENDVPD, PBLENDVB: the selector is XMM0. */
#define BLENDV_OPS(X) X(blendvps) X(blendvpd) X(pblendvb)
#define DEF_BLENDV(name)                                                                       \
    static void t_##name(void)                                                                 \
    {                                                                                          \
        struct fam f;                                                                          \
        begin_op(&f, #name);                                                                   \
        for (int i = 0; i < ITERS; i++) {                                                      \
            v2 a = xop(&f), b = xop(&f), m = xop(&f);                                          \
            uint64_t fo_, fin_ = rflags_in(&f);                                                \
            v2 d1 = a, d2 = a;                                                                 \
            __asm__ volatile(PRE #name " %[m], %[s], %[d]" POST : [d] "+x"(d1), [fo] "=&r"(fo_) \
                             : [s] "x"(b), [m] "Yz"(m), [fin] "r"(fin_) : "cc");               \
            HV(&f, d1); H(&f, fo_ & M_ALL);                                                    \
            __asm__ volatile(PRE #name " %[m], %[s], %[d]" POST : [d] "+x"(d2), [fo] "=&r"(fo_) \
                             : [s] "m"(b), [m] "Yz"(m), [fin] "r"(fin_) : "cc");               \
            HV(&f, d2); H(&f, fo_ & M_ALL);                                                    \
        }                                                                                      \
        end_op(&f, #name);                                                                     \
    }
BLENDV_OPS(DEF_BLENDV)

/* ---------------------------------------------------------------------------
 * Immediate forms: every imm8 value, register and memory source.
 * ------------------------------------------------------------------------- */
#define R4(X, b)   X(b) X((b) + 1) X((b) + 2) X((b) + 3)
#define R16(X, b)  R4(X, b) R4(X, (b) + 4) R4(X, (b) + 8) R4(X, (b) + 12)
#define R64(X, b)  R16(X, b) R16(X, (b) + 16) R16(X, (b) + 32) R16(X, (b) + 48)
#define R256(X)    R64(X, 0) R64(X, 64) R64(X, 128) R64(X, 192)

/* ins $imm, src, dst with dst += xmm, src xmm or m128 (INS is defined
 * around each use). */
#define IMM_CASE(i)                                                                            \
    case (i):                                                                                  \
        __asm__ volatile(PRE INS " %[im], %[s], %[d]" POST : [d] "+x"(*d1), [fo] "=&r"(*fo1)   \
                         : [s] "x"(s), [im] "i"(i), [fin] "r"(fin) : "cc");                    \
        __asm__ volatile(PRE INS " %[im], %[s], %[d]" POST : [d] "+x"(*d2), [fo] "=&r"(*fo2)   \
                         : [s] "m"(s), [im] "i"(i), [fin] "r"(fin) : "cc");                    \
        break;
#define IMM_FN(fn)                                                                             \
    static void fn(int imm, v2 s, v2 *d1, v2 *d2, uint64_t fin, uint64_t *fo1, uint64_t *fo2) \
    {                                                                                          \
        switch (imm) { R256(IMM_CASE) }                                                        \
    }

#define INS "pshufd"
IMM_FN(i_pshufd)
#undef INS
#define INS "pshufhw"
IMM_FN(i_pshufhw)
#undef INS
#define INS "pshuflw"
IMM_FN(i_pshuflw)
#undef INS
#define INS "shufps"
IMM_FN(i_shufps)
#undef INS
#define INS "shufpd"
IMM_FN(i_shufpd)
#undef INS
#define INS "palignr"
IMM_FN(i_palignr)
#undef INS
#define INS "blendps"
IMM_FN(i_blendps)
#undef INS
#define INS "blendpd"
IMM_FN(i_blendpd)
#undef INS
#define INS "pblendw"
IMM_FN(i_pblendw)
#undef INS
#define INS "mpsadbw"
IMM_FN(i_mpsadbw)
#undef INS
#define INS "insertps"
IMM_FN(i_insertps)
#undef INS

typedef void (*immfn)(int, v2, v2 *, v2 *, uint64_t, uint64_t *, uint64_t *);

static void run_imm(const char *name, immfn fn)
{
    struct fam f;
    begin_op(&f, name);
    for (int imm = 0; imm < 256; imm++) {
        for (int k = 0; k < 3; k++) {
            v2 a = xop(&f), s = xop2(&f, a), d1 = a, d2 = a;
            uint64_t fo1, fo2;
            fn(imm, s, &d1, &d2, rflags_in(&f), &fo1, &fo2);
            HV(&f, d1); HV(&f, d2);
            H(&f, fo1 & M_ALL); H(&f, fo2 & M_ALL);
        }
    }
    end_op(&f, name);
}

/* Shifts by an immediate of a register (66 0F 71-73). */
#define SHIFT_CASE(i)                                                                          \
    case (i):                                                                                  \
        __asm__ volatile(PRE INS " %[im], %[d]" POST : [d] "+x"(*d), [fo] "=&r"(*fo)           \
                         : [im] "i"(i), [fin] "r"(fin) : "cc");                                \
        break;
#define SHIFT_FN(fn)                                                                           \
    static void fn(int imm, v2 *d, uint64_t fin, uint64_t *fo) { switch (imm) { R256(SHIFT_CASE) } }

#define INS "psllw"
SHIFT_FN(s_psllw)
#undef INS
#define INS "pslld"
SHIFT_FN(s_pslld)
#undef INS
#define INS "psllq"
SHIFT_FN(s_psllq)
#undef INS
#define INS "psrlw"
SHIFT_FN(s_psrlw)
#undef INS
#define INS "psrld"
SHIFT_FN(s_psrld)
#undef INS
#define INS "psrlq"
SHIFT_FN(s_psrlq)
#undef INS
#define INS "psraw"
SHIFT_FN(s_psraw)
#undef INS
#define INS "psrad"
SHIFT_FN(s_psrad)
#undef INS
#define INS "pslldq"
SHIFT_FN(s_pslldq)
#undef INS
#define INS "psrldq"
SHIFT_FN(s_psrldq)
#undef INS

typedef void (*shiftfn)(int, v2 *, uint64_t, uint64_t *);

static void run_shift(const char *name, shiftfn fn)
{
    struct fam f;
    begin_op(&f, name);
    for (int imm = 0; imm < 256; imm++) {
        v2 d = xop(&f);
        uint64_t fo;
        fn(imm, &d, rflags_in(&f), &fo);
        HV(&f, d);
        H(&f, fo & M_ALL);
    }
    end_op(&f, name);
}

/* ---------------------------------------------------------------------------
 * Moves between XMM registers, general registers and memory.
 * ------------------------------------------------------------------------- */
static uint8_t buf[64] __attribute__((aligned(16)));

static void fill_buf(struct fam *f)
{
    for (int i = 0; i < 64; i += 8) {
        uint64_t v = rnd(f);
        for (int k = 0; k < 8; k++)
            buf[i + k] = (uint8_t)(v >> (8 * k));
    }
}

static void hash_buf(struct fam *f)
{
    for (int i = 0; i < 64; i += 8) {
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v |= (uint64_t)buf[i + k] << (8 * k);
        H(f, v);
    }
}

/* One instruction with a general-register or memory operand: the template
 * uses %[x] (an XMM register, read and written), %[r] (a 64-bit general
 * register, read and written) and %[m] (16 bytes of buf at offset off). */
#define GM(f, tmpl, off) do {                                                                  \
        v2 x_ = xop(f);                                                                        \
        uint64_t r_ = rnd(f), fo_, fin_ = rflags_in(f);                                        \
        __asm__ volatile(PRE tmpl POST : [x] "+x"(x_), [r] "+r"(r_), [fo] "=&r"(fo_),          \
                         [m] "+m"(*(v2 *)(buf + (off)))                                        \
                         : [fin] "r"(fin_) : "cc");                                            \
        HV(f, x_); H(f, r_); H(f, fo_ & M_ALL);                                                \
    } while (0)

static void t_moves(void)
{
    struct fam f;
    begin_op(&f, "moves");
    for (int i = 0; i < ITERS; i++) {
        fill_buf(&f);
        GM(&f, "movd %k[r], %[x]", 0);
        GM(&f, "movq %[r], %[x]", 0);
        GM(&f, "movd %[x], %k[r]", 0);
        GM(&f, "movq %[x], %[r]", 0);
        GM(&f, "movd %[m], %[x]", 4);
        GM(&f, "movd %[x], %[m]", 4);
        GM(&f, "movq %[m], %[x]", 8);
        GM(&f, "movq %[x], %[m]", 8);
        GM(&f, "movq %[x], %%xmm15\n\tmovq %%xmm15, %[x]", 0);
        GM(&f, "movss %[m], %[x]", 4);
        GM(&f, "movss %[x], %[m]", 4);
        GM(&f, "movsd %[m], %[x]", 8);
        GM(&f, "movsd %[x], %[m]", 8);
        GM(&f, "movss %[x], %%xmm15\n\tmovq %[r], %%xmm14\n\tmovss %%xmm14, %[x]", 0);
        GM(&f, "movsd %[x], %%xmm15\n\tmovq %[r], %%xmm14\n\tmovsd %%xmm14, %[x]", 0);
        GM(&f, "movlps %[m], %[x]", 8);
        GM(&f, "movhps %[m], %[x]", 8);
        GM(&f, "movlpd %[m], %[x]", 8);
        GM(&f, "movhpd %[m], %[x]", 8);
        GM(&f, "movlps %[x], %[m]", 8);
        GM(&f, "movhps %[x], %[m]", 8);
        GM(&f, "movlpd %[x], %[m]", 8);
        GM(&f, "movhpd %[x], %[m]", 8);
        GM(&f, "movq %[r], %%xmm14\n\tmovhlps %%xmm14, %[x]", 0);
        GM(&f, "movq %[r], %%xmm14\n\tmovlhps %%xmm14, %[x]", 0);
        GM(&f, "movddup %[m], %[x]", 8);
        GM(&f, "movdqa %[x], %[m]", 16);
        GM(&f, "movaps %[x], %[m]", 0);
        GM(&f, "movapd %[x], %[m]", 32);
        GM(&f, "movntdq %[x], %[m]", 16);
        GM(&f, "movntps %[x], %[m]", 0);
        GM(&f, "movntpd %[x], %[m]", 32);
        GM(&f, "movntdqa %[m], %[x]", 16);
        GM(&f, "pmovmskb %[x], %k[r]", 0);
        GM(&f, "pmovmskb %[x], %[r]", 0);
        GM(&f, "movmskps %[x], %k[r]", 0);
        GM(&f, "movmskps %[x], %[r]", 0);
        GM(&f, "movmskpd %[x], %k[r]", 0);
        GM(&f, "movmskpd %[x], %[r]", 0);
        for (int off = 1; off < 16; off += 5) {
            /* Unaligned loads and stores. */
            switch (off) {
            case 1:
                GM(&f, "movdqu %[m], %[x]", 1);
                GM(&f, "movups %[x], %[m]", 1);
                GM(&f, "lddqu %[m], %[x]", 1);
                break;
            case 6:
                GM(&f, "movupd %[m], %[x]", 6);
                GM(&f, "movdqu %[x], %[m]", 6);
                GM(&f, "pcmpeqb %%xmm15, %%xmm15\n\tmovq %[r], %%xmm14\n\t"
                       "lea %[m], %%rdi\n\tmaskmovdqu %%xmm14, %[x]", 6);
                break;
            default:
                GM(&f, "movups %[m], %[x]", 11);
                GM(&f, "movupd %[x], %[m]", 11);
                break;
            }
        }
        hash_buf(&f);
    }
    end_op(&f, "moves");
}

/* Inserts and extracts with every index: %[i] is the immediate. */
#define XI_CASE(n)                                                                             \
    case (n):                                                                                  \
        __asm__ volatile(PRE INS POST : [x] "+x"(*x), [r] "+r"(*r), [fo] "=&r"(*fo),           \
                         [m] "+m"(*(v2 *)buf) : [i] "i"(n), [fin] "r"(fin) : "cc");            \
        break;
#define XI_FN(fn)                                                                              \
    static void fn(int imm, v2 *x, uint64_t *r, uint64_t fin, uint64_t *fo) { switch (imm) { R256(XI_CASE) } }

#define INS "pextrb %[i], %[x], %k[r]"
XI_FN(x_pextrb_r)
#undef INS
#define INS "pextrb %[i], %[x], %[m]"
XI_FN(x_pextrb_m)
#undef INS
#define INS "pextrw %[i], %[x], %k[r]"
XI_FN(x_pextrw_r)
#undef INS
#define INS "pextrw %[i], %[x], %[m]"
XI_FN(x_pextrw_m)
#undef INS
#define INS "pextrd %[i], %[x], %k[r]"
XI_FN(x_pextrd_r)
#undef INS
#define INS "pextrd %[i], %[x], %[m]"
XI_FN(x_pextrd_m)
#undef INS
#define INS "pextrq %[i], %[x], %[r]"
XI_FN(x_pextrq_r)
#undef INS
#define INS "pextrq %[i], %[x], %[m]"
XI_FN(x_pextrq_m)
#undef INS
#define INS "extractps %[i], %[x], %k[r]"
XI_FN(x_extractps_r)
#undef INS
#define INS "extractps %[i], %[x], %[m]"
XI_FN(x_extractps_m)
#undef INS
#define INS "pinsrb %[i], %k[r], %[x]"
XI_FN(x_pinsrb_r)
#undef INS
#define INS "pinsrb %[i], %[m], %[x]"
XI_FN(x_pinsrb_m)
#undef INS
#define INS "pinsrw %[i], %k[r], %[x]"
XI_FN(x_pinsrw_r)
#undef INS
#define INS "pinsrw %[i], %[m], %[x]"
XI_FN(x_pinsrw_m)
#undef INS
#define INS "pinsrd %[i], %k[r], %[x]"
XI_FN(x_pinsrd_r)
#undef INS
#define INS "pinsrd %[i], %[m], %[x]"
XI_FN(x_pinsrd_m)
#undef INS
#define INS "pinsrq %[i], %[r], %[x]"
XI_FN(x_pinsrq_r)
#undef INS
#define INS "pinsrq %[i], %[m], %[x]"
XI_FN(x_pinsrq_m)
#undef INS
#define INS "movq %[r], %%xmm14\n\tinsertps %[i], %%xmm14, %[x]"
XI_FN(x_insertps_r)
#undef INS
#define INS "insertps %[i], %[m], %[x]"
XI_FN(x_insertps_m)
#undef INS

typedef void (*xifn)(int, v2 *, uint64_t *, uint64_t, uint64_t *);

static void run_xi(const char *name, xifn fn)
{
    struct fam f;
    begin_op(&f, name);
    for (int imm = 0; imm < 256; imm++) {
        fill_buf(&f);
        v2 x = xop(&f);
        uint64_t r = rnd(&f), fo;
        fn(imm, &x, &r, rflags_in(&f), &fo);
        HV(&f, x); H(&f, r); H(&f, fo & M_ALL);
        hash_buf(&f);
    }
    end_op(&f, name);
}

/* ---------------------------------------------------------------------------
 * SSE4.2 string compares, every mode (imm8 bits 0-6).
 * ------------------------------------------------------------------------- */
/* A string operand: characters from a small alphabet, with zeros. */
static v2 str_op(struct fam *f)
{
    static const uint8_t alpha[] = {'a', 'b', 'c', 'a', 'b', 0, 0x80, 0xff, 'z', 'A', '0', 1};
    uint64_t w[2];
    uint64_t x = rnd(f);
    if ((x & 7) == 0)
        return xop(f);
    for (int q = 0; q < 2; q++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) {
            uint8_t c = alpha[rnd(f) % sizeof alpha];
            if ((x & 8) && c == 0)
                c = 'q'; /* often no terminator at all */
            v |= (uint64_t)c << (8 * i);
        }
        w[q] = v;
    }
    return V(w[0], w[1]);
}

/* An explicit length: small signed values, sometimes huge. */
static uint64_t str_len(struct fam *f)
{
    uint64_t x = rnd(f);
    switch (x & 7) {
    case 0:
        return opnd(f);
    case 1:
        return (x >> 8) | 0x80000000ull;
    default:
        return (uint64_t)((int64_t)(x >> 32) % 21);
    }
}

#define STR_CASE(i)                                                                            \
    case (i):                                                                                  \
        __asm__ volatile(PRE "pcmpestri %[im], %[s], %[d]" POST                               \
                         : "=c"(o->ecx[0]), [fo] "=&r"(o->f[0])                                \
                         : [d] "x"(a), [s] "x"(b), "a"(la), "d"(lb), [im] "i"(i), [fin] "r"(fin) \
                         : "cc");                                                              \
        __asm__ volatile(PRE "pcmpestriq %[im], %[s], %[d]" POST                              \
                         : "=c"(o->ecx[1]), [fo] "=&r"(o->f[1])                                \
                         : [d] "x"(a), [s] "m"(b), "a"(la), "d"(lb), [im] "i"(i), [fin] "r"(fin) \
                         : "cc");                                                              \
        __asm__ volatile(PRE "pcmpistri %[im], %[s], %[d]" POST                               \
                         : "=c"(o->ecx[2]), [fo] "=&r"(o->f[2])                                \
                         : [d] "x"(a), [s] "x"(b), [im] "i"(i), [fin] "r"(fin) : "cc");        \
        __asm__ volatile(PRE "pcmpestrm %[im], %[s], %[d]" POST                               \
                         : "=Yz"(o->m[0]), [fo] "=&r"(o->f[3])                                 \
                         : [d] "x"(a), [s] "x"(b), "a"(la), "d"(lb), [im] "i"(i), [fin] "r"(fin) \
                         : "cc");                                                              \
        __asm__ volatile(PRE "pcmpistrm %[im], %[s], %[d]" POST                               \
                         : "=Yz"(o->m[1]), [fo] "=&r"(o->f[4])                                 \
                         : [d] "x"(a), [s] "m"(b), [im] "i"(i), [fin] "r"(fin) : "cc");        \
        break;

struct str_out {
    uint64_t ecx[3], f[5];
    v2 m[2];
};

static void str_run(int imm, v2 a, v2 b, uint64_t la, uint64_t lb, uint64_t fin, struct str_out *o)
{
    switch (imm) { R64(STR_CASE, 0) R64(STR_CASE, 64) }
}

/* One hash per form (fam[0..4]: pcmpestri, pcmpestriq with m128,
 * pcmpistri, pcmpestrm, pcmpistrm with m128), operands from fam[5]. */
static void t_pcmpstr(void)
{
    static const char *names[] = {"pcmpestri", "pcmpestriq-m", "pcmpistri", "pcmpestrm", "pcmpistrm-m"};
    struct fam f[6];
    for (int j = 0; j < 5; j++)
        begin_op(&f[j], names[j]);
    begin_op(&f[5], "pcmpxstrx");
    for (int imm = 0; imm < 128; imm++) {
        for (int k = 0; k < 8; k++) {
            v2 a = str_op(&f[5]), b = (rnd(&f[5]) & 3) ? str_op(&f[5]) : a;
            uint64_t la = str_len(&f[5]), lb = str_len(&f[5]);
            struct str_out o;
            str_run(imm, a, b, la, lb, rflags_in(&f[5]), &o);
            for (int j = 0; j < 3; j++)
                H(&f[j], o.ecx[j]);
            for (int j = 0; j < 5; j++)
                H(&f[j], o.f[j] & M_ALL);
            HV(&f[3], o.m[0]);
            HV(&f[4], o.m[1]);
        }
    }
    for (int j = 0; j < 5; j++)
        end_op(&f[j], names[j]);
}

/* ---------------------------------------------------------------------------
 * CRC32 and MXCSR.
 * ------------------------------------------------------------------------- */
static void t_crc32(void)
{
    struct fam f;
    begin_op(&f, "crc32");
    for (int i = 0; i < ITERS * 4; i++) {
        fill_buf(&f);
        uint64_t c = opnd(&f), s = opnd(&f), d, fo, fin = rflags_in(&f);
        d = c; __asm__ volatile(PRE "crc32b %b[s], %k[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [s] "q"(s), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32w %w[s], %k[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [s] "r"(s), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32l %k[s], %k[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [s] "r"(s), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32q %[s], %[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [s] "r"(s), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32b %[m], %[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [m] "m"(buf[3]), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32q %[m], %[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [m] "m"(*(uint64_t *)(buf + 8)), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
        d = c; __asm__ volatile(PRE "crc32b %b[s], %[d]" POST : [d] "+r"(d), [fo] "=&r"(fo) : [s] "r"(s), [fin] "r"(fin) : "cc");
        H(&f, d); H(&f, fo & M_ALL);
    }
    end_op(&f, "crc32");
}

static void t_mxcsr(void)
{
    struct fam f;
    begin_op(&f, "ldmxcsr-stmxcsr");
    uint32_t saved, v, out;
    __asm__ volatile("stmxcsr %0" : "=m"(saved));
    H(&f, saved);
    for (int i = 0; i < ITERS; i++) {
        v = (uint32_t)rnd(&f) & 0xffbf; /* DAZ (bit 6) may be absent on old CPUs */
        __asm__ volatile("ldmxcsr %1\n\tstmxcsr %0" : "=m"(out) : "m"(v));
        H(&f, out);
    }
    __asm__ volatile("ldmxcsr %0" : : "m"(saved));
    end_op(&f, "ldmxcsr-stmxcsr");
}


/* ---------------------------------------------------------------------------
 * MMX: the integer instructions on MMX registers (register and m64 forms),
 * moves, shuffles, shifts by immediates, and the x87 state MMX leaves (TOP
 * and tag word from FNSTENV).  Each function ends with EMMS.
 * ------------------------------------------------------------------------- */
#define MMX_OPS(X)                                                                             \
    X(paddb) X(paddw) X(paddd) X(paddq) X(psubb) X(psubw) X(psubd) X(psubq)                    \
    X(paddsb) X(paddsw) X(paddusb) X(paddusw) X(psubsb) X(psubsw) X(psubusb) X(psubusw)        \
    X(pmullw) X(pmulhw) X(pmulhuw) X(pmulhrsw) X(pmuludq) X(pmaddwd) X(pmaddubsw)              \
    X(pavgb) X(pavgw) X(psadbw) X(pminub) X(pminsw) X(pmaxub) X(pmaxsw)                        \
    X(pcmpeqb) X(pcmpeqw) X(pcmpeqd) X(pcmpgtb) X(pcmpgtw) X(pcmpgtd)                          \
    X(psignb) X(psignw) X(psignd) X(pabsb) X(pabsw) X(pabsd)                                   \
    X(phaddw) X(phaddd) X(phaddsw) X(phsubw) X(phsubd) X(phsubsw)                              \
    X(pand) X(pandn) X(por) X(pxor) X(psllw) X(pslld) X(psllq) X(psrlw) X(psrld) X(psrlq)      \
    X(psraw) X(psrad) X(pshufb) X(punpcklbw) X(punpcklwd) X(punpckldq)                         \
    X(punpckhbw) X(punpckhwd) X(punpckhdq) X(packsswb) X(packssdw) X(packuswb)

/* The x87 state MMX code leaves, TOP and the full tag word (FNSTENV), folded
 * into a line of its own (QEMU 7.2 computes FNSTENV's tags of MMX-written
 * registers differently from Intel CPUs: see scripts/qemu-check.sh). */
static struct fam x87st;

static void hash_x87_state(void)
{
    uint16_t env[14];
    __asm__ volatile("fnstenv %0" : "=m"(env));
    H(&x87st, (uint64_t)(env[2] >> 11 & 7) << 16 | env[4]);
}

#define DEF_MMX(name)                                                                          \
    static void m_##name(void)                                                                 \
    {                                                                                          \
        struct fam f;                                                                          \
        begin_op(&f, "mmx-" #name);                                                           \
        for (int i = 0; i < ITERS; i++) {                                                      \
            v2 x = xop(&f), y = xop2(&f, x);                                                   \
            uint64_t a = (uint64_t)x[0], b = (uint64_t)y[0], d1 = a, d2 = a, fo_;              \
            uint64_t fin_ = rflags_in(&f);                                                     \
            if (#name[1] == 's' && (#name[2] == 'l' || #name[2] == 'r') && (rnd(&f) & 3))      \
                b = rnd(&f) >> 58;                                                             \
            __asm__ volatile(PRE #name " %[s], %[d]" POST : [d] "+y"(d1), [fo] "=&r"(fo_)      \
                             : [s] "y"(b), [fin] "r"(fin_) : "cc");                            \
            H(&f, d1); H(&f, fo_ & M_ALL);                                                     \
            __asm__ volatile(PRE #name " %[s], %[d]" POST : [d] "+y"(d2), [fo] "=&r"(fo_)      \
                             : [s] "m"(b), [fin] "r"(fin_) : "cc");                            \
            H(&f, d2); H(&f, fo_ & M_ALL);                                                     \
        }                                                                                      \
        hash_x87_state();                                                                    \
        __asm__ volatile("emms");                                                              \
        hash_x87_state();                                                                    \
        end_op(&f, "mmx-" #name);                                                             \
    }
MMX_OPS(DEF_MMX)

/* Immediate forms on MMX registers, every imm8 (INS is defined around each
 * use; the template uses %[d] (read and written), %[s] and %[m]). */
#define MMX_IMM_CASE(n)                                                                        \
    case (n):                                                                                  \
        __asm__ volatile(INS : [d] "+y"(*d), [r] "+r"(*r), [m] "+m"(*(uint64_t *)buf)          \
                         : [s] "y"(s), [i] "i"(n));                                            \
        break;
#define MMX_IMM_FN(fn)                                                                         \
    static void fn(int imm, uint64_t *d, uint64_t s, uint64_t *r) { switch (imm) { R256(MMX_IMM_CASE) } }

#define INS "pshufw %[i], %[s], %[d]"
MMX_IMM_FN(mi_pshufw)
#undef INS
#define INS "pshufw %[i], %[m], %[d]"
MMX_IMM_FN(mi_pshufw_m)
#undef INS
#define INS "palignr %[i], %[s], %[d]"
MMX_IMM_FN(mi_palignr)
#undef INS
#define INS "palignr %[i], %[m], %[d]"
MMX_IMM_FN(mi_palignr_m)
#undef INS
#define INS "psllw %[i], %[d]"
MMX_IMM_FN(mi_psllw)
#undef INS
#define INS "pslld %[i], %[d]"
MMX_IMM_FN(mi_pslld)
#undef INS
#define INS "psllq %[i], %[d]"
MMX_IMM_FN(mi_psllq)
#undef INS
#define INS "psrlw %[i], %[d]"
MMX_IMM_FN(mi_psrlw)
#undef INS
#define INS "psrld %[i], %[d]"
MMX_IMM_FN(mi_psrld)
#undef INS
#define INS "psrlq %[i], %[d]"
MMX_IMM_FN(mi_psrlq)
#undef INS
#define INS "psraw %[i], %[d]"
MMX_IMM_FN(mi_psraw)
#undef INS
#define INS "psrad %[i], %[d]"
MMX_IMM_FN(mi_psrad)
#undef INS
#define INS "pinsrw %[i], %k[r], %[d]"
MMX_IMM_FN(mi_pinsrw)
#undef INS
#define INS "pinsrw %[i], %[m], %[d]"
MMX_IMM_FN(mi_pinsrw_m)
#undef INS
#define INS "pextrw %[i], %[s], %k[r]"
MMX_IMM_FN(mi_pextrw)
#undef INS

typedef void (*mmxfn)(int, uint64_t *, uint64_t, uint64_t *);

static void run_mmx_imm(const char *name, mmxfn fn)
{
    struct fam f;
    begin_op(&f, name);
    for (int imm = 0; imm < 256; imm++) {
        fill_buf(&f);
        v2 x = xop(&f), y = xop2(&f, x);
        uint64_t d = (uint64_t)x[0], r = rnd(&f);
        fn(imm, &d, (uint64_t)y[0], &r);
        H(&f, d); H(&f, r);
        hash_buf(&f);
    }
    hash_x87_state();
    __asm__ volatile("emms");
    end_op(&f, name);
}

/* Moves between MMX registers, general registers, XMM registers and memory. */
#define MM(f, tmpl) do {                                                                       \
        v2 x_ = xop(f);                                                                        \
        uint64_t d_ = rnd(f), r_ = rnd(f);                                                     \
        __asm__ volatile(tmpl : [d] "+y"(d_), [r] "+r"(r_), [x] "+x"(x_),                      \
                         [m] "+m"(*(uint64_t *)(buf + 8)) : : "rdi");                          \
        H(f, d_); H(f, r_); HV(f, x_);                                                         \
    } while (0)

/* The conversions between MMX int32 pairs and SSE floats, in every rounding
 * mode (exceptions masked; the flags are hashed). */
#define CV(f, tmpl) do {                                                                       \
        v2 x_ = xop(f);                                                                        \
        uint64_t d_ = (rnd(f) & 1) ? rnd(f) : (uint64_t)xop(f)[0];                             \
        v2 mv_ = xop(f);                                                                       \
        uint32_t csr_ = 0x1f80 | (uint32_t)(rnd(f) & 3) << 13, out_;                           \
        __asm__ volatile("ldmxcsr %[c]\n\t" tmpl "\n\tstmxcsr %[o]"                           \
                         : [d] "+y"(d_), [x] "+x"(x_), [o] "=m"(out_)                          \
                         : [c] "m"(csr_), [m] "m"(mv_));                                      \
        H(f, d_); HV(f, x_); H(f, out_);                                                       \
    } while (0)

static void m_cvt(void)
{
    struct fam f;
    uint32_t saved;
    __asm__ volatile("stmxcsr %0" : "=m"(saved));
    begin_op(&f, "mmx-cvt");
    for (int i = 0; i < ITERS * 4; i++) {
        CV(&f, "cvtpi2ps %[d], %[x]");
        CV(&f, "cvtpi2ps %q[m], %[x]");
        CV(&f, "cvtpi2pd %[d], %[x]");
        CV(&f, "cvtpi2pd %q[m], %[x]");
        CV(&f, "cvtps2pi %[x], %[d]");
        CV(&f, "cvtps2pi %q[m], %[d]");
        CV(&f, "cvttps2pi %[x], %[d]");
        CV(&f, "cvttps2pi %q[m], %[d]");
        CV(&f, "cvtpd2pi %[x], %[d]");
        CV(&f, "cvtpd2pi %[m], %[d]");
        CV(&f, "cvttpd2pi %[x], %[d]");
        CV(&f, "cvttpd2pi %[m], %[d]");
    }
    hash_x87_state();
    __asm__ volatile("emms\n\tldmxcsr %0" : : "m"(saved));
    end_op(&f, "mmx-cvt");
}

static void m_moves(void)
{
    struct fam f;
    begin_op(&f, "mmx-moves");
    for (int i = 0; i < ITERS; i++) {
        fill_buf(&f);
        MM(&f, "movd %k[r], %[d]");
        MM(&f, "movq %[r], %[d]");
        MM(&f, "movd %[d], %k[r]");
        MM(&f, "movq %[d], %[r]");
        MM(&f, "movd %[m], %[d]");
        MM(&f, "movd %[d], %[m]");
        MM(&f, "movq %[m], %[d]");
        MM(&f, "movq %[d], %[m]");
        MM(&f, "movq %[d], %%mm7\n\tmovq %[r], %[d]\n\tmovq %%mm7, %[d]");
        MM(&f, "movntq %[d], %[m]");
        MM(&f, "pmovmskb %[d], %k[r]");
        MM(&f, "movq2dq %[d], %[x]");
        MM(&f, "movdq2q %[x], %[d]");
        MM(&f, "movq %[r], %%mm6\n\tlea %[m], %%rdi\n\tmaskmovq %%mm6, %[d]");
        hash_buf(&f);
    }
    hash_x87_state();
    __asm__ volatile("emms");
    hash_x87_state();
    end_op(&f, "mmx-moves");
}

/* ---------------------------------------------------------------------------
 * Driver.
 * ------------------------------------------------------------------------- */
int sse_run(void)
{
    out_str("sse: SSE-SSE4.2 integer, logic, shuffle, move and string instructions\n");
#define CALL(name) t_##name();
#define CALLM(name) m_##name();
    TWO_OPS(CALL)
    NARROW_OPS(CALL)
    BLENDV_OPS(CALL)
    run_imm("pshufd", i_pshufd);
    run_imm("pshufhw", i_pshufhw);
    run_imm("pshuflw", i_pshuflw);
    run_imm("shufps", i_shufps);
    run_imm("shufpd", i_shufpd);
    run_imm("palignr", i_palignr);
    run_imm("blendps", i_blendps);
    run_imm("blendpd", i_blendpd);
    run_imm("pblendw", i_pblendw);
    run_imm("mpsadbw", i_mpsadbw);
    run_imm("insertps", i_insertps);
    run_shift("psllw-imm", s_psllw);
    run_shift("pslld-imm", s_pslld);
    run_shift("psllq-imm", s_psllq);
    run_shift("psrlw-imm", s_psrlw);
    run_shift("psrld-imm", s_psrld);
    run_shift("psrlq-imm", s_psrlq);
    run_shift("psraw-imm", s_psraw);
    run_shift("psrad-imm", s_psrad);
    run_shift("pslldq", s_pslldq);
    run_shift("psrldq", s_psrldq);
    t_moves();
    run_xi("pextrb-r", x_pextrb_r);
    run_xi("pextrb-m", x_pextrb_m);
    run_xi("pextrw-r", x_pextrw_r);
    run_xi("pextrw-m", x_pextrw_m);
    run_xi("pextrd-r", x_pextrd_r);
    run_xi("pextrd-m", x_pextrd_m);
    run_xi("pextrq-r", x_pextrq_r);
    run_xi("pextrq-m", x_pextrq_m);
    run_xi("extractps-r", x_extractps_r);
    run_xi("extractps-m", x_extractps_m);
    run_xi("pinsrb-r", x_pinsrb_r);
    run_xi("pinsrb-m", x_pinsrb_m);
    run_xi("pinsrw-r", x_pinsrw_r);
    run_xi("pinsrw-m", x_pinsrw_m);
    run_xi("pinsrd-r", x_pinsrd_r);
    run_xi("pinsrd-m", x_pinsrd_m);
    run_xi("pinsrq-r", x_pinsrq_r);
    run_xi("pinsrq-m", x_pinsrq_m);
    run_xi("insertps-r", x_insertps_r);
    run_xi("insertps-m", x_insertps_m);
    t_pcmpstr();
    t_crc32();
    t_mxcsr();
    begin_op(&x87st, "mmx-x87-state");
    MMX_OPS(CALLM)
    run_mmx_imm("mmx-pshufw", mi_pshufw);
    run_mmx_imm("mmx-pshufw-m", mi_pshufw_m);
    run_mmx_imm("mmx-palignr", mi_palignr);
    run_mmx_imm("mmx-palignr-m", mi_palignr_m);
    run_mmx_imm("mmx-psllw-imm", mi_psllw);
    run_mmx_imm("mmx-pslld-imm", mi_pslld);
    run_mmx_imm("mmx-psllq-imm", mi_psllq);
    run_mmx_imm("mmx-psrlw-imm", mi_psrlw);
    run_mmx_imm("mmx-psrld-imm", mi_psrld);
    run_mmx_imm("mmx-psrlq-imm", mi_psrlq);
    run_mmx_imm("mmx-psraw-imm", mi_psraw);
    run_mmx_imm("mmx-psrad-imm", mi_psrad);
    run_mmx_imm("mmx-pinsrw", mi_pinsrw);
    run_mmx_imm("mmx-pinsrw-m", mi_pinsrw_m);
    run_mmx_imm("mmx-pextrw", mi_pextrw);
    m_moves();
    m_cvt();
    end_op(&x87st, "mmx-x87-state");
    out_str("sse: done\n");
    return 0;
}
