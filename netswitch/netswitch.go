// Package netswitch is a learning Ethernet switch on a unix datagram socket:
// what `ftvm switch PATH` runs and what ftvm's socket:PATH net backend talks
// to. Every datagram is one Ethernet frame; a port is a sender's socket
// address. The switch learns which port each source MAC address sends from,
// forwards unicast frames to the learned port, and floods broadcast,
// multicast and unknown-destination frames to every known port but the
// sender. A port that has sent nothing for the idle time (60 s by default)
// is forgotten with its addresses; an empty datagram registers or refreshes
// a port without being forwarded.
package netswitch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultIdle is how long a port may stay silent before it is forgotten.
const DefaultIdle = 60 * time.Second

// maxFrame bounds the datagrams read (a 64 KiB-MTU frame with its header).
const maxFrame = 1<<16 + 18

const ethHeader = 14

// Stats counts the switch's work.
type Stats struct {
	Frames    uint64 // frames received
	Forwarded uint64 // datagrams sent to ports
	Flooded   uint64 // frames flooded
	Dropped   uint64 // datagrams a port could not take, or frames without a destination
	Ports     int    // ports currently known
	MACs      int    // addresses currently learned
}

type port struct {
	addr *net.UnixAddr
	sa   unix.Sockaddr
	last time.Time
}

// Switch is a learning switch listening on a unix datagram socket.
type Switch struct {
	conn *net.UnixConn
	path string
	// Idle is how long a silent port is kept (DefaultIdle); set it
	// before Serve.
	Idle time.Duration
	// Now is the clock used for expiry (time.Now); tests replace it.
	Now func() time.Time

	// mu guards ports, macs, stats and lastSweep.
	mu        sync.Mutex
	ports     map[string]*port
	macs      map[[6]byte]string
	stats     Stats
	lastSweep time.Time

	closed atomic.Bool // set by Close
}

// Listen creates a switch on the unix datagram socket path. A stale socket
// file at path (no switch behind it) is replaced; a live one is an error.
func Listen(path string) (*Switch, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		c, derr := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("switch: %s is in use by a running switch", path)
		}
		os.Remove(path)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("switch: %w", err)
	}
	conn.SetReadBuffer(4 << 20)
	return &Switch{
		conn:  conn,
		path:  path,
		Idle:  DefaultIdle,
		Now:   time.Now,
		ports: make(map[string]*port),
		macs:  make(map[[6]byte]string),
	}, nil
}

// Path returns the socket path the switch listens on.
func (s *Switch) Path() string { return s.path }

// Stats returns the switch's counters.
func (s *Switch) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Ports, st.MACs = len(s.ports), len(s.macs)
	return st
}

// Serve forwards frames until Close; it then returns nil.
func (s *Switch) Serve() error {
	buf := make([]byte, maxFrame+1)
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return err
	}
	for {
		n, from, err := s.conn.ReadFromUnix(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if s.closed.Load() {
				return nil
			}
			continue
		}
		if from == nil || from.Name == "" {
			continue // an unbound sender cannot be answered
		}
		for _, p := range s.route(buf[:n], from, s.Now()) {
			s.send(rc, p, buf[:n])
		}
	}
}

// send writes one frame to port p without waiting; a port that is gone is
// forgotten.
func (s *Switch) send(rc syscall.RawConn, p *port, frame []byte) {
	var err error
	rc.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), frame, unix.MSG_DONTWAIT, p.sa)
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.stats.Forwarded++
	case errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT):
		s.stats.Dropped++
		s.forget(p.addr.String())
	default:
		s.stats.Dropped++
	}
}

// route learns from a frame received from sender at time now and returns
// the ports it goes to.
func (s *Switch) route(frame []byte, from *net.UnixAddr, now time.Time) []*port {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	key := from.String()
	src := s.ports[key]
	if src == nil {
		src = &port{addr: from, sa: &unix.SockaddrUnix{Name: from.Name}}
		s.ports[key] = src
	}
	src.last = now
	if len(frame) == 0 {
		return nil // registration or keepalive
	}
	s.stats.Frames++
	if len(frame) < ethHeader {
		s.stats.Dropped++
		return nil
	}
	var dst, sa [6]byte
	copy(dst[:], frame[0:6])
	copy(sa[:], frame[6:12])
	if sa[0]&1 == 0 {
		s.macs[sa] = key
	}
	if dst[0]&1 == 0 {
		if k, ok := s.macs[dst]; ok {
			if k == key {
				s.stats.Dropped++ // the destination is on the sender's port
				return nil
			}
			return []*port{s.ports[k]}
		}
	}
	s.stats.Flooded++
	out := make([]*port, 0, len(s.ports))
	for k, p := range s.ports {
		if k != key {
			out = append(out, p)
		}
	}
	return out
}

// sweep forgets ports idle for longer than s.Idle, at most once a second.
func (s *Switch) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < time.Second && !s.lastSweep.IsZero() {
		return
	}
	s.lastSweep = now
	for k, p := range s.ports {
		if now.Sub(p.last) > s.Idle {
			s.forget(k)
		}
	}
}

// forget drops port key and the addresses learned on it.
func (s *Switch) forget(key string) {
	delete(s.ports, key)
	for mac, k := range s.macs {
		if k == key {
			delete(s.macs, mac)
		}
	}
}

// Close stops Serve and removes the socket file.
func (s *Switch) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Remove the path first: Serve returns once the socket is closed, and
	// by then the path must be gone.
	os.Remove(s.path)
	return s.conn.Close()
}

// Run listens at path and serves until stop is closed (nil: forever).
func Run(path string, stop <-chan struct{}) error {
	s, err := Listen(path)
	if err != nil {
		return err
	}
	if stop != nil {
		go func() {
			<-stop
			s.Close()
		}()
	}
	return s.Serve()
}
