/*
 * virtio-net driver (virtio 1.x section 5.1) and a minimal IPv4 stack:
 * Ethernet II, ARP (answers requests for our address), IPv4 (header
 * checksum checked, fragments dropped), ICMP echo reply, UDP to one port.
 *
 * Every reply goes to the Ethernet source address of the frame it answers,
 * so the stack needs no ARP cache and no routing: it works the same on a
 * LAN and behind a user-mode NAT (QEMU slirp) whose gateway MAC is the
 * source of everything.
 *
 * Features: VERSION_1 and MAC when offered.  Without MRG_RXBUF a VERSION_1
 * device uses the 12-byte struct virtio_net_hdr (num_buffers included) and
 * needs receive buffers of at least 1526 bytes; ours are 2048.
 */
#include "runtime.h"
#include "kvstore.h"

#define VIRTIO_NET_F_MAC (1ULL << 5)

#define NET_HDR  12
#define BUF_SIZE 2048
#define NRX      32
#define NTX      32
#define ETH_HDR  14
#define ETH_MIN  60              /* minimum frame without the FCS */
#define MTU      1500

#define ETH_P_IP  0x0800
#define ETH_P_ARP 0x0806

static struct vdev dev;
static struct vq rxq, txq;
static int present;
static uint8_t mac[6];
static uint32_t my_ip;
static unsigned my_port;
static uint16_t ip_id;

static struct vq_desc rx_desc[VQ_MAX] __attribute__((aligned(4096)));
static uint16_t rx_avail[3 + VQ_MAX] __attribute__((aligned(16)));
static uint8_t rx_used[6 + 8 * VQ_MAX] __attribute__((aligned(16)));
static struct vq_desc tx_desc[VQ_MAX] __attribute__((aligned(4096)));
static uint16_t tx_avail[3 + VQ_MAX] __attribute__((aligned(16)));
static uint8_t tx_used[6 + 8 * VQ_MAX] __attribute__((aligned(16)));

static uint8_t rx_buf[NRX][BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t tx_buf[NTX][BUF_SIZE] __attribute__((aligned(4096)));
static uint16_t tx_free[NTX];
static unsigned tx_nfree;

static char reply[REPLY_MAX];

uint64_t net_rx_frames, net_tx_frames, net_dropped;

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int net_present(void) { return present; }
const uint8_t *net_mac(void) { return mac; }

void net_irq(void)
{
    if (present)
        virtio_ack_irq(&dev);
}

int net_init(uintptr_t mmio, unsigned irq, uint32_t ip, unsigned prefix, unsigned port)
{
    (void)prefix;
    my_ip = ip;
    my_port = port;
    dev.mmio = mmio;
    dev.irq = irq;
    dev.device_id = VIRTIO_ID_NET;
    if (virtio_begin(&dev, VIRTIO_NET_F_MAC) < 0)
        return -1;
    if (dev.features & VIRTIO_NET_F_MAC) {
        uint32_t gen;
        do {
            gen = virtio_config_generation(&dev);
            for (int i = 0; i < 6; i++)
                mac[i] = mmio_read8(mmio + 0x100 + i);
        } while (gen != virtio_config_generation(&dev));
    } else {
        /* locally administered, derived from the address */
        mac[0] = 0x02; mac[1] = 0x00;
        put32be(mac + 2, ip);
    }
    if (vq_setup(&dev, &rxq, 0, NRX, rx_desc, rx_avail, rx_used) < 0 ||
        vq_setup(&dev, &txq, 1, NTX, tx_desc, tx_avail, tx_used) < 0) {
        virtio_fail(&dev);
        return -1;
    }
    for (uint16_t i = 0; i < rxq.size; i++) {
        rx_desc[i].addr = (uint64_t)(uintptr_t)rx_buf[i];
        rx_desc[i].len = BUF_SIZE;
        rx_desc[i].flags = VQ_DESC_F_WRITE;
        rx_desc[i].next = 0;
        vq_push(&rxq, i);
    }
    tx_nfree = 0;
    for (uint16_t i = 0; i < txq.size; i++)
        tx_free[tx_nfree++] = i;
    /* no interrupt wanted for transmitted buffers: they are reclaimed lazily */
    txq.avail[0] = 1;            /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    virtio_driver_ok(&dev);
    vq_notify(&rxq);
    present = 1;
    return 0;
}

/* ---- transmit ---- */

static void tx_reclaim(void)
{
    uint32_t id, len;
    while (vq_pop(&txq, &id, &len))
        if (id < txq.size && tx_nfree < NTX)
            tx_free[tx_nfree++] = (uint16_t)id;
}

/* A transmit buffer (its frame starts at NET_HDR), or -1. */
static int tx_get(void)
{
    tx_reclaim();
    for (int tries = 0; tx_nfree == 0 && tries < 100; tries++) {
        wait_event();
        tx_reclaim();
    }
    if (tx_nfree == 0)
        return -1;
    return tx_free[--tx_nfree];
}

static void tx_send(int id, size_t frame_len)
{
    if (frame_len < ETH_MIN) {
        memset(tx_buf[id] + NET_HDR + frame_len, 0, ETH_MIN - frame_len);
        frame_len = ETH_MIN;
    }
    memset(tx_buf[id], 0, NET_HDR);  /* no offloads, gso NONE */
    tx_desc[id].addr = (uint64_t)(uintptr_t)tx_buf[id];
    tx_desc[id].len = (uint32_t)(NET_HDR + frame_len);
    tx_desc[id].flags = 0;
    tx_desc[id].next = 0;
    barrier();
    vq_push(&txq, (uint16_t)id);
    vq_notify(&txq);
    net_tx_frames++;
}

/* ---- checksums ---- */

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
    while (n > 1) {
        s += get16be(p);
        p += 2;
        n -= 2;
    }
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
    return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + proto + (uint32_t)len;
}

/* ---- ARP ---- */

static void arp_send(uint16_t op, const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
{
    int id = tx_get();
    if (id < 0) {
        net_dropped++;
        return;
    }
    uint8_t *f = tx_buf[id] + NET_HDR;
    memcpy(f, eth_dst, 6);
    memcpy(f + 6, mac, 6);
    put16be(f + 12, ETH_P_ARP);
    uint8_t *a = f + ETH_HDR;
    put16be(a, 1);               /* Ethernet */
    put16be(a + 2, ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    put16be(a + 6, op);
    memcpy(a + 8, mac, 6);
    put32be(a + 14, my_ip);
    memcpy(a + 18, tha, 6);
    put32be(a + 24, tpa);
    tx_send(id, ETH_HDR + 28);
}

void net_announce(void)
{
    static const uint8_t zero[6];
    if (present)
        arp_send(1, bcast, zero, my_ip);  /* gratuitous ARP request */
}

static void arp_input(const uint8_t *f, const uint8_t *a, size_t n)
{
    if (n < 28 || get16be(a) != 1 || get16be(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4)
        return;
    if (get16be(a + 6) == 1 && get32be(a + 24) == my_ip)
        arp_send(2, f + 6, a + 8, get32be(a + 14));
}

/* ---- IPv4 ---- */

/* Starts an IPv4 packet to the sender of frame f; returns the buffer id
 * and the payload pointer. */
static int ip_begin(const uint8_t *f, uint32_t dst, uint8_t **payload)
{
    int id = tx_get();
    if (id < 0) {
        net_dropped++;
        return -1;
    }
    uint8_t *o = tx_buf[id] + NET_HDR;
    memcpy(o, f + 6, 6);
    memcpy(o + 6, mac, 6);
    put16be(o + 12, ETH_P_IP);
    uint8_t *ip = o + ETH_HDR;
    put32be(ip + 16, dst);
    *payload = ip + 20;
    return id;
}

static void ip_finish(int id, uint8_t proto, size_t payload_len)
{
    uint8_t *ip = tx_buf[id] + NET_HDR + ETH_HDR;
    size_t tot = 20 + payload_len;
    ip[0] = 0x45;
    ip[1] = 0;
    put16be(ip + 2, (uint16_t)tot);
    put16be(ip + 4, ip_id++);
    put16be(ip + 6, 0x4000);     /* DF */
    ip[8] = 64;
    ip[9] = proto;
    put16be(ip + 10, 0);
    put32be(ip + 12, my_ip);
    put16be(ip + 10, fold(sum16(0, ip, 20)));
    tx_send(id, ETH_HDR + tot);
}

static void icmp_input(const uint8_t *f, uint32_t src, const uint8_t *p, size_t n)
{
    if (n < 8 || p[0] != 8 || p[1] != 0 || fold(sum16(0, p, n)) != 0)
        return;
    if (n > MTU - 20)
        return;
    uint8_t *o;
    int id = ip_begin(f, src, &o);
    if (id < 0)
        return;
    memcpy(o, p, n);
    o[0] = 0;                    /* echo reply */
    put16be(o + 2, 0);
    put16be(o + 2, fold(sum16(0, o, n)));
    ip_finish(id, 1, n);
}

static void udp_input(const uint8_t *f, uint32_t src, uint32_t dst, const uint8_t *u, size_t n)
{
    if (n < 8)
        return;
    size_t ulen = get16be(u + 4);
    if (ulen < 8 || ulen > n)
        return;
    if (get16be(u + 2) != my_port)
        return;
    if (get16be(u + 6) != 0 && fold(sum16(pseudo_sum(src, dst, 17, ulen), u, ulen)) != 0)
        return;
    size_t rlen = store_request(u + 8, ulen - 8, reply);
    if (rlen > MTU - 28)
        rlen = MTU - 28;
    uint8_t *o;
    int id = ip_begin(f, src, &o);
    if (id < 0)
        return;
    put16be(o, (uint16_t)my_port);
    put16be(o + 2, get16be(u));
    put16be(o + 4, (uint16_t)(8 + rlen));
    put16be(o + 6, 0);
    memcpy(o + 8, reply, rlen);
    uint16_t c = fold(sum16(pseudo_sum(my_ip, src, 17, 8 + rlen), o, 8 + rlen));
    put16be(o + 6, c ? c : 0xFFFF);
    ip_finish(id, 17, 8 + rlen);
}

static void ip_input(const uint8_t *f, const uint8_t *ip, size_t n)
{
    if (n < 20 || (ip[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(ip[0] & 0xF) * 4;
    if (ihl < 20 || ihl > n)
        return;
    if (fold(sum16(0, ip, ihl)) != 0)
        return;
    size_t tot = get16be(ip + 2);
    if (tot < ihl || tot > n)
        return;
    if (get16be(ip + 6) & 0x3FFF)     /* MF set or a fragment offset */
        return;
    uint32_t src = get32be(ip + 12), dst = get32be(ip + 16);
    if (dst != my_ip)
        return;
    switch (ip[9]) {
    case 1:
        icmp_input(f, src, ip + ihl, tot - ihl);
        break;
    case 17:
        udp_input(f, src, dst, ip + ihl, tot - ihl);
        break;
    }
}

static void frame_input(const uint8_t *f, size_t n)
{
    if (n < ETH_HDR)
        return;
    if (memcmp(f, mac, 6) != 0 && memcmp(f, bcast, 6) != 0)
        return;
    if (f[6] & 1)                 /* multicast/broadcast source: bogus */
        return;
    switch (get16be(f + 12)) {
    case ETH_P_ARP:
        arp_input(f, f + ETH_HDR, n - ETH_HDR);
        break;
    case ETH_P_IP:
        ip_input(f, f + ETH_HDR, n - ETH_HDR);
        break;
    }
}

int net_rx_pending(void)
{
    return present && vq_has_used(&rxq);
}

int net_poll(void)
{
    if (!present)
        return 0;
    int n = 0;
    uint32_t id, len;
    while (vq_pop(&rxq, &id, &len)) {
        if (id >= rxq.size)
            continue;
        if (len > NET_HDR && len <= BUF_SIZE) {
            net_rx_frames++;
            frame_input(rx_buf[id] + NET_HDR, len - NET_HDR);
        }
        vq_push(&rxq, (uint16_t)id);
        n++;
    }
    if (n)
        vq_notify(&rxq);
    tx_reclaim();
    return n;
}
