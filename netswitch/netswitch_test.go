package netswitch

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func frame(dst, src byte) []byte {
	f := make([]byte, 60)
	f[0], f[5] = 0x02, dst
	f[6], f[11] = 0x02, src
	if dst == 0xFF {
		copy(f[0:6], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	}
	return f
}

func newTestSwitch() *Switch {
	return &Switch{
		Idle:  DefaultIdle,
		Now:   time.Now,
		ports: make(map[string]*port),
		macs:  make(map[[6]byte]string),
	}
}

func names(ps []*port) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.addr.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func addr(name string) *net.UnixAddr { return &net.UnixAddr{Name: name, Net: "unixgram"} }

// TestRoute drives the forwarding decision with a fake clock.
func TestRoute(t *testing.T) {
	s := newTestSwitch()
	t0 := time.Unix(1000, 0)
	steps := []struct {
		name  string
		at    time.Duration
		from  string
		frame []byte
		want  string
	}{
		{"a registers", 0, "@a", nil, ""},
		{"b registers", 0, "@b", nil, ""},
		{"c broadcasts", 0, "@c", frame(0xFF, 3), "@a,@b"},
		{"a to unknown floods", time.Second, "@a", frame(9, 1), "@b,@c"},
		{"b to a learned", 2 * time.Second, "@b", frame(1, 2), "@a"},
		{"c to b learned", 2 * time.Second, "@c", frame(2, 3), "@b"},
		{"runt dropped", 2 * time.Second, "@c", []byte{1, 2, 3}, ""},
		{"same-port destination dropped", 2 * time.Second, "@a", frame(1, 1), ""},
		{"multicast floods", 3 * time.Second, "@a", append([]byte{0x01, 0, 0x5E, 0, 0, 1}, frame(0, 1)[6:]...), "@b,@c"},
		// a was last heard at 3 s, b at 2 s, c at 2 s; at 62.5 s b and c
		// have been idle for more than 60 s and are forgotten with their
		// MACs: a's unicast to c floods to nobody.
		{"b and c expire", 62500 * time.Millisecond, "@a", frame(3, 1), ""},
		{"c returns and learns again", 63 * time.Second, "@c", frame(1, 3), "@a"},
		{"a to c learned again", 64 * time.Second, "@a", frame(3, 1), "@c"},
		{"a moves its MAC to port d", 65 * time.Second, "@d", frame(0xFF, 1), "@a,@c"},
		{"c to a now goes to d", 65 * time.Second, "@c", frame(1, 3), "@d"},
	}
	for _, st := range steps {
		got := names(s.route(st.frame, addr(st.from), t0.Add(st.at)))
		if got != st.want {
			t.Errorf("%s: forwarded to %q, want %q", st.name, got, st.want)
		}
	}
}

func TestListenStaleAndLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw.sock")
	s, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path); err == nil {
		t.Error("second switch on a live socket accepted")
	}
	// A stale socket file (no one behind it) is replaced.
	s.conn.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	s2, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	done := make(chan error)
	go func() { done <- s2.Serve() }()
	s2.Close()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

func TestRunStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw.sock")
	stop := make(chan struct{})
	done := make(chan error)
	go func() { done <- Run(path, stop) }()
	for i := 0; ; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if i > 500 {
			t.Fatal("switch did not start")
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
