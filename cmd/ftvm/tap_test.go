package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"ftvm/internal/testenv"
)

// The appliance on a real Linux network: ftvm run --net tap:NAME with the
// TAP device on a Linux bridge, and a client in another network namespace
// reaching the guest through a veth pair on the same bridge:
//
//	netns C (client)                 netns B (ftvm's)
//	  vc0 10.0.2.100/24  <--veth-->  vb0 --+
//	                                       br0 (bridge)
//	  ftvm (guest 10.0.2.15) --- tap0 -----+
//
// Both namespaces are new, so the host's own interfaces, addresses and
// firewall rules are neither used nor touched; ftvm itself runs in B (ip
// netns exec). Needs root and /dev/net/tun; skipped otherwise.

var tapSeq atomic.Int32

// tapIP runs ip with args and fails the test on an error.
func tapIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// tapNet makes the network above: it returns ftvm's namespace (B, with
// tap0 on br0) and the client's (C, 10.0.2.100/24 on the bridge).
func tapNet(t *testing.T) (nsB, nsC string) {
	t.Helper()
	testenv.RequireRoot(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		testenv.Missing(t, "no /dev/net/tun: %v", err)
	}
	testenv.Program(t, "ip")
	n := tapSeq.Add(1)
	nsB = fmt.Sprintf("ftvm-%d-%d-b", os.Getpid(), n)
	nsC = fmt.Sprintf("ftvm-%d-%d-c", os.Getpid(), n)
	if out, err := exec.Command("ip", "netns", "add", nsB).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "-n", nsB, "link", "del", "tap0").Run()
		exec.Command("ip", "netns", "del", nsB).Run()
	})
	tapIP(t, "netns", "add", nsC)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsC).Run() })

	tapIP(t, "-n", nsB, "link", "set", "lo", "up")
	tapIP(t, "-n", nsB, "link", "add", "br0", "type", "bridge")
	tapIP(t, "-n", nsB, "link", "set", "br0", "up")
	tapIP(t, "-n", nsB, "tuntap", "add", "dev", "tap0", "mode", "tap")
	tapIP(t, "-n", nsB, "link", "set", "tap0", "master", "br0")
	tapIP(t, "-n", nsB, "link", "set", "tap0", "up")
	tapIP(t, "-n", nsB, "link", "add", "vb0", "type", "veth", "peer", "name", "vc0")
	tapIP(t, "-n", nsB, "link", "set", "vc0", "netns", nsC)
	tapIP(t, "-n", nsB, "link", "set", "vb0", "master", "br0")
	tapIP(t, "-n", nsB, "link", "set", "vb0", "up")
	tapIP(t, "-n", nsC, "link", "set", "lo", "up")
	tapIP(t, "-n", nsC, "addr", "add", "10.0.2.100/24", "dev", "vc0")
	tapIP(t, "-n", nsC, "link", "set", "vc0", "up")
	return nsB, nsC
}

func TestApplianceTAP(t *testing.T) {
	image := testenv.Guest(t, "kvstore")
	nsB, nsC := tapNet(t)

	dir := t.TempDir()
	disk := apZeroDisk(t, filepath.Join(dir, "disk.img"), 1<<20)
	g := apStart(t, "appliance on tap0", "ip", "netns", "exec", nsB, ftvmBin, "run", "--net", "tap:tap0", "--disk", disk, image)
	g.mustServe(t)

	// ICMP echo from the client namespace: ping when installed, else our
	// own echo request on a raw socket opened in the namespace
	if ping, err := exec.LookPath("ping"); err == nil {
		out, err := exec.Command("ip", "netns", "exec", nsC, ping, "-c", "3", "-i", "0.2", "-w", "30", "10.0.2.15").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "3 received") {
			t.Errorf("ping -c 3 10.0.2.15 from the client namespace: %v\n%s", err, out)
		}
	} else {
		t.Logf("no ping command: sending ICMP echo requests from a raw socket in %s", nsC)
		if err := tapNSEcho(nsC, net.IP{10, 0, 2, 15}, 3); err != nil {
			t.Errorf("ICMP echo from the client namespace: %v", err)
		}
	}

	kv := func(req ...string) string {
		t.Helper()
		args := append([]string{"netns", "exec", nsC, ftvmBin, "kv", "--timeout", "1s", "--retries", "10", "10.0.2.15:7000"}, req...)
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ftvm kv %s in the client namespace: %v\n%s", strings.Join(req, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if r := kv("PUT", "x", "y"); r != "OK 1" {
		t.Errorf("PUT x y: %q, want OK 1", r)
	}
	if r := kv("GET", "x"); r != "VAL y" {
		t.Errorf("GET x: %q, want VAL y", r)
	}
	if r := kv("STAT"); r != "KEYS 1 WRITES 1" {
		t.Errorf("STAT: %q", r)
	}
	if st := g.term(t); st != 0 {
		t.Errorf("ftvm: exit status %d after SIGTERM; stderr:\n%s", st, g.stderr.String())
	}
}

// tapNSEcho sends count ICMP echo requests to dst from a raw socket opened
// in network namespace ns and waits for each reply.
func tapNSEcho(ns string, dst net.IP, count int) error {
	fdc := make(chan int, 1)
	errc := make(chan error, 1)
	go func() {
		// The socket belongs to the namespace it is created in: switch
		// this thread there, create it, switch back. A thread that could
		// not switch back stays locked and ends with the goroutine.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		if serr != nil {
			errc <- fmt.Errorf("raw ICMP socket: %w", serr)
			return
		}
		fdc <- fd
	}()
	var fd int
	select {
	case fd = <-fdc:
	case err := <-errc:
		return err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	to := &unix.SockaddrInet4{}
	copy(to.Addr[:], dst.To4())
	id := uint16(os.Getpid())
	got := 0
	buf := make([]byte, 1500)
	for seq := uint16(1); seq <= uint16(3*count) && got < count; seq++ {
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{ComputeChecksums: true}, icmp, gopacket.Payload("ftvm tap test")); err != nil {
			return err
		}
		if err := unix.Sendto(fd, sb.Bytes(), 0, to); err != nil {
			return fmt.Errorf("sendto: %w", err)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				break // timeout: send the next
			}
			p := gopacket.NewPacket(buf[:n], layers.LayerTypeIPv4, gopacket.Default)
			ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			r, _ := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ip != nil && r != nil && ip.SrcIP.Equal(dst) && r.TypeCode.Type() == layers.ICMPv4TypeEchoReply &&
				r.Id == id && r.Seq == seq && string(r.Payload) == "ftvm tap test" {
				got++
				break
			}
		}
	}
	if got < count {
		return fmt.Errorf("%d of %d echo requests answered", got, count)
	}
	return nil
}

// Issue 9's first failure on a real TAP: a guest idle in `sti; hlt` with no
// timer of its own (idle_wake) is woken by the client's ARP requests (ping
// from the client's namespace, which nothing answers), recorded, and its
// pcap holds them.
func TestIdleWakeTAP(t *testing.T) {
	image := testenv.Guest(t, "idle_wake")
	nsB, nsC := tapNet(t)
	dir := t.TempDir()
	pcap, log := filepath.Join(dir, "wake.pcap"), filepath.Join(dir, "wake.log")
	g := apStart(t, "idle_wake on tap0", "ip", "netns", "exec", nsB, ftvmBin, "run", "--net", "tap:tap0",
		"--pcap", pcap, "--record", log, image)
	if !g.waitConsole("waiting with no timer", 30*time.Second) {
		t.Fatalf("the guest did not get ready; stderr:\n%s", g.stderr.String())
	}
	time.Sleep(300 * time.Millisecond) // idle time skipped to the PIT's deadlines
	ping := exec.Command("ip", "netns", "exec", nsC, "ping", "-c", "5", "-i", "0.5", "-w", "10", "10.0.2.15")
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	defer ping.Process.Kill()
	if st := g.wait(t, 20*time.Second); st != 1 {
		t.Fatalf("exit status %d, want 1; console:\n%s", st, g.stdout.String())
	}
	if !strings.Contains(g.stdout.String(), "frame 3:") {
		t.Errorf("the guest did not see 3 frames:\n%s", g.stdout.String())
	}
	if fi, err := os.Stat(pcap); err != nil || fi.Size() <= 24 {
		t.Errorf("pcap holds no frame (%v)", err)
	}
	rep, stderr, st := ftvm(t, "replay", "--log", log, image)
	if st != 1 || rep != g.stdout.String() {
		t.Errorf("replay: status %d, console %q; stderr:\n%s", st, rep, stderr)
	}
}
