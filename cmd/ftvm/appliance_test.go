package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"ftvm/internal/testenv"
	"ftvm/kvclient"
)

// The kvstore appliance (testdata/guests/kvstore) under the built ftvm
// binary on the unprivileged socket network: an in-process learning switch,
// ftvm run --net socket:PATH processes, and in-process clients (kvclient
// over L2) and a raw switch port for ICMP. The helpers here (prefix ap) are
// shared with replay_test.go, tap_test.go and bench_test.go.

// apProc is a running ftvm process.
type apProc struct {
	name   string
	cmd    *exec.Cmd
	stdout testenv.Buffer
	stderr testenv.Buffer
	done   chan struct{}
	status int // exit status once done (-1: killed by a signal)
	start  time.Time
	wall   time.Duration // from start to exit
}

// apStart starts a command (normally ftvmBin) whose output is collected; the
// test's cleanup kills it if it still runs.
func apStart(t testing.TB, name string, argv ...string) *apProc {
	t.Helper()
	return apStartStdin(t, name, nil, argv...)
}

// apStartStdin is apStart with the command's stdin from r (nil: none).
func apStartStdin(t testing.TB, name string, r io.Reader, argv ...string) *apProc {
	t.Helper()
	p := &apProc{name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if r != nil {
		p.cmd.Stdin = r
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.wall = time.Since(p.start)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.status = ee.ExitCode()
		} else if err != nil {
			p.status = -2
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s: %s\nstderr:\n%s\nconsole (last 2000 bytes):\n%s", p.name, strings.Join(p.cmd.Args, " "),
				p.stderr.String(), tail(p.stdout.String(), 2000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// ftvmProc starts ftvm with args.
func ftvmProc(t testing.TB, name string, args ...string) *apProc {
	t.Helper()
	return apStart(t, name, append([]string{ftvmBin}, args...)...)
}

// waitConsole waits up to d for the console (stdout) to contain s; false when
// the process ended or the time ran out first.
func (p *apProc) waitConsole(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(p.stdout.String(), s) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.stdout.String(), s)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// mustServe waits for the appliance's "serving" line.
func (p *apProc) mustServe(t testing.TB) {
	t.Helper()
	if !p.waitConsole("kvstore: serving udp port", 90*time.Second) {
		t.Fatalf("%s is not serving; stderr:\n%s\nconsole:\n%s", p.name, p.stderr.String(), p.stdout.String())
	}
}

// wait waits up to d for the process to end and returns its status.
func (p *apProc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.status
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not end within %v (killed); stderr:\n%s", p.name, d, p.stderr.String())
		return 0
	}
}

// term sends SIGTERM and waits for the process to end.
func (p *apProc) term(t testing.TB) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(t, 60*time.Second)
}

// apZeroDisk creates a zeroed (sparse) disk image.
func apZeroDisk(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// apCopy copies a file.
func apCopy(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// apClient is an in-process kvstore client through the switch.
type apClient struct {
	server string
	c      *kvclient.Client
}

// newAPClient returns a client of server (A.B.C.D:port) whose own address
// is 10.0.2.host. Generous timeouts and retries: the machine may be loaded.
func newAPClient(t testing.TB, sw, server string, host byte) *apClient {
	t.Helper()
	l2, err := kvclient.NewL2(server, kvclient.L2Config{Switch: sw, IP: netip.AddrFrom4([4]byte{10, 0, 2, host})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	c := kvclient.New(l2)
	c.Timeout, c.Retries = 2*time.Second, 10
	return &apClient{server, c}
}

func (c *apClient) do(t testing.TB, req string) string {
	t.Helper()
	r, err := c.c.Do(context.Background(), req)
	if err != nil {
		t.Fatalf("%s %.60q: %v", c.server, req, err)
	}
	return r
}

// expect sends req and fails the test unless the reply is want.
func (c *apClient) expect(t testing.TB, req, want string) {
	t.Helper()
	if got := c.do(t, req); got != want {
		t.Fatalf("%s %.60q -> %.80q, want %.80q", c.server, req, got, want)
	}
}

var apOKRE = regexp.MustCompile(`^OK (\d+)$`)

// put sends a PUT and returns the write's sequence number, which must be
// above last (a retried PUT may be applied twice: at least once).
func (c *apClient) put(t testing.TB, key, value string, last int) int {
	t.Helper()
	r := c.do(t, "PUT "+key+" "+value)
	m := apOKRE.FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("%s PUT %s: reply %q", c.server, key, r)
	}
	n, _ := strconv.Atoi(m[1])
	if n <= last {
		t.Fatalf("%s PUT %s: sequence number %d after %d", c.server, key, n, last)
	}
	return n
}

// appliance is one kvstore guest on the switch.
type appliance struct {
	ip, mac, disk string
	p             *apProc
	c             *apClient
}

func (a *appliance) args(sw, image string) []string {
	return []string{"run", "--net", "socket:" + sw, "--disk", a.disk, "--mac", a.mac,
		"--append", "ip=" + a.ip + "/24", image}
}

// apPing sends ICMP echo requests to the guest (ip, mac) from a raw port of
// the switch of our own and waits for a matching reply.
func apPing(t testing.TB, sw, dir string, guestIP net.IP, guestMAC net.HardwareAddr, id uint16) {
	t.Helper()
	local := filepath.Join(dir, fmt.Sprintf("ping%d.sock", id))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	swAddr := &net.UnixAddr{Name: sw, Net: "unixgram"}
	myMAC := net.HardwareAddr{0x02, 0, 0, 0, byte(id >> 8), byte(id)}
	myIP := net.IP{10, 0, 2, 200}
	payload := fmt.Sprintf("ftvm ping %d", id)
	for seq := uint16(1); seq <= 10; seq++ {
		eth := &layers.Ethernet{SrcMAC: myMAC, DstMAC: guestMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: myIP, DstIP: guestIP}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, icmp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUnix(buf.Bytes(), swAddr); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		rb := make([]byte, 1<<16)
		for {
			n, _, err := conn.ReadFromUnix(rb)
			if err != nil {
				break // no reply to this one: send the next
			}
			p := gopacket.NewPacket(rb[:n], layers.LayerTypeEthernet, gopacket.Default)
			r, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if !ok || r.TypeCode.Type() != layers.ICMPv4TypeEchoReply || r.Id != id {
				continue
			}
			ipl := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			ethl := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			if !ipl.SrcIP.Equal(guestIP) || !ipl.DstIP.Equal(myIP) || ethl.SrcMAC.String() != guestMAC.String() {
				t.Fatalf("echo reply from %v (%v) to %v, want from %v (%v)", ipl.SrcIP, ethl.SrcMAC, ipl.DstIP, guestIP, guestMAC)
			}
			if string(r.Payload) != payload {
				t.Fatalf("echo reply payload %q, want %q", r.Payload, payload)
			}
			// the checksum over the ICMP message must verify
			if sum := onesSum(append(append([]byte(nil), r.Contents...), r.Payload...)); sum != 0xffff {
				t.Fatalf("echo reply with a bad ICMP checksum (sum %#x)", sum)
			}
			return
		}
	}
	t.Fatalf("no ICMP echo reply from %v after 10 requests", guestIP)
}

// onesSum is the 16-bit ones' complement sum of b (0xffff over a message
// with a correct checksum).
func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// TestApplianceTwoGuests: two independent appliances on one switch, the
// protocol, errors, ICMP, and a restart that keeps every acknowledged write.
func TestApplianceTwoGuests(t *testing.T) {
	image := testenv.Guest(t, "kvstore")
	dir := testenv.ShortTempDir(t)
	sw := testenv.Switch(t, filepath.Join(dir, "sw.sock")).Path()
	a := &appliance{ip: "10.0.2.15", mac: "52:54:00:12:34:56", disk: apZeroDisk(t, filepath.Join(dir, "a.img"), 1<<20)}
	b := &appliance{ip: "10.0.2.16", mac: "52:54:00:12:34:57", disk: apZeroDisk(t, filepath.Join(dir, "b.img"), 1<<20)}
	for i, g := range []*appliance{a, b} {
		g.p = ftvmProc(t, "appliance "+g.ip, g.args(sw, image)...)
		g.c = newAPClient(t, sw, g.ip+":7000", byte(100+i))
	}
	for _, g := range []*appliance{a, b} {
		g.p.mustServe(t)
		want := fmt.Sprintf("kvstore: ip=%s mac=%s keys=0 writes=0\n", g.ip, g.mac)
		if !strings.Contains(g.p.stdout.String(), want) {
			t.Errorf("%s: no boot line %q:\n%s", g.ip, want, g.p.stdout.String())
		}
	}

	// independent stores
	a.c.expect(t, "STAT", "KEYS 0 WRITES 0")
	b.c.expect(t, "STAT", "KEYS 0 WRITES 0")
	acked := map[string]string{} // a's acknowledged writes
	na := 0
	for _, kv := range [][2]string{{"a", "1"}, {"b", "hello world"}, {"a", "2"}, {"c", "\xc3\xa9t\xc3\xa9\tx"}} {
		na = a.c.put(t, kv[0], kv[1], na)
		acked[kv[0]] = kv[1]
	}
	nb := b.c.put(t, "a", "bee", 0)
	a.c.expect(t, "GET a", "VAL 2")
	a.c.expect(t, "GET b", "VAL hello world")
	b.c.expect(t, "GET a", "VAL bee")
	b.c.expect(t, "GET b", "NONE")
	a.c.expect(t, "GET zz", "NONE")
	a.c.expect(t, "STAT", fmt.Sprintf("KEYS 3 WRITES %d", na))
	b.c.expect(t, "STAT", fmt.Sprintf("KEYS 1 WRITES %d", nb))

	// malformed requests
	for _, tc := range [][2]string{
		{"DEL a", "ERR unknown command"},
		{"", "ERR empty request"},
		{"GET", "ERR usage: GET <key>"},
		{"GET a b", "ERR usage: GET <key>"},
		{"PUT k", "ERR usage: PUT <key> <value>"},
		{"STAT now", "ERR usage: STAT"},
		{"put a 1", "ERR unknown command"},
		{"PUT k v\x01", "ERR bad value"},
	} {
		a.c.expect(t, tc[0], tc[1])
	}
	// over-long requests, then the guest still serves
	a.c.expect(t, "PUT "+strings.Repeat("k", 65)+" v", "ERR key too long")
	a.c.expect(t, "PUT big "+strings.Repeat("v", 1025), "ERR value too long")
	a.c.expect(t, "PUT big "+strings.Repeat("v", 1900), "ERR value too long") // near the 2048-byte buffers
	b.c.expect(t, "GET "+strings.Repeat("g", 1500), "ERR key too long")
	big := strings.Repeat("v", 1024)
	na = a.c.put(t, "big", big, na)
	acked["big"] = big
	a.c.expect(t, "GET big", "VAL "+big)
	a.c.expect(t, "STAT", fmt.Sprintf("KEYS 4 WRITES %d", na))

	// ICMP echo to each guest through the switch
	for i, g := range []*appliance{a, b} {
		mac, _ := net.ParseMAC(g.mac)
		apPing(t, sw, dir, net.ParseIP(g.ip).To4(), mac, uint16(0x4200+i))
	}

	// stop a (SIGTERM): it ends cleanly; b keeps serving meanwhile
	if st := a.p.term(t); st != 0 {
		t.Errorf("appliance a: exit status %d after SIGTERM, want 0", st)
	}
	b.c.expect(t, "GET a", "VAL bee")

	// restart a on the same disk: every acknowledged PUT is back
	a.p = ftvmProc(t, "appliance a (restarted)", a.args(sw, image)...)
	a.p.mustServe(t)
	want := fmt.Sprintf("kvstore: ip=%s mac=%s keys=%d writes=%d\n", a.ip, a.mac, len(acked), na)
	if !strings.Contains(a.p.stdout.String(), want) {
		t.Errorf("restarted a: no boot line %q:\n%s", want, a.p.stdout.String())
	}
	if !strings.Contains(a.p.stdout.String(), fmt.Sprintf("kvstore: log replayed: %d records", na)) {
		t.Errorf("restarted a: log not replayed with %d records:\n%s", na, a.p.stdout.String())
	}
	for k, v := range acked {
		a.c.expect(t, "GET "+k, "VAL "+v)
	}
	a.c.expect(t, "STAT", fmt.Sprintf("KEYS %d WRITES %d", len(acked), na))
	na = a.c.put(t, "after", "restart", na)
	a.c.expect(t, "GET after", "VAL restart")
	b.c.expect(t, "STAT", fmt.Sprintf("KEYS 1 WRITES %d", nb))

	for _, g := range []*appliance{a, b} {
		if st := g.p.term(t); st != 0 {
			t.Errorf("%s: exit status %d after SIGTERM", g.ip, st)
		}
		if s := g.p.stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "FAIL") {
			t.Errorf("%s: stderr:\n%s", g.ip, s)
		}
	}
}

// TestApplianceDiskSize: a disk image whose size is not a multiple of 512
// bytes is refused before the guest starts.
func TestApplianceDiskSize(t *testing.T) {
	image := testenv.Guest(t, "kvstore")
	disk := filepath.Join(t.TempDir(), "odd.img")
	if err := os.WriteFile(disk, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := ftvm(t, "run", "--disk", disk, image)
	if status != 125 {
		t.Errorf("status %d, want 125", status)
	}
	if !strings.HasPrefix(stderr, "ftvm: ") || !strings.Contains(stderr, "not a multiple of 512") ||
		!strings.Contains(stderr, "1000") || !strings.Contains(stderr, disk) {
		t.Errorf("stderr %q: want an ftvm: message naming the disk, its size and 512", stderr)
	}
	if stdout != "" {
		t.Errorf("the guest ran: %q", stdout)
	}
}
