/*
 * virtq.h - the layout of a split virtqueue (virtio 1.2, 2.7): descriptor
 * table, available ring and used ring, QSIZE entries each. The includer may
 * define QSIZE first (default 32).
 */
#ifndef FTVM_VIRTQ_H
#define FTVM_VIRTQ_H

#include <stdint.h>

#ifndef QSIZE
#define QSIZE 32
#endif

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
struct avail {
    uint16_t flags, idx, ring[QSIZE], used_event;
};
struct used_elem {
    uint32_t id, len;
};
struct used {
    uint16_t flags, idx;
    struct used_elem ring[QSIZE];
    uint16_t avail_event;
};

#endif
