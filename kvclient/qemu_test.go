package kvclient

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"ftvm/internal/testenv"
)

// The kvstore guest (testdata/guests/kvstore) end to end under QEMU's
// microvm machine, which has virtio-mmio: the client talks to it through
// the netswitch (QEMU's dgram netdev on a unix socket is one switch port),
// and the disk log must survive restarts. Needs QEMU 7.2 or later (for
// -netdev dgram) and the built guest (testenv's rule); skipped with -short.

// requireQEMU returns QEMU's path, after checking the kvstore guest is
// built.
func requireQEMU(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU (-short)")
	}
	testenv.Guest(t, "kvstore")
	qemu := testenv.Program(t, "qemu-system-x86_64")
	out, _ := exec.Command(qemu, "-netdev", "help").CombinedOutput()
	if !strings.Contains(string(out), "dgram") {
		testenv.Missing(t, "QEMU has no dgram netdev (needs 7.2 or later)")
	}
	return qemu
}

type qemuGuest struct {
	cmd    *exec.Cmd
	serial string
}

// bootKV starts the guest with the given netdev and disk (or none) and
// waits for it to serve. Extra command-line text goes before the
// virtio_mmio.device entries QEMU adds.
func bootKV(t *testing.T, qemu, dir, netdev, disk, extra string) *qemuGuest {
	t.Helper()
	serial := filepath.Join(dir, fmt.Sprintf("serial-%d.txt", time.Now().UnixNano()))
	args := []string{
		"-M", "microvm,x-option-roms=off,rtc=on,acpi=off", "-accel", "tcg", "-m", "64M",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "file:" + serial,
		"-global", "virtio-mmio.force-legacy=false",
		"-kernel", testenv.Guest(t, "kvstore"), "-append", extra,
		"-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
	}
	if disk != "" {
		args = append(args, "-drive", "file="+disk+",if=none,id=d0,format=raw",
			"-device", "virtio-blk-device,drive=d0")
	}
	cmd := exec.Command(qemu, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &qemuGuest{cmd: cmd, serial: serial}
	t.Cleanup(g.kill)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(g.output(), "kvstore: serving udp port") {
			return g
		}
		select {
		case <-exited:
			t.Fatalf("QEMU exited: %s\nserial:\n%s", stderr.String(), g.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("guest not serving after 60s; serial:\n%s", g.output())
	return nil
}

func (g *qemuGuest) output() string {
	b, _ := os.ReadFile(g.serial)
	return string(b)
}

func (g *qemuGuest) kill() {
	if g.cmd.Process != nil {
		g.cmd.Process.Kill()
		g.cmd.Process.Wait()
	}
}

// field returns the first submatch of re in the guest's console.
func (g *qemuGuest) field(t *testing.T, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(g.output())
	if m == nil {
		t.Fatalf("no %q in the console:\n%s", re, g.output())
	}
	return m[1]
}

// exchange is one request to the store and the reply it must get.
type exchange struct{ req, want string }

// converse sends each request in turn and fails at the first wrong reply.
func converse(t *testing.T, c *Client, script []exchange) {
	t.Helper()
	for _, e := range script {
		got, err := c.Do(context.Background(), e.req)
		if err != nil {
			t.Fatalf("%.40q: %v", e.req, err)
		}
		if got != e.want {
			t.Fatalf("%.40q -> %.60q, want %.60q", e.req, got, e.want)
		}
	}
}

func TestKVStoreQEMU(t *testing.T) {
	qemu := requireQEMU(t)
	dir := testenv.ShortTempDir(t)
	swPath := testenv.Switch(t, filepath.Join(dir, "sw.sock")).Path()
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	guestSock := filepath.Join(dir, "guest.sock")
	netdev := "dgram,id=n0,local.type=unix,local.path=" + guestSock + ",remote.type=unix,remote.path=" + swPath
	boot := func(extra string) *qemuGuest {
		os.Remove(guestSock)
		return bootKV(t, qemu, dir, netdev, disk, extra)
	}

	l2, err := NewL2("10.0.2.15:7000", L2Config{Switch: swPath})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	c := New(l2)
	c.Timeout = 2 * time.Second
	c.Retries = 5

	// 1. a fresh disk
	g := boot("console=ttyS0")
	if !strings.Contains(g.output(), "kvstore: new log on an empty disk") {
		t.Errorf("no new-log line:\n%s", g.output())
	}
	big := strings.Repeat("v", 1024)
	converse(t, c, []exchange{
		{"STAT", "KEYS 0 WRITES 0"},
		{"PUT a 1", "OK 1"},
		{"PUT b hello world", "OK 2"},
		{"PUT a 2", "OK 3"},
		{"GET a", "VAL 2"},
		{"GET b", "VAL hello world"},
		{"GET nope", "NONE"},
		{"STAT", "KEYS 2 WRITES 3"},
		{"PUT big " + big, "OK 4"},
		{"GET big", "VAL " + big},
		{"PUT big " + big + "v", "ERR value too long"},
		{"PUT " + strings.Repeat("k", 65) + " v", "ERR key too long"},
		{"PUT x " + strings.Repeat("y", 1400), "ERR value too long"},
		{"GET", "ERR usage: GET <key>"},
		{"PUT k", "ERR usage: PUT <key> <value>"},
		{"DEL a", "ERR unknown command"},
		{"", "ERR empty request"},
		{"PUT nl with newline\n", "OK 5"},
		{"GET nl", "VAL with newline"},
	})

	// ping: an ICMP echo through the switch from a raw port of our own
	mac, _ := net.ParseMAC(g.field(t, `kvstore: ip=10\.0\.2\.15 mac=(\S+) `))
	icmpEcho(t, swPath, dir, mac)

	// 2. restart: everything acknowledged is back
	g.kill()
	g = boot("")
	if want := "keys=4 writes=5"; !strings.Contains(g.output(), want) {
		t.Errorf("boot line after restart lacks %q:\n%s", want, g.output())
	}
	converse(t, c, []exchange{
		{"GET a", "VAL 2"},
		{"GET big", "VAL " + big},
		{"STAT", "KEYS 4 WRITES 5"},
	})
	tail, _ := strconv.Atoi(g.field(t, `log replayed: 5 records, next sector (\d+) `))

	// 3. a torn record at the tail (magic and sequence right, checksum
	// wrong) and garbage after it are ignored, and overwritten
	g.kill()
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := make([]byte, 1024)
	binary.LittleEndian.PutUint32(torn[0:], 0x3152564B)
	binary.LittleEndian.PutUint32(torn[4:], 0xdeadbeef)
	binary.LittleEndian.PutUint64(torn[8:], 6)
	binary.LittleEndian.PutUint16(torn[16:], 1)
	binary.LittleEndian.PutUint16(torn[18:], 1)
	copy(torn[24:], "zz")
	copy(torn[512:], "garbage garbage garbage")
	if _, err := f.WriteAt(torn, int64(tail)*512); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g = boot("")
	g.field(t, `(log replayed: 5 records, next sector `+strconv.Itoa(tail)+` )`)
	converse(t, c, []exchange{
		{"GET z", "NONE"},
		{"PUT c 3", "OK 6"},
	})
	g.kill()
	g = boot("")
	g.field(t, `(log replayed: 6 records)`)
	converse(t, c, []exchange{
		{"GET c", "VAL 3"},
		{"STAT", "KEYS 5 WRITES 6"},
	})

	// the heartbeat, once a second of guest time
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(g.output(), "kvstore: heartbeat t=1 writes=6\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat line:\n%s", g.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// icmpEcho sends an ICMP echo request to the guest through the switch and
// waits for the reply.
func icmpEcho(t *testing.T, swPath, dir string, guestMAC net.HardwareAddr) {
	t.Helper()
	local := filepath.Join(dir, "ping.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sw := &net.UnixAddr{Name: swPath, Net: "unixgram"}
	myMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x65}
	eth := &layers.Ethernet{SrcMAC: myMAC, DstMAC: guestMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP{10, 0, 2, 101}, DstIP: net.IP{10, 0, 2, 15}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x4242, Seq: 7}
	buf := gopacket.NewSerializeBuffer()
	payload := gopacket.Payload("ping from kvclient")
	if err := gopacket.SerializeLayers(buf, serializeOpts, eth, ip, icmp, payload); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 65536)
	for try := 0; try < 5; try++ {
		if _, err := conn.WriteToUnix(buf.Bytes(), sw); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := conn.ReadFromUnix(rb)
			if err != nil {
				break
			}
			p := gopacket.NewPacket(rb[:n], layers.LayerTypeEthernet, gopacket.Default)
			r, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if !ok || r.TypeCode.Type() != layers.ICMPv4TypeEchoReply {
				continue
			}
			if r.Id != 0x4242 || r.Seq != 7 || string(r.Payload) != "ping from kvclient" {
				t.Fatalf("echo reply %+v payload %q", r, r.Payload)
			}
			if checksum(0, append(append([]byte(nil), r.Contents...), r.Payload...)) != 0 {
				t.Fatal("echo reply with a bad ICMP checksum")
			}
			ipl := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if !ipl.SrcIP.Equal(net.IP{10, 0, 2, 15}) || !ipl.DstIP.Equal(net.IP{10, 0, 2, 101}) {
				t.Fatalf("echo reply from %v to %v", ipl.SrcIP, ipl.DstIP)
			}
			return
		}
	}
	t.Fatal("no ICMP echo reply")
}

// Without a disk the guest serves from memory; reached here through QEMU's
// user-mode network with a forwarded host UDP port (the UDP transport).
func TestKVStoreQEMUNoDiskUDP(t *testing.T) {
	qemu := requireQEMU(t)
	dir := testenv.ShortTempDir(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	g := bootKV(t, qemu, dir, fmt.Sprintf("user,id=n0,hostfwd=udp:127.0.0.1:%d-:7000", port), "", "port=7000 ip=10.0.2.15/24")
	if !strings.Contains(g.output(), "kvstore: no disk, memory only") {
		t.Errorf("no memory-only line:\n%s", g.output())
	}
	u, err := NewUDP(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	c := New(u)
	c.Timeout = time.Second
	converse(t, c, []exchange{
		{"PUT k v", "OK 1"},
		{"GET k", "VAL v"},
		{"STAT", "KEYS 1 WRITES 1"},
	})
}
