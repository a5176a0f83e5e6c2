/*
 * dirty: a guest that keeps writing its RAM, for the pair's live join (the
 * pre-copy must follow what it writes).
 *
 * Written from the ftvm boot ABI (ARCHITECTURE.md 3: the first 4 GiB mapped
 * 1:1, RDI the RAM size, RSI the command line). Its region is the RAM from
 * 8 MiB up, at most "mib=N" MiB (command line; default 16). It fills every
 * 64-bit word of the region with a hash of the word's index, then makes
 * passes: pass p rewrites every word of a window of 64 pages (256 KiB) that
 * starts 5 pages further each pass (wrapping at the region's end), each new
 * word a mix of the old word and p, so a pass reads what passes long before
 * wrote. A running hash folds in every word written. Every "every=N"
 * passes (default 64) it prints the pass and the hash; after "passes=N"
 * passes (default 256) it prints the sum of every word of the region and
 * ends with debug-exit 0.
 */
#define GUEST_MAIN_CMDLINE
#include "lib/runtime.h"

#define REGION   0x800000ul
#define PAGE     4096ul
#define WINDOW   64ul
#define STRIDE   5ul

/* arg returns N of "NAME=N" on the command line s, or def. */
static unsigned long arg(const char *s, const char *name, unsigned long def)
{
	size_t l = strlen(name);
	for (const char *p = s; p && *p; p++)
		if ((p == s || p[-1] == ' ') && memcmp(p, name, l) == 0 && p[l] == '=') {
			unsigned long n = 0;
			for (p += l + 1; *p >= '0' && *p <= '9'; p++)
				n = n * 10 + (unsigned long)(*p - '0');
			return n;
		}
	return def;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7FB5D329728EA185ull;
	x ^= x >> 27;
	return x;
}

int main(unsigned long ram_size, unsigned long cmdline)
{
	const char *cl = (const char *)cmdline;
	unsigned long mib = arg(cl, "mib", 16), passes = arg(cl, "passes", 256), every = arg(cl, "every", 64);
	if (ram_size < REGION + WINDOW * PAGE) {
		printf("dirty: %lu bytes of RAM, want at least %lu\n", ram_size, REGION + WINDOW * PAGE);
		return 1;
	}
	unsigned long bytes = mib << 20;
	if (bytes > ram_size - REGION)
		bytes = (ram_size - REGION) & ~(PAGE - 1);
	if (bytes < WINDOW * PAGE)
		bytes = WINDOW * PAGE;
	unsigned long pages = bytes / PAGE, words = bytes / 8;
	volatile uint64_t *w = (volatile uint64_t *)REGION;
	printf("dirty: %lu KiB from 0x%lx, %lu passes\n", bytes >> 10, REGION, passes);
	for (unsigned long i = 0; i < words; i++)
		w[i] = mix(i + 1);
	uint64_t h = 0;
	for (unsigned long p = 1; p <= passes; p++) {
		unsigned long first = p * STRIDE % pages;
		for (unsigned long k = 0; k < WINDOW; k++) {
			volatile uint64_t *pg = w + (first + k) % pages * (PAGE / 8);
			for (unsigned long i = 0; i < PAGE / 8; i++) {
				uint64_t x = mix(pg[i] + p);
				pg[i] = x;
				h = (h ^ x) * 0x100000001B3ull;
			}
		}
		if (every && p % every == 0)
			printf("pass %lu: hash %016lx\n", p, (unsigned long)h);
	}
	uint64_t sum = 0;
	for (unsigned long i = 0; i < words; i++)
		sum += w[i];
	printf("dirty: sum %016lx\n", (unsigned long)sum);
	return 0;
}
