/*
 * wait: a guest that waits for one kind of event, the ways a kernel does,
 * and prints one line per event on COM1.  Written from the Intel SDM (8259A,
 * 8254, local APIC, I/O APIC), the 16550 data sheet, the virtio 1.x spec
 * (virtio-mmio, split virtqueues, net and block devices) and ftvm's boot ABI;
 * it runs unchanged under ftvm and under qemu-system-x86_64 -M microvm.
 *
 * One source, built several ways (the Makefile's WAIT_VARIANTS):
 *
 *   -DSRC=   what it waits for:
 *            SRC_PIT_PERIODIC  8254 channel 0, mode 2 (rate generator), 100 Hz
 *            SRC_PIT_ONESHOT   8254 channel 0, mode 0 (interrupt on terminal count), re-armed each time
 *            SRC_LAPIC_ONESHOT local APIC timer, one-shot
 *            SRC_LAPIC_PERIODIC local APIC timer, periodic
 *            SRC_TSC_DEADLINE  local APIC timer in TSC-deadline mode (IA32_TSC_DEADLINE)
 *            SRC_CONSOLE       a byte received by the 16550 (COM1)
 *            SRC_DISK          a virtio-blk request completing (a write, then a read of it)
 *            SRC_FRAME         a frame received by virtio-net (echoed back)
 *   -DHOW=   how it waits:
 *            HOW_HLT    sti; hlt (interrupts off while checking, so none is missed)
 *            HOW_PAUSE  spins with PAUSE on a counter the interrupt handler bumps
 *            HOW_POLL   interrupts never enabled: polls the device's own state
 *   -DROUTE= ROUTE_PIC (the 8259 pair remapped to 0x20-0x2F, the local APIC
 *            left as firmware leaves it) or ROUTE_IOAPIC (the 8259 pair
 *            masked, the I/O APIC's redirection entries to the local APIC)
 *   -DVWIRE=1      with ROUTE_PIC, put the local APIC in virtual-wire mode
 *                  itself (enabled, LINT0 ExtINT) as a kernel does, instead
 *                  of relying on the boot state (QEMU microvm's firmware
 *                  leaves LINT0 masked, ftvm's boot ABI leaves it ExtINT)
 *   -DEVENT_IDX=1  negotiate VIRTIO_F_EVENT_IDX (else the ring flags are used)
 *   -DINDIRECT=1   negotiate VIRTIO_F_INDIRECT_DESC and put every request in
 *                  an indirect table
 *
 * Command line: count=N events (default 20), and the virtio_mmio.device=
 * SIZE@ADDR:IRQ entries that ftvm and QEMU microvm add for their devices.
 * It ends with "wait: done" and debug-exit value 0 (status 1); a failure
 * prints "FAIL ..." and exits with value 0x7e.
 */
#define GUEST_MAIN_CMDLINE
#include "runtime.h"

#define SRC_PIT_PERIODIC   1
#define SRC_PIT_ONESHOT    2
#define SRC_LAPIC_ONESHOT  3
#define SRC_LAPIC_PERIODIC 4
#define SRC_TSC_DEADLINE   5
#define SRC_CONSOLE        6
#define SRC_DISK           7
#define SRC_FRAME          8

#define HOW_HLT   1
#define HOW_PAUSE 2
#define HOW_POLL  3

#define ROUTE_PIC    1
#define ROUTE_IOAPIC 2

#ifndef SRC
#error "SRC must be defined"
#endif
#ifndef HOW
#define HOW HOW_HLT
#endif
#ifndef ROUTE
#define ROUTE ROUTE_PIC
#endif
#ifndef VWIRE
#define VWIRE 0
#endif
#ifndef EVENT_IDX
#define EVENT_IDX 0
#endif
#ifndef INDIRECT
#define INDIRECT 0
#endif

#define IS_VIRTIO (SRC == SRC_DISK || SRC == SRC_FRAME)
#define IS_LAPIC_TIMER (SRC == SRC_LAPIC_ONESHOT || SRC == SRC_LAPIC_PERIODIC || SRC == SRC_TSC_DEADLINE)

static const char *const src_names[] = {
    [SRC_PIT_PERIODIC] = "pit-periodic", [SRC_PIT_ONESHOT] = "pit-oneshot",
    [SRC_LAPIC_ONESHOT] = "lapic-oneshot", [SRC_LAPIC_PERIODIC] = "lapic-periodic",
    [SRC_TSC_DEADLINE] = "tsc-deadline", [SRC_CONSOLE] = "console",
    [SRC_DISK] = "disk", [SRC_FRAME] = "frame",
};

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...);

/* ---- CPU ---- */

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
#define barrier() __asm__ volatile("" ::: "memory")

/* IDT: 256 16-byte interrupt gates to the stubs of wait_asm.S (SDM §6.14.1). */
struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};
static struct idt_gate idt[256] __attribute__((aligned(16)));
extern char wait_stubs[];

static void idt_init(void) {
    for (int v = 0; v < 256; v++) {
        uint64_t a = (uint64_t)wait_stubs + 32 * v;
        idt[v] = (struct idt_gate){(uint16_t)a, 0x08, 0, 0x8E, (uint16_t)(a >> 16), (uint32_t)(a >> 32), 0};
    }
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(d));
}

/* ---- interrupt controllers ---- */

#define PIC1 0x20
#define PIC2 0xA0
#define PIC_BASE 0x20           /* vectors 0x20-0x2F: ISA IRQ 0-15 through the 8259 pair */
#define IOAPIC_BASE_VEC 0x30    /* vectors 0x30-0x47: I/O APIC pins 0-23 */
#define IOAPIC_PINS 24
#define LAPIC_TIMER_VEC 0x50
#define SPURIOUS_VEC 0xFF

/* 8259A initialisation (ICW1-ICW4): edge triggered, cascade on IRQ 2,
 * master at 0x20, slave at 0x28, 8086 mode; everything masked. */
static void pic_init(void) {
    outb(PIC1, 0x11);
    outb(PIC2, 0x11);
    outb(PIC1 + 1, PIC_BASE);
    outb(PIC2 + 1, PIC_BASE + 8);
    outb(PIC1 + 1, 0x04);
    outb(PIC2 + 1, 0x02);
    outb(PIC1 + 1, 0x01);
    outb(PIC2 + 1, 0x01);
    outb(PIC1 + 1, 0xFF);
    outb(PIC2 + 1, 0xFF);
}

static void pic_unmask(int irq) {
    if (irq >= 8) {
        outb(PIC2 + 1, inb(PIC2 + 1) & ~(1 << (irq - 8)));
        irq = 2;
    }
    outb(PIC1 + 1, inb(PIC1 + 1) & ~(1 << irq));
}

static void pic_eoi(int irq) {
    if (irq >= 8)
        outb(PIC2, 0x20);
    outb(PIC1, 0x20);
}

#define LAPIC 0xFEE00000ul
#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3E0
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6E0

static uint32_t lapic_read(uint32_t r) { return mmio_read32(LAPIC + r); }
static void lapic_write(uint32_t r, uint32_t v) { mmio_write32(LAPIC + r, v); }

/* Software-enables the local APIC (SVR bit 8) with TPR 0. LINT0 carries
 * the 8259's interrupts in virtual-wire mode (ExtINT, SDM §10.5.1 and the MP
 * specification's virtual wire mode) when the 8259 is used, else masked. */
static void lapic_enable(int extint) {
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VEC);
    lapic_write(LAPIC_LVT_LINT0, extint ? 7u << 8 : LVT_MASKED);
}

#define IOAPIC 0xFEC00000ul
static void ioapic_write(uint32_t reg, uint32_t v) {
    mmio_write32(IOAPIC, reg);
    mmio_write32(IOAPIC + 0x10, v);
}

/* Routes I/O APIC pin to vector IOAPIC_BASE_VEC+pin, fixed delivery to this
 * CPU's local APIC, active high, edge or level triggered. */
static void ioapic_route(int pin, int level) {
    uint32_t id = lapic_read(LAPIC_ID) >> 24;
    ioapic_write(0x11 + 2 * pin, id << 24);
    ioapic_write(0x10 + 2 * pin, (IOAPIC_BASE_VEC + pin) | (level ? 1u << 15 : 0));
}

/* The I/O APIC pin of ISA IRQ irq: IRQ 0 (the PIT) is wired to pin 2, as a
 * PC's ACPI interrupt source override says. */
static int isa_pin(int irq) { return irq == 0 ? 2 : irq; }

/* Makes ISA IRQ irq reach the CPU through the configured route. */
static void route_irq(int irq, int level) {
    if (HOW == HOW_POLL)
        return;
    if (irq < 0 || irq >= (ROUTE == ROUTE_PIC ? 16 : IOAPIC_PINS) || irq == 2)
        fail("IRQ %d cannot be routed", irq);
    if (ROUTE == ROUTE_PIC)
        pic_unmask(irq);
    else
        ioapic_route(isa_pin(irq), level);
}

/* ---- the event counter and how the guest waits for it ---- */

static volatile uint32_t events;  /* events the device has signalled so far */
static void service(void);        /* looks at the device, bumps events */

/* Waits until events >= n. */
static void wait_for(uint32_t n) {
    if (HOW == HOW_POLL) {
        while (events < n)
            service();
        return;
    }
    if (HOW == HOW_PAUSE) {
        sti();
        while (events < n)
            pause();
        return;
    }
    /* HOW_HLT: the check runs with interrupts off and STI's one-instruction
     * shadow covers HLT, so an interrupt between them still wakes it. */
    cli();
    while (events < n) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    sti();
}

static int irq_of_device;  /* the ISA IRQ of the device waited for */

void wait_isr(uint64_t vec, uint64_t *frame);
void wait_isr(uint64_t vec, uint64_t *frame) {
    if (vec < 32)
        fail("exception vec=%lu err=0x%lx rip=0x%lx", (unsigned long)vec, (unsigned long)frame[0],
             (unsigned long)frame[1]);
    if (vec == SPURIOUS_VEC || vec == PIC_BASE + 7 || vec == PIC_BASE + 15)
        return; /* spurious: no EOI (SDM §10.9; 8259A data sheet) */
    if (vec == LAPIC_TIMER_VEC) {
        events++;
        lapic_write(LAPIC_EOI, 0);
        return;
    }
    if (vec >= PIC_BASE && vec < PIC_BASE + 16) {
        int irq = vec - PIC_BASE;
        if (irq != irq_of_device)
            fail("unexpected irq %d", irq);
        service();
        pic_eoi(irq);
        return;
    }
    if (vec >= IOAPIC_BASE_VEC && vec < IOAPIC_BASE_VEC + IOAPIC_PINS) {
        if ((int)vec - IOAPIC_BASE_VEC != isa_pin(irq_of_device))
            fail("unexpected I/O APIC pin %d", (int)vec - IOAPIC_BASE_VEC);
        service(); /* a level-triggered device is quiet before the EOI */
        lapic_write(LAPIC_EOI, 0);
        return;
    }
    fail("unexpected vector %lu", (unsigned long)vec);
}

/* ---- command line ---- */

static uint32_t count = 20;
static uint64_t virtio_addr[4];
static int virtio_irq[4], nvirtio;

static uint64_t parse_num(const char **p) {
    const char *s = *p;
    uint64_t v = 0;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
        else break;
        v = v * base + d;
    }
    if (*s == 'K' || *s == 'k') { v <<= 10; s++; }
    else if (*s == 'M' || *s == 'm') { v <<= 20; s++; }
    *p = s;
    return v;
}

static int starts(const char *s, const char *prefix) {
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

static void parse_cmdline(const char *p) {
    while (p && *p) {
        while (*p == ' ')
            p++;
        if (starts(p, "count=")) {
            p += 6;
            count = parse_num(&p);
        } else if (starts(p, "virtio_mmio.device=")) {
            p += 19;
            parse_num(&p); /* size */
            if (*p++ != '@') fail("bad virtio_mmio.device");
            uint64_t addr = parse_num(&p);
            if (*p++ != ':') fail("bad virtio_mmio.device");
            int irq = parse_num(&p);
            if (nvirtio < 4) {
                virtio_addr[nvirtio] = addr;
                virtio_irq[nvirtio++] = irq;
            }
        }
        while (*p && *p != ' ')
            p++;
    }
}

/* ---- timers ---- */

/* The PIT counts at 1193182 Hz: periodic at 100 Hz, one-shot after 1 ms. */
#define PIT_PERIODIC_DIVISOR 11932
#define PIT_ONESHOT_DIVISOR 1193

static void pit_start(int mode, uint16_t divisor) {
    outb(0x43, 0x30 | mode << 1); /* channel 0, lobyte/hibyte, mode */
    outb(0x40, divisor & 0xFF);
    outb(0x40, divisor >> 8);
}

/* The OUT pin of channel 0, from a read-back status byte (8254 data sheet). */
static int pit_out(void) {
    outb(0x43, 0xE2); /* read-back: latch status, not count, of channel 0 */
    return inb(0x40) >> 7;
}

/* About 1 ms on a 1 GHz APIC bus (ftvm's and QEMU's) and a 1 GHz TSC. */
#define LAPIC_TICKS 62500u  /* initial count, divide by 16 */
#define TSC_DELTA 1000000u

static void arm_timer(void) {
    switch (SRC) {
    case SRC_PIT_ONESHOT: pit_start(0, PIT_ONESHOT_DIVISOR); break; /* OUT low until the count expires */
    case SRC_LAPIC_ONESHOT: lapic_write(LAPIC_TIMER_INIT, LAPIC_TICKS); break;
    case SRC_TSC_DEADLINE: wrmsr(MSR_TSC_DEADLINE, rdtsc() + TSC_DELTA); break;
    }
}

static void timer_setup(void) {
    switch (SRC) {
    case SRC_PIT_PERIODIC:
    case SRC_PIT_ONESHOT:
        irq_of_device = 0;
        route_irq(0, 0);
        pit_start(SRC == SRC_PIT_PERIODIC ? 2 : 0, SRC == SRC_PIT_PERIODIC ? PIT_PERIODIC_DIVISOR : PIT_ONESHOT_DIVISOR);
        break;
    case SRC_TSC_DEADLINE: {
        uint32_t a, b, c, d;
        cpuid(1, &a, &b, &c, &d);
        if (!(c & (1u << 24)))
            fail("no TSC-deadline timer (CPUID.1:ECX[24])");
        lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_VEC | LVT_TSC_DEADLINE | (HOW == HOW_POLL ? LVT_MASKED : 0));
        break;
    }
    default: /* local APIC one-shot or periodic */
        lapic_write(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
        lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_VEC | (SRC == SRC_LAPIC_PERIODIC ? LVT_PERIODIC : 0) |
                                         (HOW == HOW_POLL ? LVT_MASKED : 0));
        if (SRC == SRC_LAPIC_PERIODIC)
            lapic_write(LAPIC_TIMER_INIT, LAPIC_TICKS);
        break;
    }
}

/* ---- 16550 UART receive ---- */

#define COM1_IER (COM1 + 1)
#define COM1_LCR (COM1 + 3)
#define COM1_MCR (COM1 + 4)
#define LSR_DR 0x01

static uint8_t rx_bytes[256];
static volatile uint32_t rx_head;

static void console_setup(void) {
    outb(COM1_LCR, 0x03); /* 8 data bits, no parity, 1 stop bit */
    /* FCR is left alone: switching the FIFOs on or off clears them, and
     * input may have arrived before this point. */
    irq_of_device = 4;
    if (HOW != HOW_POLL) {
        /* The route first: an edge-triggered I/O APIC pin unmasked while
         * the line is already high never sees an edge. */
        route_irq(4, 0);
        outb(COM1_MCR, 0x0B); /* DTR, RTS, OUT2: OUT2 gates the IRQ line on a PC */
        outb(COM1_IER, 0x01); /* received data available */
    }
}

static void console_service(void) {
    while (inb(COM1_LSR) & LSR_DR) {
        rx_bytes[rx_head % sizeof rx_bytes] = inb(COM1);
        rx_head++;
        events++;
    }
}

/* ---- virtio-mmio (virtio 1.x §4.2.2) and split virtqueues (§2.7) ---- */

#define VIRTIO_MAGIC 0x000
#define VIRTIO_VERSION 0x004
#define VIRTIO_DEVICE_ID 0x008
#define VIRTIO_DEVICE_FEATURES 0x010
#define VIRTIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_DRIVER_FEATURES 0x020
#define VIRTIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_QUEUE_SEL 0x030
#define VIRTIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_QUEUE_NUM 0x038
#define VIRTIO_QUEUE_READY 0x044
#define VIRTIO_QUEUE_NOTIFY 0x050
#define VIRTIO_INTERRUPT_STATUS 0x060
#define VIRTIO_INTERRUPT_ACK 0x064
#define VIRTIO_STATUS 0x070
#define VIRTIO_QUEUE_DESC 0x080
#define VIRTIO_QUEUE_DRIVER 0x090
#define VIRTIO_QUEUE_DEVICE 0x0A0
#define VIRTIO_CONFIG 0x100

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 64

#define F_INDIRECT_DESC 28
#define F_EVENT_IDX 29
#define F_VERSION_1 32
#define NET_F_MAC 5

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1

#define QSIZE 32

#include "virtq.h"

struct vq {
    struct desc desc[QSIZE] __attribute__((aligned(16)));
    struct avail avail __attribute__((aligned(2)));
    struct used used __attribute__((aligned(4)));
    struct desc indirect[QSIZE][4] __attribute__((aligned(16))); /* one table per head */
    uint16_t last_used;  /* used entries consumed */
    uint16_t notified;   /* avail idx at the last notification */
    int index;
};

static uint64_t vbase;

static uint32_t vread(uint32_t r) { return mmio_read32(vbase + r); }
static void vwrite(uint32_t r, uint32_t v) { mmio_write32(vbase + r, v); }

/* Finds the device with ID id among the command line's slots and brings it
 * up to FEATURES_OK with VERSION_1, the optional ring features asked for at
 * build time and extra; returns the accepted features. */
static uint64_t virtio_probe(uint32_t id, uint64_t extra) {
    for (int i = 0; i < nvirtio; i++) {
        uint64_t b = virtio_addr[i];
        if (mmio_read32(b + VIRTIO_MAGIC) == 0x74726976 && mmio_read32(b + VIRTIO_DEVICE_ID) == id) {
            vbase = b;
            irq_of_device = virtio_irq[i];
            break;
        }
    }
    if (!vbase)
        fail("no virtio device %u on the command line", id);
    if (vread(VIRTIO_VERSION) != 2)
        fail("virtio-mmio version %u, want 2", vread(VIRTIO_VERSION));
    vwrite(VIRTIO_STATUS, 0);
    vwrite(VIRTIO_STATUS, STATUS_ACKNOWLEDGE);
    vwrite(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint64_t offered = 0;
    for (uint32_t sel = 0; sel < 2; sel++) {
        vwrite(VIRTIO_DEVICE_FEATURES_SEL, sel);
        offered |= (uint64_t)vread(VIRTIO_DEVICE_FEATURES) << (32 * sel);
    }
    uint64_t want = 1ull << F_VERSION_1 | extra;
    if (EVENT_IDX)
        want |= 1ull << F_EVENT_IDX;
    if (INDIRECT)
        want |= 1ull << F_INDIRECT_DESC;
    if ((offered & want) != want)
        fail("device %u offers features %#lx, want %#lx", id, (unsigned long)offered, (unsigned long)want);
    for (uint32_t sel = 0; sel < 2; sel++) {
        vwrite(VIRTIO_DRIVER_FEATURES_SEL, sel);
        vwrite(VIRTIO_DRIVER_FEATURES, (uint32_t)(want >> (32 * sel)));
    }
    vwrite(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(vread(VIRTIO_STATUS) & STATUS_FEATURES_OK))
        fail("device %u refused features %#lx", id, (unsigned long)want);
    return want;
}

static void vq_setup(struct vq *q, int index) {
    q->index = index;
    vwrite(VIRTIO_QUEUE_SEL, index);
    if (vread(VIRTIO_QUEUE_READY))
        fail("queue %d already ready", index);
    if (vread(VIRTIO_QUEUE_NUM_MAX) < QSIZE)
        fail("queue %d holds %u entries, want %d", index, vread(VIRTIO_QUEUE_NUM_MAX), QSIZE);
    vwrite(VIRTIO_QUEUE_NUM, QSIZE);
    uint64_t d = (uint64_t)q->desc, a = (uint64_t)&q->avail, u = (uint64_t)&q->used;
    vwrite(VIRTIO_QUEUE_DESC, (uint32_t)d);
    vwrite(VIRTIO_QUEUE_DESC + 4, d >> 32);
    vwrite(VIRTIO_QUEUE_DRIVER, (uint32_t)a);
    vwrite(VIRTIO_QUEUE_DRIVER + 4, a >> 32);
    vwrite(VIRTIO_QUEUE_DEVICE, (uint32_t)u);
    vwrite(VIRTIO_QUEUE_DEVICE + 4, u >> 32);
    /* Polling drivers ask for no interrupts. */
    if (HOW == HOW_POLL && !EVENT_IDX)
        q->avail.flags = AVAIL_F_NO_INTERRUPT;
    vwrite(VIRTIO_QUEUE_READY, 1);
}

/* Puts the chain of n buffers at head (n descriptors from head, or one
 * indirect descriptor) into the avail ring; it does not notify. */
static void vq_add(struct vq *q, uint16_t head, const uint64_t *addr, const uint32_t *len, const int *write, int n) {
    struct desc *t = INDIRECT ? q->indirect[head] : q->desc;
    int first = INDIRECT ? 0 : head;
    for (int i = 0; i < n; i++) {
        struct desc *e = &t[first + i];
        e->addr = addr[i];
        e->len = len[i];
        e->flags = (write[i] ? DESC_F_WRITE : 0) | (i + 1 < n ? DESC_F_NEXT : 0);
        e->next = first + i + 1;
    }
    if (INDIRECT)
        q->desc[head] = (struct desc){(uint64_t)t, (uint32_t)(n * sizeof(struct desc)), DESC_F_INDIRECT, 0};
    q->avail.ring[q->avail.idx % QSIZE] = head;
    barrier(); /* x86 keeps stores in order: a compiler barrier is enough */
    q->avail.idx++;
}

/* Notifies the device of new chains unless it said it need not be
 * (avail_event with EVENT_IDX, USED_F_NO_NOTIFY without; §2.7.10). */
static void vq_kick(struct vq *q) {
    __asm__ volatile("mfence" ::: "memory"); /* the idx store before the flag/event loads */
    uint16_t now = q->avail.idx, old = q->notified;
    int need;
    if (EVENT_IDX) {
        uint16_t ev = ((volatile struct used *)&q->used)->avail_event;
        need = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
    } else {
        need = !(((volatile struct used *)&q->used)->flags & USED_F_NO_NOTIFY);
    }
    q->notified = now;
    if (need)
        vwrite(VIRTIO_QUEUE_NOTIFY, q->index);
}

/* Returns the next used entry, or 0 when there is none. With EVENT_IDX and
 * an interrupt-driven wait, used_event asks for an interrupt on the next one. */
static int vq_take(struct vq *q, struct used_elem *e) {
    if (((volatile struct used *)&q->used)->idx == q->last_used)
        return 0;
    barrier();
    *e = q->used.ring[q->last_used % QSIZE];
    q->last_used++;
    if (EVENT_IDX)
        ((volatile struct avail *)&q->avail)->used_event = q->last_used; /* interrupt for the next one */
    return 1;
}

static void virtio_irq_ack(void) {
    uint32_t s = vread(VIRTIO_INTERRUPT_STATUS);
    if (s)
        vwrite(VIRTIO_INTERRUPT_ACK, s);
    if (vread(VIRTIO_STATUS) & STATUS_NEEDS_RESET)
        fail("device needs a reset");
}

/* ---- virtio-blk (§5.2) ---- */

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define SECTOR 512

static struct vq blkq __attribute__((aligned(4096)));
static struct {
    uint32_t type, reserved;
    uint64_t sector;
} blk_hdr;
static uint8_t blk_data[SECTOR] __attribute__((aligned(16)));
static volatile uint8_t blk_status;
static uint64_t blk_sectors;

static void disk_setup(void) {
    virtio_probe(2, 0);
    blk_sectors = (uint64_t)vread(VIRTIO_CONFIG) | (uint64_t)vread(VIRTIO_CONFIG + 4) << 32;
    vq_setup(&blkq, 0);
    vwrite(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    route_irq(irq_of_device, 1);
    printf("disk: %lu sectors\n", (unsigned long)blk_sectors);
}

static void disk_service(void) {
    if (HOW != HOW_POLL)
        virtio_irq_ack();
    struct used_elem e;
    while (vq_take(&blkq, &e))
        events++;
}

/* One request of type typ on sector, its data in blk_data, waited for. */
static uint8_t disk_request(uint32_t typ, uint64_t sector, uint32_t n) {
    blk_hdr.type = typ;
    blk_hdr.sector = sector;
    blk_status = 0xFF;
    uint64_t addr[3] = {(uint64_t)&blk_hdr, (uint64_t)blk_data, (uint64_t)&blk_status};
    uint32_t len[3] = {sizeof blk_hdr, SECTOR, 1};
    int write[3] = {0, typ == BLK_T_IN, 1};
    vq_add(&blkq, 0, addr, len, write, 3);
    vq_kick(&blkq);
    wait_for(n);
    return blk_status;
}

static uint32_t fnv(const uint8_t *p, int n) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void disk_run(void) {
    uint32_t n = 0;
    for (uint32_t i = 1; i <= count; i++) {
        uint64_t sector = i % blk_sectors;
        for (int j = 0; j < SECTOR; j++)
            blk_data[j] = (uint8_t)(i * 31 + j);
        uint32_t want = fnv(blk_data, SECTOR);
        uint8_t st = disk_request(BLK_T_OUT, sector, ++n);
        if (st != 0)
            fail("disk write %u: status %u", i, st);
        memset(blk_data, 0, SECTOR);
        st = disk_request(BLK_T_IN, sector, ++n);
        if (st != 0)
            fail("disk read %u: status %u", i, st);
        uint32_t got = fnv(blk_data, SECTOR);
        if (got != want)
            fail("disk %u: read %08x, wrote %08x", i, got, want);
        printf("disk %u sector %lu sum %08x\n", i, (unsigned long)sector, got);
    }
}

/* ---- virtio-net (§5.1) ---- */

#define NET_HDR 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define RX_BUF (NET_HDR + 1514)
#define NRX QSIZE

static struct vq rxq __attribute__((aligned(4096))), txq __attribute__((aligned(4096)));
static uint8_t rx_buf[NRX][RX_BUF] __attribute__((aligned(16)));
static uint8_t tx_buf[NET_HDR + 1514] __attribute__((aligned(16)));
static uint8_t mac[6];
static struct used_elem rx_done[NRX];
static volatile uint32_t rx_taken;  /* received frames taken off the used ring */
static uint32_t tx_sent, tx_done;

static void rx_post(uint16_t i) {
    uint64_t a = (uint64_t)rx_buf[i];
    uint32_t l = RX_BUF;
    int w = 1;
    vq_add(&rxq, i, &a, &l, &w, 1);
}

static void net_setup(void) {
    virtio_probe(1, 1ull << NET_F_MAC);
    for (int i = 0; i < 6; i++)
        mac[i] = *(volatile uint8_t *)(vbase + VIRTIO_CONFIG + i);
    vq_setup(&rxq, 0);
    vq_setup(&txq, 1);
    for (uint16_t i = 0; i < NRX; i++)
        rx_post(i);
    vwrite(VIRTIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    vq_kick(&rxq);
    route_irq(irq_of_device, 1);
    printf("frame: %d receive buffers\n", NRX);
}

static void net_service(void) {
    if (HOW != HOW_POLL)
        virtio_irq_ack();
    struct used_elem e;
    while (vq_take(&rxq, &e)) {
        rx_done[rx_taken % NRX] = e;
        rx_taken++;
        events++;
    }
    while (vq_take(&txq, &e))
        tx_done++;
}

/* Sends frame (without the virtio header) and waits until the device has
 * taken it, so that tx_buf can be reused. */
static void net_send(const uint8_t *frame, uint32_t n) {
    memset(tx_buf, 0, NET_HDR);
    memcpy(tx_buf + NET_HDR, frame, n);
    uint64_t a = (uint64_t)tx_buf;
    uint32_t l = NET_HDR + n;
    int w = 0;
    vq_add(&txq, 0, &a, &l, &w, 1);
    tx_sent++;
    vq_kick(&txq);
    while (tx_done < tx_sent) {
        cli();
        net_service(); /* a transmit completes at the notification */
        if (HOW != HOW_POLL)
            sti();
    }
}

/* Frames carry EtherType 0x88B5 (local experimental) and a 32-bit
 * big-endian sequence number after the header; each is echoed back with
 * the addresses swapped. */
static void net_run(void) {
    for (uint32_t i = 1; i <= count; i++) {
        wait_for(i);
        struct used_elem e = rx_done[(i - 1) % NRX];
        uint8_t *f = rx_buf[e.id] + NET_HDR;
        uint32_t n = e.len - NET_HDR;
        if (e.id >= NRX || e.len < NET_HDR + 18)
            fail("frame %u: used entry id %u len %u", i, e.id, e.len);
        uint32_t seq = (uint32_t)f[14] << 24 | f[15] << 16 | f[16] << 8 | f[17];
        printf("frame %u len %u type %02x%02x seq %u sum %08x\n", i, n, f[12], f[13], seq, fnv(f + 14, n - 14));
        uint8_t out[1514];
        memcpy(out, f + 6, 6);
        memcpy(out + 6, mac, 6);
        memcpy(out + 12, f + 12, n - 12);
        net_send(out, n);
        rx_post(e.id);
        vq_kick(&rxq);
    }
}

/* ---- main ---- */

static void service(void) {
    switch (SRC) {
    case SRC_CONSOLE: console_service(); break;
    case SRC_DISK: disk_service(); break;
    case SRC_FRAME: net_service(); break;
    case SRC_PIT_ONESHOT:
    case SRC_PIT_PERIODIC:
        /* Through an interrupt, the interrupt is the event; polled, the
         * OUT pin of mode 0 going high is. */
        if (HOW != HOW_POLL || pit_out())
            events++;
        break;
    case SRC_LAPIC_ONESHOT:
        if (lapic_read(LAPIC_TIMER_CUR) == 0 && lapic_read(LAPIC_TIMER_INIT) != 0) {
            lapic_write(LAPIC_TIMER_INIT, 0); /* stops it: polled, the count reaching 0 is the event */
            events++;
        }
        break;
    }
}

static const char *how_name(void) { return HOW == HOW_HLT ? "hlt" : HOW == HOW_PAUSE ? "pause" : "poll"; }

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli();
    printf("FAIL %s\n", buf);
    exit(0x7e);
}

int main(unsigned long ram_size, unsigned long cmdline) {
    (void)ram_size;
    idt_init();
    pic_init(); /* remapped and masked in every variant: its vectors must not collide with exceptions */
    parse_cmdline((const char *)cmdline);
    if (ROUTE == ROUTE_IOAPIC || IS_LAPIC_TIMER || VWIRE)
        lapic_enable(ROUTE == ROUTE_PIC);
    printf("wait: %s by %s through %s%s%s, %u events\n", src_names[SRC], how_name(),
           HOW == HOW_POLL ? "no interrupt" : IS_LAPIC_TIMER ? "the local APIC" : ROUTE == ROUTE_PIC ? "the 8259" : "the I/O APIC",
           EVENT_IDX ? ", event idx" : "", INDIRECT ? ", indirect" : "", count);
    switch (SRC) {
    case SRC_CONSOLE:
        console_setup();
        for (uint32_t i = 1; i <= count; i++) {
            wait_for(i);
            uint8_t c = rx_bytes[(i - 1) % sizeof rx_bytes];
            printf("console %u byte %02x\n", i, c);
        }
        break;
    case SRC_DISK:
        disk_setup();
        disk_run();
        break;
    case SRC_FRAME:
        net_setup();
        net_run();
        break;
    default:
        timer_setup();
        for (uint32_t i = 1; i <= count; i++) {
            if (SRC != SRC_PIT_PERIODIC && SRC != SRC_LAPIC_PERIODIC)
                arm_timer();
            wait_for(i);
            printf("%s %u\n", src_names[SRC], i);
        }
        break;
    }
    cli();
    printf("wait: done\n");
    return 0;
}
