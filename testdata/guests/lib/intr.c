/* Interrupts for ftvm test guests; see intr.h. */
#include "runtime.h"
#include "intr.h"

struct __attribute__((packed)) idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
};

extern char fault_stubs[];   /* faults_asm.S: 32 stubs of 16 bytes */
extern char intr_stubs[];    /* intr_asm.S: stubs of vectors 32..255, 16 bytes each */

static struct idt_gate idt[256] __attribute__((aligned(16)));
static intr_handler_t handlers[256];
static uint64_t counts[256];
static int pic_ready;
static int lapic_on;

void intr_dispatch(uint64_t vector);

static void set_gate(unsigned v, uint64_t h)
{
    idt[v].off0 = (uint16_t)h;
    idt[v].sel = 0x08;
    idt[v].ist = 0;
    idt[v].type = 0x8E;          /* present, DPL 0, 64-bit interrupt gate */
    idt[v].off1 = (uint16_t)(h >> 16);
    idt[v].off2 = (uint32_t)(h >> 32);
    idt[v].zero = 0;
}

void intr_init(void)
{
    for (unsigned v = 0; v < 32; v++)
        set_gate(v, (uint64_t)(fault_stubs + 16 * v));
    for (unsigned v = 32; v < 256; v++)
        set_gate(v, (uint64_t)(intr_stubs + 16 * (v - 32)));
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } d = { sizeof idt - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void intr_set_handler(unsigned vector, intr_handler_t fn)
{
    if (vector >= 32 && vector < 256)
        handlers[vector] = fn;
}

uint64_t intr_count(unsigned vector)
{
    return vector < 256 ? counts[vector] : 0;
}

/* ---- 8259 ---- */

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xA0
#define PIC2_DATA 0xA1

static uint16_t pic_masks = 0xFFFB;  /* bit n set: IRQ n masked; cascade open */

static void pic_write_masks(void)
{
    outb(PIC1_DATA, (uint8_t)pic_masks);
    outb(PIC2_DATA, (uint8_t)(pic_masks >> 8));
}

void pic_init(void)
{
    outb(PIC1_CMD, 0x11);            /* ICW1: edge, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, PIC_MASTER_BASE); /* ICW2: vector base */
    outb(PIC2_DATA, PIC_SLAVE_BASE);
    outb(PIC1_DATA, 0x04);           /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, 0x02);           /* ICW3: slave identity 2 */
    outb(PIC1_DATA, 0x01);           /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    pic_masks = 0xFFFB;
    pic_write_masks();
    pic_ready = 1;
}

void pic_unmask(unsigned irq)
{
    if (irq < 16) {
        pic_masks &= (uint16_t)~(1u << irq);
        pic_write_masks();
    }
}

void pic_mask(unsigned irq)
{
    if (irq < 16 && irq != 2) {
        pic_masks |= (uint16_t)(1u << irq);
        pic_write_masks();
    }
}

/* In-service register of the master (slave = 0) or the slave (slave = 1). */
static uint8_t pic_isr(int slave)
{
    uint16_t cmd = slave ? PIC2_CMD : PIC1_CMD;
    outb(cmd, 0x0B);                 /* OCW3: read ISR */
    uint8_t v = inb(cmd);
    outb(cmd, 0x0A);                 /* OCW3: back to IRR */
    return v;
}

/* ---- 8254 ---- */

void pit_start(unsigned hz)
{
    if (hz == 0)
        hz = 100;
    uint32_t div = (1193182u + hz / 2) / hz;
    if (div > 0xFFFF)
        div = 0xFFFF;
    if (div < 2)
        div = 2;
    outb(0x43, 0x34);                /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(0x40, (uint8_t)div);
    outb(0x40, (uint8_t)(div >> 8));
}

/* ---- local APIC ---- */

static inline volatile uint32_t *lapic_reg(unsigned off)
{
    return (volatile uint32_t *)(LAPIC_BASE + off);
}

void lapic_enable(void)
{
    /* software-enable first: a disabled APIC keeps its LVT entries masked */
    *lapic_reg(0xF0) = 0x100 | LAPIC_SPURIOUS_VEC; /* SVR */
    *lapic_reg(0x80) = 0;                          /* TPR: accept all */
    *lapic_reg(0x350) = 0x700;                     /* LINT0: ExtINT, unmasked */
    *lapic_reg(0x360) = 0x400;                     /* LINT1: NMI */
    lapic_on = 1;
}

int lapic_virtual_wire(void)
{
    uint32_t lint0 = *lapic_reg(0x350);
    if (!(lint0 & 0x10000) && (lint0 & 0x700) == 0x700)
        return 0;
    lapic_enable();
    return 1;
}

uint32_t lapic_id(void)
{
    return *lapic_reg(0x20) >> 24;
}

int lapic_enabled(void)
{
    return lapic_on;
}

static void lapic_eoi(void)
{
    *lapic_reg(0xB0) = 0;
}

/* ---- I/O APIC ---- */

static volatile uint32_t *ioapic_for(unsigned gsi, unsigned *pin)
{
    uintptr_t base = IOAPIC_BASE;
    if (gsi >= 24) {
        base += 0x10000;
        gsi -= 24;
    }
    if (gsi >= 24)
        return 0;
    volatile uint32_t *io = (volatile uint32_t *)base;
    io[0] = 0x01;                    /* IOREGSEL: version */
    uint32_t ver = io[4];
    if (ver == 0 || ver == 0xFFFFFFFFu)  /* nothing there */
        return 0;
    unsigned maxent = (ver >> 16) & 0xFF;
    if (gsi > maxent)
        return 0;
    *pin = gsi;
    return io;
}

static void ioapic_write(volatile uint32_t *io, uint32_t reg, uint32_t v)
{
    io[0] = reg;                     /* IOREGSEL at +0x00 */
    io[4] = v;                       /* IOWIN at +0x10 */
}

int ioapic_route(unsigned gsi, uint8_t vector)
{
    unsigned pin;
    volatile uint32_t *io = ioapic_for(gsi, &pin);
    if (!io)
        return -1;
    ioapic_write(io, 0x10 + 2 * pin, 0x10000);          /* mask while changing */
    ioapic_write(io, 0x11 + 2 * pin, lapic_id() << 24);  /* destination */
    ioapic_write(io, 0x10 + 2 * pin, vector);           /* fixed, physical, edge, high */
    return 0;
}

void ioapic_mask(unsigned gsi)
{
    unsigned pin;
    volatile uint32_t *io = ioapic_for(gsi, &pin);
    if (io)
        ioapic_write(io, 0x10 + 2 * pin, 0x10000);
}

/* ---- dispatch (called by intr_asm.S) ---- */

void intr_dispatch(uint64_t vector)
{
    unsigned v = (unsigned)vector & 0xFF;
    if (pic_ready && v >= PIC_MASTER_BASE && v < PIC_MASTER_BASE + 16) {
        unsigned irq = v - PIC_MASTER_BASE;
        /* spurious IRQ 7 / 15: the line dropped before the INTA cycle */
        if (irq == 7 && !(pic_isr(0) & 0x80))
            return;
        if (irq == 15 && !(pic_isr(1) & 0x80)) {
            outb(PIC1_CMD, 0x20);    /* the master did see the cascade */
            return;
        }
        counts[v]++;
        if (handlers[v])
            handlers[v](v);
        if (irq >= 8)
            outb(PIC2_CMD, 0x20);
        outb(PIC1_CMD, 0x20);
        return;
    }
    if (v == LAPIC_SPURIOUS_VEC && lapic_on)
        return;
    counts[v]++;
    if (handlers[v])
        handlers[v](v);
    if (lapic_on)
        lapic_eoi();
}
