/*
 * oracle.h - the common parts of the host-CPU oracle guests (exercise, sse,
 * ssefp): status-flag bits, hashing, output, pseudo-random operands and the asm
 * blocks that set and capture the status flags around an instruction.
 * Included by exactly one file of each program (the functions are static;
 * those a program may not need are marked unused).
 */
#ifndef FTVM_ORACLE_H
#define FTVM_ORACLE_H

#include <stdint.h>

/* ex_write is provided by the environment (guest serial port or stdout). */
void ex_write(const char *s, unsigned long n);

#define CF 0x001ull
#define PF 0x004ull
#define AF 0x010ull
#define ZF 0x040ull
#define SF 0x080ull
#define DF 0x400ull
#define OF 0x800ull

#define M_ALL   (CF | PF | AF | ZF | SF | OF)

/* ---------------------------------------------------------------------------
 * Output, hashing and pseudo-random operands.
 * ------------------------------------------------------------------------- */
static __attribute__((unused)) void out_str(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    ex_write(s, n);
}

static void emit(const char *name, uint64_t h)
{
    char buf[96];
    int n = 0;
    while (*name && n < 60)
        buf[n++] = *name++;
    const char *p = " hash=0x";
    while (*p)
        buf[n++] = *p++;
    for (int i = 15; i >= 0; i--)
        buf[n++] = "0123456789abcdef"[(h >> (i * 4)) & 15];
    buf[n++] = '\n';
    ex_write(buf, (unsigned long)n);
}

struct fam {
    uint64_t s; /* xorshift64 state */
    uint64_t h; /* running hash */
};

static uint64_t rnd(struct fam *f)
{
    uint64_t x = f->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f->s = x;
    return x;
}

static void H(struct fam *f, uint64_t v)
{
    uint64_t h = (f->h ^ v) * 0x9E3779B97F4A7C15ull;
    f->h = h ^ (h >> 29);
}

static void begin(struct fam *f, const char *name)
{
    uint64_t s = 0xcbf29ce484222325ull;
    for (const char *p = name; *p; p++)
        s = (s ^ (uint8_t)*p) * 0x100000001b3ull;
    f->s = s ? s : 1;
    f->h = s;
}

static const uint64_t specials[] = {
    0, 1, 2, 3, 0x3f, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
    0x8000000000000001ull, 0x0000000100000001ull, 0x00ff00ff00ff00ffull,
    0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 0x0123456789abcdefull,
    0xfedcba9876543210ull, 0xffffffff80000000ull, 0x00000000ffff8000ull,
    0xffffffffffff7fffull, 0xffffffffffffff80ull, 0x000000007fffff7full,
};
#define NSPECIAL (sizeof specials / sizeof specials[0])

/* An operand: a mix of special values, small/negative-small values, single
 * bit flips of special values and plain random 64-bit values. */
static __attribute__((unused)) uint64_t opnd(struct fam *f)
{
    uint64_t x = rnd(f);
    switch (x & 7) {
    case 0:
    case 1:
        return specials[(x >> 8) % NSPECIAL];
    case 2:
        return rnd(f) >> (x >> 58);
    case 3:
        return 0 - (rnd(f) >> (x >> 58));
    case 4:
        return specials[(x >> 8) % NSPECIAL] ^ (1ull << ((x >> 20) & 63));
    default:
        return rnd(f);
    }
}

static __attribute__((unused)) uint64_t rflags_in(struct fam *f) { return rnd(f) & M_ALL; }

/* ---------------------------------------------------------------------------
 * asm building blocks.
 *
 * PRE replaces the status flags of RFLAGS by %[fin] (keeping IF and the other
 * system flags as they are), POST captures RFLAGS into %[fo].  Between them
 * RSP is unchanged, so "m" operands (possibly RSP-relative) are valid for the
 * instruction under test.
 * ------------------------------------------------------------------------- */
#define PRE     "pushfq\n\tandq $-0x8d6, (%%rsp)\n\torq %[fin], (%%rsp)\n\tpopfq\n\t"
#define POST    "\n\tpushfq\n\tpopq %[fo]"

#endif
