package failover

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"ftvm/board"
	"ftvm/devices"
	"ftvm/internal/testenv"
	"ftvm/lockstep"
	"ftvm/machine"
	"ftvm/transport"
)

// A primary and a backup in one process, over loopback QUIC, run the
// pit_hlt guest (PIT at 100 Hz, HLT between ticks) to its end while other
// goroutines read both nodes' status, as `ftvm status` does (run it with
// -race). The primary prints the guest's golden output, the backup (never
// live) prints nothing, both end with the guest, and once closed they leave
// no goroutine behind.
func TestNodePairInProcess(t *testing.T) {
	image, err := os.ReadFile(testenv.Guest(t, "pit_hlt"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join(testenv.Root(), "testdata", "guests", "pit_hlt.golden"))
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	if err := transport.GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := transport.LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	var plog, blog testenv.Buffer
	// Not a test of failure detection: a generous timeout keeps a loaded
	// host (and the race detector) from starving a heartbeat into a failover.
	const timeout = 5 * time.Second
	primary := NewPrimary(Options{TLS: tlsCfg, Listen: "127.0.0.1:0", Log: &plog, Clock: machine.ClockHost, FailoverTimeout: timeout})
	spec := &machine.Spec{ImagePath: "pit_hlt.elf", Image: image, Clock: machine.ClockHost, Cmdline: "lines=12"}
	var pcons, bcons testenv.Buffer
	pb, err := board.Build(spec, primary.Configure(machine.Config{}, &pcons), board.Host{Live: true, Post: primary.Post, Producer: primary.Producer})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	h, err := lockstep.NewHeader(spec)
	if err != nil {
		t.Fatal(err)
	}
	primary.Attach(pb.Machine, h, nil, nil)
	if err := primary.Claim(); err != nil {
		t.Fatal(err)
	}
	if err := primary.Listen(); err != nil {
		t.Fatal(err)
	}

	backup := NewBackup(Options{TLS: tlsCfg, Log: &blog, FailoverTimeout: timeout})
	var bb *board.Board
	build := func(h lockstep.Header, cfg machine.Config) (*machine.Machine, []*devices.VirtioBlk, error) {
		s, err := h.Spec()
		if err != nil {
			return nil, nil, err
		}
		bb, err = board.Build(&s, cfg, board.Host{Live: true, Post: backup.Post, Producer: backup.Producer})
		if err != nil {
			return nil, nil, err
		}
		return bb.Machine, bb.Blks, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	joined := make(chan error, 1)
	go func() { joined <- backup.JoinPrimary(ctx, primary.Addr(), nil, build, &bcons) }()
	if err := primary.WaitBackup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	defer bb.Close()

	// Status readers, as the transport's goroutines call them.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for _, status := range []func() []byte{primary.status, backup.status} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				var st map[string]any
				if err := json.Unmarshal(status(), &st); err != nil {
					t.Errorf("status: %v", err)
					return
				}
			}
		}()
	}
	exits := make(chan machine.Exit, 2)
	go func() { exits <- primary.Run(0) }()
	go func() { exits <- backup.Run(0) }()
	for range 2 {
		select {
		case e := <-exits:
			if e.Status() != 1 {
				t.Errorf("a node ended with %v (status %d), want the guest's debug-exit (1)", e.Reason, e.Status())
			}
		case <-ctx.Done():
			t.Fatalf("the pair did not finish; primary log:\n%s\nbackup log:\n%s", plog.String(), blog.String())
		}
	}
	close(stop)
	readers.Wait()
	// lines=12: the banner and the first 12 lines of the 20 in the golden
	want := strings.Join(strings.SplitAfter(string(golden), "\n")[:13], "")
	if got := pcons.String(); got != want {
		t.Errorf("primary console:\n%s\nwant:\n%s", got, want)
	}
	if got := bcons.String(); got != "" {
		t.Errorf("the backup, never live, printed %q\nprimary log:\n%s\nbackup log:\n%s", got, plog.String(), blog.String())
	}
	primary.Close()
	backup.Close()
	pb.Close()
	bb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left behind (%d before):\n%s", n-base, base, buf[:runtime.Stack(buf, true)])
	}
}

// A primary that announces impossible sizes in its join message (a
// negative or huge snapshot, a negative disk) is refused with an error; the
// backup neither panics nor allocates what was announced.
func TestJoinRefusesBadSizes(t *testing.T) {
	dir := t.TempDir()
	if err := transport.GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := transport.LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		info joinInfo
	}{
		{"negative snapshot", joinInfo{Header: lockstep.Header{Clock: "virtual"}, Snapshot: -1}},
		{"snapshot beyond RAM", joinInfo{Header: lockstep.Header{Clock: "virtual", RAM: 2 << 20}, Snapshot: 1 << 50}},
		{"negative disk", joinInfo{Header: lockstep.Header{Clock: "virtual"}, SendDisks: []int64{-5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := transport.Listen("127.0.0.1:0", tlsCfg, transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			go func() {
				c, err := l.Accept(ctx)
				if err != nil {
					return
				}
				defer c.Close()
				if _, _, err := c.RecvControl(); err != nil {
					return
				}
				meta, _ := json.Marshal(tc.info)
				var head [4]byte
				binary.LittleEndian.PutUint32(head[:], uint32(len(meta)))
				c.SendStateContext(ctx, io.MultiReader(bytes.NewReader(head[:]), bytes.NewReader(meta)))
				<-ctx.Done()
			}()
			n := NewBackup(Options{TLS: tlsCfg})
			build := func(lockstep.Header, machine.Config) (*machine.Machine, []*devices.VirtioBlk, error) {
				t.Error("the backup built a machine from a bad join message")
				return nil, nil, errors.New("no")
			}
			disk := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(disk, make([]byte, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
			err = n.JoinPrimary(ctx, l.Addr().String(), []string{disk}, build, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "state transfer") {
				t.Fatalf("join: %v, want a state transfer error", err)
			}
			t.Logf("refused: %v", err)
		})
	}
}
