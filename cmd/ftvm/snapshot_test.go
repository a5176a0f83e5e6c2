package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// A run split at a snapshot prints what the whole run prints, and a log
// recorded from the snapshot replays from it.
func TestSnapshotSplitAndReplay(t *testing.T) {
	image := testenv.Guest(t, "exercise")
	dir := t.TempDir()
	snap, log := filepath.Join(dir, "ex.snap"), filepath.Join(dir, "ex.log")
	whole, _, st := ftvm(t, "run", "--clock", "virtual", image)
	if st != 1 {
		t.Fatalf("whole run: status %d", st)
	}
	part1, _, st := ftvm(t, "run", "--clock", "virtual", "--max-insns", "3000000", "--save-snapshot", snap, image)
	if st != 124 {
		t.Fatalf("first part: status %d, want 124", st)
	}
	part2, stderr, st := ftvm(t, "run", "--clock", "virtual", "--snapshot", snap, "--record", log, image)
	if st != 1 {
		t.Fatalf("second part: status %d: %s", st, stderr)
	}
	if part1+part2 != whole {
		t.Errorf("split run output differs from the whole run")
	}
	replayed, stderr, st := ftvm(t, "replay", "--log", log, image)
	if st != 1 || replayed != part2 || !strings.Contains(stderr, "replay matched") {
		t.Errorf("replay from the snapshot: status %d, same output %v, stderr %s", st, replayed == part2, stderr)
	}
	// A different snapshot is refused.
	if err := os.WriteFile(snap, []byte("FTVMSNAPgarbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, st := ftvm(t, "replay", "--log", log, image); st != 125 || !strings.Contains(stderr, "snapshot") {
		t.Errorf("replay with a changed snapshot: status %d, stderr %s", st, stderr)
	}
	if _, stderr, st := ftvm(t, "run", "--snapshot", snap, image); st != 125 || !strings.Contains(stderr, "snapshot") {
		t.Errorf("run from a garbage snapshot: status %d, stderr %s", st, stderr)
	}
}

// Timer interrupts fire at positions that do not depend on where a run is
// split: a run of the tick guest split at arbitrary positions prints what
// the whole run prints.
func TestTimerPositionsIndependentOfSplits(t *testing.T) {
	image := testenv.Guest(t, "tick")
	snap := filepath.Join(t.TempDir(), "tick.snap")
	whole, _, st := ftvm(t, "run", "--clock", "virtual", image)
	if st != 1 {
		t.Fatalf("whole run: status %d", st)
	}
	for _, n := range []string{"12345", "777777", "2000001"} {
		a, _, _ := ftvm(t, "run", "--clock", "virtual", "--max-insns", n, "--save-snapshot", snap, image)
		b, _, _ := ftvm(t, "run", "--clock", "virtual", "--snapshot", snap, image)
		if a+b != whole {
			t.Errorf("split at %s: output differs:\n%q\nwant\n%q", n, a+b, whole)
		}
	}
}
