/*
 * exercise_body.c - integer instruction exerciser.
 *
 * Portable between the freestanding `exercise` guest and the Linux
 * `exercise_host` oracle: it uses only <stdint.h>, its own formatting and the
 * ex_write() hook, and it never hashes an address (only differences between
 * addresses), so the host (a PIE process) and the guest (linked at 1 MiB)
 * produce the same bytes.
 *
 * Every instruction runs with pseudo-random operands (xorshift64, seeded per
 * family from the family name) and with pseudo-random incoming status flags
 * (set with popfq right before the instruction, so flag preservation is
 * checked too).  Full 64-bit destination registers are hashed, so the x86-64
 * partial-register rules (8/16-bit writes keep the upper bits, 32-bit writes
 * zero-extend) are checked as well.  The resulting RFLAGS (pushfq) is reduced
 * to the six status flags (IF and the system flags legitimately differ between
 * a Linux process and the ring-0 guest) and then to the flags the SDM defines
 * for that instruction - see the mask table below.
 *
 * Build flags: the asm blocks push/pop on the stack, so this file must be
 * compiled with -mno-red-zone for the host as well.
 */
#include <stdint.h>
#include "exercise_body.h"
#include "oracle.h"

#define ITERS 200

/* ---------------------------------------------------------------------------
 * Status flags and the masks of architecturally defined flags.
 *
 *  instruction(s)                 defined after execution (SDM vol. 2)
 *  -----------------------------  ---------------------------------------------
 *  ADD ADC SUB SBB CMP NEG        OF SF ZF AF PF CF (all six)                M_ARITH
 *  INC DEC                        OF SF ZF AF PF; CF unaffected (preserved)  M_ARITH
 *  XADD CMPXCHG CMPS SCAS         as ADD / CMP                               M_ARITH
 *  AND OR XOR TEST                OF=CF=0, SF ZF PF; AF undefined            M_LOGIC
 *  NOT, MOV*, LEA, XCHG, BSWAP,   no flag affected (all preserved)          M_ALL
 *  CMOVcc SETcc CBW.. LOOP etc.
 *  MUL IMUL (all forms)           CF OF; SF ZF AF PF undefined               M_MUL
 *  DIV IDIV                       all six undefined                          M_NONE
 *  BT BTS BTR BTC                 CF = bit; ZF unaffected; OF SF AF PF undef M_BT
 *  BSF BSR                        ZF; CF OF SF AF PF undefined               M_BSF
 *                                 (destination undefined if source is 0:
 *                                  not hashed in that case)
 *  TZCNT LZCNT                    CF ZF; OF SF AF PF undefined               M_TZCNT
 *  POPCNT                         ZF; OF SF AF CF PF cleared                 M_ALL
 *  CMPXCHG8B/16B                  ZF; CF PF AF SF OF unaffected              M_ALL
 *  SHL SHR SAR (count c masked    c=0: nothing affected; c>0: AF undefined,  shmask()
 *  to 5 or 6 bits)                OF only defined for c=1; CF undefined for
 *                                 SHL/SHR when c >= operand width (8/16-bit;
 *                                 treated the same for SAR, conservatively)
 *  ROL ROR RCL RCR                c=0: nothing affected; SF ZF AF PF never   shmask()
 *                                 affected; OF only defined for c=1
 *  SHLD SHRD                      c=0: nothing affected; c>0: AF undefined,  shmask()
 *                                 OF only for c=1; c > width: undefined
 *                                 (16-bit forms only use c < 16)
 * ------------------------------------------------------------------------- */

#define M_ARITH M_ALL
#define M_LOGIC (M_ALL & ~AF)
#define M_MUL   (CF | OF)
#define M_NONE  0ull
#define M_BT    (CF | ZF)
#define M_BSF   ZF
#define M_TZCNT (CF | ZF)

enum { K_SHL, K_SHR, K_SAR, K_ROT, K_RC, K_SHXD };

static uint64_t shmask(int kind, unsigned count, unsigned width)
{
    unsigned c = count & (width == 64 ? 63u : 31u);
    if (c == 0)
        return M_ALL;
    uint64_t m = M_ALL;
    if (c != 1)
        m &= ~OF;
    if (kind == K_SHL || kind == K_SHR || kind == K_SAR || kind == K_SHXD)
        m &= ~AF;
    if ((kind == K_SHL || kind == K_SHR || kind == K_SAR) && c >= width)
        m &= ~CF;
    return m;
}

/* PRE (oracle.h) that also clears DF, for the string instructions. */
#define PRE_DF  "pushfq\n\tandq $-0xcd6, (%%rsp)\n\torq %[fin], (%%rsp)\n\tpopfq\n\t"

/* FLAGS_OP(f, mask, ins, outs, ins_, hashes): run ins between PRE and POST
 * (oracle.h) with the operands outs (outputs) and ins_ (inputs), each a
 * parenthesized list that ends in a comma or is empty, and the flags as
 * input fin and output fo; then run hashes (H of each output) and hash the
 * flags under mask. The operand forms below differ only in those lists. */
#define OPERANDS(...) __VA_ARGS__
#define FLAGS_OP(f, mask, ins, outs, ins_, hashes) do {                                \
        uint64_t fo_, fin_ = rflags_in(f);                                            \
        __asm__ volatile(PRE ins POST : OPERANDS outs [fo] "=&r"(fo_)                  \
                         : OPERANDS ins_ [fin] "r"(fin_) : "cc");                      \
        hashes H(f, fo_ & (mask));                                                     \
    } while (0)

/* register destination, register source */
#define RR(f, mask, ins, d_, s_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_),), ([s] "r"(s_),), H(f, d_);)
/* same with legacy high-byte registers available (AH/BH/CH/DH via %h) */
#define RQ(f, mask, ins, d_, s_) FLAGS_OP(f, mask, ins, ([d] "+Q"(d_),), ([s] "Q"(s_),), H(f, d_);)
/* both operands modified */
#define RR2(f, mask, ins, d_, s_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_), [s] "+r"(s_),), (), H(f, d_); H(f, s_);)
/* memory destination, register source */
#define MR(f, mask, ins, m_, s_) FLAGS_OP(f, mask, ins, ([m] "+m"(m_),), ([s] "r"(s_),), H(f, m_);)
/* memory destination, both modified (XADD/XCHG) */
#define MR2(f, mask, ins, m_, s_) FLAGS_OP(f, mask, ins, ([m] "+m"(m_), [s] "+r"(s_),), (), H(f, m_); H(f, s_);)
/* register destination, memory source */
#define RM(f, mask, ins, d_, m_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_),), ([m] "m"(m_),), H(f, d_);)
/* register destination only (immediates in the template) */
#define RI(f, mask, ins, d_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_),), (), H(f, d_);)
#define RIQ(f, mask, ins, d_) FLAGS_OP(f, mask, ins, ([d] "+Q"(d_),), (), H(f, d_);)
/* accumulator (short encodings) */
#define RA(f, mask, ins, d_) FLAGS_OP(f, mask, ins, ("+a"(d_),), (), H(f, d_);)
/* memory destination only */
#define MI(f, mask, ins, m_) FLAGS_OP(f, mask, ins, ([m] "+m"(m_),), (), H(f, m_);)
/* shift/rotate by CL */
#define RC(f, mask, ins, d_, c_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_),), ("c"(c_),), H(f, d_);)
#define MC(f, mask, ins, m_, c_) FLAGS_OP(f, mask, ins, ([m] "+m"(m_),), ("c"(c_),), H(f, m_);)
/* double shift by CL */
#define RSC(f, mask, ins, d_, s_, c_) FLAGS_OP(f, mask, ins, ([d] "+r"(d_),), ([s] "r"(s_), "c"(c_),), H(f, d_);)

/* ---------------------------------------------------------------------------
 * Two-operand ALU instructions: ADD ADC SUB SBB AND OR XOR CMP TEST.
 * ------------------------------------------------------------------------- */
#define ALU_FAMILY(fn, INS, MASK)                                                     \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), b = opnd(f), d, m;                                  \
            d = a; RR(f, MASK, INS "b %b[s], %b[d]", d, b);                           \
            d = a; RR(f, MASK, INS "w %w[s], %w[d]", d, b);                           \
            d = a; RR(f, MASK, INS "l %k[s], %k[d]", d, b);                           \
            d = a; RR(f, MASK, INS "q %q[s], %q[d]", d, b);                           \
            d = a; RQ(f, MASK, INS "b %h[s], %b[d]", d, b);                           \
            d = a; RQ(f, MASK, INS "b %b[s], %h[d]", d, b);                           \
            d = a; RQ(f, MASK, INS "b %h[s], %h[d]", d, b);                           \
            m = a; MR(f, MASK, INS "b %b[s], %[m]", m, b);                            \
            m = a; MR(f, MASK, INS "w %w[s], %[m]", m, b);                            \
            m = a; MR(f, MASK, INS "l %k[s], %[m]", m, b);                            \
            m = a; MR(f, MASK, INS "q %q[s], %[m]", m, b);                            \
            d = a; RM(f, MASK, INS "b %[m], %b[d]", d, b);                            \
            d = a; RM(f, MASK, INS "w %[m], %w[d]", d, b);                            \
            d = a; RM(f, MASK, INS "l %[m], %k[d]", d, b);                            \
            d = a; RM(f, MASK, INS "q %[m], %q[d]", d, b);                            \
            d = a; RI(f, MASK, INS "b $0x9c, %b[d]", d);                              \
            d = a; RIQ(f, MASK, INS "b $0x41, %h[d]", d);                             \
            d = a; RI(f, MASK, INS "w $-3, %w[d]", d);                                \
            d = a; RI(f, MASK, INS "w $0x1234, %w[d]", d);                            \
            d = a; RI(f, MASK, INS "l $0x7f, %k[d]", d);                              \
            d = a; RI(f, MASK, INS "l $0x89abcdef, %k[d]", d);                        \
            d = a; RI(f, MASK, INS "q $-0x80, %q[d]", d);                             \
            d = a; RI(f, MASK, INS "q $-0x12345679, %q[d]", d);                       \
            d = a; RI(f, MASK, INS "q $0x7edcba98, %q[d]", d);                        \
            d = a; RA(f, MASK, INS "b $0x5a, %%al", d);                               \
            d = a; RA(f, MASK, INS "w $0x8001, %%ax", d);                             \
            d = a; RA(f, MASK, INS "l $0x40000001, %%eax", d);                        \
            d = a; RA(f, MASK, INS "q $-0x7ffff000, %%rax", d);                       \
            m = a; MI(f, MASK, INS "b $0x80, %[m]", m);                               \
            m = a; MI(f, MASK, INS "w $0x7ff, %[m]", m);                              \
            m = a; MI(f, MASK, INS "l $0x13579bdf, %[m]", m);                         \
            m = a; MI(f, MASK, INS "q $-1, %[m]", m);                                 \
            m = a; MI(f, MASK, INS "l $5, %[m]", m);                                  \
        }                                                                             \
    }

ALU_FAMILY(fam_add, "add", M_ARITH)
ALU_FAMILY(fam_adc, "adc", M_ARITH)
ALU_FAMILY(fam_sub, "sub", M_ARITH)
ALU_FAMILY(fam_sbb, "sbb", M_ARITH)
ALU_FAMILY(fam_and, "and", M_LOGIC)
ALU_FAMILY(fam_or, "or", M_LOGIC)
ALU_FAMILY(fam_xor, "xor", M_LOGIC)
ALU_FAMILY(fam_cmp, "cmp", M_ARITH)

/* TEST has no sign-extended imm8 form and no reg<-mem direction distinction;
 * the assembler picks F6/F7 /0 and A8/A9 for the immediate forms. */
static void fam_test(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d, m;
        d = a; RR(f, M_LOGIC, "testb %b[s], %b[d]", d, b);
        d = a; RR(f, M_LOGIC, "testw %w[s], %w[d]", d, b);
        d = a; RR(f, M_LOGIC, "testl %k[s], %k[d]", d, b);
        d = a; RR(f, M_LOGIC, "testq %q[s], %q[d]", d, b);
        d = a; RQ(f, M_LOGIC, "testb %h[s], %b[d]", d, b);
        d = a; RQ(f, M_LOGIC, "testb %h[s], %h[d]", d, b);
        m = a; MR(f, M_LOGIC, "testb %b[s], %[m]", m, b);
        m = a; MR(f, M_LOGIC, "testw %w[s], %[m]", m, b);
        m = a; MR(f, M_LOGIC, "testl %k[s], %[m]", m, b);
        m = a; MR(f, M_LOGIC, "testq %q[s], %[m]", m, b);
        d = a; RI(f, M_LOGIC, "testb $0x81, %b[d]", d);
        d = a; RIQ(f, M_LOGIC, "testb $0x18, %h[d]", d);
        d = a; RI(f, M_LOGIC, "testw $0x8001, %w[d]", d);
        d = a; RI(f, M_LOGIC, "testl $0x80000001, %k[d]", d);
        d = a; RI(f, M_LOGIC, "testq $-0x10, %q[d]", d);
        d = a; RA(f, M_LOGIC, "testb $0x0f, %%al", d);
        d = a; RA(f, M_LOGIC, "testw $0xf00f, %%ax", d);
        d = a; RA(f, M_LOGIC, "testl $0x00ffff00, %%eax", d);
        d = a; RA(f, M_LOGIC, "testq $-0x7fffffff, %%rax", d);
        m = a; MI(f, M_LOGIC, "testb $0x80, %[m]", m);
        m = a; MI(f, M_LOGIC, "testl $0x13579bdf, %[m]", m);
        m = a; MI(f, M_LOGIC, "testq $-2, %[m]", m);
    }
}

/* ---------------------------------------------------------------------------
 * One-operand ALU: INC DEC NEG NOT.
 * ------------------------------------------------------------------------- */
#define UNARY_FAMILY(fn, INS, MASK)                                                   \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), d, m;                                               \
            d = a; RI(f, MASK, INS "b %b[d]", d);                                     \
            d = a; RI(f, MASK, INS "w %w[d]", d);                                     \
            d = a; RI(f, MASK, INS "l %k[d]", d);                                     \
            d = a; RI(f, MASK, INS "q %q[d]", d);                                     \
            d = a; RIQ(f, MASK, INS "b %h[d]", d);                                    \
            m = a; MI(f, MASK, INS "b %[m]", m);                                      \
            m = a; MI(f, MASK, INS "w %[m]", m);                                      \
            m = a; MI(f, MASK, INS "l %[m]", m);                                      \
            m = a; MI(f, MASK, INS "q %[m]", m);                                      \
        }                                                                             \
    }

UNARY_FAMILY(fam_inc, "inc", M_ARITH)
UNARY_FAMILY(fam_dec, "dec", M_ARITH)
UNARY_FAMILY(fam_neg, "neg", M_ARITH)
UNARY_FAMILY(fam_not, "not", M_ALL)

/* ---------------------------------------------------------------------------
 * Shifts and rotates: by 1 (D0/D1), by imm8 (C0/C1), by CL (D2/D3).
 * ------------------------------------------------------------------------- */
static const uint8_t shcounts[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff };

static uint64_t shcount(struct fam *f)
{
    uint64_t x = rnd(f);
    if (x & 1)
        return shcounts[(x >> 8) % sizeof shcounts];
    return (x >> 16) & 0xff;
}

#define SHIFT_FAMILY(fn, INS, KIND)                                                   \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), c = shcount(f), d, m;                               \
            c |= rnd(f) & 0xff00; /* only CL counts */                                \
            d = a; RC(f, shmask(KIND, c, 8), INS "b %%cl, %b[d]", d, c);              \
            d = a; RC(f, shmask(KIND, c, 16), INS "w %%cl, %w[d]", d, c);             \
            d = a; RC(f, shmask(KIND, c, 32), INS "l %%cl, %k[d]", d, c);             \
            d = a; RC(f, shmask(KIND, c, 64), INS "q %%cl, %q[d]", d, c);             \
            m = a; MC(f, shmask(KIND, c, 32), INS "l %%cl, %[m]", m, c);              \
            m = a; MC(f, shmask(KIND, c, 8), INS "b %%cl, %[m]", m, c);               \
            d = a; RI(f, shmask(KIND, 1, 8), INS "b $1, %b[d]", d);                   \
            d = a; RI(f, shmask(KIND, 1, 16), INS "w $1, %w[d]", d);                  \
            d = a; RI(f, shmask(KIND, 1, 32), INS "l $1, %k[d]", d);                  \
            d = a; RI(f, shmask(KIND, 1, 64), INS "q $1, %q[d]", d);                  \
            d = a; RIQ(f, shmask(KIND, 1, 8), INS "b $1, %h[d]", d);                  \
            m = a; MI(f, shmask(KIND, 1, 64), INS "q $1, %[m]", m);                   \
            d = a; RI(f, shmask(KIND, 0, 32), INS "l $0, %k[d]", d);                  \
            d = a; RI(f, shmask(KIND, 3, 8), INS "b $3, %b[d]", d);                   \
            d = a; RI(f, shmask(KIND, 8, 8), INS "b $8, %b[d]", d);                   \
            d = a; RI(f, shmask(KIND, 9, 8), INS "b $9, %b[d]", d);                   \
            d = a; RI(f, shmask(KIND, 7, 16), INS "w $7, %w[d]", d);                  \
            d = a; RI(f, shmask(KIND, 17, 16), INS "w $17, %w[d]", d);                \
            d = a; RI(f, shmask(KIND, 13, 32), INS "l $13, %k[d]", d);                \
            d = a; RI(f, shmask(KIND, 31, 32), INS "l $31, %k[d]", d);                \
            d = a; RI(f, shmask(KIND, 33, 32), INS "l $33, %k[d]", d);                \
            d = a; RI(f, shmask(KIND, 63, 64), INS "q $63, %q[d]", d);                \
            d = a; RI(f, shmask(KIND, 40, 64), INS "q $40, %q[d]", d);                \
            d = a; RI(f, shmask(KIND, 200, 64), INS "q $200, %q[d]", d);              \
            m = a; MI(f, shmask(KIND, 5, 16), INS "w $5, %[m]", m);                   \
        }                                                                             \
    }

SHIFT_FAMILY(fam_shl, "shl", K_SHL)
SHIFT_FAMILY(fam_shr, "shr", K_SHR)
SHIFT_FAMILY(fam_sar, "sar", K_SAR)
SHIFT_FAMILY(fam_rol, "rol", K_ROT)
SHIFT_FAMILY(fam_ror, "ror", K_ROT)
SHIFT_FAMILY(fam_rcl, "rcl", K_RC)
SHIFT_FAMILY(fam_rcr, "rcr", K_RC)

/* SHLD / SHRD: 16-bit forms only with counts < 16 (larger: undefined). */
#define SHXD_FAMILY(fn, INS)                                                          \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), b = opnd(f), c = shcount(f), c16 = c & 15, d, m;    \
            d = a; RSC(f, shmask(K_SHXD, c16, 16), INS "w %%cl, %w[s], %w[d]", d, b, c16); \
            d = a; RSC(f, shmask(K_SHXD, c, 32), INS "l %%cl, %k[s], %k[d]", d, b, c); \
            d = a; RSC(f, shmask(K_SHXD, c, 64), INS "q %%cl, %q[s], %q[d]", d, b, c); \
            m = a; { uint64_t fo_, fin_ = rflags_in(f);                               \
                __asm__ volatile(PRE INS "q %%cl, %q[s], %[m]" POST                   \
                                 : [m] "+m"(m), [fo] "=&r"(fo_)                       \
                                 : [s] "r"(b), "c"(c), [fin] "r"(fin_) : "cc");       \
                H(f, m); H(f, fo_ & shmask(K_SHXD, c, 64)); }                         \
            d = a; RR(f, shmask(K_SHXD, 0, 32), INS "l $0, %k[s], %k[d]", d, b);      \
            d = a; RR(f, shmask(K_SHXD, 1, 16), INS "w $1, %w[s], %w[d]", d, b);      \
            d = a; RR(f, shmask(K_SHXD, 1, 32), INS "l $1, %k[s], %k[d]", d, b);      \
            d = a; RR(f, shmask(K_SHXD, 1, 64), INS "q $1, %q[s], %q[d]", d, b);      \
            d = a; RR(f, shmask(K_SHXD, 9, 16), INS "w $9, %w[s], %w[d]", d, b);      \
            d = a; RR(f, shmask(K_SHXD, 31, 32), INS "l $31, %k[s], %k[d]", d, b);    \
            d = a; RR(f, shmask(K_SHXD, 44, 32), INS "l $44, %k[s], %k[d]", d, b);    \
            d = a; RR(f, shmask(K_SHXD, 63, 64), INS "q $63, %q[s], %q[d]", d, b);    \
            d = a; RR(f, shmask(K_SHXD, 17, 64), INS "q $17, %q[s], %q[d]", d, b);    \
            m = a; MR(f, shmask(K_SHXD, 12, 32), INS "l $12, %k[s], %[m]", m, b);     \
        }                                                                             \
    }

SHXD_FAMILY(fam_shld, "shld")
SHXD_FAMILY(fam_shrd, "shrd")

/* ---------------------------------------------------------------------------
 * MUL / IMUL.
 * ------------------------------------------------------------------------- */
#define MUL1(f, mask, ins, a_, d_, s_) FLAGS_OP(f, mask, ins, ("+a"(a_), "+d"(d_),), ([s] "r"(s_),), H(f, a_); H(f, d_);)
#define MUL1M(f, mask, ins, a_, d_, m_) FLAGS_OP(f, mask, ins, ("+a"(a_), "+d"(d_),), ([m] "m"(m_),), H(f, a_); H(f, d_);)

static void one_mul(struct fam *f, int is_signed)
{
    uint64_t a0 = opnd(f), d0 = opnd(f), s = opnd(f), a, d;
    if (!is_signed) {
        a = a0; d = d0; MUL1(f, M_MUL, "mulb %b[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "mulw %w[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "mull %k[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "mulq %q[s]", a, d, s);
        a = a0; d = d0; MUL1M(f, M_MUL, "mull %[m]", a, d, s);
        a = a0; d = d0; MUL1M(f, M_MUL, "mulq %[m]", a, d, s);
    } else {
        a = a0; d = d0; MUL1(f, M_MUL, "imulb %b[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "imulw %w[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "imull %k[s]", a, d, s);
        a = a0; d = d0; MUL1(f, M_MUL, "imulq %q[s]", a, d, s);
        a = a0; d = d0; MUL1M(f, M_MUL, "imulw %[m]", a, d, s);
        a = a0; d = d0; MUL1M(f, M_MUL, "imulq %[m]", a, d, s);
    }
}

static void fam_mul(struct fam *f)
{
    for (int i = 0; i < ITERS; i++)
        one_mul(f, 0);
}

static void fam_imul1(struct fam *f)
{
    for (int i = 0; i < ITERS; i++)
        one_mul(f, 1);
}

static void fam_imul2(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d;
        d = a; RR(f, M_MUL, "imulw %w[s], %w[d]", d, b);
        d = a; RR(f, M_MUL, "imull %k[s], %k[d]", d, b);
        d = a; RR(f, M_MUL, "imulq %q[s], %q[d]", d, b);
        d = a; RM(f, M_MUL, "imull %[m], %k[d]", d, b);
        d = a; RM(f, M_MUL, "imulq %[m], %q[d]", d, b);
    }
}

static void fam_imul3(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d;
        d = a; RR(f, M_MUL, "imulw $-7, %w[s], %w[d]", d, b);
        d = a; RR(f, M_MUL, "imulw $0x1234, %w[s], %w[d]", d, b);
        d = a; RR(f, M_MUL, "imull $0x7f, %k[s], %k[d]", d, b);
        d = a; RR(f, M_MUL, "imull $-0x12345678, %k[s], %k[d]", d, b);
        d = a; RR(f, M_MUL, "imulq $-128, %q[s], %q[d]", d, b);
        d = a; RR(f, M_MUL, "imulq $0x7fffffff, %q[s], %q[d]", d, b);
        d = a; RM(f, M_MUL, "imulq $3, %[m], %q[d]", d, b);
        d = a; RM(f, M_MUL, "imull $100000, %[m], %k[d]", d, b);
    }
}

/* ---------------------------------------------------------------------------
 * DIV / IDIV (never faulting: operands are chosen so the quotient fits).
 * ------------------------------------------------------------------------- */
#define DIV1(ins, a_, d_, s_) do {                                                       \
        uint64_t fin_ = rflags_in(f);                                                 \
        __asm__ volatile(PRE ins : "+a"(a_), "+d"(d_) : [s] "r"(s_), [fin] "r"(fin_)     \
                         : "cc");                                                     \
        H(f, a_); H(f, d_);                                                             \
    } while (0)
#define DIV1M(ins, a_, d_, m_) do {                                                      \
        uint64_t fin_ = rflags_in(f);                                                 \
        __asm__ volatile(PRE ins : "+a"(a_), "+d"(d_) : [m] "m"(m_), [fin] "r"(fin_)     \
                         : "cc");                                                     \
        H(f, a_); H(f, d_);                                                             \
    } while (0)

static uint64_t nonzero(struct fam *f, uint64_t mask)
{
    uint64_t v = opnd(f) & mask;
    return v ? v : (rnd(f) & mask) | 1;
}

static void fam_div(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a, d, s, r = opnd(f), hi = opnd(f);
        /* 8-bit: AX / r/m8 -> AL quotient, AH remainder; need AH < divisor. */
        s = nonzero(f, 0xff);
        a = (r & ~0xff00ull) | (((hi & 0xff) % s) << 8);
        d = hi;
        DIV1("divb %b[s]", a, d, s);
        /* 16-bit: DX:AX */
        s = nonzero(f, 0xffff);
        a = r; d = (hi & ~0xffffull) | ((hi & 0xffff) % s);
        DIV1("divw %w[s]", a, d, s);
        /* 32-bit: EDX:EAX */
        s = nonzero(f, 0xffffffff);
        a = r; d = (hi & ~0xffffffffull) | ((hi & 0xffffffff) % s);
        DIV1("divl %k[s]", a, d, s);
        /* 64-bit: RDX:RAX */
        s = nonzero(f, ~0ull);
        a = r; d = hi % s;
        DIV1("divq %q[s]", a, d, s);
        a = r; d = hi % s;
        DIV1M("divq %[m]", a, d, s);
        /* small dividends */
        s = nonzero(f, 0xffff);
        a = r >> 40; d = 0;
        DIV1M("divl %[m]", a, d, s);
    }
}

static int64_t sx(uint64_t v, int bits)
{
    return (int64_t)(v << (64 - bits)) >> (64 - bits);
}

static uint64_t snonzero(struct fam *f)
{
    uint64_t v = opnd(f);
    if (rnd(f) & 1)
        v = (uint64_t)sx(v, 8 + (int)(rnd(f) % 40));
    return v ? v : 7;
}

/* The quotient of a signed 2w-bit dividend by a w-bit divisor (w <= 32)
 * fits if it is within [-2^(w-1), 2^(w-1)-1]; computed in 64 bits. */
static int idiv_fits(int64_t n, int64_t dv, int w)
{
    if (dv == 0)
        return 0;
    if (dv == -1 && n == INT64_MIN)
        return 0;
    int64_t q = n / dv;
    return q >= -(1ll << (w - 1)) && q <= (1ll << (w - 1)) - 1;
}

static void fam_idiv(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a, d, s, r = opnd(f), hi = opnd(f);
        int64_t n;

        s = snonzero(f);
        n = sx(r & 0xffff, 16);
        if (!idiv_fits(n, sx(s, 8), 8)) {
            n = sx(r, 8);
            if (!idiv_fits(n, sx(s, 8), 8))
                s = 3;
        }
        a = (r & ~0xffffull) | ((uint64_t)n & 0xffff); d = hi;
        DIV1("idivb %b[s]", a, d, s);

        s = snonzero(f);
        n = sx(((hi & 0xffff) << 16) | (r & 0xffff), 32);
        if (!idiv_fits(n, sx(s, 16), 16)) {
            n = sx(r, 16);
            if (!idiv_fits(n, sx(s, 16), 16))
                s = 3;
        }
        a = (r & ~0xffffull) | ((uint64_t)n & 0xffff);
        d = (hi & ~0xffffull) | (((uint64_t)n >> 16) & 0xffff);
        DIV1("idivw %w[s]", a, d, s);

        s = snonzero(f);
        n = (int64_t)(((hi & 0xffffffff) << 32) | (r & 0xffffffff));
        if (!idiv_fits(n, sx(s, 32), 32)) {
            n = sx(r, 32);
            if (!idiv_fits(n, sx(s, 32), 32))
                s = 3;
        }
        a = (r & ~0xffffffffull) | ((uint64_t)n & 0xffffffff);
        d = (hi & ~0xffffffffull) | (((uint64_t)n >> 32) & 0xffffffff);
        DIV1("idivl %k[s]", a, d, s);

        /* 64-bit: RDX:RAX / r64.  Valid when |N| < 2^63 * |s|, i.e.
         * (|N| >> 63) < |s|; tested with 128-bit shifts only. */
        s = snonzero(f);
        {
            int64_t sh = (int64_t)(rnd(f) % 64);
            int64_t hs = (rnd(f) & 1) ? ((int64_t)hi >> sh) : ((int64_t)r >> 63);
            __int128 N = ((__int128)hs << 64) | (unsigned __int128)r;
            unsigned __int128 mag = N < 0 ? -(unsigned __int128)N : (unsigned __int128)N;
            uint64_t smag = (int64_t)s < 0 ? 0 - s : s;
            if (!((mag >> 63) < smag)) {
                hs = (int64_t)r >> 63; /* sign-extend RAX into RDX */
                if (r == 0x8000000000000000ull && smag == 1)
                    s = 5;
            }
            a = r; d = (uint64_t)hs;
            DIV1("idivq %q[s]", a, d, s);
            a = r; d = (uint64_t)((int64_t)r >> 63);
            if (r == 0x8000000000000000ull && s == ~0ull)
                s = 2;
            DIV1M("idivq %[m]", a, d, s);
        }
    }
}

/* ---------------------------------------------------------------------------
 * BT BTS BTR BTC: register, immediate and memory (bit-string) forms.
 * ------------------------------------------------------------------------- */
static uint64_t btbuf[16];

#define BT_FAMILY(fn, INS)                                                            \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < 16; i++)                                                  \
            btbuf[i] = rnd(f);                                                        \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), o = opnd(f), d, m;                                  \
            uint64_t fo_, fin_;                                                       \
            /* register offsets are taken modulo the operand width */                 \
            d = a; RR(f, M_BT, INS "w %w[s], %w[d]", d, o);                           \
            d = a; RR(f, M_BT, INS "l %k[s], %k[d]", d, o);                           \
            d = a; RR(f, M_BT, INS "q %q[s], %q[d]", d, o);                           \
            d = a; RI(f, M_BT, INS "w $13, %w[d]", d);                                \
            d = a; RI(f, M_BT, INS "l $37, %k[d]", d);                                \
            d = a; RI(f, M_BT, INS "q $63, %q[d]", d);                                \
            m = a; MI(f, M_BT, INS "q $45, %[m]", m);                                 \
            /* bit string: offset in [-256, 255] from the middle of btbuf */          \
            uint64_t off = (uint64_t)(int64_t)((int)(rnd(f) % 512) - 256);            \
            uint64_t *p = &btbuf[8];                                                  \
            fin_ = rflags_in(f);                                                      \
            __asm__ volatile(PRE INS "q %[o], (%[p])" POST : [fo] "=&r"(fo_)          \
                             : [o] "r"(off), [p] "r"(p), [fin] "r"(fin_)              \
                             : "cc", "memory");                                       \
            H(f, fo_ & M_BT);                                                         \
            fin_ = rflags_in(f);                                                      \
            __asm__ volatile(PRE INS "l %k[o], (%[p])" POST : [fo] "=&r"(fo_)         \
                             : [o] "r"(off), [p] "r"(p), [fin] "r"(fin_)              \
                             : "cc", "memory");                                       \
            H(f, fo_ & M_BT);                                                         \
            fin_ = rflags_in(f);                                                      \
            __asm__ volatile(PRE INS "w %w[o], (%[p])" POST : [fo] "=&r"(fo_)         \
                             : [o] "r"(off), [p] "r"(p), [fin] "r"(fin_)              \
                             : "cc", "memory");                                       \
            H(f, fo_ & M_BT);                                                         \
            fin_ = rflags_in(f);                                                      \
            __asm__ volatile(PRE INS "l $29, 4(%[p])" POST : [fo] "=&r"(fo_)          \
                             : [p] "r"(p), [fin] "r"(fin_) : "cc", "memory");         \
            H(f, fo_ & M_BT);                                                         \
            for (int k = 0; k < 16; k++)                                              \
                H(f, btbuf[k]);                                                       \
        }                                                                             \
    }

BT_FAMILY(fam_bt, "bt")
BT_FAMILY(fam_bts, "bts")
BT_FAMILY(fam_btr, "btr")
BT_FAMILY(fam_btc, "btc")

/* ---------------------------------------------------------------------------
 * BSF BSR TZCNT LZCNT POPCNT.
 * ------------------------------------------------------------------------- */
#define SCAN_FAMILY(fn, INS, MASK, ZERO_DEST_UNDEF)                                   \
    static void fn(struct fam *f)                                                     \
    {                                                                                 \
        for (int i = 0; i < ITERS; i++) {                                             \
            uint64_t a = opnd(f), s = opnd(f), d, fo_, fin_;                          \
            if ((rnd(f) & 7) == 0)                                                    \
                s &= 0xffffffff00000000ull; /* zero in the 16/32-bit forms */         \
            static const uint64_t wm[3] = { 0xffff, 0xffffffff, ~0ull };              \
            for (int w = 0; w < 3; w++) {                                             \
                d = a; fin_ = rflags_in(f);                                           \
                if (w == 0)                                                           \
                    __asm__ volatile(PRE INS "w %w[s], %w[d]" POST                    \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [s] "r"(s), [fin] "r"(fin_) : "cc");           \
                else if (w == 1)                                                      \
                    __asm__ volatile(PRE INS "l %k[s], %k[d]" POST                    \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [s] "r"(s), [fin] "r"(fin_) : "cc");           \
                else                                                                  \
                    __asm__ volatile(PRE INS "q %q[s], %q[d]" POST                    \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [s] "r"(s), [fin] "r"(fin_) : "cc");           \
                if (!(ZERO_DEST_UNDEF && (s & wm[w]) == 0))                           \
                    H(f, d);                                                          \
                H(f, fo_ & (MASK));                                                   \
                d = a; fin_ = rflags_in(f);                                           \
                if (w == 0)                                                           \
                    __asm__ volatile(PRE INS "w %[m], %w[d]" POST                     \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [m] "m"(s), [fin] "r"(fin_) : "cc");           \
                else if (w == 1)                                                      \
                    __asm__ volatile(PRE INS "l %[m], %k[d]" POST                     \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [m] "m"(s), [fin] "r"(fin_) : "cc");           \
                else                                                                  \
                    __asm__ volatile(PRE INS "q %[m], %q[d]" POST                     \
                                     : [d] "+r"(d), [fo] "=&r"(fo_)                   \
                                     : [m] "m"(s), [fin] "r"(fin_) : "cc");           \
                if (!(ZERO_DEST_UNDEF && (s & wm[w]) == 0))                           \
                    H(f, d);                                                          \
                H(f, fo_ & (MASK));                                                   \
            }                                                                         \
        }                                                                             \
    }

SCAN_FAMILY(fam_bsf, "bsf", M_BSF, 1)
SCAN_FAMILY(fam_bsr, "bsr", M_BSF, 1)
SCAN_FAMILY(fam_tzcnt, "tzcnt", M_TZCNT, 0)
SCAN_FAMILY(fam_lzcnt, "lzcnt", M_TZCNT, 0)
SCAN_FAMILY(fam_popcnt, "popcnt", M_ALL, 0)

/* ---------------------------------------------------------------------------
 * BSWAP, XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B, XCHG.
 * ------------------------------------------------------------------------- */
static void fam_bswap(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), d;
        d = a; RI(f, M_ALL, "bswapl %k[d]", d);
        d = a; RI(f, M_ALL, "bswapq %q[d]", d);
        {
            register uint64_t r9 __asm__("r9") = a;
            register uint64_t r14 __asm__("r14") = ~a;
            __asm__ volatile("bswapl %%r9d\n\tbswapq %%r14" : "+r"(r9), "+r"(r14));
            H(f, r9); H(f, r14);
        }
    }
}

static void fam_xadd(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d, s, m;
        d = a; s = b; RR2(f, M_ARITH, "xaddb %b[s], %b[d]", d, s);
        d = a; s = b; RR2(f, M_ARITH, "xaddw %w[s], %w[d]", d, s);
        d = a; s = b; RR2(f, M_ARITH, "xaddl %k[s], %k[d]", d, s);
        d = a; s = b; RR2(f, M_ARITH, "xaddq %q[s], %q[d]", d, s);
        m = a; s = b; MR2(f, M_ARITH, "lock xaddl %k[s], %[m]", m, s);
        m = a; s = b; MR2(f, M_ARITH, "lock xaddq %q[s], %[m]", m, s);
        m = a; s = b; MR2(f, M_ARITH, "xaddb %b[s], %[m]", m, s);
    }
}

#define CMPXCHG(f, ins, acc_, d_, s_) do {                                               \
        uint64_t fo_, fin_ = rflags_in(f);                                            \
        __asm__ volatile(PRE ins POST : "+a"(acc_), [d] "+r"(d_), [fo] "=&r"(fo_)       \
                         : [s] "r"(s_), [fin] "r"(fin_) : "cc");                       \
        H(f, acc_); H(f, d_); H(f, fo_ & M_ARITH);                                      \
    } while (0)
#define CMPXCHGM(f, ins, acc_, m_, s_) do {                                              \
        uint64_t fo_, fin_ = rflags_in(f);                                            \
        __asm__ volatile(PRE ins POST : "+a"(acc_), [m] "+m"(m_), [fo] "=&r"(fo_)       \
                         : [s] "r"(s_), [fin] "r"(fin_) : "cc");                       \
        H(f, acc_); H(f, m_); H(f, fo_ & M_ARITH);                                      \
    } while (0)

static void fam_cmpxchg(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), s = opnd(f), acc0 = (rnd(f) & 1) ? a : opnd(f), acc, d;
        if ((rnd(f) & 3) == 0)
            acc0 = (acc0 & ~0xffffffffull) | (a & 0xffffffff); /* equal in 8/16/32 only */
        acc = acc0; d = a; CMPXCHG(f, "cmpxchgb %b[s], %b[d]", acc, d, s);
        acc = acc0; d = a; CMPXCHG(f, "cmpxchgw %w[s], %w[d]", acc, d, s);
        acc = acc0; d = a; CMPXCHG(f, "cmpxchgl %k[s], %k[d]", acc, d, s);
        acc = acc0; d = a; CMPXCHG(f, "cmpxchgq %q[s], %q[d]", acc, d, s);
        acc = acc0; d = a; CMPXCHGM(f, "lock cmpxchgl %k[s], %[m]", acc, d, s);
        acc = acc0; d = a; CMPXCHGM(f, "lock cmpxchgq %q[s], %[m]", acc, d, s);
        acc = acc0; d = a; CMPXCHGM(f, "cmpxchgw %w[s], %[m]", acc, d, s);
    }
}

static struct { uint64_t lo, hi; } __attribute__((aligned(16))) cx16;

static void fam_cmpxchg16b(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t m0 = opnd(f), m1 = opnd(f);
        uint64_t ra = (rnd(f) & 1) ? m0 : opnd(f);
        uint64_t rd = (rnd(f) & 1) ? m1 : opnd(f);
        uint64_t rb = opnd(f), rc = opnd(f), fo_, fin_;

        cx16.lo = m0; cx16.hi = m1;
        fin_ = rflags_in(f);
        __asm__ volatile(PRE "lock cmpxchg16b %[m]" POST
                         : "+a"(ra), "+d"(rd), [m] "+m"(cx16), [fo] "=&r"(fo_)
                         : "b"(rb), "c"(rc), [fin] "r"(fin_) : "cc");
        H(f, ra); H(f, rd); H(f, cx16.lo); H(f, cx16.hi); H(f, fo_ & M_ALL);

        /* CMPXCHG8B: EDX:EAX vs m64; ECX:EBX stored on equality */
        uint64_t m = (rnd(f) & 1) ? ((rd << 32) | (ra & 0xffffffff)) : opnd(f);
        ra = opnd(f); rd = opnd(f);
        if (rnd(f) & 1) {
            ra = (ra & ~0xffffffffull) | (m & 0xffffffff);
            rd = (rd & ~0xffffffffull) | (m >> 32);
        }
        fin_ = rflags_in(f);
        __asm__ volatile(PRE "cmpxchg8b %[m]" POST
                         : "+a"(ra), "+d"(rd), [m] "+m"(m), [fo] "=&r"(fo_)
                         : "b"(rb), "c"(rc), [fin] "r"(fin_) : "cc");
        /* On success RAX/RDX are not written; on failure EDX:EAX are loaded
         * (zero-extended). */
        H(f, ra); H(f, rd); H(f, m); H(f, fo_ & M_ALL);
    }
}

static void fam_xchg(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d, s, m, acc;
        d = a; s = b; RR2(f, M_ALL, "xchgb %b[s], %b[d]", d, s);
        d = a; s = b; RR2(f, M_ALL, "xchgw %w[s], %w[d]", d, s);
        d = a; s = b; RR2(f, M_ALL, "xchgl %k[s], %k[d]", d, s);
        d = a; s = b; RR2(f, M_ALL, "xchgq %q[s], %q[d]", d, s);
        d = a; RI(f, M_ALL, "xchgl %k[d], %k[d]", d); /* 87 /r: zero-extends */
        m = a; s = b; MR2(f, M_ALL, "xchgl %k[s], %[m]", m, s);
        m = a; s = b; MR2(f, M_ALL, "xchgb %b[s], %[m]", m, s);
        m = a; s = b; MR2(f, M_ALL, "xchgq %q[s], %[m]", m, s);
        {
            uint64_t fo_, fin_ = rflags_in(f);
            acc = a; s = b;
            __asm__ volatile(PRE "xchgl %k[s], %%eax\n\txchgw %w[s], %%ax\n\txchgq %q[s], %%rax" POST
                             : "+a"(acc), [s] "+r"(s), [fo] "=&r"(fo_) : [fin] "r"(fin_) : "cc");
            H(f, acc); H(f, s); H(f, fo_ & M_ALL);
        }
        {
            uint64_t x = a, y = b;
            __asm__ volatile("xchgb %h0, %b1\n\txchgb %h1, %h0" : "+Q"(x), "+Q"(y));
            H(f, x); H(f, y);
        }
    }
}

/* ---------------------------------------------------------------------------
 * SETcc, CMOVcc and Jcc for all 16 conditions.
 * ------------------------------------------------------------------------- */
#define CONDS(X) X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) \
                 X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)

static void fam_setcc(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), d, m;
#define SET1(cc)                                                     \
        d = a; RI(f, M_ALL, "set" #cc " %b[d]", d);                  \
        m = a; MI(f, M_ALL, "set" #cc " %[m]", m);
        CONDS(SET1)
#undef SET1
        d = a; RIQ(f, M_ALL, "setc %h[d]", d);
    }
}

static void fam_cmovcc(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d;
#define CMOV1(cc)                                                    \
        d = a; RR(f, M_ALL, "cmov" #cc "w %w[s], %w[d]", d, b);      \
        d = a; RR(f, M_ALL, "cmov" #cc "l %k[s], %k[d]", d, b);      \
        d = a; RR(f, M_ALL, "cmov" #cc "q %q[s], %q[d]", d, b);      \
        d = a; RM(f, M_ALL, "cmov" #cc "l %[m], %k[d]", d, b);
        CONDS(CMOV1)
#undef CMOV1
    }
}

static void fam_jcc(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t d = 0;
#define JCC1(cc)                                                     \
        d <<= 1;                                                     \
        RI(f, M_ALL, "j" #cc " 1f\n\tleaq 1(%q[d]), %q[d]\n1:", d);
        CONDS(JCC1)
#undef JCC1
    }
}

/* ---------------------------------------------------------------------------
 * MOV, MOVZX, MOVSX, MOVSXD.
 * ------------------------------------------------------------------------- */
static void fam_mov(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d, m;
        d = a; RR(f, M_ALL, "movb %b[s], %b[d]", d, b);
        d = a; RR(f, M_ALL, "movw %w[s], %w[d]", d, b);
        d = a; RR(f, M_ALL, "movl %k[s], %k[d]", d, b);
        d = a; RQ(f, M_ALL, "movb %h[s], %b[d]", d, b);
        d = a; RQ(f, M_ALL, "movb %b[s], %h[d]", d, b);
        d = a; RI(f, M_ALL, "movb $0xa5, %b[d]", d);
        d = a; RI(f, M_ALL, "movw $0xa5a5, %w[d]", d);
        d = a; RI(f, M_ALL, "movl $0xdeadbeef, %k[d]", d);
        d = a; RI(f, M_ALL, "movq $-0x21524111, %q[d]", d);
        d = a; RI(f, M_ALL, "movabsq $0x123456789abcdef0, %q[d]", d);
        m = a; MR(f, M_ALL, "movw %w[s], %[m]", m, b);
        m = a; MI(f, M_ALL, "movb $0x5a, %[m]", m);
        m = a; MI(f, M_ALL, "movl $0x5a5a5a5a, %[m]", m);
        m = a; MI(f, M_ALL, "movq $-2, %[m]", m);
        d = a; RM(f, M_ALL, "movl %[m], %k[d]", d, b);
        d = a; RM(f, M_ALL, "movb %[m], %b[d]", d, b);
    }
}

static void fam_movx(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), d;
        d = a; RR(f, M_ALL, "movzbw %b[s], %w[d]", d, b);
        d = a; RR(f, M_ALL, "movzbl %b[s], %k[d]", d, b);
        d = a; RR(f, M_ALL, "movzbq %b[s], %q[d]", d, b);
        d = a; RR(f, M_ALL, "movzwl %w[s], %k[d]", d, b);
        d = a; RR(f, M_ALL, "movzwq %w[s], %q[d]", d, b);
        d = a; RR(f, M_ALL, "movsbw %b[s], %w[d]", d, b);
        d = a; RR(f, M_ALL, "movsbl %b[s], %k[d]", d, b);
        d = a; RR(f, M_ALL, "movsbq %b[s], %q[d]", d, b);
        d = a; RR(f, M_ALL, "movswl %w[s], %k[d]", d, b);
        d = a; RR(f, M_ALL, "movswq %w[s], %q[d]", d, b);
        d = a; RR(f, M_ALL, "movslq %k[s], %q[d]", d, b);
        d = a; RQ(f, M_ALL, "movzbl %h[s], %k[d]", d, b);
        d = a; RQ(f, M_ALL, "movsbw %h[s], %w[d]", d, b);
        d = a; RM(f, M_ALL, "movzbl %[m], %k[d]", d, b);
        d = a; RM(f, M_ALL, "movswq %[m], %q[d]", d, b);
        d = a; RM(f, M_ALL, "movslq %[m], %q[d]", d, b);
        d = a; RM(f, M_ALL, "movsbq %[m], %q[d]", d, b);
    }
}

/* ---------------------------------------------------------------------------
 * LEA with many addressing forms (64- and 32-bit address size).
 * ------------------------------------------------------------------------- */
#define LEA3(f, ins, d, x, y) do {                                                    \
        __asm__ volatile(ins : [d] "+r"(d) : [a] "r"(x), [b] "r"(y));                \
        H(f, d);                                                                      \
    } while (0)

static void fam_lea(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t x = opnd(f), y = opnd(f), a = opnd(f), d;
        d = a; LEA3(f, "leaq (%[a],%[b]), %q[d]", d, x, y);
        d = a; LEA3(f, "leaq 0x7f(%[a],%[b],2), %q[d]", d, x, y);
        d = a; LEA3(f, "leaq -0x80000000(%[a],%[b],8), %q[d]", d, x, y);
        d = a; LEA3(f, "leaq 0x12345678(,%[b],4), %q[d]", d, x, y);
        d = a; LEA3(f, "leaq -1(%[a]), %q[d]", d, x, y);
        d = a; LEA3(f, "leal 3(%k[a],%k[b],4), %k[d]", d, x, y);
        d = a; LEA3(f, "leal (%q[a],%q[b]), %k[d]", d, x, y);
        d = a; LEA3(f, "leaw 1(%q[a],%q[b],2), %w[d]", d, x, y);
        d = a; LEA3(f, "leaq -0x10(%k[a],%k[b],8), %q[d]", d, x, y);
        d = a; LEA3(f, "leaw -2(%k[a]), %w[d]", d, x, y);
        {
            /* special encodings: RBP/R13 base (needs disp), RSP/R12 base (needs SIB) */
            register uint64_t r12 __asm__("r12") = x;
            register uint64_t r13 __asm__("r13") = y;
            uint64_t o1, o2, o3, o4, o5;
            __asm__ volatile("leaq (%%r13), %0\n\t"
                             "leaq (%%r12), %1\n\t"
                             "leaq 8(%%r12,%%r13), %2\n\t"
                             "leaq (%%r13,%%r12,4), %3\n\t"
                             "leal 0x40(%%r13d,%%r12d), %k4"
                             : "=&r"(o1), "=&r"(o2), "=&r"(o3), "=&r"(o4), "=&r"(o5)
                             : "r"(r12), "r"(r13));
            H(f, o1); H(f, o2); H(f, o3); H(f, o4); H(f, o5);
        }
        {
            /* RIP-relative: lea of a label equals the address pushed by call */
            uint64_t p, q;
            __asm__ volatile("call 1f\n1:\tpopq %0\n\tleaq 1b(%%rip), %1" : "=r"(p), "=r"(q));
            H(f, q - p);
        }
    }
}

/* ---------------------------------------------------------------------------
 * String instructions with DF=0 and DF=1.  Buffers are 512 bytes, operations
 * start in the middle, so up to 255 bytes either way stay inside.
 * ------------------------------------------------------------------------- */
static uint64_t sbuf64[64], dbuf64[64];
#define sbuf ((uint8_t *)sbuf64)
#define dbuf ((uint8_t *)dbuf64)

static void hash_buf(struct fam *f, const uint64_t *w)
{
    for (int i = 0; i < 64; i++)
        H(f, w[i]);
}

static void fill(struct fam *f, uint64_t *w)
{
    for (int i = 0; i < 64; i++)
        w[i] = rnd(f);
}

#define STR2(f, ins, si, di, cx, ax) do {                                             \
        uint64_t fo_, fin_ = rflags_in(f) | df;                                       \
        __asm__ volatile(PRE_DF ins POST "\n\tcld"                                    \
                         : "+S"(si), "+D"(di), "+c"(cx), "+a"(ax), [fo] "=&r"(fo_)    \
                         : [fin] "r"(fin_) : "cc", "memory");                         \
        H(f, (uint64_t)(si - sbuf)); H(f, (uint64_t)(di - dbuf)); H(f, cx); H(f, ax); \
        H(f, fo_ & M_ALL);                                                            \
    } while (0)

static void fam_movs(struct fam *f)
{
    for (int i = 0; i < ITERS / 4; i++) {
        uint64_t df = (rnd(f) & 1) ? DF : 0, cx, ax = 0;
        uint8_t *si, *di;
        fill(f, sbuf64); fill(f, dbuf64);
#define MID() (si = sbuf + 256 + rnd(f) % 8, di = dbuf + 256 + rnd(f) % 8)
        MID(); cx = rnd(f) % 200;
        STR2(f, "rep movsb", si, di, cx, ax);
        MID(); cx = rnd(f) % 24;
        STR2(f, "rep movsq", si, di, cx, ax);
        MID(); cx = rnd(f) % 40;
        STR2(f, "rep movsw", si, di, cx, ax);
        MID(); cx = rnd(f) % 20;
        STR2(f, "rep movsl", si, di, cx, ax);
        MID(); cx = 0x123; /* no REP: RCX untouched */
        STR2(f, "movsb\n\tmovsq\n\tmovsl\n\tmovsw", si, di, cx, ax);
        MID(); cx = 0;
        STR2(f, "rep movsq", si, di, cx, ax);
        hash_buf(f, dbuf64);
    }
}

static void fam_stos(struct fam *f)
{
    for (int i = 0; i < ITERS / 4; i++) {
        uint64_t df = (rnd(f) & 1) ? DF : 0, cx, ax = opnd(f);
        uint8_t *si, *di;
        fill(f, dbuf64);
        MID(); cx = rnd(f) % 200;
        STR2(f, "rep stosb", si, di, cx, ax);
        MID(); cx = rnd(f) % 24;
        STR2(f, "rep stosq", si, di, cx, ax);
        MID(); cx = rnd(f) % 40;
        STR2(f, "rep stosw", si, di, cx, ax);
        MID(); cx = rnd(f) % 20;
        STR2(f, "rep stosl", si, di, cx, ax);
        MID(); cx = 7;
        STR2(f, "stosb\n\tstosw\n\tstosl\n\tstosq", si, di, cx, ax);
        hash_buf(f, dbuf64);
    }
}

static void fam_cmps(struct fam *f)
{
    for (int i = 0; i < ITERS / 2; i++) {
        uint64_t df = (rnd(f) & 1) ? DF : 0, cx, ax = 0;
        uint8_t *si, *di;
        fill(f, sbuf64);
        for (int k = 0; k < 512; k++)
            dbuf[k] = sbuf[k];
        /* a few mismatches around the middle */
        for (int k = (int)(rnd(f) % 4); k > 0; k--)
            dbuf[128 + rnd(f) % 256] ^= (uint8_t)(1u << (rnd(f) % 8));
        si = sbuf + 256; di = dbuf + 256;
        cx = rnd(f) % 128;
        STR2(f, "repe cmpsb", si, di, cx, ax);
        si = sbuf + 256; di = dbuf + 256; cx = rnd(f) % 16;
        STR2(f, "repe cmpsq", si, di, cx, ax);
        si = sbuf + 256; di = dbuf + 256; cx = rnd(f) % 64;
        STR2(f, "repne cmpsb", si, di, cx, ax);
        si = sbuf + 256; di = dbuf + 256; cx = rnd(f) % 32;
        STR2(f, "repe cmpsl", si, di, cx, ax);
        si = sbuf + 256; di = dbuf + 256; cx = 0;
        STR2(f, "repe cmpsw", si, di, cx, ax);
        si = sbuf + 256 + rnd(f) % 64; di = dbuf + 256 + rnd(f) % 64; cx = 5;
        STR2(f, "cmpsb\n\tcmpsw", si, di, cx, ax);
    }
}

static void fam_scas(struct fam *f)
{
    for (int i = 0; i < ITERS / 2; i++) {
        uint64_t df = (rnd(f) & 1) ? DF : 0, cx, ax;
        uint8_t *si = sbuf, *di;
        fill(f, dbuf64);
        for (int k = 0; k < 512; k++)
            dbuf[k] &= 0x1f; /* make matches likely */
        ax = opnd(f) & ~0xe0ull;
        di = dbuf + 256; cx = rnd(f) % 200;
        STR2(f, "repne scasb", si, di, cx, ax);
        di = dbuf + 256; cx = rnd(f) % 200;
        STR2(f, "repe scasb", si, di, cx, ax);
        di = dbuf + 256; cx = rnd(f) % 30;
        STR2(f, "repne scasq", si, di, cx, ax);
        di = dbuf + 256; cx = rnd(f) % 60;
        STR2(f, "repne scasw", si, di, cx, ax);
        di = dbuf + 256; cx = 9;
        STR2(f, "scasb\n\tscasl", si, di, cx, ax);
    }
}

static void fam_lods(struct fam *f)
{
    for (int i = 0; i < ITERS / 2; i++) {
        uint64_t df = (rnd(f) & 1) ? DF : 0, cx = 3, ax = opnd(f);
        uint8_t *si, *di = dbuf;
        fill(f, sbuf64);
        si = sbuf + 256 + rnd(f) % 16;
        STR2(f, "lodsb", si, di, cx, ax);
        STR2(f, "lodsw", si, di, cx, ax);
        STR2(f, "lodsl", si, di, cx, ax);
        STR2(f, "lodsq", si, di, cx, ax);
        cx = rnd(f) % 20;
        STR2(f, "rep lodsb", si, di, cx, ax);
    }
}

/* ---------------------------------------------------------------------------
 * CBW CWDE CDQE CWD CDQ CQO.
 * ------------------------------------------------------------------------- */
static void fam_convert(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a0 = opnd(f), d0 = opnd(f), a, d;
#define CV(ins) do {                                                                  \
            uint64_t fo_, fin_ = rflags_in(f);                                        \
            a = a0; d = d0;                                                           \
            __asm__ volatile(PRE ins POST : "+a"(a), "+d"(d), [fo] "=&r"(fo_)         \
                             : [fin] "r"(fin_) : "cc");                               \
            H(f, a); H(f, d); H(f, fo_ & M_ALL);                                      \
        } while (0)
        CV("cbtw");
        CV("cwtl");
        CV("cltq");
        CV("cwtd");
        CV("cltd");
        CV("cqto");
#undef CV
    }
}

/* ---------------------------------------------------------------------------
 * ENTER / LEAVE (nesting levels 0..4), PUSH / POP forms.
 * ------------------------------------------------------------------------- */
static uint64_t frames[8];

/* ENTER $N, $L with RBP pointing at frames[6]: nesting levels copy the frame
 * pointers at RBP-8, RBP-16, ... (frames[5], frames[4], ...).  Only the
 * slots ENTER writes are hashed; absolute addresses only as differences. */
#define ENTER(N, L) do {                                                              \
        uint64_t res[9];                                                              \
        __asm__ volatile("pushq %%rbp\n\t"                                            \
                         "movq %%rsp, %%rdx\n\t"                                      \
                         "movq %%rsi, %%rbp\n\t"                                      \
                         "enter $" #N ", $" #L "\n\t"                                 \
                         "movq %%rdx, %%rax\n\tsubq %%rsp, %%rax\n\t"                 \
                         "movq %%rax, 0(%%rdi)\n\t"                                   \
                         "movq %%rdx, %%rax\n\tsubq %%rbp, %%rax\n\t"                 \
                         "movq %%rax, 8(%%rdi)\n\t"                                   \
                         "movq -8(%%rbp), %%rax\n\tmovq %%rax, 16(%%rdi)\n\t"         \
                         "movq -16(%%rbp), %%rax\n\tmovq %%rax, 24(%%rdi)\n\t"        \
                         "movq -24(%%rbp), %%rax\n\tmovq %%rax, 32(%%rdi)\n\t"        \
                         "movq 0(%%rbp), %%rax\n\tsubq %%rsi, %%rax\n\t"              \
                         "movq %%rax, 40(%%rdi)\n\t"                                  \
                         "movq %%rbp, 56(%%rdi)\n\t"                                  \
                         "leave\n\t"                                                  \
                         "movq %%rbp, %%rax\n\tsubq %%rsi, %%rax\n\t"                 \
                         "movq %%rax, 48(%%rdi)\n\t"                                  \
                         "movq %%rdx, %%rax\n\tsubq %%rsp, %%rax\n\t"                 \
                         "movq %%rax, 64(%%rdi)\n\t"                                  \
                         "popq %%rbp"                                                 \
                         :                                                            \
                         : "D"(res), "S"(&frames[6])                                  \
                         : "rax", "rdx", "memory");                                   \
        H(f, res[0]); H(f, res[1]); H(f, res[5]); H(f, res[6]); H(f, res[8]);         \
        for (int j = 1; j <= 3; j++) {                                                \
            if (j < (L))                                                              \
                H(f, res[1 + j]);               /* copied frame pointer */           \
            else if (j == (L))                                                        \
                H(f, res[1 + j] - res[7]);      /* frame temp == new RBP */          \
        }                                                                             \
    } while (0)

static void fam_enter(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        for (int k = 0; k < 8; k++)
            frames[k] = rnd(f);
        ENTER(0, 0);
        ENTER(16, 0);
        ENTER(8, 1);
        ENTER(0, 2);
        ENTER(24, 3);
        ENTER(40, 4);
        ENTER(0x1234, 1);
        H(f, frames[6]);
    }
}
#undef ENTER

static void fam_pushpop(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), b = opnd(f), r[7];
        __asm__ volatile("movq %%rsp, %%rdx\n\t"
                         "pushq $-5\n\t"
                         "pushq $0x12345678\n\t"
                         "pushq %[a]\n\t"
                         "pushw %w[b]\n\t"
                         "pushw $0x7abc\n\t"
                         "movq %%rdx, %%rax\n\tsubq %%rsp, %%rax\n\tmovq %%rax, 0(%%rdi)\n\t"
                         "popq %%rax\n\tmovq %%rax, 8(%%rdi)\n\t"   /* 0x7abc, b16, low 4 bytes of a */
                         "popw %%ax\n\tmovq %%rax, 16(%%rdi)\n\t"   /* rest of a: 16-bit pop */
                         "popq %%rax\n\tmovq %%rax, 24(%%rdi)\n\t"
                         "popq %%rax\n\tmovq %%rax, 32(%%rdi)\n\t"
                         "popw %%ax\n\tmovq %%rax, 48(%%rdi)\n\t"
                         "pushq 8(%%rdi)\n\t"
                         "popq 40(%%rdi)\n\t"
                         "movq %%rdx, %%rax\n\tsubq %%rsp, %%rax\n\taddq %%rax, 0(%%rdi)"
                         :
                         : "D"(r), [a] "r"(a), [b] "r"(b)
                         : "rax", "rdx", "memory");
        for (int k = 0; k < 7; k++)
            H(f, r[k]);
    }
}

/* ---------------------------------------------------------------------------
 * LOOP LOOPE LOOPNE JRCXZ JECXZ.
 * ------------------------------------------------------------------------- */
static void fam_loop(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t c, n, fo_, fin_;
        uint8_t bytes[64];
        for (int k = 0; k < 64; k++)
            bytes[k] = (rnd(f) & 7) == 0;
        c = 1 + rnd(f) % 60;
        fin_ = rflags_in(f);
        __asm__ volatile(PRE "xorl %k[n], %k[n]\n1:\tincl %k[n]\n\tloop 1b" POST
                         : "+c"(c), [n] "=&r"(n), [fo] "=&r"(fo_) : [fin] "r"(fin_) : "cc");
        H(f, c); H(f, n); H(f, fo_ & M_ALL);
        /* LOOPE: run while bytes[n] == 0 */
        c = 1 + rnd(f) % 60;
        __asm__ volatile("xorl %k[n], %k[n]\n1:\tincq %q[n]\n\tcmpb $0, -1(%[p],%q[n])\n\tloope 1b"
                         : "+c"(c), [n] "=&r"(n) : [p] "r"(bytes) : "cc", "memory");
        H(f, c); H(f, n);
        /* LOOPNE: run while bytes[n] != 1 */
        c = 1 + rnd(f) % 60;
        __asm__ volatile("xorl %k[n], %k[n]\n1:\tincq %q[n]\n\tcmpb $1, -1(%[p],%q[n])\n\tloopne 1b"
                         : "+c"(c), [n] "=&r"(n) : [p] "r"(bytes) : "cc", "memory");
        H(f, c); H(f, n);
        /* JRCXZ / JECXZ */
        uint64_t x = (rnd(f) & 1) ? 0 : opnd(f);
        if (rnd(f) & 1)
            x &= 0xffffffff00000000ull;
        c = x; n = 0;
        __asm__ volatile("jrcxz 1f\n\torq $1, %q[n]\n1:\tjecxz 2f\n\torq $2, %q[n]\n2:"
                         : [n] "+r"(n) : "c"(c) : "cc");
        H(f, n);
    }
}

/* ---------------------------------------------------------------------------
 * PUSHF/POPF, LAHF/SAHF, CLC/STC/CMC (and CLD/STD seen through PUSHF).
 * ------------------------------------------------------------------------- */
static void fam_pushf(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t x = rnd(f) & (M_ALL | DF), r1, r2, r3;
        /* 64-bit POPF/PUSHF of the status flags and DF */
        __asm__ volatile("pushfq\n\tandq $-0xcd6, (%%rsp)\n\torq %[x], (%%rsp)\n\tpopfq\n\t"
                         "pushfq\n\tpopq %[r1]\n\tcld"
                         : [r1] "=&r"(r1) : [x] "r"(x) : "cc");
        /* 16-bit PUSHF/POPF: load a 16-bit image built from the current flags */
        __asm__ volatile("pushfq\n\tpopq %[r2]\n\tandq $-0xcd6, %[r2]\n\torq %[x], %[r2]\n\t"
                         "pushw %w[r2]\n\tpopfw\n\tpushfw\n\tpopw %w[r2]\n\tcld\n\t"
                         "pushfq\n\tpopq %[r3]"
                         : [r2] "=&r"(r2), [r3] "=&r"(r3) : [x] "r"(x) : "cc");
        H(f, r1 & (M_ALL | DF));
        H(f, r2 & (M_ALL | DF));
        H(f, r3 & (M_ALL | DF));
    }
}

static void fam_lahf(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t a = opnd(f), d;
        d = a; RA(f, M_ALL, "lahf", d);
        d = a; RA(f, M_ALL, "sahf", d);
        d = a; RA(f, M_ALL, "sahf\n\tlahf", d);
    }
}

static void fam_flagops(struct fam *f)
{
    for (int i = 0; i < ITERS; i++) {
        uint64_t d = 0;
        RI(f, M_ALL, "clc", d);
        RI(f, M_ALL, "stc", d);
        RI(f, M_ALL, "cmc", d);
        RI(f, M_ALL, "cmc\n\tcmc\n\tstc\n\tcmc", d);
        {
            uint64_t r1, r2;
            __asm__ volatile("std\n\tpushfq\n\tpopq %0\n\tcld\n\tpushfq\n\tpopq %1"
                             : "=r"(r1), "=r"(r2) : : "cc");
            H(f, r1 & DF); H(f, r2 & DF);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Driver.
 * ------------------------------------------------------------------------- */
struct family {
    const char *name;
    void (*fn)(struct fam *);
};

static const struct family families[] = {
    { "add", fam_add },         { "adc", fam_adc },         { "sub", fam_sub },
    { "sbb", fam_sbb },         { "and", fam_and },         { "or", fam_or },
    { "xor", fam_xor },         { "cmp", fam_cmp },         { "test", fam_test },
    { "inc", fam_inc },         { "dec", fam_dec },         { "neg", fam_neg },
    { "not", fam_not },         { "shl", fam_shl },         { "shr", fam_shr },
    { "sar", fam_sar },         { "rol", fam_rol },         { "ror", fam_ror },
    { "rcl", fam_rcl },         { "rcr", fam_rcr },         { "shld", fam_shld },
    { "shrd", fam_shrd },       { "mul", fam_mul },         { "imul1", fam_imul1 },
    { "imul2", fam_imul2 },     { "imul3", fam_imul3 },     { "div", fam_div },
    { "idiv", fam_idiv },       { "bt", fam_bt },           { "bts", fam_bts },
    { "btr", fam_btr },         { "btc", fam_btc },         { "bsf", fam_bsf },
    { "bsr", fam_bsr },         { "tzcnt", fam_tzcnt },     { "lzcnt", fam_lzcnt },
    { "popcnt", fam_popcnt },   { "bswap", fam_bswap },     { "xadd", fam_xadd },
    { "cmpxchg", fam_cmpxchg }, { "cmpxchg8b-16b", fam_cmpxchg16b },
    { "xchg", fam_xchg },       { "setcc", fam_setcc },     { "cmovcc", fam_cmovcc },
    { "jcc", fam_jcc },         { "mov", fam_mov },         { "movzx-movsx", fam_movx },
    { "lea", fam_lea },         { "movs", fam_movs },       { "stos", fam_stos },
    { "cmps", fam_cmps },       { "scas", fam_scas },       { "lods", fam_lods },
    { "cbw-cwd", fam_convert }, { "enter-leave", fam_enter },
    { "push-pop", fam_pushpop }, { "loop-jrcxz", fam_loop }, { "pushf-popf", fam_pushf },
    { "lahf-sahf", fam_lahf },  { "clc-stc-cmc", fam_flagops },
};

int exercise_run(void)
{
    struct fam f;
    uint64_t all = 0;
    out_str("exercise: integer instruction families\n");
    for (unsigned i = 0; i < sizeof families / sizeof families[0]; i++) {
        begin(&f, families[i].name);
        families[i].fn(&f);
        emit(families[i].name, f.h);
        all = (all ^ f.h) * 0x9E3779B97F4A7C15ull;
    }
    emit("all", all);
    out_str("exercise: done\n");
    return 0;
}
