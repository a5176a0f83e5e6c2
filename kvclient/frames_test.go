package kvclient

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

// Hand-made frames: written out field by field (and their checksums
// computed) independently of gopacket and of the code under test.
// Addresses: the client 02:00:00:00:00:64 / 10.0.2.100, the guest
// 52:54:00:12:34:56 / 10.0.2.15, UDP port 7000.
const (
	// ARP who-has 10.0.2.15 tell 10.0.2.100, padded to 60 bytes
	hexARPRequest = "ffffffffffff020000000064080600010800060400010200000000640a0002640000000000000a00020f000000000000000000000000000000000000"
	// ARP 10.0.2.100 is-at 02:00:00:00:00:64, to the guest
	hexARPReplyToGuest = "525400123456020000000064080600010800060400020200000000640a0002645254001234560a00020f000000000000000000000000000000000000"
	// 10.0.2.100:50000 -> 10.0.2.15:7000 "GET a", IP id 0x1234, DF, TTL 64
	hexUDPGetA = "52540012345602000000006408004500002112344000401110260a0002640a00020fc3501b58000d0c53474554206100000000000000000000000000"
	// 10.0.2.100:50001 -> 10.0.2.15:7000 "PUT k " + 100 x, IP id 7 (no padding)
	hexUDPLong = "52540012345602000000006408004500008600074000401121ee0a0002640a00020fc3511b58007270d0505554206b2078787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"
	// from the guest: ARP reply 10.0.2.15 is-at 52:54:00:12:34:56
	hexGuestARPReply = "020000000064525400123456080600010800060400025254001234560a00020f0200000000640a000264000000000000000000000000000000000000"
	// from the guest: ARP who-has 10.0.2.100 tell 10.0.2.15
	hexGuestARPRequest = "ffffffffffff525400123456080600010800060400015254001234560a00020f0000000000000a000264000000000000000000000000000000000000"
	// from the guest: 10.0.2.15:7000 -> 10.0.2.100:50000 "VAL 1", padded
	hexGuestUDPReply = "02000000006452540012345608004500002100014000401122590a00020f0a0002641b58c350000d355756414c203100000000000000000000000000"
	// from the guest: "NONE" without a UDP checksum (0)
	hexGuestUDPNoSum = "02000000006452540012345608004500002000024000401122590a00020f0a0002641b58c350000c00004e4f4e450000000000000000000000000000"
)

var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	guestMAC  = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	clientIP  = netip.MustParseAddr("10.0.2.100")
	guestIP   = netip.MustParseAddr("10.0.2.15")
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildARP(t *testing.T) {
	got, err := buildARP(layers.ARPRequest, clientMAC, clientIP, nil, guestIP)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, hexARPRequest); !bytes.Equal(got, want) {
		t.Errorf("ARP request:\n got %x\nwant %x", got, want)
	}
	got, err = buildARP(layers.ARPReply, clientMAC, clientIP, guestMAC, guestIP)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, hexARPReplyToGuest); !bytes.Equal(got, want) {
		t.Errorf("ARP reply:\n got %x\nwant %x", got, want)
	}
	if _, err := buildARP(layers.ARPRequest, clientMAC, netip.MustParseAddr("::1"), nil, guestIP); err == nil {
		t.Error("ARP with an IPv6 address: no error")
	}
}

func TestBuildUDP(t *testing.T) {
	src := netip.AddrPortFrom(clientIP, 50000)
	dst := netip.AddrPortFrom(guestIP, 7000)
	got, err := buildUDP(clientMAC, guestMAC, src, dst, 0x1234, []byte("GET a"))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, hexUDPGetA); !bytes.Equal(got, want) {
		t.Errorf("UDP frame:\n got %x\nwant %x", got, want)
	}
	got, err = buildUDP(clientMAC, guestMAC, netip.AddrPortFrom(clientIP, 50001), dst, 7,
		[]byte("PUT k "+strings.Repeat("x", 100)))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, hexUDPLong); !bytes.Equal(got, want) {
		t.Errorf("long UDP frame:\n got %x\nwant %x", got, want)
	}
}

func TestParseARP(t *testing.T) {
	f, err := parseFrame(unhex(t, hexGuestARPReply))
	if err != nil {
		t.Fatal(err)
	}
	if f.kind != frameARPReply || !macEqual(f.senderMAC, guestMAC) || f.senderIP != guestIP ||
		f.targetIP != clientIP || !macEqual(f.dstMAC, clientMAC) || !macEqual(f.srcMAC, guestMAC) {
		t.Errorf("ARP reply parsed as %+v", f)
	}
	f, err = parseFrame(unhex(t, hexGuestARPRequest))
	if err != nil {
		t.Fatal(err)
	}
	if f.kind != frameARPRequest || f.senderIP != guestIP || f.targetIP != clientIP || !macEqual(f.dstMAC, broadcastMAC) {
		t.Errorf("ARP request parsed as %+v", f)
	}
	// our own request parses back
	f, err = parseFrame(unhex(t, hexARPRequest))
	if err != nil || f.kind != frameARPRequest || f.targetIP != guestIP || !macEqual(f.senderMAC, clientMAC) {
		t.Errorf("own ARP request parsed as %+v, %v", f, err)
	}
	// ARP for another protocol is not ours
	b := unhex(t, hexGuestARPReply)
	b[14+2], b[14+3] = 0x86, 0xdd
	if f, _ := parseFrame(b); f.kind != frameOther {
		t.Errorf("ARP for protocol 0x86dd parsed as kind %d", f.kind)
	}
}

func TestParseUDP(t *testing.T) {
	f, err := parseFrame(unhex(t, hexGuestUDPReply))
	if err != nil {
		t.Fatal(err)
	}
	if f.kind != frameUDP || f.src != netip.AddrPortFrom(guestIP, 7000) ||
		f.dst != netip.AddrPortFrom(clientIP, 50000) || string(f.payload) != "VAL 1" {
		t.Errorf("UDP reply parsed as %+v (payload %q)", f, f.payload)
	}
	f, err = parseFrame(unhex(t, hexGuestUDPNoSum))
	if err != nil || f.kind != frameUDP || string(f.payload) != "NONE" {
		t.Errorf("UDP without checksum parsed as %+v (payload %q), %v", f, f.payload, err)
	}
	// a frame we built parses back, the padding is not payload
	f, err = parseFrame(unhex(t, hexUDPGetA))
	if err != nil || string(f.payload) != "GET a" || f.dst.Port() != 7000 {
		t.Errorf("own UDP frame parsed as %+v (payload %q), %v", f, f.payload, err)
	}
}

func TestParseRejects(t *testing.T) {
	// corrupted IPv4 header checksum
	b := unhex(t, hexGuestUDPReply)
	b[14+10] ^= 0xff
	if _, err := parseFrame(b); err == nil {
		t.Error("bad IPv4 header checksum: no error")
	}
	// corrupted payload: the UDP checksum no longer matches
	b = unhex(t, hexGuestUDPReply)
	b[14+20+8] ^= 0x01
	if _, err := parseFrame(b); err == nil {
		t.Error("bad UDP checksum: no error")
	}
	// a fragment (MF set; header checksum fixed up) is not delivered
	b = unhex(t, hexGuestUDPReply)
	b[14+6] = 0x20
	b[14+10], b[14+11] = 0, 0
	c := checksum(0, b[14:34])
	b[14+10], b[14+11] = byte(c>>8), byte(c)
	if f, err := parseFrame(b); err != nil || f.kind != frameOther {
		t.Errorf("fragment parsed as kind %d, %v", f.kind, err)
	}
	// truncated in the IPv4 header
	if f, err := parseFrame(unhex(t, hexGuestUDPReply)[:20]); err == nil && f.kind != frameOther {
		t.Errorf("truncated frame parsed as kind %d", f.kind)
	}
	// not IPv4 or ARP
	b = unhex(t, hexGuestUDPReply)
	b[12], b[13] = 0x86, 0xdd
	if f, _ := parseFrame(b); f.kind != frameOther {
		t.Errorf("IPv6 ethertype parsed as kind %d", f.kind)
	}
}

func TestChecksum(t *testing.T) {
	// RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d
	if c := checksum(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); c != 0x220d {
		t.Errorf("checksum = %#04x, want 0x220d", c)
	}
}
