/*
 * idle_wake: waits for input in `sti; hlt` with no timer armed, the way an
 * idle kernel does, and says what woke it.
 *
 * Written from the virtio 1.2 specification (4.2 virtio over MMIO, 2.7 split
 * virtqueues, 5.1 network device, 5.2 block device), the 8259A and 16550
 * data sheets and the ftvm boot ABI and device map (ARCHITECTURE.md 3-4);
 * it shares no driver code with the other guests. The PIT is left as
 * firmware leaves it (channel 0 running) with IRQ 0 masked, so the board
 * keeps a timer deadline the guest never sees. The local APIC is untouched
 * (virtual wire): interrupts come through the 8259 pair, remapped to
 * vectors 0x20-0x2F with only the waited-for IRQ unmasked.
 *
 * Virtio-mmio slot 0 (0xD0000000, IRQ 5) decides what is waited for:
 *   net: negotiates VIRTIO_F_VERSION_1 and VIRTIO_NET_F_MAC only (no
 *        EVENT_IDX, no INDIRECT_DESC), posts 32 receive buffers and prints
 *        one line per frame; ends after 3 frames;
 *   blk: reads sectors 0, 1 and 2 one at a time, waiting for each
 *        completion, and prints their first 16 bytes;
 *   none: COM1 receive interrupts (IRQ 4); prints each byte typed; ends
 *        at 'q'.
 * Each ends with debug-exit 0 (exit status 1). With "pit=off" on the command
 * line the guest first stops the PIT (channel 0 one-shot, mode 0, expired),
 * so that no timer at all is pending while it waits.
 */
#define GUEST_MAIN_CMDLINE
#include "lib/runtime.h"
#include "lib/gates.h"

#define VIO_BASE        0xD0000000ul
#define VIO_MAGIC       0x000
#define VIO_VERSION     0x004
#define VIO_DEVICE_ID   0x008
#define VIO_DEV_FEAT    0x010
#define VIO_DEV_FEATSEL 0x014
#define VIO_DRV_FEAT    0x020
#define VIO_DRV_FEATSEL 0x024
#define VIO_QUEUE_SEL   0x030
#define VIO_QUEUE_MAX   0x034
#define VIO_QUEUE_NUM   0x038
#define VIO_QUEUE_READY 0x044
#define VIO_QUEUE_NOTIFY 0x050
#define VIO_INT_STATUS  0x060
#define VIO_INT_ACK     0x064
#define VIO_STATUS      0x070
#define VIO_DESC_LO     0x080
#define VIO_DESC_HI     0x084
#define VIO_AVAIL_LO    0x090
#define VIO_AVAIL_HI    0x094
#define VIO_USED_LO     0x0A0
#define VIO_USED_HI     0x0A4

#define ST_ACK          1
#define ST_DRIVER       2
#define ST_DRIVER_OK    4
#define ST_FEATURES_OK  8

#define F_NET_MAC       (1u << 5)   /* word 0 */
#define F_VERSION_1     (1u << 0)   /* word 1: feature bit 32 */

#define DESC_NEXT       1
#define DESC_WRITE      2

#define QSIZE           32
#define NET_HDR         12          /* virtio_net_hdr with num_buffers */
#define NET_BUF         (NET_HDR + 1514)

#include "lib/virtq.h"

static struct desc desc[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static uint8_t bufs[QSIZE][NET_BUF];
static uint16_t last_used;

static volatile uint64_t irqs;  /* interrupts taken, written by the handlers */
static volatile uint32_t rx_head, rx_tail;
static volatile uint8_t rx_ring[256];

static inline uint32_t mmio_rd(unsigned off) { return *(volatile uint32_t *)(VIO_BASE + off); }
static inline void mmio_wr(unsigned off, uint32_t v) { *(volatile uint32_t *)(VIO_BASE + off) = v; }

/* --- interrupts: IDT, 8259 pair --- */

__attribute__((interrupt)) static void on_virtio(struct interrupt_frame *f)
{
	(void)f;
	mmio_wr(VIO_INT_ACK, mmio_rd(VIO_INT_STATUS));
	irqs++;
	outb(0x20, 0x20);
}

__attribute__((interrupt)) static void on_com1(struct interrupt_frame *f)
{
	(void)f;
	inb(COM1 + 2); /* IIR */
	while (inb(COM1_LSR) & 1) {
		uint8_t c = inb(COM1);
		if (rx_head - rx_tail < sizeof rx_ring)
			rx_ring[rx_head++ % sizeof rx_ring] = c;
	}
	irqs++;
	outb(0x20, 0x20);
}

static void setup_interrupts(int irq, gate_fn fn)
{
	gates_init();
	gates_set(32 + irq, fn);
	/* ICW1 edge, cascade, ICW4; ICW2 vector base; ICW3 wiring; ICW4 8086 */
	outb(0x20, 0x11); outb(0xA0, 0x11);
	outb(0x21, 0x20); outb(0xA1, 0x28);
	outb(0x21, 0x04); outb(0xA1, 0x02);
	outb(0x21, 0x01); outb(0xA1, 0x01);
	outb(0x21, (uint8_t)~(1u << irq)); /* only the waited-for IRQ (PIT's IRQ 0 masked) */
	outb(0xA1, 0xFF);
}

/* --- virtio-mmio --- */

static int vio_init(uint32_t feat0, uint32_t feat1)
{
	mmio_wr(VIO_STATUS, 0);
	mmio_wr(VIO_STATUS, ST_ACK);
	mmio_wr(VIO_STATUS, ST_ACK | ST_DRIVER);
	mmio_wr(VIO_DEV_FEATSEL, 0);
	uint32_t d0 = mmio_rd(VIO_DEV_FEAT);
	mmio_wr(VIO_DEV_FEATSEL, 1);
	uint32_t d1 = mmio_rd(VIO_DEV_FEAT);
	mmio_wr(VIO_DRV_FEATSEL, 0);
	mmio_wr(VIO_DRV_FEAT, d0 & feat0);
	mmio_wr(VIO_DRV_FEATSEL, 1);
	mmio_wr(VIO_DRV_FEAT, d1 & feat1);
	mmio_wr(VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(mmio_rd(VIO_STATUS) & ST_FEATURES_OK) || !(d1 & F_VERSION_1))
		return -1;
	mmio_wr(VIO_QUEUE_SEL, 0);
	if (mmio_rd(VIO_QUEUE_MAX) < QSIZE)
		return -1;
	mmio_wr(VIO_QUEUE_NUM, QSIZE);
	mmio_wr(VIO_DESC_LO, (uint32_t)(uint64_t)desc);
	mmio_wr(VIO_DESC_HI, 0);
	mmio_wr(VIO_AVAIL_LO, (uint32_t)(uint64_t)&avail);
	mmio_wr(VIO_AVAIL_HI, 0);
	mmio_wr(VIO_USED_LO, (uint32_t)(uint64_t)&used);
	mmio_wr(VIO_USED_HI, 0);
	mmio_wr(VIO_QUEUE_READY, 1);
	mmio_wr(VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	return 0;
}

static void post(uint16_t head)
{
	avail.ring[avail.idx % QSIZE] = head;
	__asm__ volatile("" ::: "memory");
	avail.idx++;
	__asm__ volatile("mfence" ::: "memory");
}

static int wait_net(void)
{
	if (vio_init(F_NET_MAC, F_VERSION_1) < 0) {
		printf("FAIL virtio-net setup\n");
		return 2;
	}
	for (uint16_t i = 0; i < QSIZE; i++) {
		desc[i] = (struct desc){(uint64_t)bufs[i], NET_BUF, DESC_WRITE, 0};
		post(i);
	}
	mmio_wr(VIO_QUEUE_NOTIFY, 0);
	printf("idle_wake: net ready, waiting with no timer\n");
	for (unsigned frames = 0; frames < 3;) {
		wait_change(&irqs, irqs);
		while (last_used != *(volatile uint16_t *)&used.idx) {
			struct used_elem e = used.ring[last_used % QSIZE];
			last_used++;
			const uint8_t *p = bufs[e.id % QSIZE] + NET_HDR;
			printf("frame %u: %u bytes, ethertype %02x%02x\n", ++frames, e.len - NET_HDR, p[12], p[13]);
			post((uint16_t)e.id);
		}
		mmio_wr(VIO_QUEUE_NOTIFY, 0);
	}
	return 0;
}

static int wait_blk(void)
{
	static struct { uint32_t type, reserved; uint64_t sector; } req;
	static uint8_t data[512];
	static volatile uint8_t status;
	if (vio_init(0, F_VERSION_1) < 0) {
		printf("FAIL virtio-blk setup\n");
		return 2;
	}
	printf("idle_wake: blk ready, waiting with no timer\n");
	for (uint64_t s = 0; s < 3; s++) {
		req = (typeof(req)){0, 0, s}; /* VIRTIO_BLK_T_IN */
		status = 0xFF;
		desc[0] = (struct desc){(uint64_t)&req, sizeof req, DESC_NEXT, 1};
		desc[1] = (struct desc){(uint64_t)data, sizeof data, DESC_NEXT | DESC_WRITE, 2};
		desc[2] = (struct desc){(uint64_t)&status, 1, DESC_WRITE, 0};
		uint64_t seen = irqs;
		post(0);
		mmio_wr(VIO_QUEUE_NOTIFY, 0);
		while (last_used == *(volatile uint16_t *)&used.idx) {
			wait_change(&irqs, seen);
			seen = irqs;
		}
		last_used++;
		printf("sector %lu: status %u, ", (unsigned long)s, status);
		for (int i = 0; i < 16; i++)
			printf("%c", data[i] >= 32 && data[i] < 127 ? data[i] : '.');
		printf("\n");
	}
	return 0;
}

static int wait_console(void)
{
	outb(COM1 + 1, 0x01); /* IER: received data available */
	outb(COM1 + 4, 0x0B); /* MCR: DTR, RTS, OUT2 (the IRQ gate of a PC) */
	while (inb(COM1_LSR) & 1)
		inb(COM1);
	printf("idle_wake: console ready, waiting with no timer\n");
	for (;;) {
		wait_change(&irqs, irqs);
		while (rx_tail != rx_head) {
			uint8_t c = rx_ring[rx_tail++ % sizeof rx_ring];
			printf("byte %02x\n", c);
			if (c == 'q')
				return 0;
		}
	}
}

/* has_word reports whether the space-separated command line s holds w. */
static int has_word(const char *s, const char *w)
{
	size_t n = strlen(w);
	while (s && *s) {
		while (*s == ' ')
			s++;
		size_t k = 0;
		while (s[k] && s[k] != ' ')
			k++;
		if (k == n && memcmp(s, w, n) == 0)
			return 1;
		s += k;
	}
	return 0;
}

int main(unsigned long ram_size, unsigned long cmdline)
{
	(void)ram_size;
	if (has_word((const char *)cmdline, "pit=off")) {
		outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
		outb(0x40, 1);
		outb(0x40, 0);
	}
	uint32_t id = 0;
	if (mmio_rd(VIO_MAGIC) == 0x74726976 && mmio_rd(VIO_VERSION) == 2)
		id = mmio_rd(VIO_DEVICE_ID);
	switch (id) {
	case 1:
		setup_interrupts(5, on_virtio);
		return wait_net();
	case 2:
		setup_interrupts(5, on_virtio);
		return wait_blk();
	}
	setup_interrupts(4, on_com1);
	return wait_console();
}
