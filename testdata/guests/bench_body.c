/*
 * bench_body.c - a fixed integer workload: per outer iteration a hash loop,
 * a recursive quicksort plus insertion sort, a sieve of Eratosthenes, a
 * table-driven CRC32 and a 16x16 integer matrix multiply.  Everything is
 * derived from a xorshift generator, so the checksum only depends on the
 * iteration count.  No libc; shared by the guest and the host program.
 */
#include "bench_body.h"

static uint64_t rng_state;

static uint64_t xs(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

/* ---- hash loop (FNV-1a style over generated words) ---- */
static uint64_t hash_loop(unsigned n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = xs();
        for (int k = 0; k < 8; k++) {
            h ^= (w >> (k * 8)) & 0xff;
            h *= 0x100000001b3ull;
        }
        h = (h << 5) | (h >> 59);
    }
    return h;
}

/* ---- sorting ---- */
#define SORT_N 512
static int32_t arr[SORT_N];

static void insertion_sort(int32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        int32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static void quicksort(int32_t *a, int n)
{
    while (n > 16) {
        int32_t p = a[n / 2];
        int i = 0, j = n - 1;
        while (i <= j) {
            while (a[i] < p)
                i++;
            while (a[j] > p)
                j--;
            if (i <= j) {
                int32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (j + 1 < n - i) {
            quicksort(a, j + 1);
            a += i;
            n -= i;
        } else {
            quicksort(a + i, n - i);
            n = j + 1;
        }
    }
    insertion_sort(a, n);
}

static uint64_t sort_step(void)
{
    for (int i = 0; i < SORT_N; i++)
        arr[i] = (int32_t)(xs() >> 33) - (1 << 29);
    quicksort(arr, SORT_N);
    uint64_t s = 0;
    for (int i = 0; i < SORT_N; i++) {
        if (i && arr[i - 1] > arr[i])
            s += 0x100000000ull; /* never: the array is sorted */
        s = s * 31 + (uint32_t)arr[i];
    }
    return s;
}

/* ---- sieve ---- */
#define SIEVE_N 16384
static uint8_t composite[SIEVE_N];

static uint64_t sieve(unsigned limit)
{
    for (unsigned i = 0; i < limit; i++)
        composite[i] = 0;
    uint64_t count = 0, sum = 0;
    for (unsigned i = 2; i < limit; i++) {
        if (composite[i])
            continue;
        count++;
        sum += i;
        for (unsigned j = i * i; j < limit; j += i)
            composite[j] = 1;
    }
    return (count << 32) ^ sum;
}

/* ---- CRC32 (reflected, poly 0xEDB88320) ---- */
static uint32_t crc_table[256];
static uint8_t data[4096];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, unsigned n)
{
    uint32_t c = 0xffffffffu;
    for (unsigned i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static uint64_t crc_step(void)
{
    for (unsigned i = 0; i < sizeof data; i += 8) {
        uint64_t w = xs();
        for (int k = 0; k < 8; k++)
            data[i + k] = (uint8_t)(w >> (k * 8));
    }
    return crc32(data, sizeof data);
}

/* ---- integer matrix multiply ---- */
#define MN 16
static int64_t ma[MN][MN], mb[MN][MN], mc[MN][MN];

static uint64_t matmul_step(void)
{
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            ma[i][j] = (int64_t)(xs() % 2001) - 1000;
            mb[i][j] = (int64_t)(xs() % 2001) - 1000;
        }
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            int64_t s = 0;
            for (int k = 0; k < MN; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    uint64_t h = 0;
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++)
            h = (h ^ (uint64_t)mc[i][j]) * 0x9E3779B97F4A7C15ull;
    return h;
}

uint64_t bench_run(unsigned iterations)
{
    uint64_t sum = 0;
    rng_state = 0x243F6A8885A308D3ull;
    crc_init();
    for (unsigned it = 0; it < iterations; it++) {
        sum ^= hash_loop(512 + (it & 255));
        sum = (sum << 7 | sum >> 57) + sort_step();
        sum ^= sieve(SIEVE_N - (it & 1023));
        sum += crc_step();
        sum ^= matmul_step();
        sum *= 0x2545F4914F6CDD1Dull;
    }
    return sum;
}
