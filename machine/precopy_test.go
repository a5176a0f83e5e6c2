package machine

import (
	"bytes"
	"slices"
	"testing"
)

// A receiver that applies a pre-copy's batches while the guest runs between
// them, then its final checkpoint, holds exactly the sender's RAM and CPU
// state; run on, both print the same. The pre-copy stops in round 1 (the
// stop-and-copy of a guest held for its backup), in the middle of a later
// round, and at the end of one; and the Checkpointer Final returns keeps
// the receiver identical through the next checkpoints.
func TestPreCopyKeepsReceiverIdentical(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rounds     int // rounds begun before Final
		midRound   bool
		batchLimit int
	}{
		{"stop and copy", 1, true, 64 << 10},
		{"after round 1", 2, false, 64 << 10},
		{"mid round 3", 3, true, 32 << 10},
		{"after round 5", 6, false, 128 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m1, out1 := loadGuest(t, "exercise")
			m2, out2 := loadGuest(t, "exercise")
			img, err := NewRAMImage(uint64(len(m2.Mem.RAM)))
			if err != nil {
				t.Fatal(err)
			}
			if e := m1.Run(300_000); e.Reason != ExitInsnLimit {
				t.Fatalf("first part ended with %v", e.Reason)
			}
			pc := NewPreCopy(m1)
			var buf []byte
			sent := 0
			for pc.Round() <= tc.rounds {
				var n int
				var done bool
				buf, n, done = pc.Next(buf[:0], tc.batchLimit)
				if err := img.Apply(buf); err != nil {
					t.Fatalf("round %d: %v", pc.Round(), err)
				}
				sent += n
				// The guest runs between batches, writing its RAM.
				if e := m1.Run(m1.CPU.Position() + 2_000); e.Reason != ExitInsnLimit {
					t.Fatalf("the guest ended during the pre-copy: %v", e.Reason)
				}
				if tc.midRound && pc.Round() == tc.rounds && n > 0 {
					break
				}
				if done {
					if pc.Round() == tc.rounds {
						break
					}
					pc.NextRound()
				}
			}
			cp, final, s, err := pc.Final(nil)
			if err != nil {
				t.Fatal(err)
			}
			// The receiver's machine was built with its own image: its
			// RAM holds what the image must replace, and more.
			last := m2.Mem.RAM[len(m2.Mem.RAM)-4096:]
			for i := range last {
				last[i] = 0xAA
			}
			if err := m2.LoadRAMImage(img); err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			if _, err := m2.ApplyCheckpoint(final); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d rounds, %d pages in batches; final: %d pages, %d bytes", pc.Round(), sent, s.Sent(), s.Bytes)
			same := func(when string) {
				t.Helper()
				if m1.CPU.State() != m2.CPU.State() {
					t.Fatalf("%s: CPU state differs", when)
				}
				for p := 0; p < len(m1.Mem.RAM); p += 4096 {
					if !bytes.Equal(m1.Mem.RAM[p:p+4096], m2.Mem.RAM[p:p+4096]) {
						t.Fatalf("%s: RAM page %#x differs", when, p)
					}
				}
			}
			same("after the final checkpoint")
			for i := 1; i <= 3; i++ {
				m1.Run(m1.CPU.Position() + 100_000)
				b, _, err := cp.Take(nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m2.ApplyCheckpoint(b); err != nil {
					t.Fatal(err)
				}
				same("after a checkpoint")
			}
			from1, from2 := out1.Len(), out2.Len()
			e1, e2 := m1.Run(0), m2.Run(0)
			if e1 != e2 || !bytes.Equal(out1.Bytes()[from1:], out2.Bytes()[from2:]) {
				t.Errorf("run on: sender %v, receiver %v; outputs equal: %v", e1, e2, bytes.Equal(out1.Bytes()[from1:], out2.Bytes()[from2:]))
			}
		})
	}
}

// A malformed batch changes nothing.
func TestRAMImageRefusesMalformed(t *testing.T) {
	img, err := NewRAMImage(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	page := func(n uint32, enc byte, data ...byte) []byte {
		b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), enc}
		return append(b, data...)
	}
	count := func(n byte) []byte { return []byte{n, 0, 0, 0} }
	for name, b := range map[string][]byte{
		"empty":            nil,
		"count beyond RAM": {0xff, 0xff, 0xff, 0xff},
		"truncated page":   append(count(1), page(3, ckptWhole, 1, 2, 3)...),
		"page beyond RAM":  append(count(1), page(1<<30, ckptZero)...),
		"bad encoding":     append(count(1), page(3, 9)...),
		"trailing bytes":   append(append(count(1), page(3, ckptZero)...), 7),
		"second page bad":  append(append(count(2), page(3, ckptZero)...), page(4, 9)...),
	} {
		if err := img.Apply(b); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
	if !IsZero(img.ram) || slices.ContainsFunc(img.written, func(w uint64) bool { return w != 0 }) {
		t.Error("a refused batch changed the image")
	}
}

// NewRAMImage applies the default RAM size and refuses a size that is not a
// whole number of pages.
func TestNewRAMImageSize(t *testing.T) {
	if img, err := NewRAMImage(0); err != nil || img.Size() != DefaultRAM {
		t.Errorf("NewRAMImage(0): %v (err %v), want %d bytes", img, err, DefaultRAM)
	}
	if _, err := NewRAMImage(1<<20 + 100); err == nil {
		t.Error("NewRAMImage accepted a size that is not a multiple of the page size")
	}
}
