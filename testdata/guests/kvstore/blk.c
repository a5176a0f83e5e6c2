/*
 * virtio-blk driver (virtio 1.x section 5.2): one request queue, one
 * request in flight at a time, completed synchronously (the caller waits
 * for the used ring; see wait_event in main.c).
 *
 * Features: VERSION_1, FLUSH (bit 9) when offered, RO (bit 5) to learn that
 * writes would fail.  A device without FLUSH is write-through (spec
 * 5.2.6.3), so a completed write is then already durable and blk_flush()
 * does nothing.
 */
#include "runtime.h"
#include "kvstore.h"

#define VIRTIO_BLK_F_RO    (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

#define VIRTIO_BLK_T_IN    0
#define VIRTIO_BLK_T_OUT   1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK    0

#define BLK_QSIZE 8

static struct vdev dev;
static struct vq q;
static int present;
static uint64_t capacity;     /* 512-byte sectors */

static struct vq_desc q_desc[VQ_MAX] __attribute__((aligned(4096)));
static uint16_t q_avail[3 + VQ_MAX] __attribute__((aligned(16)));
static uint8_t q_used[6 + 8 * VQ_MAX] __attribute__((aligned(16)));

static struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} req_hdr __attribute__((aligned(16)));
static volatile uint8_t req_status __attribute__((aligned(16)));

int blk_init(uintptr_t mmio, unsigned irq)
{
    dev.mmio = mmio;
    dev.irq = irq;
    dev.device_id = VIRTIO_ID_BLK;
    if (virtio_begin(&dev, VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO) < 0)
        return -1;
    /* capacity: le64 at config offset 0, read consistently */
    uint32_t gen, lo, hi;
    do {
        gen = virtio_config_generation(&dev);
        lo = mmio_read32(mmio + 0x100);
        hi = mmio_read32(mmio + 0x104);
    } while (gen != virtio_config_generation(&dev));
    capacity = (uint64_t)hi << 32 | lo;
    if (vq_setup(&dev, &q, 0, BLK_QSIZE, q_desc, q_avail, q_used) < 0 || q.size < 4) {
        virtio_fail(&dev);
        return -1;
    }
    virtio_driver_ok(&dev);
    present = 1;
    return 0;
}

int blk_present(void) { return present; }
uint64_t blk_sectors(void) { return capacity; }
int blk_has_flush(void) { return present && (dev.features & VIRTIO_BLK_F_FLUSH) != 0; }
int blk_read_only(void) { return present && (dev.features & VIRTIO_BLK_F_RO) != 0; }

void blk_irq(void)
{
    if (present)
        virtio_ack_irq(&dev);
}

/* Runs one request: header, optional data, status. */
static int blk_do(uint32_t type, uint64_t sector, void *buf, uint32_t len, int dev_writes)
{
    if (!present)
        return -1;
    req_hdr.type = type;
    req_hdr.reserved = 0;
    req_hdr.sector = sector;
    req_status = 0xFF;
    uint16_t i = 0;
    q_desc[0].addr = (uint64_t)(uintptr_t)&req_hdr;
    q_desc[0].len = sizeof req_hdr;
    q_desc[0].flags = VQ_DESC_F_NEXT;
    q_desc[0].next = 1;
    i = 1;
    if (len) {
        q_desc[1].addr = (uint64_t)(uintptr_t)buf;
        q_desc[1].len = len;
        q_desc[1].flags = VQ_DESC_F_NEXT | (dev_writes ? VQ_DESC_F_WRITE : 0);
        q_desc[1].next = 2;
        i = 2;
    }
    q_desc[i].addr = (uint64_t)(uintptr_t)&req_status;
    q_desc[i].len = 1;
    q_desc[i].flags = VQ_DESC_F_WRITE;
    q_desc[i].next = 0;
    barrier();
    vq_push(&q, 0);
    vq_notify(&q);

    uint64_t start = ticks, warned = start;
    uint32_t id, ulen;
    while (!vq_pop(&q, &id, &ulen)) {
        wait_event();
        if (ticks - warned >= 500) {
            warned = ticks;
            printf("kvstore: disk request (type %u sector %lu) pending for %lu s\n",
                   type, (unsigned long)sector, (unsigned long)((ticks - start) / 100));
        }
    }
    barrier();
    return req_status == VIRTIO_BLK_S_OK ? 0 : -1;
}

int blk_read(uint64_t sector, void *buf, unsigned nsect)
{
    if (nsect == 0 || nsect > BLK_MAX_SECTORS || sector + nsect > capacity)
        return -1;
    return blk_do(VIRTIO_BLK_T_IN, sector, buf, nsect * 512, 1);
}

int blk_write(uint64_t sector, const void *buf, unsigned nsect)
{
    if (nsect == 0 || nsect > BLK_MAX_SECTORS || sector + nsect > capacity || blk_read_only())
        return -1;
    return blk_do(VIRTIO_BLK_T_OUT, sector, (void *)buf, nsect * 512, 0);
}

int blk_flush(void)
{
    if (!blk_has_flush())
        return present ? 0 : -1;
    return blk_do(VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0);
}
