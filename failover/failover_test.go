package failover

import (
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"ftvm/lockstep"
)

// Many sides racing for the same generation: exactly one wins each.
func TestFileArbiterOneWinnerPerGeneration(t *testing.T) {
	a := FileArbiter{Path: filepath.Join(t.TempDir(), "arb")}
	for gen := uint64(1); gen <= 5; gen++ {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won, err := a.TestAndSet(gen, "racer")
				if err != nil {
					t.Error(err)
				}
				if won {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("generation %d: %d winners, want 1", gen, wins.Load())
		}
	}
	if hi, err := a.Highest(); err != nil || hi != 5 {
		t.Errorf("Highest = %d, %v; want 5", hi, err)
	}
}

func TestParseArbiter(t *testing.T) {
	for spec, ok := range map[string]bool{"": true, "file:/x/y": true, "file:": false, "nfs:/x": false} {
		if _, err := ParseArbiter(spec); (err == nil) != ok {
			t.Errorf("ParseArbiter(%q) error %v", spec, err)
		}
	}
}

func TestGratuitousARP(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	ip := net.IPv4(10, 0, 2, 15)
	b, err := gratuitousARP(mac, ip)
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || arp == nil {
		t.Fatalf("not an Ethernet ARP frame: %v", p)
	}
	if eth.DstMAC.String() != "ff:ff:ff:ff:ff:ff" || net.HardwareAddr(arp.SourceHwAddress).String() != mac.String() ||
		!net.IP(arp.SourceProtAddress).Equal(ip) || !net.IP(arp.DstProtAddress).Equal(ip) || arp.Operation != layers.ARPRequest {
		t.Errorf("bad gratuitous ARP: eth %v arp %+v", eth.DstMAC, arp)
	}
}

func TestGuestAddressFromCmdline(t *testing.T) {
	ip, mac := guestAddress(lockstep.Header{Cmdline: "virtio_mmio.device=4K@0xd0000000:5 ip=10.0.9.7/24", Net: true, Nets: []string{"52:54:00:00:00:01"}})
	if ip.String() != "10.0.9.7" || mac.String() != "52:54:00:00:00:01" {
		t.Errorf("got %v %v", ip, mac)
	}
	if ip, _ := guestAddress(lockstep.Header{Net: true}); ip.String() != "10.0.2.15" {
		t.Errorf("default ip %v", ip)
	}
}
