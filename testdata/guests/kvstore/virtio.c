/*
 * virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2.2),
 * and split virtqueues (section 2.7).
 *
 * Guest memory is identity mapped, so a pointer is its physical address.
 * x86 keeps stores in order and loads in order, so compiler barriers are
 * enough between filling a descriptor, publishing it in the available ring
 * and bumping avail->idx; the driver notifies after every batch (no
 * EVENT_IDX, no NO_NOTIFY check), so no store-load fence is needed either.
 */
#include "runtime.h"
#include "kvstore.h"

/* register offsets */
#define R_MAGIC          0x000
#define R_VERSION        0x004
#define R_DEVICE_ID      0x008
#define R_DEV_FEATURES   0x010
#define R_DEV_FEAT_SEL   0x014
#define R_DRV_FEATURES   0x020
#define R_DRV_FEAT_SEL   0x024
#define R_QUEUE_SEL      0x030
#define R_QUEUE_NUM_MAX  0x034
#define R_QUEUE_NUM      0x038
#define R_QUEUE_READY    0x044
#define R_QUEUE_NOTIFY   0x050
#define R_IRQ_STATUS     0x060
#define R_IRQ_ACK        0x064
#define R_STATUS         0x070
#define R_QUEUE_DESC_LO  0x080
#define R_QUEUE_DESC_HI  0x084
#define R_QUEUE_DRV_LO   0x090
#define R_QUEUE_DRV_HI   0x094
#define R_QUEUE_DEV_LO   0x0a0
#define R_QUEUE_DEV_HI   0x0a4
#define R_CONFIG_GEN     0x0fc

#define S_ACKNOWLEDGE 1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_FAILED      128

#define VIRTIO_MAGIC 0x74726976   /* "virt" */

uint32_t mmio_read32(uintptr_t a)
{
    return *(volatile uint32_t *)a;
}

void mmio_write32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}

uint8_t mmio_read8(uintptr_t a)
{
    return *(volatile uint8_t *)a;
}

int virtio_probe(uintptr_t mmio, uint32_t *device_id, uint32_t *version)
{
    *device_id = 0;
    *version = 0;
    if (mmio_read32(mmio + R_MAGIC) != VIRTIO_MAGIC)
        return -1;
    *version = mmio_read32(mmio + R_VERSION);
    *device_id = mmio_read32(mmio + R_DEVICE_ID);
    return *version == 2 ? 0 : -1;
}

static void set_status(struct vdev *d, uint32_t bits)
{
    uint32_t s = mmio_read32(d->mmio + R_STATUS);
    mmio_write32(d->mmio + R_STATUS, s | bits);
}

int virtio_begin(struct vdev *d, uint64_t wanted)
{
    uintptr_t m = d->mmio;
    mmio_write32(m + R_STATUS, 0);                 /* reset */
    for (int i = 0; i < 1000000 && mmio_read32(m + R_STATUS) != 0; i++)
        __asm__ volatile("pause");
    if (mmio_read32(m + R_STATUS) != 0)
        return -1;
    set_status(d, S_ACKNOWLEDGE);
    set_status(d, S_DRIVER);

    mmio_write32(m + R_DEV_FEAT_SEL, 0);
    uint64_t offered = mmio_read32(m + R_DEV_FEATURES);
    mmio_write32(m + R_DEV_FEAT_SEL, 1);
    offered |= (uint64_t)mmio_read32(m + R_DEV_FEATURES) << 32;
    if (!(offered & VIRTIO_F_VERSION_1)) {
        virtio_fail(d);
        return -1;
    }
    uint64_t f = (wanted | VIRTIO_F_VERSION_1) & offered;
    mmio_write32(m + R_DRV_FEAT_SEL, 0);
    mmio_write32(m + R_DRV_FEATURES, (uint32_t)f);
    mmio_write32(m + R_DRV_FEAT_SEL, 1);
    mmio_write32(m + R_DRV_FEATURES, (uint32_t)(f >> 32));
    set_status(d, S_FEATURES_OK);
    if (!(mmio_read32(m + R_STATUS) & S_FEATURES_OK)) {
        virtio_fail(d);
        return -1;
    }
    d->features = f;
    return 0;
}

int vq_setup(struct vdev *d, struct vq *q, unsigned index, unsigned size,
             void *desc, void *avail, void *used)
{
    uintptr_t m = d->mmio;
    mmio_write32(m + R_QUEUE_SEL, index);
    if (mmio_read32(m + R_QUEUE_READY) != 0)
        return -1;
    uint32_t max = mmio_read32(m + R_QUEUE_NUM_MAX);
    if (max == 0)
        return -1;
    if (size > VQ_MAX)
        size = VQ_MAX;
    if (size > max)
        size = max;
    unsigned n = 1;              /* largest power of two <= size */
    while (n * 2 <= size)
        n *= 2;
    memset(desc, 0, 16 * VQ_MAX);
    memset(avail, 0, 6 + 2 * VQ_MAX);
    memset(used, 0, 6 + 8 * VQ_MAX);
    q->mmio = m;
    q->index = index;
    q->size = (uint16_t)n;
    q->last_used = 0;
    q->avail_idx = 0;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    mmio_write32(m + R_QUEUE_NUM, n);
    mmio_write32(m + R_QUEUE_DESC_LO, (uint32_t)(uintptr_t)desc);
    mmio_write32(m + R_QUEUE_DESC_HI, (uint32_t)((uint64_t)(uintptr_t)desc >> 32));
    mmio_write32(m + R_QUEUE_DRV_LO, (uint32_t)(uintptr_t)avail);
    mmio_write32(m + R_QUEUE_DRV_HI, (uint32_t)((uint64_t)(uintptr_t)avail >> 32));
    mmio_write32(m + R_QUEUE_DEV_LO, (uint32_t)(uintptr_t)used);
    mmio_write32(m + R_QUEUE_DEV_HI, (uint32_t)((uint64_t)(uintptr_t)used >> 32));
    mmio_write32(m + R_QUEUE_READY, 1);
    return 0;
}

void virtio_driver_ok(struct vdev *d)
{
    set_status(d, S_DRIVER_OK);
}

void virtio_fail(struct vdev *d)
{
    set_status(d, S_FAILED);
}

uint32_t virtio_ack_irq(struct vdev *d)
{
    uint32_t s = mmio_read32(d->mmio + R_IRQ_STATUS);
    if (s)
        mmio_write32(d->mmio + R_IRQ_ACK, s);
    return s;
}

uint32_t virtio_config_generation(struct vdev *d)
{
    return mmio_read32(d->mmio + R_CONFIG_GEN);
}

void vq_push(struct vq *q, uint16_t head)
{
    q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
    barrier();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    barrier();
}

void vq_notify(struct vq *q)
{
    mmio_write32(q->mmio + R_QUEUE_NOTIFY, q->index);
}

static uint16_t used_idx(struct vq *q)
{
    return *(volatile uint16_t *)(q->used + 2);
}

int vq_has_used(struct vq *q)
{
    return used_idx(q) != q->last_used;
}

int vq_pop(struct vq *q, uint32_t *id, uint32_t *len)
{
    if (used_idx(q) == q->last_used)
        return 0;
    barrier();
    volatile uint8_t *e = q->used + 4 + 8 * (q->last_used & (q->size - 1));
    *id = *(volatile uint32_t *)e;
    *len = *(volatile uint32_t *)(e + 4);
    q->last_used++;
    return 1;
}
