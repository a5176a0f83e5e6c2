package failover

import (
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// gratuitousARP builds an ARP request announcing that ip is at mac, which
// makes switches and neighbours learn the guest's new location.
func gratuitousARP(mac net.HardwareAddr, ip net.IP) ([]byte, error) {
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	arp := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: mac, SourceProtAddress: ip.To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: ip.To4(),
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, eth, arp); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// announce sends a gratuitous ARP for the guest on every network backend.
func (n *member) announce() {
	if len(n.nets) == 0 || n.ip == nil || len(n.mac) != 6 {
		return
	}
	frame, err := gratuitousARP(n.mac, n.ip)
	if err != nil {
		n.emit(Event{Kind: EventError}, "gratuitous ARP: %v", err)
		return
	}
	for _, b := range n.nets {
		if err := b.Send(frame); err != nil {
			n.emit(Event{Kind: EventError}, "gratuitous ARP: %v", err)
		}
	}
	n.emit(Event{Kind: EventGARPSent}, "sent gratuitous ARP: %v is at %v", n.ip, n.mac)
}
