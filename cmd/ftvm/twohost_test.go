package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"ftvm/internal/testenv"
)

// twoHosts is two hosts and a client on one machine: network namespaces
// A, B and C on a LAN bridge (br0 in namespace L, one veth port per
// namespace: vA, vB, vC). Hosts A and B each bridge their LAN link and a
// TAP device (tap0) on their own br0, which carries the host's address, so
// a guest on tap0 is on the LAN. The test removes everything when it ends.
type twoHosts struct {
	ns map[string]string // "A", "B", "C", "L" -> namespace name
}

// LAN addresses of the hosts, the client and the guest.
const (
	lanHostA  = "10.0.20.1"
	lanHostB  = "10.0.20.2"
	lanClient = "10.0.20.3"
	lanGuest  = "10.0.20.100"
)

func newTwoHosts(t *testing.T) *twoHosts {
	t.Helper()
	testenv.RequireRoot(t)
	ip := testenv.Program(t, "ip")
	testenv.Program(t, "bridge")
	h := &twoHosts{ns: map[string]string{}}
	for _, k := range []string{"L", "A", "B", "C"} {
		name := fmt.Sprintf("ftvm2h-%d-%s", os.Getpid(), k)
		if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
			testenv.Missing(t, "cannot create a network namespace: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command(ip, "netns", "del", name).Run() })
		h.ns[k] = name
	}
	run := func(k string, args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, append([]string{"-n", h.ns[k]}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %v: %v: %s", h.ns[k], args, err, out)
		}
	}
	run("L", "link", "add", "br0", "type", "bridge")
	run("L", "link", "set", "br0", "up")
	for k, addr := range map[string]string{"A": lanHostA, "B": lanHostB, "C": lanClient} {
		run("L", "link", "add", "v"+k, "type", "veth", "peer", "name", "lan0", "netns", h.ns[k])
		run("L", "link", "set", "v"+k, "master", "br0", "up")
		run(k, "link", "set", "lo", "up")
		run(k, "link", "set", "lan0", "up")
		dev := "lan0"
		if k != "C" {
			dev = "br0"
			run(k, "link", "add", "br0", "type", "bridge")
			run(k, "tuntap", "add", "dev", "tap0", "mode", "tap")
			run(k, "link", "set", "lan0", "master", "br0")
			run(k, "link", "set", "tap0", "master", "br0", "up")
			run(k, "link", "set", "br0", "up")
		}
		run(k, "addr", "add", addr+"/24", "dev", dev)
	}
	return h
}

// command returns a command running name with args in namespace k.
func (h *twoHosts) command(k, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.ns[k], name}, args...)...)
}

// dial opens a TCP connection from namespace k: the socket is made on a
// thread that entered k's namespace for the moment.
func (h *twoHosts) dial(k, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + h.ns[k])
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread() // else the thread dies with the goroutine
	}
	return c, err
}

// fdbPort returns the LAN bridge's port that learned mac ("" if none).
func (h *twoHosts) fdbPort(t *testing.T, mac string) string {
	out, err := h.command("L", "bridge", "fdb", "show", "br", "br0").Output()
	if err != nil {
		t.Fatalf("bridge fdb: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.EqualFold(f[0], mac) && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

// startPairMember starts ftvm with args in namespace k; the test kills it
// when it ends. done is closed when it exited.
func startPairMember(t *testing.T, h *twoHosts, k string, out, errOut io.Writer, args ...string) (cmd *exec.Cmd, stdin io.WriteCloser, done chan struct{}) {
	t.Helper()
	cmd = h.command(k, ftvmBin, args...)
	cmd.Stdout, cmd.Stderr = out, errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd, stdin, done
}

// TestTwoHostLinuxFailover runs Debian's kernel as a pair across two
// hosts (namespaces A and B, the QUIC link over the LAN bridge, each side's
// NIC on its host's TAP; the arbiter is a real etcd on the LAN, in C): the guest serves an echo over TCP (busybox nc -e
// cat) to a client in namespace C that holds one connection and streams
// request/response pairs; the primary is killed (SIGKILL) mid-stream. The
// connection must not be reset, every request must be answered in order
// (those in flight at the kill too), the backup's gratuitous ARP must be
// announced (garp-sent) and seen on B's LAN port (tcpdump), and the LAN
// bridge must learn the guest's MAC on B's port. It logs the stall the
// client saw and when the GARP came.
func TestTwoHostLinuxFailover(t *testing.T) {
	vmlinux, initrd := testenv.LinuxGuest(t)
	tcpdump := testenv.Program(t, "tcpdump")
	h := newTwoHosts(t)
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if out, err := exec.Command(ftvmBin, "certs", tlsDir).CombinedOutput(); err != nil {
		t.Fatalf("certs: %v: %s", err, out)
	}
	// The arbiter: etcd in the client's namespace, which both hosts reach
	// over the LAN only.
	etcd := testenv.EtcdAt(t, "", lanClient+":2379", lanClient+":2380", "ip", "netns", "exec", h.ns["C"])
	common := []string{"--tls", tlsDir, "--arbiter", "etcd:" + etcd + "/ftvm-two-hosts", "--net", "tap:tap0"}
	var pout, bout, perr, berr testenv.Buffer
	primary, pinw, pdone := startPairMember(t, h, "A", &pout, &perr, append([]string{"primary", "--listen", lanHostA + ":7400",
		"--wait-backup", "-m", "256M", "--initrd", initrd, "--append", "console=ttyS0 ftvm.ip=" + lanGuest + "/24"}, append(common, vmlinux)...)...)
	_, _, bdone := startPairMember(t, h, "B", &bout, &berr, append([]string{"backup", "--primary", lanHostA + ":7400",
		"--events", filepath.Join(dir, "b.events")}, common...)...)
	boot := time.Now()
	logs := func() string {
		return fmt.Sprintf("primary console:\n%s\nprimary stderr:\n%s\nbackup console:\n%s\nbackup stderr:\n%s",
			pout.String(), perr.String(), bout.String(), berr.String())
	}
	if !waitConsole(&pout, initramfsMarker, pdone, 8*time.Minute) {
		t.Fatalf("no %q from the primary:\n%s", initramfsMarker, logs())
	}
	t.Logf("the pair booted Linux to /init in %v", time.Since(boot).Round(time.Millisecond))
	fmt.Fprintln(pinw, "nc -ll -p 7000 -e cat & echo mac=$(cat /sys/class/net/eth0/address) server-$((6*7))")
	if !waitConsole(&pout, "server-42", pdone, 2*time.Minute) {
		t.Fatalf("the guest did not start its server:\n%s", logs())
	}
	select {
	case <-bdone:
		t.Fatalf("the backup ended:\n%s", logs())
	default:
	}
	s := pout.String()
	i := strings.LastIndex(s, "mac=") + 4
	mac := s[i : i+17]

	var conn net.Conn
	testenv.Poll(t, time.Minute, "a TCP connection from the client to the guest", func() bool {
		c, err := h.dial("C", lanGuest+":7000")
		conn = c
		return err == nil
	})
	defer conn.Close()
	if port := h.fdbPort(t, mac); port != "vA" {
		t.Fatalf("before the kill the LAN bridge has the guest's MAC %s on %q, want vA", mac, port)
	}
	capture := filepath.Join(dir, "lan.pcap")
	var dumpErr bytes.Buffer
	dump := h.command("L", tcpdump, "-i", "vB", "-Z", "root", "--immediate-mode", "-U", "-n", "-w", capture, "arp")
	dump.Stderr = &dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dump.Process.Kill(); dump.Wait() })
	testenv.Poll(t, 10*time.Second, "tcpdump", func() bool { return strings.Contains(dumpErr.String(), "listening on") })

	// The stream: request i, then its answer, timed.
	var killedAt time.Time
	var stall time.Duration
	reply := make([]byte, 11)
	after := 0
	for i := 0; after < 40; i++ {
		if i == 40 {
			primary.Process.Signal(syscall.SIGKILL)
			killedAt = time.Now()
		}
		sent := time.Now()
		req := fmt.Sprintf("req %06d\n", i)
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatalf("request %d: %v\n%s", i, err, logs())
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			t.Fatalf("reply %d (killed %v ago): %v\n%s", i, time.Since(killedAt), err, logs())
		}
		if string(reply) != req {
			t.Fatalf("reply %d is %q, want %q", i, reply, req)
		}
		if !killedAt.IsZero() {
			stall = max(stall, time.Since(sent))
			after++
		}
	}
	t.Logf("FIGURE failover stall seen by the TCP client: %v (longest request/response after the kill)", stall.Round(time.Millisecond))
	if stall > 2*time.Second {
		t.Errorf("the client stalled %v across the failover (target 500 ms)", stall)
	}
	if port := h.fdbPort(t, mac); port != "vB" {
		t.Errorf("after the failover the LAN bridge has the guest's MAC %s on %q, want vB", mac, port)
	}
	if ev, err := os.ReadFile(filepath.Join(dir, "b.events")); err != nil || !bytes.Contains(ev, []byte(`"event":"garp-sent"`)) {
		t.Errorf("the backup's events hold no garp-sent (%v):\n%s", err, ev)
	}
	time.Sleep(200 * time.Millisecond) // --immediate-mode -U: each packet is written as it comes
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()
	if garp, ok := findGARP(t, capture, net.ParseIP(lanGuest), killedAt); ok {
		t.Logf("FIGURE GARP on the LAN %v after the kill", garp.Round(time.Millisecond))
	} else {
		read, _ := exec.Command(tcpdump, "-r", capture, "-n", "-e", "-tt").CombinedOutput()
		t.Errorf("B's LAN port saw no gratuitous ARP for %s after the kill; the capture:\n%s\n%s", lanGuest, read, logs())
	}
	t.Logf("backup stderr:\n%s", berr.String())
}

// findGARP returns how long after since the first gratuitous ARP for ip
// (sender and target address both ip) appears in the capture.
func findGARP(t *testing.T, path string, ip net.IP, since time.Time) (time.Duration, bool) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return 0, false
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if ok && net.IP(arp.SourceProtAddress).Equal(ip) && net.IP(arp.DstProtAddress).Equal(ip) && ci.Timestamp.After(since) {
			return ci.Timestamp.Sub(since), true
		}
	}
}
