// Package netlab is two hosts and a client on one machine, for tests and
// the demo of the pair: Linux network namespaces A, B and C on a LAN bridge
// (br0 in namespace L, one veth port per namespace: vA, vB, vC). Hosts A
// and B each bridge their LAN link and a TAP device (tap0) on their own
// br0, which carries the host's address, so a guest on tap0 is on the LAN.
// It needs root and iproute2 (ip, bridge).
//
// A Lab's namespaces have names of their own (the process id and a
// counter), so labs of parallel tests do not collide; Close removes them
// and everything in them.
package netlab

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Host names a namespace of a lab.
type Host string

// The namespaces of a lab.
const (
	LAN    Host = "L" // the LAN bridge br0 and its ports vA, vB, vC
	HostA  Host = "A" // a host: br0 = lan0 (to vA) + tap0, address AddrA
	HostB  Host = "B" // a host: br0 = lan0 (to vB) + tap0, address AddrB
	Client Host = "C" // the client: lan0 (to vC), address AddrClient
)

// LAN addresses (prefix length 24) of the hosts and the client, and the
// address a guest on the LAN may take.
const (
	AddrA      = "10.0.20.1"
	AddrB      = "10.0.20.2"
	AddrClient = "10.0.20.3"
	AddrGuest  = "10.0.20.100"
	PrefixLen  = 24
)

// TAP is the name of each host's TAP device, for a guest's NIC.
const TAP = "tap0"

// Port returns the LAN bridge's port of host h (vA, vB, vC).
func Port(h Host) string { return "v" + string(h) }

// Lab is a set of namespaces made by New.
type Lab struct {
	ns map[Host]string // namespace names; fixed after New
}

// labs counts the labs this process made, for unique namespace names.
var labs atomic.Int64

// ErrNotRoot is New's error when the process is not root.
var ErrNotRoot = errors.New("needs root: it creates network namespaces, a bridge and TAP devices")

// New creates the namespaces, the bridges, the veth pairs and the TAP
// devices, and gives the hosts and the client their addresses. On error it
// removes what it made.
func New() (_ *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	for _, p := range []string{"ip", "bridge"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Errorf("%v (install iproute2: make deps)", err)
		}
	}
	l := &Lab{ns: map[Host]string{}}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	n := labs.Add(1)
	for _, h := range []Host{LAN, HostA, HostB, Client} {
		name := fmt.Sprintf("ftvm-%d-%d-%s", os.Getpid(), n, h)
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cannot create a network namespace: %v: %s", err, out)
		}
		l.ns[h] = name
	}
	var steps [][]string // host, then the arguments of ip
	add := func(h Host, args ...string) { steps = append(steps, append([]string{string(h)}, args...)) }
	add(LAN, "link", "add", "br0", "type", "bridge")
	add(LAN, "link", "set", "br0", "up")
	for _, h := range []Host{HostA, HostB, Client} {
		add(LAN, "link", "add", Port(h), "type", "veth", "peer", "name", "lan0", "netns", l.ns[h])
		add(LAN, "link", "set", Port(h), "master", "br0", "up")
		add(h, "link", "set", "lo", "up")
		add(h, "link", "set", "lan0", "up")
		dev := "lan0"
		if h != Client {
			dev = "br0"
			add(h, "link", "add", "br0", "type", "bridge")
			add(h, "tuntap", "add", "dev", TAP, "mode", "tap")
			add(h, "link", "set", "lan0", "master", "br0")
			add(h, "link", "set", TAP, "master", "br0", "up")
			add(h, "link", "set", "br0", "up")
		}
		add(h, "addr", "add", fmt.Sprintf("%s/%d", map[Host]string{HostA: AddrA, HostB: AddrB, Client: AddrClient}[h], PrefixLen), "dev", dev)
	}
	for _, s := range steps {
		args := append([]string{"-n", l.ns[Host(s[0])]}, s[1:]...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return l, nil
}

// Close removes the namespaces, and with them the bridges, veth pairs and
// TAP devices. Processes still running in them keep their namespace alive:
// the caller ends them first.
func (l *Lab) Close() error {
	var errs []error
	for h, name := range l.ns {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", name, err, out))
		}
		delete(l.ns, h)
	}
	return errors.Join(errs...)
}

// Namespace returns the name of h's namespace.
func (l *Lab) Namespace(h Host) string { return l.ns[h] }

// Wrap returns the command prefix that runs a program in h's namespace
// (ip netns exec NAME).
func (l *Lab) Wrap(h Host) []string { return []string{"ip", "netns", "exec", l.ns[h]} }

// Command returns a command running name with args in h's namespace.
func (l *Lab) Command(h Host, name string, args ...string) *exec.Cmd {
	w := l.Wrap(h)
	return exec.Command(w[0], append(append(w[1:], name), args...)...)
}

// Do runs fn on a thread that entered h's network namespace for the time
// of the call: sockets fn makes belong to h's namespace and stay there.
func (l *Lab) Do(h Host, fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + l.ns[h])
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	err = fn()
	if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread() // else the thread dies with the goroutine
	}
	return err
}

// Dial opens a TCP connection from h's namespace to addr.
func (l *Lab) Dial(h Host, addr string, timeout time.Duration) (c net.Conn, err error) {
	err = l.Do(h, func() error {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// FDBPort returns the LAN bridge's port that learned mac ("" if none).
func (l *Lab) FDBPort(mac net.HardwareAddr) (string, error) {
	out, err := l.Command(LAN, "bridge", "fdb", "show", "br", "br0").Output()
	if err != nil {
		return "", fmt.Errorf("bridge fdb show: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.EqualFold(f[0], mac.String()) && f[1] == "dev" {
			return f[2], nil
		}
	}
	return "", nil
}
