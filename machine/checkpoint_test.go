package machine

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

// A backup machine that applies a primary's checkpoints holds, after each,
// exactly the primary's RAM and CPU state; run on from the last one it
// continues as the primary does. This is the whole of dirty tracking's
// promise: a page left out of a checkpoint would differ here.
func TestCheckpointsKeepBackupIdentical(t *testing.T) {
	m1, out1 := loadGuest(t, "exercise")
	m2, _ := loadGuest(t, "exercise")
	m3, out3 := loadGuest(t, "exercise")
	from := 0
	if e := m1.Run(200_000); e.Reason != ExitInsnLimit {
		t.Fatalf("first part ended with %v", e.Reason)
	}
	var snap bytes.Buffer
	if err := m1.SaveSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := m2.RestoreSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	cp := NewCheckpointer(m1)
	defer cp.Close()
	var buf []byte
	var err error
	var total CheckpointStats
	for i := 1; ; i++ {
		e := m1.Run(m1.CPU.Position() + 150_000)
		var s CheckpointStats
		buf, s, err = cp.Take(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		seq, err := m2.ApplyCheckpoint(buf)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
		if seq != uint64(i) || s.Seq != seq {
			t.Fatalf("checkpoint %d has sequence number %d (stats %d)", i, seq, s.Seq)
		}
		if m1.CPU.State() != m2.CPU.State() {
			t.Fatalf("checkpoint %d: CPU state differs", i)
		}
		if !bytes.Equal(m1.Mem.RAM, m2.Mem.RAM) {
			for p := 0; p < len(m1.Mem.RAM); p += 4096 {
				if !bytes.Equal(m1.Mem.RAM[p:p+4096], m2.Mem.RAM[p:p+4096]) {
					t.Fatalf("checkpoint %d: RAM page %#x differs (dirty %d, sent %d)", i, p, s.Dirty, s.Sent())
				}
			}
		}
		total.Dirty += s.Dirty
		total.Unchanged += s.Unchanged
		total.Zero += s.Zero
		total.Delta += s.Delta
		total.Whole += s.Whole
		total.Bytes += s.Bytes
		if e.Reason != ExitInsnLimit {
			t.Logf("%d checkpoints: %+v", i, total)
			break
		}
		if i == 3 {
			// A copy of the backup goes live from here.
			var snap bytes.Buffer
			if err := m2.SaveSnapshot(&snap); err != nil {
				t.Fatal(err)
			}
			if err := m3.RestoreSnapshot(&snap); err != nil {
				t.Fatal(err)
			}
			from = out1.Len()
		}
	}
	if e := m3.Run(0); e.Reason == ExitInsnLimit {
		t.Fatalf("the live copy ended with %v", e.Reason)
	}
	if got, want := out3.String(), out1.String()[from:]; got != want {
		t.Errorf("the copy that went live printed\n%q\nthe primary\n%q", got, want)
	}
	if total.Delta+total.Whole == 0 {
		t.Errorf("no page was ever sent: %+v", total)
	}
}

// A damaged checkpoint is refused with a format error and changes nothing.
func TestCheckpointRejectsGarbage(t *testing.T) {
	m, err := New(Config{Clock: ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	cp := NewCheckpointer(m)
	defer cp.Close()
	m.Mem.Write(0x5008, 8, 0x1122334455667788) // a delta page
	for i := range 4096 {
		m.Mem.RAM[0x9000+i] = byte(i) | 1 // a whole page
	}
	m.Mem.NoteWrite(0x9000, 4096)
	good, s, err := cp.Take(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Delta != 1 || s.Whole != 1 {
		t.Fatalf("stats %+v, want one delta and one whole page", s)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0xFF
		return b
	}
	end := len(good) - 4
	tests := map[string][]byte{
		"empty":        nil,
		"magic":        flip(0),
		"version":      flip(8),
		"state length": flip(23),
		"truncated":    good[:len(good)/2],
		"no end":       good[:end],
		"trailing":     append(bytes.Clone(good), 0),
	}
	// The first page record starts after the state; find it by its number.
	at := bytes.Index(good, []byte{0x05, 0, 0, 0, ckptDelta})
	if at < 0 {
		t.Fatal("no delta page 5 in the checkpoint")
	}
	tests["page beyond RAM"] = func() []byte { b := bytes.Clone(good); b[at+3] = 0xFF; return b }()
	tests["encoding"] = func() []byte { b := bytes.Clone(good); b[at+4] = 9; return b }()
	tests["delta run outside page"] = func() []byte { b := bytes.Clone(good); b[at+8] = 0xFF; return b }()
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			m2, err := New(Config{Clock: ClockVirtual})
			if err != nil {
				t.Fatal(err)
			}
			before := m2.CPU.State()
			if _, err := m2.ApplyCheckpoint(b); !errors.Is(err, ErrSnapshotFormat) {
				t.Errorf("error %v, want a format error", err)
			}
			if m2.Mem.RAM[0x5008] != 0 || m2.Mem.RAM[0x9001] != 0 || m2.CPU.State() != before {
				t.Errorf("a refused checkpoint changed the machine")
			}
		})
	}
	m2, _ := New(Config{Clock: ClockVirtual})
	if _, err := m2.ApplyCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Mem.RAM, m2.Mem.RAM) {
		t.Error("the good checkpoint did not reproduce RAM")
	}
}

// BenchmarkCheckpoint runs guests with a checkpoint every 5 million
// instructions (25 ms at 200 MIPS) and reports, per checkpoint, the pages
// the tracking found written, the bytes sent, the bytes a plain copy of
// every dirty page would send, the state's share, and the guest's pause:
// what leaving out unchanged pages and the zero and delta encodings pay.
//
//	go test -run '^$' -bench Checkpoint ./machine
func BenchmarkCheckpoint(b *testing.B) {
	for _, guest := range []string{"bench", "exercise", "paging"} {
		b.Run(guest, func(b *testing.B) {
			image := testenv.GuestImage(b, guest)
			var n, dirty, sent, state int
			var pause time.Duration
			for i := 0; i < b.N; i++ {
				m := newLoaded(b, Config{Clock: ClockVirtual}, image)
				cp := NewCheckpointer(m)
				var buf []byte
				for k := 0; k < 40; k++ {
					e := m.Run(m.CPU.Position() + 5_000_000)
					var s CheckpointStats
					var err error
					if buf, s, err = cp.Take(buf[:0]); err != nil {
						b.Fatal(err)
					}
					n++
					dirty += s.Dirty
					sent += s.Bytes
					state += s.StateBytes
					pause += s.Pause
					if e.Reason != ExitInsnLimit {
						break
					}
				}
				cp.Close()
			}
			b.ReportMetric(float64(dirty)/float64(n), "dirty-pages/ckpt")
			b.ReportMetric(float64(sent)/float64(n), "bytes/ckpt")
			b.ReportMetric(float64(dirty*(4096+5)+state)/float64(n), "plain-copy-bytes/ckpt")
			b.ReportMetric(float64(state)/float64(n), "state-bytes/ckpt")
			b.ReportMetric(float64(pause.Microseconds())/float64(n), "pause-µs/ckpt")
		})
	}
}
