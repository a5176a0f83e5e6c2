/*
 * tss.h - the 64-bit task-state segment (SDM Vol. 3A, 8.7): the stacks for
 * privilege changes and the interrupt stack table.
 */
#ifndef FTVM_TSS_H
#define FTVM_TSS_H

#include <stdint.h>

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

#endif
