// Package testenv is what tests share about their environment: the
// prerequisites they need (a built guest, a program, root, KVM), the rule
// for a missing one, polling for a condition instead of sleeping, short
// temporary directories and an in-process switch. It imports nothing of
// ftvm's below netswitch, so every package's tests can use it.
//
// The rule: under CI (the CI environment variable set, as .ci/run sets it)
// a missing prerequisite fails the test, because `make deps` and `make
// guests` install everything a test needs; elsewhere the test is skipped,
// saying what is missing. Only KVM may be absent under CI: a test that
// needs it is skipped with one line.
package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"ftvm/internal/syncbuf"
	"ftvm/netswitch"
)

// CI reports whether the tests run under CI.
func CI() bool { return os.Getenv("CI") != "" }

// Missing ends the test for a missing prerequisite: it fails under CI and
// is skipped elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "missing prerequisite: " + fmt.Sprintf(format, args...)
	if CI() {
		t.Fatal(msg + " (a failure under CI: make deps and make guests install everything a test needs)")
		return
	}
	t.Skip(msg)
}

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Guest returns the path of the built guest image NAME.elf
// (testdata/guests/build, made by make guests).
func Guest(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(), "testdata", "guests", "build", name+".elf")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "guest %s not built (run make guests): %v", name, err)
	}
	return p
}

// GuestImage returns the contents of the built guest image NAME.elf.
func GuestImage(t testing.TB, name string) []byte {
	t.Helper()
	image, err := os.ReadFile(Guest(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return image
}

// GuestGolden returns the expected console output of guest NAME
// (testdata/guests/NAME.golden).
func GuestGolden(t testing.TB, name string) []byte {
	t.Helper()
	golden, err := os.ReadFile(filepath.Join(Root(), "testdata", "guests", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	return golden
}

// FreeAddr returns a loopback address on network ("tcp" or "udp") whose
// port was free a moment ago, for a process that cannot listen on port 0
// and say which port it got.
func FreeAddr(t testing.TB, network string) string {
	t.Helper()
	var c io.Closer
	var addr net.Addr
	var err error
	if network == "udp" {
		var pc net.PacketConn
		if pc, err = net.ListenPacket(network, "127.0.0.1:0"); err == nil {
			c, addr = pc, pc.LocalAddr()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen(network, "127.0.0.1:0"); err == nil {
			c, addr = l, l.Addr()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return addr.String()
}

// SilentUDP returns the address of a loopback UDP socket that receives
// but never answers, closed when the test ends.
func SilentUDP(t testing.TB) string {
	t.Helper()
	return UDPServer(t, nil)
}

// UDPServer returns the address of a loopback UDP socket, closed when the
// test ends, that answers each datagram with what answer returns for it
// (nothing where that is nil; req is valid only during the call). With a
// nil answer nothing is read.
func UDPServer(t testing.TB, answer func(req []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if answer != nil {
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if reply := answer(buf[:n]); reply != nil {
					pc.WriteTo(reply, from)
				}
			}
		}()
	}
	return pc.LocalAddr().String()
}

// Program returns the path of a program on PATH.
func Program(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "program %s not installed (run make deps): %v", name, err)
	}
	return p
}

// RequireRoot requires the test to run as root (TAP devices, network
// namespaces).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (TAP devices, network namespaces)")
	}
}

// KVMDevice is the KVM device node the tests use.
const KVMDevice = "/dev/kvm"

// RequireKVM requires the KVM device; without one the test is skipped,
// under CI too, with one line saying why. (Whether the host's KVM can run
// what the test asks is the test's business.)
func RequireKVM(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(KVMDevice, os.O_RDWR, 0)
	if err != nil {
		t.Skip("KVM not usable: ", err)
	}
	f.Close()
}

// PollInterval is how often Poll looks at its condition.
const PollInterval = 5 * time.Millisecond

// Poll waits until cond holds, looking every PollInterval, and fails the
// test when it does not within timeout: what says what was awaited.
func Poll(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !WaitFor(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// WaitFor waits until cond holds, looking every PollInterval, and reports
// whether it did within timeout.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}

// Buffer is a byte buffer one goroutine may write (a console) while
// another reads it.
type Buffer = syncbuf.Buffer

// ShortTempDir returns a new temporary directory, removed when the test
// ends, whose path is short enough for the unix sockets tests put in it
// (t.TempDir's long names overflow sun_path).
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ftvm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Switch starts an in-process learning switch (ftvm switch) on the unix
// socket path, closed when the test ends.
func Switch(t testing.TB, path string) *netswitch.Switch {
	t.Helper()
	sw, err := netswitch.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go sw.Serve()
	t.Cleanup(func() { sw.Close() })
	return sw
}
