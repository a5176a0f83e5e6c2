package failover

import (
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"ftvm/lockstep"
)

// Many sides racing for the same generation: exactly one wins each.
func TestFileArbiterOneWinnerPerGeneration(t *testing.T) {
	a := FileArbiter{Path: filepath.Join(t.TempDir(), "arb")}
	racers := make([]Arbiter, 8)
	for i := range racers {
		racers[i] = a
	}
	raceGenerations(t, racers, 5)
}

// raceGenerations has every racer claim generations 1..n at once and checks
// that exactly one wins each and that Highest then says n.
func raceGenerations(t *testing.T, racers []Arbiter, n uint64) {
	t.Helper()
	for gen := uint64(1); gen <= n; gen++ {
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := time.Now()
		for _, a := range racers {
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
		t.Logf("generation %d decided among %d racers in %v", gen, len(racers), time.Since(start))
		if wins.Load() != 1 {
			t.Fatalf("generation %d: %d winners, want 1", gen, wins.Load())
		}
	}
	if hi, err := racers[len(racers)-1].Highest(); err != nil || hi != n {
		t.Errorf("Highest = %d, %v; want %d", hi, err, n)
	}
}

func TestParseArbiter(t *testing.T) {
	for spec, ok := range map[string]bool{
		"": true, "file:/x/y": true, "file:": false, "nfs:/x": false,
		"etcd:http://127.0.0.1:2379/ftvm":                    true,
		"etcd:http://10.0.0.1:2379,http://10.0.0.2:2379/a/b": true,
		"etcd:http://127.0.0.1:2379":                         false, // no prefix
		"etcd:http://127.0.0.1:2379/":                        false,
		"etcd:ftp://127.0.0.1/ftvm":                          false,
		"etcd:https://127.0.0.1:2379/ftvm":                   false, // https without --tls
		"etcd:http://a:1/x,http://b:2/p":                     false,
		"etcd:":                                              false,
	} {
		a, err := ParseArbiter(spec, nil)
		if (err == nil) != ok {
			t.Errorf("ParseArbiter(%q) error %v", spec, err)
		}
		if e, isEtcd := a.(*EtcdArbiter); isEtcd {
			e.Close()
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
	if ip, _ := guestAddress(lockstep.Header{Cmdline: "console=ttyS0 ftvm.ip=10.0.20.100/24", Net: true}); ip.String() != "10.0.20.100" {
		t.Errorf("ftvm.ip= gives %v", ip)
	}
	if ip, _ := guestAddress(lockstep.Header{Net: true}); ip.String() != "10.0.2.15" {
		t.Errorf("default ip %v", ip)
	}
}

// The silence a peer watcher counts: looking every tick, a peer never heard
// is lost after the timeout; a stretch in which the watcher did not run (a
// stalled or stopped process) counts two ticks, not its length, even when
// the peer was heard just before it; hearing the peer, or QUIC receiving a
// packet from it, starts the count again.
func TestSilence(t *testing.T) {
	const tick = 10 * time.Millisecond
	t0 := time.Unix(1000, 0)
	type look struct {
		at, heard time.Duration // since t0
		packets   uint64
		want      time.Duration
	}
	for _, tc := range []struct {
		name  string
		looks []look
	}{
		{"steady silence", []look{{10, 0, 0, 10}, {20, 0, 0, 20}, {30, 0, 0, 30}, {300, 0, 0, 50}}},
		{"a stall of a second", []look{{10, 0, 0, 10}, {1010, 0, 0, 30}, {1020, 0, 0, 40}}},
		{"heard again", []look{{10, 0, 0, 10}, {20, 0, 0, 20}, {30, 25, 0, 5}, {40, 25, 0, 15}}},
		{"heard after a stall", []look{{10, 0, 0, 10}, {1010, 1009, 0, 1}}},
		// The reader noted a heartbeat at 15, then the process stopped for
		// a second: the watcher's first look after it counts two ticks.
		{"heard just before a stall", []look{{10, 0, 0, 10}, {1010, 15, 0, 20}, {1020, 15, 0, 30}}},
		{"packets not yet read", []look{{10, 0, 0, 10}, {20, 0, 0, 20}, {30, 0, 3, 10}, {40, 0, 3, 20}, {340, 0, 3, 40}}},
		{"a clock going back", []look{{10, 0, 0, 10}, {5, 0, 0, 10}, {15, 0, 0, 20}}},
	} {
		s := silence{last: t0, heard: t0}
		for i, l := range tc.looks {
			got := s.observe(t0.Add(l.at*time.Millisecond), t0.Add(l.heard*time.Millisecond), l.packets, tick)
			if got != l.want*time.Millisecond {
				t.Errorf("%s: look %d: silence %v, want %v", tc.name, i, got, l.want*time.Millisecond)
				break
			}
		}
	}
	// The longest gap between looks in a silence is kept for the verdict's
	// words, and forgotten when the peer is heard.
	s := silence{last: t0, heard: t0}
	s.observe(t0.Add(10*time.Millisecond), t0, 0, tick)
	s.observe(t0.Add(1010*time.Millisecond), t0, 0, tick)
	if s.gap != time.Second {
		t.Errorf("gap after a stall of a second: %v", s.gap)
	}
	if s.observe(t0.Add(1020*time.Millisecond), t0, 1, tick); s.gap != 0 {
		t.Errorf("gap after a packet: %v", s.gap)
	}
}
