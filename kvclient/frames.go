package kvclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Ethernet frames of the L2 transport, built and parsed with gopacket.

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// buildARP returns an ARP frame (op layers.ARPRequest or ARPReply) from
// srcMAC/srcIP to dstMAC/dstIP. A request goes to the broadcast address
// with a zero target hardware address.
func buildARP(op uint16, srcMAC net.HardwareAddr, srcIP netip.Addr, dstMAC net.HardwareAddr, dstIP netip.Addr) ([]byte, error) {
	if !srcIP.Is4() || !dstIP.Is4() {
		return nil, errors.New("kvclient: ARP needs IPv4 addresses")
	}
	ethDst, tha := dstMAC, dstMAC
	if op == layers.ARPRequest {
		ethDst, tha = broadcastMAC, make(net.HardwareAddr, 6)
	}
	spa, tpa := srcIP.As4(), dstIP.As4()
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: ethDst, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{
		AddrType:          layers.LinkTypeEthernet,
		Protocol:          layers.EthernetTypeIPv4,
		HwAddressSize:     6,
		ProtAddressSize:   4,
		Operation:         op,
		SourceHwAddress:   srcMAC,
		SourceProtAddress: spa[:],
		DstHwAddress:      tha,
		DstProtAddress:    tpa[:],
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, eth, arp); err != nil {
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	return buf.Bytes(), nil
}

// buildUDP returns an Ethernet/IPv4/UDP frame carrying payload, with the
// IPv4 header checksum and the UDP checksum computed (TTL 64, DF set).
func buildUDP(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, id uint16, payload []byte) ([]byte, error) {
	if !src.Addr().Is4() || !dst.Addr().Is4() {
		return nil, errors.New("kvclient: UDP over IPv4 only")
	}
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{
		Version:  4,
		IHL:      5,
		Id:       id,
		Flags:    layers.IPv4DontFragment,
		TTL:      64,
		Protocol: layers.IPProtocolUDP,
		SrcIP:    net.IP(s4[:]),
		DstIP:    net.IP(d4[:]),
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	return buf.Bytes(), nil
}

// frameKind says what a parsed frame is.
type frameKind int

const (
	frameOther frameKind = iota
	frameARPRequest
	frameARPReply
	frameUDP
)

// frame is what the L2 transport needs from a received frame.
type frame struct {
	kind   frameKind
	srcMAC net.HardwareAddr // Ethernet source
	dstMAC net.HardwareAddr // Ethernet destination
	// ARP: the sender's and the target's addresses
	senderMAC net.HardwareAddr
	senderIP  netip.Addr
	targetIP  netip.Addr
	// UDP
	src, dst netip.AddrPort
	payload  []byte
}

// parseFrame decodes an Ethernet frame. ARP for IPv4 over Ethernet and
// unfragmented IPv4/UDP with a valid IPv4 header checksum (and a valid UDP
// checksum, when there is one) are recognised; anything else is frameOther.
// The returned slices alias b.
func parseFrame(b []byte) (frame, error) {
	var (
		eth     layers.Ethernet
		arp     layers.ARP
		ip4     layers.IPv4
		udp     layers.UDP
		payload gopacket.Payload
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &arp, &ip4, &udp, &payload)
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(b, &decoded); err != nil {
		return frame{}, fmt.Errorf("kvclient: bad frame: %w", err)
	}
	f := frame{srcMAC: eth.SrcMAC, dstMAC: eth.DstMAC}
	has := func(t gopacket.LayerType) bool {
		for _, d := range decoded {
			if d == t {
				return true
			}
		}
		return false
	}
	switch {
	case has(layers.LayerTypeARP):
		if arp.AddrType != layers.LinkTypeEthernet || arp.Protocol != layers.EthernetTypeIPv4 ||
			arp.HwAddressSize != 6 || arp.ProtAddressSize != 4 {
			return f, nil
		}
		switch arp.Operation {
		case layers.ARPRequest:
			f.kind = frameARPRequest
		case layers.ARPReply:
			f.kind = frameARPReply
		default:
			return f, nil
		}
		f.senderMAC = net.HardwareAddr(arp.SourceHwAddress)
		f.senderIP = netip.AddrFrom4([4]byte(arp.SourceProtAddress))
		f.targetIP = netip.AddrFrom4([4]byte(arp.DstProtAddress))
	case has(layers.LayerTypeUDP):
		if ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 {
			return f, nil
		}
		hdr := ip4.Contents
		if checksum(0, hdr) != 0 {
			return f, errors.New("kvclient: bad IPv4 header checksum")
		}
		src := netip.AddrFrom4([4]byte(ip4.SrcIP.To4()))
		dst := netip.AddrFrom4([4]byte(ip4.DstIP.To4()))
		if udp.Checksum != 0 {
			seg := append(append([]byte(nil), udp.Contents...), udp.Payload...)
			if checksum(pseudoHeaderSum(src, dst, len(seg)), seg) != 0 {
				return f, errors.New("kvclient: bad UDP checksum")
			}
		}
		f.kind = frameUDP
		f.src = netip.AddrPortFrom(src, uint16(udp.SrcPort))
		f.dst = netip.AddrPortFrom(dst, uint16(udp.DstPort))
		f.payload = udp.Payload
	}
	return f, nil
}

// checksum is the Internet checksum of b folded into sum (0 means valid
// when b contains its own checksum field).
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func pseudoHeaderSum(src, dst netip.Addr, length int) uint32 {
	s, d := src.As4(), dst.As4()
	return uint32(binary.BigEndian.Uint16(s[:2])) + uint32(binary.BigEndian.Uint16(s[2:])) +
		uint32(binary.BigEndian.Uint16(d[:2])) + uint32(binary.BigEndian.Uint16(d[2:])) +
		uint32(layers.IPProtocolUDP) + uint32(length)
}
