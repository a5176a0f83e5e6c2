package gdbstub

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/machine"
)

// client is a minimal remote-protocol client for the stub's own tests.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (c *client) send(p string) {
	c.t.Helper()
	var sum byte
	for i := 0; i < len(p); i++ {
		sum += p[i]
	}
	if _, err := c.c.Write([]byte("$" + p + "#" + string("0123456789abcdef"[sum>>4]) + string("0123456789abcdef"[sum&15]))); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next packet's payload (acknowledging it).
func (c *client) recv() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatal(err)
		}
		if b != '$' {
			continue
		}
		p, err := c.r.ReadString('#')
		if err != nil {
			c.t.Fatal(err)
		}
		c.r.Discard(2)
		c.c.Write([]byte("+"))
		return strings.TrimSuffix(p, "#")
	}
}

func (c *client) ask(p string) string {
	c.t.Helper()
	c.send(p)
	return c.recv()
}

// TestInterruptAndHardwareBreakpoint runs the spin guest (an endless loop)
// under the stub: a continue ends only by Ctrl-C, with SIGINT, at a later
// position; a Z1 breakpoint at the current address stops the next continue.
func TestInterruptAndHardwareBreakpoint(t *testing.T) {
	image, err := os.ReadFile(testenv.Guest(t, "spin"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := machine.New(machine.Config{Clock: machine.ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan machine.Exit, 1)
	go func() {
		exit, err := Serve(ln, m, Options{Wait: true})
		if err != nil {
			t.Error(err)
		}
		done <- exit
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, c: nc, r: bufio.NewReader(nc)}
	if got := c.ask("?"); !strings.HasPrefix(got, "T02") {
		t.Fatalf("? = %q", got)
	}
	c.send("c")
	time.Sleep(100 * time.Millisecond)
	nc.Write([]byte{0x03})
	stop := c.recv()
	if !strings.HasPrefix(stop, "T02") || strings.Contains(stop, "position:0;") {
		t.Fatalf("after Ctrl-C: %q, want T02 at a later position", stop)
	}
	rip := c.ask("p10")
	c.ask("s")
	if got := c.ask("Z1," + leHex(rip) + ",1"); got != "OK" {
		t.Fatalf("Z1 = %q", got)
	}
	stop = c.ask("c")
	if !strings.HasPrefix(stop, "T05hwbreak:;") || c.ask("p10") != rip {
		t.Fatalf("continue to the hardware breakpoint: %q at %s, want hwbreak at %s", stop, c.ask("p10"), rip)
	}
	if got := c.ask("bs"); got != "E01" {
		t.Errorf("reverse step on a live run = %q, want E01", got)
	}
	c.ask("z1," + leHex(rip) + ",1")
	c.send("k")
	select {
	case exit := <-done:
		if exit.Reason != machine.ExitStopped {
			t.Errorf("after k: %v", exit.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after k")
	}
}

// leHex turns a register's little-endian hex into a big-endian number.
func leHex(s string) string {
	var b strings.Builder
	for i := len(s) - 2; i >= 0; i -= 2 {
		b.WriteString(s[i : i+2])
	}
	return strings.TrimLeft(b.String(), "0")
}
