package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"ftvm/devices"
	"ftvm/internal/initramfs"
	"ftvm/internal/testenv"
)

// initramfsMarker is the line the initramfs's /init prints when it is up.
const initramfsMarker = initramfs.Marker

// TestLinuxBadInput runs Debian's kernel, damaged in the ways boot.rst
// tells a loader to check, and with an initrd or command line that cannot
// be handed to it: each is a clear ftvm: error and exit status 125.
func TestLinuxBadInput(t *testing.T) {
	kernel, err := os.ReadFile(testenv.LinuxKernel(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string { return writeTemp(t, dir, name, b) }
	patched := func(name string, off int, v uint16) string {
		b := append([]byte(nil), kernel...)
		binary.LittleEndian.PutUint16(b[off:], v)
		return write(name, b)
	}
	good := write("vmlinuz", kernel)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"truncated", []string{"run", "-m", "256M", write("trunc", kernel[:len(kernel)/3])}, "truncated"},
		{"truncated header", []string{"run", "-m", "256M", write("trunchdr", kernel[:0x220])}, "truncated"},
		{"protocol 2.11", []string{"run", "-m", "256M", patched("old", 0x206, 0x020B)}, "older than 2.12"},
		{"32-bit only", []string{"run", "-m", "256M", patched("i386", 0x236, 0x0002)}, "32-bit-only"},
		{"too little RAM", []string{"run", "-m", "64M", good}, "-m"},
		{"initrd too large", []string{"run", "-m", "100M", "--initrd", write("big", make([]byte, 40<<20)), good}, "initrd"},
		{"missing initrd", []string{"run", "-m", "256M", "--initrd", filepath.Join(dir, "nope"), good}, "--initrd"},
		{"command line too long", []string{"run", "-m", "256M", "--append", strings.Repeat("x", 2048), good}, "2047"},
		{"initrd with an ELF64 guest", []string{"run", "--initrd", good, testenv.Guest(t, "hello")}, "Linux kernel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := ftvm(t, tc.args...)
			if status != 125 {
				t.Errorf("status %d, want 125; stderr %q", status, stderr)
			}
			if !strings.HasPrefix(stderr, "ftvm:") || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q should start with ftvm: and mention %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

// waitConsole waits until out holds s, the process ends (done closes) or
// the time runs out; it reports whether s appeared.
func waitConsole(out *testenv.Buffer, s string, done <-chan struct{}, limit time.Duration) bool {
	return testenv.WaitFor(limit, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		return strings.Contains(out.String(), s)
	}) && strings.Contains(out.String(), s)
}

// linuxNet is a network namespace holding a TAP device with the host's
// address, for a Linux guest on --net tap:.
type linuxNet struct {
	ns, tap, hostIP, guestIP string
}

// newLinuxNet makes the namespace and its TAP device; the test removes
// them when it ends.
func newLinuxNet(t *testing.T) *linuxNet {
	t.Helper()
	testenv.RequireRoot(t)
	ip := testenv.Program(t, "ip")
	n := &linuxNet{ns: fmt.Sprintf("ftvm-linux-%d", os.Getpid()), tap: "ftvmlx0", hostIP: "10.0.9.1", guestIP: "10.0.9.2"}
	if out, err := exec.Command(ip, "netns", "add", n.ns).CombinedOutput(); err != nil {
		testenv.Missing(t, "cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", n.ns).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"tuntap", "add", "dev", n.tap, "mode", "tap"},
		{"addr", "add", n.hostIP + "/24", "dev", n.tap},
		{"link", "set", n.tap, "up"},
	} {
		if out, err := exec.Command(ip, append([]string{"netns", "exec", n.ns, ip}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return n
}

// command returns a command running name with args in the namespace.
func (n *linuxNet) command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.ns, name}, args...)...)
}

// TestLinuxBoot boots Debian's kernel (the vmlinux from the installed
// bzImage) with the busybox initramfs, an ext4 disk made by mkfs.ext4 on
// the host and a NIC on a TAP device, on the virtual clock. The kernel must
// find the board through the boot protocol, the ACPI tables (e820 map,
// RSDP, MADT overrides, the DSDT's devices) and CPUID (the TSC frequency),
// reach /init's marker and a shell; there it writes a file in tmpfs, pings
// the host, sends a line to a host TCP listener and receives one from a
// host TCP client, writes a file on the virtio disk and powers off through
// ACPI S5: exit status 0, and the disk's file is read back on the host.
func TestLinuxBoot(t *testing.T) {
	vmlinux, initrd := testenv.LinuxGuest(t)
	mkfs, debugfs := testenv.Program(t, "mkfs.ext4"), testenv.Program(t, "debugfs")
	busybox := testenv.Program(t, "busybox")
	n := newLinuxNet(t)
	disk := filepath.Join(t.TempDir(), "disk.ext4")
	if out, err := exec.Command(mkfs, "-q", "-F", disk, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	cmd := n.command(ftvmBin, "run", "-m", "256M", "--clock", "virtual", "--stats", "--max-insns", "8000000000",
		"--disk", disk, "--net", "tap:"+n.tap, "--initrd", initrd,
		"--append", "console=ttyS0 ftvm.ip="+n.guestIP+"/24", vmlinux)
	var out testenv.Buffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	for _, milestone := range []string{
		"BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable",
		"ACPI: RSDP 0x00000000000E0000 000024 (v02 FTVM  )",
		"ACPI: FACP", "ACPI: DSDT", "ACPI: APIC",
		"IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23",
		"ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)",
		"ACPI: INT_SRC_OVR (bus 0 bus_irq 5 global_irq 5 high level)",
		"tsc: Detected 1000.000 MHz processor",
		"Kernel command line: console=ttyS0",
		initramfsMarker,
	} {
		if !waitConsole(&out, milestone, done, 5*time.Minute) {
			t.Fatalf("no %q on the console:\n%s\nstderr: %s", milestone, out.String(), stderr.String())
		}
	}
	for _, want := range []string{"virtio_blk virtio1: [vda]", "ttyS0 at I/O 0x3f8 (irq = ", "rtc_cmos 00:01: registered as rtc0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q", want)
		}
	}
	// run types a command line and waits for its marker, which the
	// command computes so that the echoed line does not hold it.
	run := func(line, marker string) {
		t.Helper()
		fmt.Fprintln(stdin, line)
		if !waitConsole(&out, marker, done, 2*time.Minute) {
			t.Fatalf("%q: no %q:\n%s\nstderr: %s", line, marker, out.String(), stderr.String())
		}
	}
	run("echo tmpfs-data > /tmp/f && cat /tmp/f && echo tmpfs-$((6*7))", "tmpfs-42")
	run("ping -c 2 "+n.hostIP+" && echo ping-$((6*7))", "ping-42")

	// The guest connects to a host listener, then a host client to it.
	var fromGuest bytes.Buffer
	listener := n.command(busybox, "nc", "-l", "-p", "7777")
	listener.Stdout = &fromGuest
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	// The guest retries until the listener is up.
	run("for i in 1 2 3 4 5 6 7 8 9 10; do echo hello-over-tcp | nc "+n.hostIP+" 7777 && break; sleep 1; done && echo tcp-out-$((6*7))", "tcp-out-42")
	listener.Wait()
	if got := strings.TrimSpace(fromGuest.String()); got != "hello-over-tcp" {
		t.Errorf("the host listener got %q", got)
	}
	run("(nc -l -p 8888 > /tmp/got &) && echo listening-$((6*7))", "listening-42")
	testenv.Poll(t, time.Minute, "the guest listener", func() bool {
		c := n.command(busybox, "nc", n.guestIP, "8888")
		c.Stdin = strings.NewReader("from-host\n")
		return c.Run() == nil
	})
	run("sleep 1; cat /tmp/got && echo tcp-in-$((6*7))", "tcp-in-42")
	if !strings.Contains(out.String(), "from-host\r\ntcp-in-42") && !strings.Contains(out.String(), "from-host\ntcp-in-42") {
		t.Errorf("the guest did not receive the host's line:\n%s", out.String())
	}

	fmt.Fprintln(stdin, "mount /dev/vda /mnt && echo written-by-linux > /mnt/hello && umount /mnt && echo disk-ok; poweroff")
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("no poweroff:\n%s", out.String())
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		t.Fatal(waitErr)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after poweroff, want 0; stderr %s", code, stderr.String())
	}
	for _, want := range []string{"disk-ok", "reboot: Power down"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
	got, err := exec.Command(debugfs, "-R", "cat /hello", disk).Output()
	if err != nil || strings.TrimSpace(string(got)) != "written-by-linux" {
		t.Errorf("the disk's /hello read on the host: %q (%v)", got, err)
	}
	t.Logf("%s", strings.TrimSpace(stderr.String()))
}

// linuxPing pings the guest (ip, mac) from a port of our own on the switch
// at sw, answering the guest's ARP request for our address as a host would,
// and waits for an echo reply.
func linuxPing(t *testing.T, sw, dir string, guestIP net.IP, guestMAC net.HardwareAddr) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "ping.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	swAddr := &net.UnixAddr{Name: sw, Net: "unixgram"}
	myMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	myIP := net.IP{10, 0, 2, 2}
	send := func(layers ...gopacket.SerializableLayer) {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, layers...); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUnix(buf.Bytes(), swAddr); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint16(1); seq <= 20; seq++ {
		send(&layers.Ethernet{SrcMAC: myMAC, DstMAC: guestMAC, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: myIP, DstIP: guestIP},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: seq},
			gopacket.Payload("ftvm linux ping"))
		conn.SetReadDeadline(time.Now().Add(time.Second))
		rb := make([]byte, 1<<16)
		for {
			n, _, err := conn.ReadFromUnix(rb)
			if err != nil {
				break // nothing more: the next request
			}
			p := gopacket.NewPacket(rb[:n], layers.LayerTypeEthernet, gopacket.Default)
			if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && arp.Operation == layers.ARPRequest && net.IP(arp.DstProtAddress).Equal(myIP) {
				send(&layers.Ethernet{SrcMAC: myMAC, DstMAC: net.HardwareAddr(arp.SourceHwAddress), EthernetType: layers.EthernetTypeARP},
					&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
						Operation: layers.ARPReply, SourceHwAddress: myMAC, SourceProtAddress: myIP.To4(),
						DstHwAddress: arp.SourceHwAddress, DstProtAddress: arp.SourceProtAddress})
				continue
			}
			if r, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && r.TypeCode.Type() == layers.ICMPv4TypeEchoReply && r.Id == 7 {
				if string(r.Payload) != "ftvm linux ping" {
					t.Fatalf("echo reply payload %q", r.Payload)
				}
				return
			}
		}
	}
	t.Fatalf("no echo reply from %v", guestIP)
}

// TestLinuxRecordReplay records a boot of Debian's kernel on the virtual
// clock with a NIC on an ftvm switch (--net socket:): a port of the test's
// own pings the guest after /init's marker, then poweroff is typed on the
// console. The replay, fed the frames and keys from the log and the initrd
// through the log header, must retire the same instructions and print the
// same console bytes.
func TestLinuxRecordReplay(t *testing.T) {
	vmlinux, initrd := testenv.LinuxGuest(t)
	dir := testenv.ShortTempDir(t)
	sw := testenv.Switch(t, filepath.Join(dir, "sw")).Path()
	log := filepath.Join(dir, "linux.log")
	keys, typed := io.Pipe()
	defer typed.Close()
	p := apStartStdin(t, "linux", keys, ftvmBin, "run", "-m", "256M", "--clock", "virtual", "--stats",
		"--max-insns", "8000000000", "--net", "socket:"+sw, "--record", log, "--initrd", initrd,
		"--append", "console=ttyS0 ftvm.ip=10.0.2.15/24", vmlinux)
	if !p.waitConsole(initramfsMarker, 5*time.Minute) {
		t.Fatal("no /init marker")
	}
	mac := devices.DefaultMAC(0)
	linuxPing(t, sw, dir, net.IP{10, 0, 2, 15}, mac[:])
	fmt.Fprintln(typed, "poweroff")
	typed.Close() // the end of stdin, so the process's Wait returns
	if status := p.wait(t, 5*time.Minute); status != 0 || !strings.Contains(p.stdout.String(), "reboot: Power down") {
		t.Fatalf("recording: status %d", status)
	}
	stdout, stderr := p.stdout.String(), p.stderr.String()
	rstdout, rstderr, rstatus := ftvm(t, "replay", "--stats", "--log", log, vmlinux)
	if rstatus != 0 || !strings.Contains(rstderr, "replay matched the recording") {
		t.Fatalf("replay: status %d, stderr %s", rstatus, rstderr)
	}
	if rstdout != stdout {
		t.Errorf("the replay's console differs from the recording's")
	}
	retired := func(s string) string {
		_, r, _ := strings.Cut(s, "retired=")
		r, _, _ = strings.Cut(r, " ")
		return r
	}
	if retired(stderr) == "" || retired(stderr) != retired(rstderr) {
		t.Errorf("recording retired %q, replay %q", retired(stderr), retired(rstderr))
	}
	t.Logf("recorded and replayed %s instructions", retired(stderr))
}
