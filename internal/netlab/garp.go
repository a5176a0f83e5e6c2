package netlab

import (
	"net"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// GARP is a gratuitous ARP (sender and target address the same) that
// entered the LAN bridge.
type GARP struct {
	At   time.Time
	Port string // the bridge port it came in on (vA, vB, vC)
	IP   net.IP
	MAC  net.HardwareAddr // the sender's hardware address
}

// GARPWatch reports the gratuitous ARPs entering the LAN bridge, with the
// port each came in on: a packet socket in the LAN's namespace.
type GARPWatch struct {
	fd    int
	ports map[int]string // interface index -> port name; fixed at start
	c     chan GARP
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once // guards closing stop
}

// watchPoll is how often a GARPWatch's reader looks whether it was closed.
const watchPoll = 100 * time.Millisecond

// WatchGARP starts reporting gratuitous ARPs on C; Close stops it. Up to
// 64 unread reports are kept, later ones dropped.
func (l *Lab) WatchGARP() (*GARPWatch, error) {
	w := &GARPWatch{fd: -1, ports: map[int]string{}, c: make(chan GARP, 64), stop: make(chan struct{}), done: make(chan struct{})}
	err := l.Do(LAN, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, h := range []Host{HostA, HostB, Client} {
			for _, i := range ifs {
				if i.Name == Port(h) {
					w.ports[i.Index] = i.Name
				}
			}
		}
		// ETH_P_ALL: a bridge port's frames reach only the taps of
		// every protocol (the bridge takes them before ETH_P_ARP's); the
		// filter keeps the ARP ones.
		w.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.SetsockoptSockFprog(w.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &arpFilter)
	})
	if err != nil {
		if w.fd >= 0 {
			unix.Close(w.fd)
		}
		return nil, err
	}
	tv := unix.NsecToTimeval(watchPoll.Nanoseconds())
	if err := unix.SetsockoptTimeval(w.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(w.fd)
		return nil, err
	}
	go w.read()
	return w, nil
}

// C returns the channel of reports.
func (w *GARPWatch) C() <-chan GARP { return w.c }

// Close stops the watch.
func (w *GARPWatch) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// arpFilter is a classic BPF program that keeps ARP frames: ldh [12];
// jeq #ETH_P_ARP, keep, drop; keep: ret #65535; drop: ret #0.
var arpFilter = unix.SockFprog{Len: 4, Filter: &[]unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 12},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.ETH_P_ARP},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}[0]}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (w *GARPWatch) read() {
	defer close(w.done)
	defer unix.Close(w.fd)
	buf := make([]byte, 1600)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(w.fd, buf, 0)
		if err != nil {
			continue // the poll timeout (EAGAIN), or EINTR
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		// A frame entering the bridge is seen once on its port as
		// received; the copies the bridge forwards are outgoing.
		if !ok || ll.Pkttype == unix.PACKET_OUTGOING || w.ports[ll.Ifindex] == "" {
			continue
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeEthernet, gopacket.NoCopy)
		arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || !net.IP(arp.SourceProtAddress).Equal(net.IP(arp.DstProtAddress)) {
			continue
		}
		g := GARP{At: time.Now(), Port: w.ports[ll.Ifindex], IP: append(net.IP(nil), arp.SourceProtAddress...),
			MAC: append(net.HardwareAddr(nil), arp.SourceHwAddress...)}
		select {
		case w.c <- g:
		default:
		}
	}
}
