/* kvstore: a UDP key-value appliance for ftvm; see README.md. */
#ifndef KVSTORE_H
#define KVSTORE_H

#include <stddef.h>
#include <stdint.h>

#define KEY_MAX   64
#define VALUE_MAX 1024
#define REPLY_MAX (8 + VALUE_MAX)

/* ---- byte order and memory ---- */

static inline uint16_t get16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put16be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint16_t get16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64le(const uint8_t *p) { return get32le(p) | (uint64_t)get32le(p + 4) << 32; }
static inline void put16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put64le(uint8_t *p, uint64_t v) { put32le(p, (uint32_t)v); put32le(p + 4, (uint32_t)(v >> 32)); }

#define barrier() __asm__ volatile("" ::: "memory")

/* ---- virtio-mmio transport and split virtqueues (virtio.c) ---- */

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2

#define VQ_MAX 64   /* largest queue size used */

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

#define VQ_DESC_F_NEXT  1
#define VQ_DESC_F_WRITE 2

struct vq {
    uintptr_t mmio;
    unsigned index;
    uint16_t size;               /* a power of two, <= VQ_MAX */
    uint16_t last_used;          /* next used-ring index to consume */
    uint16_t avail_idx;          /* shadow of avail->idx */
    struct vq_desc *desc;
    volatile uint16_t *avail;    /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;      /* flags, idx, {id, len}[size], avail_event */
};

struct vdev {
    uintptr_t mmio;
    unsigned irq;
    uint32_t device_id;
    uint64_t features;           /* negotiated */
};

uint32_t mmio_read32(uintptr_t a);
void mmio_write32(uintptr_t a, uint32_t v);
uint8_t mmio_read8(uintptr_t a);

/* Probes a slot: 0 and the device ID, or -1 (no virtio-mmio v2 there). */
int virtio_probe(uintptr_t mmio, uint32_t *device_id, uint32_t *version);
/* Reset, ACKNOWLEDGE|DRIVER, feature negotiation (wanted & offered, always
 * with VERSION_1), FEATURES_OK.  Returns 0 or -1. */
int virtio_begin(struct vdev *d, uint64_t wanted);
/* Sets up queue index with (at most) size entries in the given memory
 * (desc: 16*VQ_MAX bytes, avail: 6+2*VQ_MAX, used: 6+8*VQ_MAX; all
 * 16-byte aligned).  Returns 0 or -1. */
int vq_setup(struct vdev *d, struct vq *q, unsigned index, unsigned size,
             void *desc, void *avail, void *used);
void virtio_driver_ok(struct vdev *d);
void virtio_fail(struct vdev *d);
/* Reads and acknowledges the interrupt status; returns it. */
uint32_t virtio_ack_irq(struct vdev *d);
uint32_t virtio_config_generation(struct vdev *d);

/* Puts the chain starting at descriptor head into the available ring. */
void vq_push(struct vq *q, uint16_t head);
void vq_notify(struct vq *q);
/* Takes one used element: 1 with *id and *len, or 0 if none. */
int vq_pop(struct vq *q, uint32_t *id, uint32_t *len);
int vq_has_used(struct vq *q);

#define VIRTIO_F_VERSION_1 (1ULL << 32)

/* ---- virtio-blk (blk.c) ---- */

int blk_init(uintptr_t mmio, unsigned irq);
int blk_present(void);
uint64_t blk_sectors(void);
int blk_has_flush(void);
int blk_read_only(void);
/* Synchronous requests; 0 on success, -1 on an I/O error.  buf must hold
 * nsect * 512 bytes, nsect <= BLK_MAX_SECTORS. */
#define BLK_MAX_SECTORS 64
int blk_read(uint64_t sector, void *buf, unsigned nsect);
int blk_write(uint64_t sector, const void *buf, unsigned nsect);
int blk_flush(void);
void blk_irq(void);

/* ---- virtio-net and the network stack (net.c) ---- */

int net_init(uintptr_t mmio, unsigned irq, uint32_t ip, unsigned prefix, unsigned port);
int net_present(void);
const uint8_t *net_mac(void);
/* Processes received frames; returns how many. */
int net_poll(void);
int net_rx_pending(void);
void net_irq(void);
void net_announce(void);

/* ---- the store and its log (store.c) ---- */

void store_init(void);
/* Replays the log on the disk, if any (call after blk_init). */
void store_open(void);
uint64_t store_keys(void);
uint64_t store_writes(void);
/* Handles one request datagram; writes the reply to out (REPLY_MAX
 * bytes) and returns its length. */
size_t store_request(const uint8_t *req, size_t len, char *out);

/* ---- main.c ---- */

/* Timer interrupts since boot (100 Hz). */
extern volatile uint64_t ticks;
/* Set when interrupts are routed to the CPU (not only polling). */
extern int irq_routed;
/* Waits for an interrupt (or spins a little when polling only). */
void wait_event(void);
uint32_t crc32(const void *p, size_t n);

#endif
