package netlab_test

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"ftvm/internal/netlab"
	"ftvm/internal/testenv"
)

// newLab makes a lab removed when the test ends.
func newLab(t *testing.T) *netlab.Lab {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.Program(t, "ip")
	testenv.Program(t, "bridge")
	l, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// The hosts reach each other over the netlab.LAN; a TCP connection is made from
// the client's namespace; Close removes every namespace.
func TestLab(t *testing.T) {
	l := newLab(t)
	var ln net.Listener
	if err := l.Do(netlab.HostA, func() (err error) {
		ln, err = net.Listen("tcp", netlab.AddrA+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	c, err := l.Dial(netlab.Client, ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial from the client to host A: %v", err)
	}
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello" {
		t.Errorf("read %q, %v", buf, err)
	}
	c.Close()
	if out, err := l.Command(netlab.HostB, "ping", "-c", "1", "-W", "5", netlab.AddrA).CombinedOutput(); err != nil {
		t.Errorf("ping from B to A: %v\n%s", err, out)
	}
	// Namespaces of a second lab do not collide with the first's.
	l2, err := netlab.New()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{l2.Namespace(netlab.LAN), l2.Namespace(netlab.HostA)}
	if names[0] == l.Namespace(netlab.LAN) {
		t.Errorf("two labs share the namespace %s", names[0])
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if exec.Command("ip", "netns", "exec", n, "true").Run() == nil {
			t.Errorf("namespace %s still there after Close", n)
		}
	}
}

// A gratuitous ARP sent on host B's TAP is reported with the port it came
// in on (vB), others ARPs are not, and the bridge learns the sender there.
func TestWatchGARP(t *testing.T) {
	l := newLab(t)
	w, err := l.WatchGARP()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mac := net.HardwareAddr{0x52, 0x54, 0, 0xab, 0xcd, 0xef}
	guest := net.ParseIP(netlab.AddrGuest).To4()
	send := func(target net.IP) {
		t.Helper()
		eth := &layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: mac, SourceProtAddress: guest, DstHwAddress: make([]byte, 6), DstProtAddress: target}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, arp); err != nil {
			t.Fatal(err)
		}
		// Sent on br0 of host B (as a guest's frame on tap0 would be
		// bridged), out through lan0 to the netlab.LAN's port vB.
		if err := l.Do(netlab.HostB, func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			i, err := net.InterfaceByName("lan0")
			if err != nil {
				return err
			}
			return unix.Sendto(fd, buf.Bytes(), 0, &unix.SockaddrLinklayer{Ifindex: i.Index, Halen: 6})
		}); err != nil {
			t.Fatal(err)
		}
	}
	send(net.ParseIP(netlab.AddrA).To4()) // an ordinary request: not reported
	send(guest)
	select {
	case g := <-w.C():
		if g.Port != "vB" || !g.IP.Equal(guest) || g.MAC.String() != mac.String() {
			t.Errorf("reported %+v, want %s is-at %s on vB", g, guest, mac)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no GARP reported")
	}
	if port, err := l.FDBPort(mac); err != nil || port != "vB" {
		t.Errorf("the bridge has %s on %q (%v), want vB", mac, port, err)
	}
}
