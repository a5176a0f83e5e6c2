package testenv

import (
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ftvm/internal/netlab"
)

// Etcd starts a single-member etcd server (Debian's etcd-server) on
// loopback with a fresh data directory and free ports, waits until it
// serves clients, and stops it when the test ends. It returns the client
// URL. With tlsDir set (ftvm certs DIR) the server presents node.crt and
// requires client certificates signed by ca.crt: mutual TLS.
func Etcd(t testing.TB, tlsDir string) string {
	t.Helper()
	return EtcdAt(t, tlsDir, FreeAddr(t, "tcp"), FreeAddr(t, "tcp"))
}

// EtcdAt is Etcd serving clients at clientAddr and its peer port at
// peerAddr (host:port); wrap, if given, is the command that runs etcd
// (ip netns exec NS: the server lives in that namespace).
func EtcdAt(t testing.TB, tlsDir, clientAddr, peerAddr string, wrap ...string) string {
	t.Helper()
	Program(t, "etcd")
	e, err := netlab.StartEtcd(netlab.EtcdConfig{DataDir: filepath.Join(t.TempDir(), "etcd"), TLSDir: tlsDir,
		ClientAddr: clientAddr, PeerAddr: peerAddr, Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.URL
}

// Proxy forwards TCP connections from a loopback port to a target, and can
// be cut (every connection closed, new ones refused) and restored: one
// side's reachability of a server, for partition tests.
type Proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex // guards cut and conns
	cut    bool
	conns  map[net.Conn]bool
}

// NewProxy starts a proxy to target; it stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.Cut() })
	return p
}

// Addr returns the proxy's address.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// Cut closes every forwarded connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// track registers c unless the proxy is cut (then it closes c).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		go func() {
			u, err := net.DialTimeout("tcp", p.target, time.Second)
			if err != nil || !p.track(u) {
				c.Close()
				if u != nil {
					u.Close()
				}
				return
			}
			go func() { io.Copy(u, c); u.Close(); c.Close() }()
			io.Copy(c, u)
			u.Close()
			c.Close()
		}()
	}
}
