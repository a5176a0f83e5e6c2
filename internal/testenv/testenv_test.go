package testenv

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records how a helper ended the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Fatal(args ...any)         { f.fatal = fmt.Sprint(args...) }
func (f *fakeTB) Skip(args ...any)          { f.skip = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(s string, a ...any) { f.fatal = fmt.Sprintf(s, a...) }

// A missing prerequisite fails the test under CI and skips it elsewhere.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		var f fakeTB
		Missing(&f, "program %s not installed", "frob")
		if ci != "" && (f.fatal == "" || f.skip != "") || ci == "" && (f.skip == "" || f.fatal != "") {
			t.Errorf("CI=%q: fatal %q, skip %q", ci, f.fatal, f.skip)
		}
	}
	t.Setenv("CI", "true")
	var f fakeTB
	Program(&f, "no-such-program-ftvm")
	if f.fatal == "" {
		t.Error("a missing program under CI does not fail")
	}
}

// Poll waits for its condition and fails when it does not come.
func TestPoll(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Store(1)
	}()
	Poll(t, 5*time.Second, "the flag", func() bool { return n.Load() == 1 })
	var f fakeTB
	Poll(&f, 20*time.Millisecond, "nothing", func() bool { return false })
	if f.fatal == "" {
		t.Error("Poll of a condition that never holds did not fail")
	}
}

// The address FreeAddr returns can be listened on, on its network.
func TestFreeAddr(t *testing.T) {
	for network, listen := range map[string]func(string) (io.Closer, error){
		"tcp": func(addr string) (io.Closer, error) { return net.Listen("tcp", addr) },
		"udp": func(addr string) (io.Closer, error) { return net.ListenPacket("udp", addr) },
	} {
		addr := FreeAddr(t, network)
		c, err := listen(addr)
		if err != nil {
			t.Errorf("%s: listening on %s: %v", network, addr, err)
			continue
		}
		c.Close()
	}
}
