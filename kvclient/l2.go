package kvclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// L2Config configures the L2 transport.
type L2Config struct {
	// Switch is the path of the switch's unix datagram socket: every
	// frame is one datagram sent there.
	Switch string
	// Local is the path this client binds, where the switch sends the
	// frames for it; empty: a socket in a new temporary directory, removed
	// by Close.
	Local string
	// IP is the client's IPv4 address; the zero Addr means 10.0.2.100.
	IP netip.Addr
	// MAC is the client's Ethernet address; nil means a random locally
	// administered unicast address.
	MAC net.HardwareAddr
}

// DefaultL2IP is the client address used when L2Config.IP is not set.
var DefaultL2IP = netip.AddrFrom4([4]byte{10, 0, 2, 100})

// arpRetry is how often an unanswered ARP request is repeated within one
// attempt.
const arpRetry = 200 * time.Millisecond

// L2 is the transport that speaks Ethernet itself through a unix-datagram
// L2 switch: it resolves the server's MAC address with ARP (and answers
// ARP requests for its own address), and sends and receives UDP over IPv4.
// The server must be on the same link (there is no routing).
type L2 struct {
	server netip.AddrPort
	ip     netip.Addr
	mac    net.HardwareAddr
	sw     *net.UnixAddr
	conn   *net.UnixConn
	local  string
	tmpDir string

	mu       sync.Mutex
	arp      map[netip.Addr]net.HardwareAddr
	arpCh    chan struct{} // closed (and replaced) when arp changes
	ports    map[uint16]chan []byte
	nextPort uint16
	ipID     uint16
	closed   bool

	done    chan struct{} // closed when the reader ends
	readErr error
}

// NewL2 returns an L2 transport to server ("A.B.C.D:port").
func NewL2(server string, cfg L2Config) (*L2, error) {
	ap, err := netip.ParseAddrPort(server)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("kvclient: server %q: want an IPv4 address and port", server)
	}
	if cfg.Switch == "" {
		return nil, errors.New("kvclient: no switch socket path")
	}
	t := &L2{
		server: ap,
		ip:     cfg.IP,
		mac:    cfg.MAC,
		sw:     &net.UnixAddr{Name: cfg.Switch, Net: "unixgram"},
		local:  cfg.Local,
		arp:    map[netip.Addr]net.HardwareAddr{},
		arpCh:  make(chan struct{}),
		ports:  map[uint16]chan []byte{},
		done:   make(chan struct{}),
	}
	if !t.ip.IsValid() {
		t.ip = DefaultL2IP
	}
	if !t.ip.Is4() {
		return nil, fmt.Errorf("kvclient: client address %v is not IPv4", t.ip)
	}
	if t.mac == nil {
		t.mac = make(net.HardwareAddr, 6)
		if _, err := rand.Read(t.mac); err != nil {
			return nil, err
		}
		t.mac[0] = t.mac[0]&^1 | 2 // unicast, locally administered
	} else if len(t.mac) != 6 || t.mac[0]&1 != 0 {
		return nil, fmt.Errorf("kvclient: MAC %v is not a unicast Ethernet address", t.mac)
	}
	var rb [2]byte
	rand.Read(rb[:])
	t.nextPort = 49152 + (uint16(rb[0])<<8|uint16(rb[1]))%16384
	t.ipID = uint16(rb[0]) ^ uint16(rb[1])<<8
	if t.local == "" {
		dir, err := os.MkdirTemp("", "kvclient")
		if err != nil {
			return nil, err
		}
		t.tmpDir = dir
		t.local = filepath.Join(dir, "client.sock")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: t.local, Net: "unixgram"})
	if err != nil {
		if t.tmpDir != "" {
			os.RemoveAll(t.tmpDir)
		}
		return nil, fmt.Errorf("kvclient: %w", err)
	}
	t.conn = conn
	go t.reader()
	return t, nil
}

// MAC returns the client's Ethernet address.
func (t *L2) MAC() net.HardwareAddr { return t.mac }

// IP returns the client's IPv4 address.
func (t *L2) IP() netip.Addr { return t.ip }

// Close implements Transport.
func (t *L2) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	err := t.conn.Close()
	<-t.done
	if t.tmpDir != "" {
		os.RemoveAll(t.tmpDir)
	} else {
		os.Remove(t.local)
	}
	return err
}

func (t *L2) send(frame []byte) error {
	_, err := t.conn.WriteToUnix(frame, t.sw)
	return err
}

func (t *L2) reader() {
	defer close(t.done)
	buf := make([]byte, 1<<16+64)
	for {
		n, _, err := t.conn.ReadFromUnix(buf)
		if err != nil {
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			t.readErr = err
			return
		}
		t.input(buf[:n])
	}
}

// input handles one received frame.
func (t *L2) input(b []byte) {
	f, err := parseFrame(b)
	if err != nil || f.kind == frameOther {
		return
	}
	if !macEqual(f.dstMAC, t.mac) && !macEqual(f.dstMAC, broadcastMAC) {
		return
	}
	switch f.kind {
	case frameARPRequest, frameARPReply:
		if f.senderIP.IsUnspecified() || f.senderMAC[0]&1 != 0 {
			return
		}
		t.mu.Lock()
		old, known := t.arp[f.senderIP]
		// learn the server's address, and refresh any known entry
		// (a gratuitous ARP after a fail-over)
		if f.senderIP == t.server.Addr() || known || f.targetIP == t.ip {
			if !known || !macEqual(old, f.senderMAC) {
				t.arp[f.senderIP] = append(net.HardwareAddr(nil), f.senderMAC...)
				close(t.arpCh)
				t.arpCh = make(chan struct{})
			}
		}
		t.mu.Unlock()
		if f.kind == frameARPRequest && f.targetIP == t.ip {
			if fr, err := buildARP(2, t.mac, t.ip, f.senderMAC, f.senderIP); err == nil {
				t.send(fr)
			}
		}
	case frameUDP:
		if f.dst.Addr() != t.ip || f.src != t.server {
			return
		}
		t.mu.Lock()
		ch := t.ports[f.dst.Port()]
		t.mu.Unlock()
		if ch != nil {
			select {
			case ch <- append([]byte(nil), f.payload...):
			default: // the exchange is not reading: drop, as a socket would
			}
		}
	}
}

func macEqual(a, b net.HardwareAddr) bool {
	return len(a) == len(b) && string(a) == string(b)
}

// resolve returns the server's MAC address, sending ARP requests until
// one is answered or ctx is done. fresh forgets a cached address first.
func (t *L2) resolve(ctx context.Context, fresh bool) (net.HardwareAddr, error) {
	ip := t.server.Addr()
	t.mu.Lock()
	if fresh {
		delete(t.arp, ip)
	}
	t.mu.Unlock()
	for {
		t.mu.Lock()
		mac, ok := t.arp[ip]
		ch := t.arpCh
		t.mu.Unlock()
		if ok {
			return mac, nil
		}
		req, err := buildARP(1, t.mac, t.ip, nil, ip)
		if err != nil {
			return nil, err
		}
		if err := t.send(req); err != nil {
			return nil, err
		}
		tm := time.NewTimer(arpRetry)
		select {
		case <-ch:
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-t.done:
			tm.Stop()
			return nil, t.deadErr()
		}
		tm.Stop()
	}
}

func (t *L2) deadErr() error {
	if t.readErr != nil {
		return fmt.Errorf("kvclient: receive: %w", t.readErr)
	}
	return net.ErrClosed
}

// Open implements Transport: a new UDP source port.
func (t *L2) Open(ctx context.Context) (Exchange, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, net.ErrClosed
	}
	for i := 0; i < 16384; i++ {
		p := t.nextPort
		t.nextPort++
		if t.nextPort < 49152 {
			t.nextPort = 49152
		}
		if t.ports[p] == nil {
			ch := make(chan []byte, 8)
			t.ports[p] = ch
			return &l2Exchange{t: t, port: p, ch: ch}, nil
		}
	}
	return nil, errors.New("kvclient: no free source port")
}

type l2Exchange struct {
	t     *L2
	port  uint16
	ch    chan []byte
	sends int
}

func (x *l2Exchange) Send(ctx context.Context, req []byte) error {
	t := x.t
	// after an unanswered attempt, check the address again
	mac, err := t.resolve(ctx, x.sends > 0)
	x.sends++
	if err != nil {
		return err
	}
	t.mu.Lock()
	id := t.ipID
	t.ipID++
	t.mu.Unlock()
	fr, err := buildUDP(t.mac, mac, netip.AddrPortFrom(t.ip, x.port), t.server, id, req)
	if err != nil {
		return err
	}
	return t.send(fr)
}

func (x *l2Exchange) Recv(ctx context.Context) ([]byte, error) {
	select {
	case b := <-x.ch:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-x.t.done:
		return nil, x.t.deadErr()
	}
}

func (x *l2Exchange) Close() error {
	x.t.mu.Lock()
	delete(x.t.ports, x.port)
	x.t.mu.Unlock()
	return nil
}
