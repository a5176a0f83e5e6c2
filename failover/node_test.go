package failover

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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

// A primary and a backup in one process, over loopback QUIC, in each mode,
// run the pit_hlt guest (PIT at 100 Hz, HLT between ticks) to its end while other
// goroutines read both nodes' status, as `ftvm status` does (run it with
// -race). The primary prints the guest's golden output, the backup (never
// live) prints nothing, both end with the guest, and once closed they leave
// no goroutine behind.
func TestNodePairInProcess(t *testing.T) {
	for _, mode := range []Mode{ModeLockstep, ModeCheckpoint, ModeIOSync} {
		t.Run(mode.String(), func(t *testing.T) { testNodePair(t, mode) })
	}
}

// testNodePair is TestNodePairInProcess with the backup kept in mode.
func testNodePair(t *testing.T, mode Mode) {
	image := testenv.GuestImage(t, "pit_hlt")
	golden := testenv.GuestGolden(t, "pit_hlt")
	base := runtime.NumGoroutine()
	// Not a test of failure detection: a generous timeout keeps a loaded
	// host (and the race detector) from starving a heartbeat into a failover.
	tp := startTestPair(t, image, "lines=12", Options{FailoverTimeout: 5 * time.Second, Mode: mode}, nil)
	primary, backup, ctx := tp.primary, tp.backup, tp.ctx
	pcons, bcons := &tp.pcons, &tp.bcons
	plog, blog := &tp.plog, &tp.blog

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
	tp.close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left behind (%d before):\n%s", n-base, base, buf[:runtime.Stack(buf, true)])
	}
}

// testPair is a primary and a backup of pit_hlt in this process.
type testPair struct {
	primary      *Primary
	backup       *Backup
	pb, bb       *board.Board
	pcons, bcons testenv.Buffer // consoles
	plog, blog   testenv.Buffer // stderr
	tls          *transport.TLSConfig
	ctx          context.Context
}

// newTestTLS makes a pair's certificates in a temporary directory and
// loads them.
func newTestTLS(t *testing.T) *transport.TLSConfig {
	t.Helper()
	dir := t.TempDir()
	if err := transport.GenerateCerts(dir); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := transport.LoadTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tlsCfg
}

// startTestPair starts a primary of image with cmdline and a host clock,
// and joins a backup to it while it holds its guest, both with opts
// (certificates are made here); the backup asks backupArb (nil:
// opts.Arbiter).
func startTestPair(t *testing.T, image []byte, cmdline string, opts Options, backupArb Arbiter) *testPair {
	t.Helper()
	tp := startTestPrimary(t, image, cmdline, opts)
	joined := make(chan error, 1)
	go func() { joined <- tp.joinBackup(t, opts, backupArb) }()
	if err := tp.primary.WaitBackup(tp.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	return tp
}

// startTestPrimary starts a primary of image with cmdline and a host clock,
// with opts, listening for backups; its run is the caller's.
func startTestPrimary(t *testing.T, image []byte, cmdline string, opts Options) *testPair {
	t.Helper()
	tp := &testPair{tls: newTestTLS(t)}
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	tp.ctx = ctx
	popts := opts
	popts.TLS, popts.Listen, popts.Log, popts.Clock = tp.tls, "127.0.0.1:0", &tp.plog, machine.ClockHost
	tp.primary = NewPrimary(popts)
	spec := &machine.Spec{ImagePath: "guest.elf", Image: image, Clock: machine.ClockHost, Cmdline: cmdline}
	tp.pb, err = board.Build(spec, tp.primary.Configure(machine.Config{}, &tp.pcons), board.Host{Live: true, Post: tp.primary.Post, Producer: tp.primary.Producer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.pb.Close() })
	h, err := lockstep.NewHeader(spec)
	if err != nil {
		t.Fatal(err)
	}
	tp.primary.Attach(tp.pb.Machine, h, nil, nil)
	if err := tp.primary.Claim(); err != nil {
		t.Fatal(err)
	}
	if err := tp.primary.Listen(); err != nil {
		t.Fatal(err)
	}
	return tp
}

// joinBackup makes the pair's backup, with opts, asking backupArb (nil:
// opts.Arbiter), and joins it to the primary.
func (tp *testPair) joinBackup(t *testing.T, opts Options, backupArb Arbiter) error {
	bopts := opts
	bopts.TLS, bopts.Log = tp.tls, &tp.blog
	if backupArb != nil {
		bopts.Arbiter = backupArb
	}
	tp.backup = NewBackup(bopts)
	build := func(h lockstep.Header, cfg machine.Config) (*machine.Machine, []*devices.VirtioBlk, error) {
		s, err := h.Spec()
		if err != nil {
			return nil, nil, err
		}
		tp.bb, err = board.Build(&s, cfg, board.Host{Live: true, Post: tp.backup.Post, Producer: tp.backup.Producer})
		if err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { tp.bb.Close() })
		return tp.bb.Machine, tp.bb.Blks, nil
	}
	return tp.backup.JoinPrimary(tp.ctx, tp.primary.Addr(), nil, build, &tp.bcons)
}

// close releases both members and boards.
func (tp *testPair) close() {
	tp.primary.Close()
	tp.pb.Close()
	if tp.backup != nil {
		tp.backup.Close()
		tp.bb.Close()
	}
}

// The link breaks in the middle of a run (the primary's side closes it, as
// a crash would): exactly one side wins generation 2 from the arbiter and
// runs the guest to its end, the other stops with the arbiter's verdict;
// the two consoles together hold every line (a line may appear on both,
// none may be missing). A backup that wins goes live as a Primary over its
// machine. The arbiter is a file, or a real etcd server that each side
// reaches through its own proxy: when the link breaks, both reach it,
// only one does (that side wins; the other is not live, says so and keeps
// asking until it reaches etcd and hears it lost), or neither does (no
// side is live until etcd is back).
func TestNodeFailoverInProcess(t *testing.T) {
	image := testenv.GuestImage(t, "pit_hlt")
	for _, tc := range []struct {
		name       string
		etcd       bool
		cutP, cutB bool   // the side cannot reach etcd at the failover
		want       string // the side that must win ("": either)
		mode       Mode
	}{
		{name: "file"},
		{name: "file checkpoint", mode: ModeCheckpoint},
		{name: "file io-sync", mode: ModeIOSync},
		{name: "etcd", etcd: true},
		{name: "etcd primary cut off", etcd: true, cutP: true, want: "backup"},
		{name: "etcd backup cut off", etcd: true, cutB: true, want: "primary"},
		{name: "etcd unreachable", etcd: true, cutP: true, cutB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parb, barb Arbiter = FileArbiter{Path: filepath.Join(t.TempDir(), "arb")}, nil
			var pproxy, bproxy *testenv.Proxy
			if tc.etcd {
				url := testenv.Etcd(t, "")
				host := strings.TrimPrefix(url, "http://")
				pproxy, bproxy = testenv.NewProxy(t, host), testenv.NewProxy(t, host)
				parb = etcdArbiter(t, "etcd:http://"+pproxy.Addr()+"/pair", nil)
				barb = etcdArbiter(t, "etcd:http://"+bproxy.Addr()+"/pair", nil)
			}
			tp := startTestPair(t, image, "lines=15", Options{FailoverTimeout: 5 * time.Second, Arbiter: parb, Mode: tc.mode}, barb)
			defer tp.close()
			exits := make(chan machine.Exit, 2)
			go func() { exits <- tp.primary.Run(0) }()
			go func() { exits <- tp.backup.Run(0) }()
			testenv.Poll(t, 30*time.Second, "the primary's line 4", func() bool { return strings.Contains(tp.pcons.String(), "line 4:") })
			if tc.cutP {
				pproxy.Cut()
			}
			if tc.cutB {
				bproxy.Cut()
			}
			if c := tp.primary.takeConn(); c != nil {
				c.Close()
			}
			unreachable := func(m *member) bool { return hasEvent(m, EventArbiterUnreachable) }
			live := func() bool {
				return hasEvent(tp.backup.member, EventWentLive) || hasEvent(tp.primary.member, EventBackupLost)
			}
			switch {
			case tc.cutP && tc.cutB:
				testenv.Poll(t, 20*time.Second, "both sides saying etcd is unreachable", func() bool {
					return unreachable(tp.primary.member) && unreachable(tp.backup.member)
				})
				time.Sleep(300 * time.Millisecond)
				if live() {
					t.Fatalf("a side went live without the arbiter\nprimary log:\n%s\nbackup log:\n%s", tp.plog.String(), tp.blog.String())
				}
				pproxy.Restore()
				bproxy.Restore()
			case tc.cutP || tc.cutB:
				testenv.Poll(t, 20*time.Second, "the side that reaches etcd going live", live)
				cut, proxy := tp.primary.member, pproxy
				if tc.cutB {
					cut, proxy = tp.backup.member, bproxy
				}
				testenv.Poll(t, 10*time.Second, "the cut-off side saying etcd is unreachable", func() bool { return unreachable(cut) })
				proxy.Restore()
			}
			for range 2 {
				select {
				case e := <-exits:
					t.Logf("a side ended: %v (status %d)", e.Reason, e.Status())
				case <-tp.ctx.Done():
					t.Fatalf("the pair did not end; primary log:\n%s\nbackup log:\n%s", tp.plog.String(), tp.blog.String())
				}
			}
			pErr, bErr := tp.primary.Err(), tp.backup.Err()
			if (pErr == nil) == (bErr == nil) {
				t.Fatalf("primary error %v, backup error %v: want exactly one side to lose the arbiter\nprimary log:\n%s\nbackup log:\n%s",
					pErr, bErr, tp.plog.String(), tp.blog.String())
			}
			winner := "primary"
			if bErr == nil {
				winner = "backup"
				if tp.backup.primary.Load() == nil {
					t.Error("the backup won but did not become a primary")
				}
			}
			if tc.want != "" && winner != tc.want {
				t.Errorf("the %s won, want the %s\nprimary log:\n%s\nbackup log:\n%s", winner, tc.want, tp.plog.String(), tp.blog.String())
			}
			both := tp.pcons.String() + tp.bcons.String()
			for i := 1; i <= 15; i++ {
				if !strings.Contains(both, fmt.Sprintf("line %d: tsc ok", i)) {
					t.Errorf("line %d is missing (the %s won); primary console:\n%s\nbackup console:\n%s", i, winner, tp.pcons.String(), tp.bcons.String())
				}
			}
			t.Logf("the %s won generation 2", winner)
		})
	}
}

// hasEvent reports whether m emitted an event of kind k.
func hasEvent(m *member, k EventKind) bool {
	for _, e := range m.Events.List() {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// A primary that announces impossible sizes in its join transfer (a guest
// RAM beyond bounds, an oversized page batch, a negative or huge final
// checkpoint, a negative disk) is refused with an error; the backup neither
// panics, allocates what was announced nor builds a machine.
func TestJoinRefusesBadSizes(t *testing.T) {
	tlsCfg := newTestTLS(t)
	small := joinStart{Header: lockstep.Header{Clock: "virtual", RAM: 2 << 20}}
	final := func(info joinInfo) []byte {
		meta, _ := json.Marshal(info)
		return append(binary.LittleEndian.AppendUint32([]byte{joinFinal}, uint32(len(meta))), meta...)
	}
	for _, tc := range []struct {
		name  string
		start joinStart
		rest  []byte
	}{
		{"RAM beyond bounds", joinStart{Header: lockstep.Header{Clock: "virtual", RAM: 1 << 50}}, nil},
		{"RAM not in pages", joinStart{Header: lockstep.Header{Clock: "virtual", RAM: 1<<20 + 1}}, nil},
		{"huge page batch", small, []byte{joinPages, 0, 0, 0, 0x40}},
		{"unknown section", small, []byte{9, 0, 0, 0, 0}},
		{"negative checkpoint", small, final(joinInfo{Checkpoint: -1})},
		{"checkpoint beyond RAM", small, final(joinInfo{Checkpoint: 1 << 50})},
		{"negative disk", small, final(joinInfo{SendDisks: []int64{-5}})},
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
				meta, _ := json.Marshal(tc.start)
				head := binary.LittleEndian.AppendUint32(nil, uint32(len(meta)))
				c.SendStateContext(ctx, io.MultiReader(bytes.NewReader(head), bytes.NewReader(meta), bytes.NewReader(tc.rest)))
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

// The end of a run under the pair, with the backup's replay held back until
// the primary's guest ended (it acknowledges the records as they arrive, so
// the primary releases outputs as it runs). Either the primary releases
// everything and says so, and the backup emits nothing; or the primary is
// lost after its end record but before it released the rest (a crash in
// finish, emulated by a primary that ignores acks and then drops its link
// once the backup has replayed to the end record): then the backup wins
// the next generation and emits exactly the output the primary never
// released, and ends with the guest's status: the two consoles together
// hold every output once.
func TestNodeEndOfRunOutput(t *testing.T) {
	image := testenv.GuestImage(t, "pit_hlt")
	golden := testenv.GuestGolden(t, "pit_hlt")
	want := strings.Join(strings.SplitAfter(string(golden), "\n")[:6], "") // lines=5
	for _, tc := range []struct {
		name       string
		crash      bool
		pcon, bcon string // the consoles
	}{
		{"primary releases and says so", false, want, ""},
		{"primary lost before releasing", true, "", ""}, // the consoles: what each released
	} {
		t.Run(tc.name, func(t *testing.T) {
			arb := FileArbiter{Path: filepath.Join(t.TempDir(), "arb")}
			// MaxLag: the backup runs only once the primary's guest ended.
			tp := startTestPair(t, image, "lines=5", Options{FailoverTimeout: 5 * time.Second, MaxLag: time.Hour, Arbiter: arb}, nil)
			defer tp.close()
			exits := make(chan machine.Exit, 1)
			startBackup := func() { go func() { exits <- tp.backup.Run(0) }() }
			var crashed string
			frozen := make(chan struct{})
			if tc.crash {
				tp.primary.onEnd = func() {
					// From here the primary is dead: it releases nothing
					// more and, once the backup holds the end record,
					// its link drops.
					tp.primary.pmu.Lock()
					tp.primary.sink = nil
					tp.primary.pmu.Unlock()
					crashed = tp.pcons.String()
					startBackup()
					if !testenv.WaitFor(30*time.Second, func() bool { return tp.backup.waiting.Load() == waitRelease }) {
						t.Error("the backup never waited at the end record")
					}
					tp.primary.takeConn().Close()
					<-frozen
				}
			} else {
				tp.primary.onEnd = startBackup
			}
			pexit := make(chan machine.Exit, 1)
			go func() { pexit <- tp.primary.Run(0) }()
			select {
			case e := <-exits:
				if e.Status() != 1 || tp.backup.Err() != nil {
					t.Errorf("the backup ended with %v (status %d, error %v), want the guest's debug-exit (1)", e.Reason, e.Status(), tp.backup.Err())
				}
			case <-tp.ctx.Done():
				t.Fatalf("the backup did not end; primary log:\n%s\nbackup log:\n%s", tp.plog.String(), tp.blog.String())
			}
			close(frozen)
			e := <-pexit
			pcon := tp.pcons.String()
			if tc.crash {
				// The backup won the next generation: the primary, back
				// from the dead, must not emit either.
				pcon = crashed
				if tp.primary.Err() == nil || tp.pcons.String() != crashed {
					t.Errorf("the primary after the backup released the end: error %v, console %q", tp.primary.Err(), tp.pcons.String())
				}
			} else if e.Status() != 1 {
				t.Errorf("the primary ended with %v (status %d), want 1", e.Reason, e.Status())
			}
			if tc.crash {
				// what the primary released before it died, then the rest
				tc.pcon = pcon
				tc.bcon, _ = strings.CutPrefix(want, pcon)
			}
			if pcon != tc.pcon || tp.bcons.String() != tc.bcon || !strings.HasPrefix(want, pcon) {
				t.Errorf("primary console:\n%q\nbackup console:\n%q\nwant %q and %q\nprimary log:\n%s\nbackup log:\n%s",
					pcon, tp.bcons.String(), tc.pcon, tc.bcon, tp.plog.String(), tp.blog.String())
			}
		})
	}
}
