/*
 * The key-value store: an in-memory table rebuilt at boot from an
 * append-only log on the virtio-blk disk, and the request protocol.
 *
 * Disk layout (512-byte sectors, little-endian):
 *   sector 0: header  "ftvm-kvstore-log" (16 bytes), u32 version = 1, rest 0.
 *             An all-zero sector 0 is a fresh disk: the header is written
 *             and flushed.  Anything else: the disk is not used.
 *   sector 1...: records, each starting on a sector boundary and padded
 *             with zeros to a whole number of sectors (at most 3):
 *       0  u32 magic 0x3152564B ("KVR1")
 *       4  u32 crc32 (IEEE) of bytes 8..(24+klen+vlen)
 *       8  u64 seq   the write sequence number: 1, 2, 3, ... in log order
 *      16  u16 klen  1..64
 *      18  u16 vlen  0..1024
 *      20  u32 reserved, 0
 *      24  key, value
 * Replay reads records in order and stops at the first that is not valid
 * (magic, lengths, crc, seq = previous + 1, inside the disk): that is the
 * torn or garbage tail, and the next write goes there.  A record is written
 * and then flushed before its PUT is acknowledged, and never rewritten, so
 * an acknowledged write survives a restart.
 */
#include "runtime.h"
#include "kvstore.h"

#define MAX_KEYS   4096
#define SLOTS      8192          /* open addressing, power of two */
#define REC_HDR    24
#define REC_MAGIC  0x3152564Bu
#define LOG_START  1
#define CHUNK      BLK_MAX_SECTORS

static const char disk_magic[16] = "ftvm-kvstore-log";

struct entry {
    uint16_t klen, vlen;
    char key[KEY_MAX];
    char val[VALUE_MAX];
};

static struct entry entries[MAX_KEYS];
static uint16_t slots[SLOTS];    /* entry index + 1, 0 = empty */
static uint64_t nkeys, writes;

static int use_disk;             /* the log is usable */
static uint64_t log_tail;        /* sector of the next record */
static uint8_t io_buf[CHUNK * 512] __attribute__((aligned(4096)));
static uint8_t rec_buf[3 * 512] __attribute__((aligned(512)));

uint64_t store_keys(void) { return nkeys; }
uint64_t store_writes(void) { return writes; }

/* ---- CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t crc32(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *b++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- table ---- */

static uint32_t hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;    /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static uint16_t *lookup(const char *k, size_t n)
{
    uint32_t i = hash(k, n) & (SLOTS - 1);
    for (;;) {
        uint16_t s = slots[i];
        if (s == 0)
            return &slots[i];
        struct entry *e = &entries[s - 1];
        if (e->klen == n && memcmp(e->key, k, n) == 0)
            return &slots[i];
        i = (i + 1) & (SLOTS - 1);
    }
}

static int table_full(const char *k, size_t n)
{
    return *lookup(k, n) == 0 && nkeys >= MAX_KEYS;
}

static void table_put(const char *k, size_t kn, const char *v, size_t vn)
{
    uint16_t *s = lookup(k, kn);
    if (*s == 0) {
        if (nkeys >= MAX_KEYS)
            return;
        *s = (uint16_t)(++nkeys);
        struct entry *e = &entries[*s - 1];
        e->klen = (uint16_t)kn;
        memcpy(e->key, k, kn);
    }
    struct entry *e = &entries[*s - 1];
    e->vlen = (uint16_t)vn;
    memcpy(e->val, v, vn);
}

static struct entry *table_get(const char *k, size_t n)
{
    uint16_t s = *lookup(k, n);
    return s ? &entries[s - 1] : 0;
}

/* ---- log ---- */

static unsigned rec_sectors(size_t klen, size_t vlen)
{
    return (unsigned)((REC_HDR + klen + vlen + 511) / 512);
}

void store_init(void)
{
    crc_init();
}

/* Checks the record at p (avail bytes there); returns its sector count,
 * 0 if it is not a valid record with sequence number seq, or -1 if it
 * needs more bytes than avail. */
static int rec_check(const uint8_t *p, size_t avail, uint64_t seq)
{
    if (get32le(p) != REC_MAGIC)
        return 0;
    unsigned klen = get16le(p + 16), vlen = get16le(p + 18);
    if (klen == 0 || klen > KEY_MAX || vlen > VALUE_MAX || get64le(p + 8) != seq)
        return 0;
    size_t len = REC_HDR + klen + vlen;
    if (len > avail)
        return -1;
    if (crc32(p + 8, len - 8) != get32le(p + 4))
        return 0;
    return (int)rec_sectors(klen, vlen);
}

/* Rebuilds the table from the log; 0, or -1 after a read error. */
static int replay(void)
{
    uint64_t cap = blk_sectors();
    uint64_t sec = LOG_START, records = 0;
    for (;;) {
        if (sec >= cap)
            break;
        unsigned n = cap - sec < CHUNK ? (unsigned)(cap - sec) : CHUNK;
        if (blk_read(sec, io_buf, n) < 0) {
            printf("kvstore: disk read error at sector %lu\n", (unsigned long)sec);
            return -1;
        }
        unsigned off = 0;        /* sectors consumed in this chunk */
        int r = 0;
        while (off < n) {
            r = rec_check(io_buf + off * 512, (size_t)(n - off) * 512, writes + 1);
            if (r <= 0)
                break;
            const uint8_t *p = io_buf + off * 512;
            unsigned klen = get16le(p + 16), vlen = get16le(p + 18);
            table_put((const char *)p + REC_HDR, klen, (const char *)p + REC_HDR + klen, vlen);
            writes++;
            records++;
            off += (unsigned)r;
        }
        sec += off;
        if (r == 0)
            break;               /* the end of the log */
        if (r < 0 && off == 0)
            break;               /* a record running past the end of the disk */
    }
    log_tail = sec;
    printf("kvstore: log replayed: %lu records, next sector %lu of %lu\n",
           (unsigned long)records, (unsigned long)log_tail, (unsigned long)cap);
    return 0;
}

void store_open(void)
{
    if (!blk_present()) {
        printf("kvstore: no disk, memory only\n");
        return;
    }
    uint64_t cap = blk_sectors();
    printf("kvstore: disk %lu sectors%s%s\n", (unsigned long)cap,
           blk_has_flush() ? ", flush" : ", no flush (write-through)",
           blk_read_only() ? ", read-only" : "");
    if (cap < LOG_START + 3) {
        printf("kvstore: disk too small, memory only\n");
        return;
    }
    if (blk_read(0, io_buf, 1) < 0) {
        printf("kvstore: disk read error, memory only\n");
        return;
    }
    int zero = 1;
    for (int i = 0; i < 512; i++)
        if (io_buf[i]) {
            zero = 0;
            break;
        }
    if (zero) {
        if (blk_read_only()) {
            printf("kvstore: empty read-only disk, memory only\n");
            return;
        }
        memcpy(io_buf, disk_magic, 16);
        put32le(io_buf + 16, 1);
        if (blk_write(0, io_buf, 1) < 0 || blk_flush() < 0) {
            printf("kvstore: cannot format the disk, memory only\n");
            return;
        }
        printf("kvstore: new log on an empty disk\n");
    } else if (memcmp(io_buf, disk_magic, 16) != 0 || get32le(io_buf + 16) != 1) {
        printf("kvstore: disk holds no kvstore log (give a zeroed image), memory only\n");
        return;
    }
    if (replay() < 0) {
        printf("kvstore: memory only (%lu records read)\n", (unsigned long)writes);
        return;
    }
    use_disk = !blk_read_only();
    if (!use_disk)
        printf("kvstore: read-only disk: writes stay in memory\n");
}

/* Appends one record and flushes it; 0, or an error reply text. */
static const char *log_append(const char *k, size_t kn, const char *v, size_t vn, uint64_t seq)
{
    unsigned ns = rec_sectors(kn, vn);
    if (log_tail + ns > blk_sectors())
        return "ERR disk full";
    memset(rec_buf, 0, ns * 512);
    put32le(rec_buf, REC_MAGIC);
    put64le(rec_buf + 8, seq);
    put16le(rec_buf + 16, (uint16_t)kn);
    put16le(rec_buf + 18, (uint16_t)vn);
    memcpy(rec_buf + REC_HDR, k, kn);
    memcpy(rec_buf + REC_HDR + kn, v, vn);
    put32le(rec_buf + 4, crc32(rec_buf + 8, REC_HDR - 8 + kn + vn));
    if (blk_write(log_tail, rec_buf, ns) < 0 || blk_flush() < 0)
        return "ERR disk error";
    log_tail += ns;
    return 0;
}

/* ---- protocol ---- */

static size_t out_str(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
}

static int key_ok(const uint8_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (k[i] <= 0x20 || k[i] >= 0x7f)
            return 0;
    return 1;
}

static int value_ok(const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
            return 0;
    return 1;
}

/* Length of the token at p (up to a space or the end). */
static size_t token(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != ' ')
        i++;
    return i;
}

size_t store_request(const uint8_t *req, size_t len, char *out)
{
    /* one trailing newline (\n or \r\n) is tolerated */
    if (len && req[len - 1] == '\n') {
        len--;
        if (len && req[len - 1] == '\r')
            len--;
    }
    if (len == 0)
        return out_str(out, "ERR empty request");
    size_t cl = token(req, len);
    const uint8_t *rest = req + cl + 1;
    size_t rn = cl < len ? len - cl - 1 : 0;
    int has_rest = cl < len;

    if (cl == 4 && memcmp(req, "STAT", 4) == 0) {
        if (has_rest)
            return out_str(out, "ERR usage: STAT");
        return (size_t)snprintf(out, REPLY_MAX, "KEYS %lu WRITES %lu",
                                (unsigned long)nkeys, (unsigned long)writes);
    }
    if (cl == 3 && memcmp(req, "GET", 3) == 0) {
        size_t kl = has_rest ? token(rest, rn) : 0;
        if (kl == 0 || kl != rn)
            return out_str(out, "ERR usage: GET <key>");
        if (kl > KEY_MAX)
            return out_str(out, "ERR key too long");
        if (!key_ok(rest, kl))
            return out_str(out, "ERR bad key");
        struct entry *e = table_get((const char *)rest, kl);
        if (!e)
            return out_str(out, "NONE");
        memcpy(out, "VAL ", 4);
        memcpy(out + 4, e->val, e->vlen);
        return 4 + (size_t)e->vlen;
    }
    if (cl == 3 && memcmp(req, "PUT", 3) == 0) {
        size_t kl = has_rest ? token(rest, rn) : 0;
        if (kl == 0 || kl == rn)
            return out_str(out, "ERR usage: PUT <key> <value>");
        if (kl > KEY_MAX)
            return out_str(out, "ERR key too long");
        if (!key_ok(rest, kl))
            return out_str(out, "ERR bad key");
        const uint8_t *v = rest + kl + 1;
        size_t vl = rn - kl - 1;
        if (vl > VALUE_MAX)
            return out_str(out, "ERR value too long");
        if (!value_ok(v, vl))
            return out_str(out, "ERR bad value");
        if (table_full((const char *)rest, kl))
            return out_str(out, "ERR store full");
        if (use_disk) {
            const char *err = log_append((const char *)rest, kl, (const char *)v, vl, writes + 1);
            if (err)
                return out_str(out, err);
        }
        table_put((const char *)rest, kl, (const char *)v, vl);
        writes++;
        return (size_t)snprintf(out, REPLY_MAX, "OK %lu", (unsigned long)writes);
    }
    return out_str(out, "ERR unknown command");
}
