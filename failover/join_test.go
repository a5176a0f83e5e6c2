package failover

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/machine"
	"ftvm/transport"
)

// eventOf returns m's first event of kind k.
func eventOf(m *member, k EventKind) (Event, bool) {
	for _, e := range m.Events.List() {
		if e.Kind == k {
			return e, true
		}
	}
	return Event{}, false
}

// A backup joins a primary whose guest (dirty, 8 MiB) keeps writing its
// RAM: the RAM goes in pre-copy rounds while the guest runs (it executes
// between the join's start and its stop-and-copy position), the final
// section carries a small part of the state, and the pair then runs the
// guest on, in each mode, until the primary is stopped: the backup ends
// with it at the same position, printed nothing, and holds the primary's
// RAM byte for byte (a page the pre-copy missed would differ; in lockstep
// mode the replay would also diverge). The join's pause and bytes are
// logged, with the longest stretch in which the primary's guest made no
// progress.
func TestLiveJoinWhileGuestWritesMemory(t *testing.T) {
	image := testenv.GuestImage(t, "dirty")
	for _, mode := range []Mode{ModeLockstep, ModeCheckpoint, ModeIOSync} {
		t.Run(mode.String(), func(t *testing.T) {
			// The primary is stopped at the end: a short lag lets the
			// backup replay to its end record within the stop's budget
			// (else the arbiter decides, and the test says so).
			opts := Options{FailoverTimeout: 5 * time.Second, MaxLag: 20 * time.Millisecond, Mode: mode,
				Arbiter: FileArbiter{Path: filepath.Join(t.TempDir(), "arb")}}
			tp := startTestPrimary(t, image, "mib=8 every=8 passes=1000000000", opts)
			defer tp.close()
			exits := make(chan machine.Exit, 1)
			go func() { exits <- tp.primary.Run(0) }()
			testenv.Poll(t, 30*time.Second, "the guest's first pass line", func() bool { return strings.Contains(tp.pcons.String(), "pass 8:") })
			// The primary's progress, sampled while the backup joins.
			var stuck atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				last, since := tp.primary.seenPos.Load(), time.Now()
				for {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
					if pos := tp.primary.seenPos.Load(); pos != last {
						stuck.Store(max(stuck.Load(), int64(time.Since(since))))
						last, since = pos, time.Now()
					}
				}
			}()
			if err := tp.joinBackup(t, opts, nil); err != nil {
				t.Fatalf("join: %v\nprimary log:\n%s", err, tp.plog.String())
			}
			close(stop)
			<-sampled
			bexit := make(chan machine.Exit, 1)
			go func() { bexit <- tp.backup.Run(0) }()
			// The pair runs the guest on: two more lines from the primary.
			paired := len(tp.pcons.String())
			testenv.Poll(t, 30*time.Second, "the pair running the guest on", func() bool {
				return strings.Count(tp.pcons.String()[paired:], "\n") >= 2
			})
			tp.primary.Stop()
			for i, ch := range []chan machine.Exit{exits, bexit} {
				select {
				case e := <-ch:
					// The backup ends with the outcome its primary recorded.
					if e.Reason == machine.ExitDiverged || i == 0 && e.Reason != machine.ExitStopped {
						t.Errorf("side %d ended with %v (status %d)", i, e.Reason, e.Status())
					}
				case <-tp.ctx.Done():
					t.Fatalf("the pair did not end; primary log:\n%s\nbackup log:\n%s", tp.plog.String(), tp.blog.String())
				}
			}
			if got := tp.bcons.String(); got != "" {
				t.Errorf("the backup printed %q", got)
			}
			if tp.primary.Err() != nil || tp.backup.Err() != nil {
				t.Errorf("errors: primary %v, backup %v", tp.primary.Err(), tp.backup.Err())
			}
			pm, bm := tp.pb.Machine, tp.bb.Machine
			if pm.CPU.Position() != bm.CPU.Position() {
				t.Fatalf("the primary ended at %d, the backup at %d\nprimary log:\n%s\nbackup log:\n%s",
					pm.CPU.Position(), bm.CPU.Position(), tp.plog.String(), tp.blog.String())
			}
			for p := 0; p < len(pm.Mem.RAM); p += 4096 {
				if !bytes.Equal(pm.Mem.RAM[p:p+4096], bm.Mem.RAM[p:p+4096]) {
					t.Fatalf("at the end (position %d) RAM page %#x differs", pm.CPU.Position(), p)
				}
			}
			started, ok1 := eventOf(tp.primary.member, EventJoinStarted)
			joined, ok2 := eventOf(tp.primary.member, EventBackupJoined)
			if !ok1 || !ok2 {
				t.Fatalf("events: join-started %v, backup-joined %v\n%s", ok1, ok2, tp.plog.String())
			}
			if joined.Rounds < 1 || joined.Position <= started.Position {
				t.Errorf("the join took %d pre-copy rounds while the guest went from %d to %d: want at least one round while it ran",
					joined.Rounds, started.Position, joined.Position)
			}
			f := tp.primary.joinFigures()
			if f.Bytes != joined.Bytes || f.Final <= 0 || f.Final > f.Bytes/2 || f.Bytes < 8<<20 {
				t.Errorf("%d bytes in all (event: %d), %d of them in the final section: want at least the 8 MiB region, most before the final section",
					f.Bytes, joined.Bytes, f.Final)
			}
			var st struct {
				LastJoin joinFigures `json:"last_join"`
			}
			if err := json.Unmarshal(tp.primary.Status(), &st); err != nil || st.LastJoin.Rounds != f.Rounds || st.LastJoin.Bytes != f.Bytes {
				t.Errorf("status: last_join %+v (%v), want %+v", st.LastJoin, err, f)
			}
			t.Logf("FIGURE %s: join of a 64 MiB guest writing RAM: %d rounds, %.1f MiB, guest paused %.2f ms for the final %d KiB (%d pages); longest pre-copy step %.2f ms; longest stretch without guest progress seen %.2f ms",
				mode, joined.Rounds, float64(joined.Bytes)/(1<<20), joined.Millis, f.Final>>10, f.FinalPages, f.MaxStepMs, float64(stuck.Load())/1e6)
		})
	}
}

// A backup that leaves in the middle of the pre-copy, or stops reading
// (the guest's 8 MiB region cannot fit in the link's flow-control
// window) and then leaves, costs the primary nothing: its guest runs on
// all along (its console moves while the backup is stalled), the join is
// abandoned with a join-failed event that says so, and a new backup then
// joins and the pair runs the guest on.
func TestJoinBackupGoneMidPreCopy(t *testing.T) {
	image := testenv.GuestImage(t, "dirty")
	for _, tc := range []struct {
		name  string
		stall bool // stop reading for a while first
	}{
		{"closes", false},
		{"stalls then closes", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{FailoverTimeout: 5 * time.Second}
			tp := startTestPrimary(t, image, "mib=8 every=8 passes=1000000000", opts)
			defer tp.close()
			exits := make(chan machine.Exit, 2)
			go func() { exits <- tp.primary.Run(0) }()
			testenv.Poll(t, 30*time.Second, "the guest's first pass line (its region filled)", func() bool { return strings.Contains(tp.pcons.String(), "pass 8:") })

			// A backup that reads 1 MiB of the state and leaves.
			c, err := transport.Dial(tp.ctx, tp.primary.Addr(), tp.tls, transport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			hb, _ := json.Marshal(hello{})
			if err := c.SendControl(ctlHello, hb); err != nil {
				t.Fatal(err)
			}
			r, err := c.RecvState()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, r, 1<<20); err != nil {
				t.Fatalf("reading the state: %v\nprimary log:\n%s", err, tp.plog.String())
			}
			if tc.stall {
				before := len(tp.pcons.String())
				testenv.Poll(t, 30*time.Second, "the primary's guest printing while the backup does not read", func() bool { return len(tp.pcons.String()) > before })
				if hasEvent(tp.primary.member, EventBackupJoined) {
					t.Fatal("the join completed while the backup read 1 MiB of an 8 MiB region")
				}
			}
			c.Close()
			testenv.Poll(t, 30*time.Second, "join-failed", func() bool { return hasEvent(tp.primary.member, EventJoinFailed) })
			failed, _ := eventOf(tp.primary.member, EventJoinFailed)
			if !strings.Contains(failed.Text, "pre-copy") || failed.Bytes < 1<<20 {
				t.Errorf("join-failed: %q (%d bytes), want the pre-copy abandoned after at least 1 MiB", failed.Text, failed.Bytes)
			}
			if hasEvent(tp.primary.member, EventBackupJoined) || tp.primary.paired.Load() {
				t.Fatal("the primary paired with a backup that left")
			}
			if err := tp.joinBackup(t, opts, nil); err != nil {
				t.Fatalf("the next backup's join: %v\nprimary log:\n%s", err, tp.plog.String())
			}
			go func() { exits <- tp.backup.Run(0) }()
			// The pair runs the guest on: two more lines from the primary.
			paired := len(tp.pcons.String())
			testenv.Poll(t, 30*time.Second, "the pair running the guest on", func() bool {
				return strings.Count(tp.pcons.String()[paired:], "\n") >= 2
			})
			tp.primary.Stop()
			tp.backup.Stop()
			for range 2 {
				select {
				case e := <-exits:
					if e.Reason != machine.ExitStopped {
						t.Errorf("a side ended with %v (status %d), want stopped", e.Reason, e.Status())
					}
				case <-tp.ctx.Done():
					t.Fatalf("the pair did not stop; primary log:\n%s\nbackup log:\n%s", tp.plog.String(), tp.blog.String())
				}
			}
			if tp.primary.Err() != nil || tp.backup.Err() != nil {
				t.Errorf("errors: primary %v, backup %v", tp.primary.Err(), tp.backup.Err())
			}
			t.Logf("%s", failed.Text)
		})
	}
}
