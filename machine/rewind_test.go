package machine

import (
	"bytes"
	"reflect"
	"testing"

	"ftvm/cpu"

	"ftvm/internal/testenv"
)

// TestRewinderRestoresExactly runs the exercise guest, saves copies at two
// positions and goes back and forth between them: each restore must equal
// the machine's snapshot taken when the copy was saved, and running on from
// a restored copy must reach the same state again.
func TestRewinderRestoresExactly(t *testing.T) {
	m := newLoaded(t, Config{Clock: ClockVirtual}, testenv.GuestImage(t, "exercise"))
	r := NewRewinder(m)
	defer r.Close()
	// a snapshot's gob-encoded device map has no fixed order: compare
	// the CPU, the clock and RAM
	type view struct {
		cpu   cpu.State
		clock ClockState
		ram   []byte
	}
	snap := func() view { return view{m.CPU.State(), m.Clock.Snapshot(), bytes.Clone(m.Mem.RAM)} }
	same := func(a, b view) bool {
		return reflect.DeepEqual(a.cpu, b.cpu) && reflect.DeepEqual(a.clock, b.clock) && bytes.Equal(a.ram, b.ram)
	}
	type saved struct {
		pos  uint64
		c    *MachineCopy
		snap view
	}
	var copies []saved
	for _, pos := range []uint64{1_000_000, 2_000_000, 3_000_000} {
		if e := m.Run(pos); e.Reason != ExitInsnLimit {
			t.Fatalf("run to %d: %v", pos, e.Reason)
		}
		c, err := r.Save()
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, saved{pos, c, snap()})
	}
	m.Run(4_000_000)
	for _, i := range []int{0, 2, 1, 0, 1} {
		if err := r.Restore(copies[i].c); err != nil {
			t.Fatal(err)
		}
		if !same(snap(), copies[i].snap) {
			t.Fatalf("restore of the copy at %d: at %d, state or RAM differs", copies[i].pos, m.CPU.Retired)
		}
	}
	// at copy 1 (2,000,000): run on to copy 2's position
	if e := m.Run(3_000_000); e.Reason != ExitInsnLimit || !same(snap(), copies[2].snap) {
		t.Fatalf("re-execution from the copy at 2,000,000 to 3,000,000 differs (%v)", e.Reason)
	}
	t.Logf("3 copies of a 64 MiB guest hold %d bytes of pages", r.Stored())
}
