package kvclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"ftvm/internal/testenv"
)

// fakeGuest is a stand-in for the kvstore guest on a unix datagram socket:
// it answers ARP requests for its address and answers UDP requests on port
// 7000 with "ECHO <request>", after dropping the first dropUDP of them.
type fakeGuest struct {
	t       *testing.T
	conn    *net.UnixConn
	path    string
	peer    *net.UnixAddr // where replies go: the switch, or nil (to the sender)
	mac     net.HardwareAddr
	ip      netip.Addr
	mu      sync.Mutex
	dropUDP int
	delay   time.Duration // reply delay
	arps    int           // ARP requests for us seen
	udps    int           // UDP requests seen
	frames  chan frame    // every parsed frame, when not nil
	done    chan struct{}
}

// newFakeGuest starts a fake guest; setup (if not nil) configures it first.
func newFakeGuest(t *testing.T, dir string, peer string, setup func(*fakeGuest)) *fakeGuest {
	t.Helper()
	g := &fakeGuest{
		t:    t,
		path: filepath.Join(dir, "guest.sock"),
		mac:  guestMAC,
		ip:   guestIP,
		done: make(chan struct{}),
	}
	if peer != "" {
		g.peer = &net.UnixAddr{Name: peer, Net: "unixgram"}
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: g.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	g.conn = c
	if setup != nil {
		setup(g)
	}
	if g.peer != nil {
		c.WriteToUnix(nil, g.peer) // register with the switch
	}
	go g.serve()
	t.Cleanup(func() { c.Close(); <-g.done })
	return g
}

func (g *fakeGuest) serve() {
	defer close(g.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := g.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		to := g.peer
		if to == nil {
			to = from
		}
		f, err := parseFrame(buf[:n])
		if err != nil {
			continue
		}
		if g.frames != nil {
			g.frames <- f
		}
		switch f.kind {
		case frameARPRequest:
			if f.targetIP != g.ip {
				continue
			}
			g.mu.Lock()
			g.arps++
			g.mu.Unlock()
			r, _ := buildARP(layers.ARPReply, g.mac, g.ip, f.senderMAC, f.senderIP)
			g.conn.WriteToUnix(r, to)
		case frameUDP:
			if f.dst != netip.AddrPortFrom(g.ip, 7000) || !macEqual(f.dstMAC, g.mac) {
				continue
			}
			g.mu.Lock()
			g.udps++
			drop := g.dropUDP > 0
			if drop {
				g.dropUDP--
			}
			delay := g.delay
			g.mu.Unlock()
			if drop {
				continue
			}
			r, _ := buildUDP(g.mac, f.srcMAC, f.dst, f.src, 1, []byte("ECHO "+string(f.payload)))
			if delay > 0 {
				go func() { time.Sleep(delay); g.conn.WriteToUnix(r, to) }()
			} else {
				g.conn.WriteToUnix(r, to)
			}
		}
	}
}

func (g *fakeGuest) counts() (arps, udps int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arps, g.udps
}

func newL2(t *testing.T, sw string) *L2 {
	t.Helper()
	l2, err := NewL2("10.0.2.15:7000", L2Config{Switch: sw, IP: clientIP, MAC: clientMAC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	return l2
}

func TestL2Direct(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	g := newFakeGuest(t, dir, "", nil)
	c := New(newL2(t, g.path))
	c.Timeout = 2 * time.Second
	ctx := context.Background()
	for i, req := range []string{"PUT a 1", "GET a", "STAT"} {
		got, err := c.Do(ctx, req)
		if err != nil {
			t.Fatalf("Do(%q): %v", req, err)
		}
		if got != "ECHO "+req {
			t.Errorf("Do(%q) = %q", req, got)
		}
		if arps, udps := g.counts(); arps != 1 || udps != i+1 {
			t.Errorf("after %d requests: guest saw %d ARP requests (want 1: cached) and %d UDP", i+1, arps, udps)
		}
	}
}

func TestL2Retry(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	g := newFakeGuest(t, dir, "", func(g *fakeGuest) { g.dropUDP = 2 })
	c := New(newL2(t, g.path))
	c.Timeout = 150 * time.Millisecond
	c.Retries = 3
	got, err := c.Do(context.Background(), "GET k")
	if err != nil || got != "ECHO GET k" {
		t.Fatalf("Do = %q, %v", got, err)
	}
	arps, udps := g.counts()
	if udps != 3 {
		t.Errorf("guest saw %d requests, want 3", udps)
	}
	if arps != 3 {
		t.Errorf("guest saw %d ARP requests, want 3 (one per attempt after a lost one)", arps)
	}
}

func TestL2NoReply(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	g := newFakeGuest(t, dir, "", func(g *fakeGuest) { g.dropUDP = 1 << 30 })
	c := New(newL2(t, g.path))
	c.Timeout = 100 * time.Millisecond
	c.Retries = 2
	start := time.Now()
	_, err := c.Do(context.Background(), "STAT")
	var nr *NoReplyError
	if !errors.As(err, &nr) || nr.Attempts != 3 {
		t.Fatalf("Do: %v, want NoReplyError after 3 attempts", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("3 attempts of 100ms took %v", el)
	}
	if _, udps := g.counts(); udps != 3 {
		t.Errorf("guest saw %d requests, want 3", udps)
	}
}

// A reply that comes after its request gave up is not taken for the reply
// of the next request.
func TestL2LateReplyIgnored(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	g := newFakeGuest(t, dir, "", func(g *fakeGuest) { g.delay = 300 * time.Millisecond })
	c := New(newL2(t, g.path))
	c.Timeout = 100 * time.Millisecond
	c.Retries = 0
	if _, err := c.Do(context.Background(), "GET first"); err == nil {
		t.Fatal("first request answered within its timeout")
	}
	g.mu.Lock()
	g.delay = 0
	g.mu.Unlock()
	c.Timeout = time.Second
	time.Sleep(50 * time.Millisecond)
	got, err := c.Do(context.Background(), "GET second")
	if err != nil || got != "ECHO GET second" {
		t.Fatalf("second Do = %q, %v", got, err)
	}
}

func TestL2AnswersARP(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	g := newFakeGuest(t, dir, "", func(g *fakeGuest) { g.frames = make(chan frame, 16) })
	l2 := newL2(t, g.path)
	// the client's socket address is known once it has sent something
	if _, err := New(l2).Do(context.Background(), "STAT"); err != nil {
		t.Fatal(err)
	}
	req, _ := buildARP(layers.ARPRequest, g.mac, g.ip, nil, clientIP)
	local := l2.conn.LocalAddr().(*net.UnixAddr)
	if _, err := g.conn.WriteToUnix(req, local); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Second)
	for {
		select {
		case f := <-g.frames:
			if f.kind == frameARPReply && f.senderIP == clientIP {
				if !macEqual(f.senderMAC, clientMAC) || !macEqual(f.dstMAC, g.mac) || f.targetIP != g.ip {
					t.Errorf("ARP reply %+v", f)
				}
				return
			}
		case <-deadline:
			t.Fatal("no ARP reply from the client")
		}
	}
}

func TestL2ThroughSwitch(t *testing.T) {
	dir := testenv.ShortTempDir(t)
	sw := testenv.Switch(t, filepath.Join(dir, "sw.sock"))
	swPath := sw.Path()
	g := newFakeGuest(t, dir, swPath, nil)
	testenv.Poll(t, 5*time.Second, "the guest's registration", func() bool { return sw.Stats().Ports >= 1 })
	c := New(newL2(t, swPath))
	c.Timeout = time.Second
	c.Retries = 2
	for i := 0; i < 5; i++ {
		req := fmt.Sprintf("PUT k%d v", i)
		got, err := c.Do(context.Background(), req)
		if err != nil || got != "ECHO "+req {
			t.Fatalf("Do(%q) = %q, %v", req, got, err)
		}
	}
	if arps, _ := g.counts(); arps != 1 {
		t.Errorf("guest saw %d ARP requests, want 1", arps)
	}
}

func TestL2Config(t *testing.T) {
	if _, err := NewL2("guest:7000", L2Config{Switch: "/nonexistent"}); err == nil {
		t.Error("host name accepted as the server")
	}
	if _, err := NewL2("10.0.2.15:7000", L2Config{}); err == nil {
		t.Error("no switch path accepted")
	}
	if _, err := NewL2("10.0.2.15:7000", L2Config{Switch: "/x", MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}}); err == nil {
		t.Error("multicast MAC accepted")
	}
	l2, err := NewL2("10.0.2.15:7000", L2Config{Switch: filepath.Join(testenv.ShortTempDir(t), "none.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.IP() != DefaultL2IP || l2.MAC()[0]&3 != 2 {
		t.Errorf("defaults: ip %v mac %v", l2.IP(), l2.MAC())
	}
	// no switch behind the path: every attempt fails, quickly reported
	c := New(l2)
	c.Timeout = 50 * time.Millisecond
	c.Retries = 1
	_, err = c.Do(context.Background(), "STAT")
	var nr *NoReplyError
	if !errors.As(err, &nr) || nr.Last == nil || !strings.Contains(nr.Error(), "none.sock") {
		t.Errorf("Do without a switch: %v", err)
	}
}

func TestUDPTransport(t *testing.T) {
	var mu sync.Mutex
	seen := 0
	addr := testenv.UDPServer(t, func(req []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen == 1 {
			return nil // lost
		}
		return append([]byte("ECHO "), req...)
	})
	u, err := NewUDP(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := New(u)
	c.Timeout = 200 * time.Millisecond
	got, err := c.Do(context.Background(), "GET x")
	if err != nil || got != "ECHO GET x" {
		t.Fatalf("Do = %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 2 {
		t.Errorf("server saw %d datagrams, want 2 (one lost, one retry)", seen)
	}
}

func TestDoContextCancel(t *testing.T) {
	u, _ := NewUDP(testenv.SilentUDP(t))
	c := New(u)
	c.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, "STAT")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Do = %v after %v, want the context's deadline", err, time.Since(start))
	}
}
