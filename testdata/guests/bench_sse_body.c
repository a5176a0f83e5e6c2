/*
 * bench_sse_body.c - a fixed SSE workload, compiled with -O2 -msse4.2: per
 * outer iteration an SSE memcpy at varying alignments, an SSE2 strlen
 * (PCMPEQB/PMOVMSKB) over a run of strings, an SSE4.2 strchr (PCMPISTRI),
 * a CRC32C (the CRC32 instruction) and a byte sum (PSADBW) over the buffer.
 * Everything is derived from a splitmix64 generator, so the checksum only
 * depends on the iteration count.  No libc; shared by the guest and the
 * host program.
 */
#include <nmmintrin.h>
#include "bench_sse_body.h"

#define BUF 8192

static uint8_t src[BUF + 64] __attribute__((aligned(16)));
static uint8_t dst[BUF + 64] __attribute__((aligned(16)));
static uint64_t seed;

static uint64_t splitmix(void)
{
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Copies n bytes with unaligned 16-byte loads and stores. */
static void sse_memcpy(uint8_t *d, const uint8_t *s, unsigned n)
{
    unsigned i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(d + i), _mm_loadu_si128((const __m128i *)(s + i)));
    for (; i < n; i++)
        d[i] = s[i];
}

/* strlen over 16-byte aligned blocks, as glibc's SSE2 strlen does. */
static unsigned sse_strlen(const uint8_t *s)
{
    const uint8_t *p = (const uint8_t *)((uintptr_t)s & ~(uintptr_t)15);
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)p),
                                                               _mm_setzero_si128()));
    mask >>= (uintptr_t)s & 15;
    if (mask)
        return (unsigned)__builtin_ctz(mask);
    for (;;) {
        p += 16;
        mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)p),
                                                          _mm_setzero_si128()));
        if (mask)
            return (unsigned)(p - s) + (unsigned)__builtin_ctz(mask);
    }
}

/* Index of the first byte of s[0..n) equal to c (n if none), with PCMPISTRI
 * on 16-byte chunks (the chunks have no NUL bytes: see prepare). */
static unsigned sse_strchr(const uint8_t *s, unsigned n, uint8_t c)
{
    __m128i needle = _mm_cvtsi32_si128(c);
    for (unsigned i = 0; i + 16 <= n; i += 16) {
        __m128i hay = _mm_loadu_si128((const __m128i *)(s + i));
        int idx = _mm_cmpistri(needle, hay, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ANY | _SIDD_LEAST_SIGNIFICANT);
        if (idx < 16)
            return i + (unsigned)idx;
    }
    return n;
}

static uint64_t crc32c(const uint8_t *s, unsigned n, uint64_t crc)
{
    for (unsigned i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, s + i, 8);
        crc = _mm_crc32_u64(crc, w);
    }
    return crc;
}

static uint64_t byte_sum(const uint8_t *s, unsigned n)
{
    __m128i acc = _mm_setzero_si128();
    for (unsigned i = 0; i + 16 <= n; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_load_si128((const __m128i *)(s + i)), _mm_setzero_si128()));
    return (uint64_t)_mm_cvtsi128_si64(acc) + (uint64_t)_mm_extract_epi64(acc, 1);
}

/* Fills src with non-zero bytes and a NUL every few dozen bytes. */
static void prepare(void)
{
    for (unsigned i = 0; i < BUF + 64; i += 8) {
        uint64_t w = splitmix() | 0x0101010101010101ull;
        __builtin_memcpy(src + i, &w, 8);
    }
}

uint64_t bench_sse_run(unsigned iterations)
{
    seed = 42;
    prepare();
    uint64_t sum = 0;
    for (unsigned it = 0; it < iterations; it++) {
        uint64_t r = splitmix();
        unsigned off = (unsigned)(r & 15), doff = (unsigned)(r >> 4 & 15);
        sse_memcpy(dst + doff, src + off, BUF - 32);
        sum += crc32c(dst + doff, BUF - 32, sum);
        sum += sse_strchr(dst + doff, BUF - 32, (uint8_t)(r >> 8) | 1);
        sum = sum * 31 + byte_sum(dst, BUF);
        /* strlen over strings cut at pseudo-random places. */
        for (unsigned k = 0; k < 8; k++) {
            unsigned cut = (unsigned)(splitmix() % 900) + 17 * k;
            dst[cut + 100] = 0;
            sum += sse_strlen(dst + (r >> (k * 4) & 63));
        }
        src[r % BUF] ^= (uint8_t)(r >> 32) | 1; /* keep bytes non-zero */
        if (src[r % BUF] == 0)
            src[r % BUF] = 1;
    }
    return sum;
}
