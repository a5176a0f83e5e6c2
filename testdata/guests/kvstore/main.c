/*
 * kvstore: a key-value appliance on UDP for ftvm (see README.md).
 *
 * Boot: parse the kernel command line, find the virtio-mmio devices, set up
 * the interrupts (8259 + 8254 at 100 Hz; virtio lines through the 8259 or
 * the I/O APIC), rebuild the store from the disk log, then serve.
 *
 * The main loop runs with interrupts disabled and opens them only to halt
 * (intr_wait) or for one instruction per round (intr_window), so the timer
 * interrupt, which prints the heartbeat, never interleaves its line with
 * one of the main code's.  Device interrupt handlers only acknowledge the
 * device: all the work is done by polling the used rings from the main loop,
 * which an interrupt (or at the latest the next timer tick) wakes up.
 */
#define GUEST_MAIN_CMDLINE
#include "runtime.h"
#include "intr.h"
#include "kvstore.h"

#define HZ          100
#define MAX_SLOTS   8
#define DEV_VEC_BASE 0x30        /* I/O APIC vectors of the device lines */

volatile uint64_t ticks;
int irq_routed;

enum intr_mode { INTR_AUTO, INTR_PIC, INTR_IOAPIC, INTR_POLL };

struct slot {
    uint64_t size;
    uint64_t addr;
    unsigned irq;
};

static struct slot slots[MAX_SLOTS];
static unsigned nslots;
static uint32_t cfg_ip = 0x0A00020F;   /* 10.0.2.15 */
static unsigned cfg_prefix = 24;
static unsigned cfg_port = 7000;
static enum intr_mode cfg_intr = INTR_AUTO;

/* ---- command line ---- */

/* Parses an unsigned number (decimal, or hex with 0x) at *pp; advances. */
static int parse_num(const char **pp, const char *end, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    int base = 10, digits = 0;
    if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (; p < end; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        if (v > (~0ULL - (uint64_t)d) / (uint64_t)base)
            return -1;
        v = v * (uint64_t)base + (uint64_t)d;
        digits++;
    }
    if (!digits)
        return -1;
    *pp = p;
    *out = v;
    return 0;
}

static int starts(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* virtio_mmio.device=<size>[KMG]@<addr>:<irq>[:<id>] (Linux's syntax) */
static int parse_device(const char *p, const char *end)
{
    uint64_t size, addr, irq;
    if (parse_num(&p, end, &size) < 0)
        return -1;
    if (p < end && (*p == 'K' || *p == 'k')) { size <<= 10; p++; }
    else if (p < end && (*p == 'M' || *p == 'm')) { size <<= 20; p++; }
    else if (p < end && (*p == 'G' || *p == 'g')) { size <<= 30; p++; }
    if (p >= end || *p++ != '@' || parse_num(&p, end, &addr) < 0)
        return -1;
    if (p >= end || *p++ != ':' || parse_num(&p, end, &irq) < 0 || irq > 255)
        return -1;
    if (p < end && *p != ':')
        return -1;
    if (size < 0x100 || addr == 0 || addr >= (1ULL << 32) || nslots >= MAX_SLOTS)
        return -1;
    slots[nslots].size = size;
    slots[nslots].addr = addr;
    slots[nslots].irq = (unsigned)irq;
    nslots++;
    return 0;
}

/* ip=A.B.C.D[/NN] */
static int parse_ip(const char *p, const char *end)
{
    uint32_t ip = 0;
    uint64_t v, prefix = 24;
    for (int i = 0; i < 4; i++) {
        if (i && (p >= end || *p++ != '.'))
            return -1;
        if (p >= end || *p < '0' || *p > '9' || parse_num(&p, end, &v) < 0 || v > 255)
            return -1;
        ip = ip << 8 | (uint32_t)v;
    }
    if (p < end && *p == '/') {
        p++;
        if (parse_num(&p, end, &prefix) < 0 || prefix > 32)
            return -1;
    }
    if (p != end || ip == 0)
        return -1;
    cfg_ip = ip;
    cfg_prefix = (unsigned)prefix;
    return 0;
}

static void parse_cmdline(const char *s)
{
    const char *p = s;
    for (int guard = 0; *p && guard < 8192; guard++) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t' && *end != '\n')
            end++;
        int bad = 0;
        if (starts(p, end, "virtio_mmio.device=")) {
            bad = parse_device(p + 19, end) < 0;
        } else if (starts(p, end, "ip=")) {
            bad = parse_ip(p + 3, end) < 0;
        } else if (starts(p, end, "port=")) {
            const char *q = p + 5;
            uint64_t v;
            bad = parse_num(&q, end, &v) < 0 || q != end || v == 0 || v > 65535;
            if (!bad)
                cfg_port = (unsigned)v;
        } else if (starts(p, end, "intr=")) {
            const char *q = p + 5;
            if (end - q == 4 && memcmp(q, "auto", 4) == 0)
                cfg_intr = INTR_AUTO;
            else if (end - q == 3 && memcmp(q, "pic", 3) == 0)
                cfg_intr = INTR_PIC;
            else if (end - q == 6 && memcmp(q, "ioapic", 6) == 0)
                cfg_intr = INTR_IOAPIC;
            else if (end - q == 4 && memcmp(q, "poll", 4) == 0)
                cfg_intr = INTR_POLL;
            else
                bad = 1;
        }
        /* anything else (console=..., Linux options) is ignored */
        if (bad) {
            puts_nonl("kvstore: ignoring bad option \"");
            serial_write(p, (size_t)(end - p));
            puts_nonl("\"\n");
        }
        p = end;
    }
}

/* ---- interrupts ---- */

static void timer_irq(unsigned v)
{
    (void)v;
    ticks++;
    if (ticks % HZ == 0)
        printf("kvstore: heartbeat t=%lu writes=%lu\n",
               (unsigned long)(ticks / HZ), (unsigned long)store_writes());
}

static void device_irq(unsigned v)
{
    (void)v;
    net_irq();                   /* lines may be shared: ask both */
    blk_irq();
}

void wait_event(void)
{
    if (irq_routed) {
        intr_wait();
        return;
    }
    for (int i = 0; i < 200; i++)
        __asm__ volatile("pause");
    intr_window();
}

/* Routes the line of a device; returns 1 if its interrupts reach the CPU. */
static int route_irq(unsigned irq, unsigned nth, const char **how)
{
    enum intr_mode m = cfg_intr;
    if (m == INTR_AUTO)
        m = irq < 16 ? INTR_PIC : INTR_IOAPIC;
    if (m == INTR_PIC && irq < 16 && irq != 2) {
        intr_set_handler(PIC_MASTER_BASE + irq, device_irq);
        pic_unmask(irq);
        *how = "pic";
        return 1;
    }
    if (m == INTR_IOAPIC) {
        if (!lapic_enabled())
            lapic_enable();
        uint8_t vec = (uint8_t)(DEV_VEC_BASE + nth);
        if (ioapic_route(irq, vec) == 0) {
            intr_set_handler(vec, device_irq);
            if (irq < 16)
                pic_mask(irq);
            *how = "ioapic";
            return 1;
        }
    }
    *how = "poll";
    return 0;
}

/* ---- main ---- */

int main(unsigned long ram_size, unsigned long cmdline_paddr)
{
    (void)ram_size;
    intr_init();
    pic_init();
    int vw = lapic_virtual_wire();
    store_init();

    const char *cmdline = cmdline_paddr ? (const char *)cmdline_paddr : "";
    printf("kvstore: cmdline \"%s\"\n", cmdline);
    parse_cmdline(cmdline);
    if (vw)
        printf("kvstore: local APIC LINT0 was not in virtual-wire mode: enabled it\n");

    /* the timer first: it also bounds every wait for a device */
    intr_set_handler(PIC_MASTER_BASE + 0, timer_irq);
    pit_start(HZ);
    pic_unmask(0);

    int net_slot = -1, blk_slot = -1;
    for (unsigned i = 0; i < nslots; i++) {
        uint32_t id, version;
        if (virtio_probe((uintptr_t)slots[i].addr, &id, &version) < 0) {
            if (version)
                printf("kvstore: virtio-mmio@0x%lx: version %u, not supported\n",
                       (unsigned long)slots[i].addr, version);
            else
                printf("kvstore: virtio-mmio@0x%lx: no device\n", (unsigned long)slots[i].addr);
            continue;
        }
        if (id == VIRTIO_ID_NET && net_slot < 0)
            net_slot = (int)i;
        else if (id == VIRTIO_ID_BLK && blk_slot < 0)
            blk_slot = (int)i;
        else if (id != 0)
            printf("kvstore: virtio-mmio@0x%lx: device %u not used\n", (unsigned long)slots[i].addr, id);
    }

    int routed = 1, any = 0;
    unsigned nth = 0;
    int sl[2] = { net_slot, blk_slot };
    for (int k = 0; k < 2; k++) {
        if (sl[k] < 0)
            continue;
        struct slot *s = &slots[sl[k]];
        int ok = k == 0 ? net_init((uintptr_t)s->addr, s->irq, cfg_ip, cfg_prefix, cfg_port)
                        : blk_init((uintptr_t)s->addr, s->irq);
        const char *how = "-";
        if (ok == 0) {
            any = 1;
            if (!route_irq(s->irq, nth++, &how))
                routed = 0;
        }
        printf("kvstore: virtio-mmio@0x%lx irq %u: %s%s, interrupts %s\n",
               (unsigned long)s->addr, s->irq, k == 0 ? "net" : "blk",
               ok == 0 ? "" : " (initialisation failed)", how);
    }
    irq_routed = any && routed;

    store_open();

    const uint8_t *m = net_mac();
    char macs[24] = "none";
    if (net_present())
        snprintf(macs, sizeof macs, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    printf("kvstore: ip=%u.%u.%u.%u mac=%s keys=%lu writes=%lu\n",
           cfg_ip >> 24, (cfg_ip >> 16) & 255, (cfg_ip >> 8) & 255, cfg_ip & 255, macs,
           (unsigned long)store_keys(), (unsigned long)store_writes());

    if (net_present()) {
        printf("kvstore: serving udp port %u on %u.%u.%u.%u/%u\n", cfg_port,
               cfg_ip >> 24, (cfg_ip >> 16) & 255, (cfg_ip >> 8) & 255, cfg_ip & 255, cfg_prefix);
        net_announce();
    } else {
        printf("kvstore: no virtio-net device: not serving\n");
    }

    for (;;) {
        intr_window();
        if (net_poll())
            continue;
        if (!net_rx_pending())
            intr_wait();
    }
}
