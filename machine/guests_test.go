package machine

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The guests of testdata/guests run on the whole board: golden serial output
// and exit status for each, and the host CPU as the oracle for the
// instruction-exercise guest.

const guestDir = "../testdata/guests"

// runGuest boots a built guest with the virtual clock and returns its console
// output and exit.
func runGuest(t *testing.T, name string, maxInsns uint64) (string, Exit, *Machine) {
	t.Helper()
	path := filepath.Join(guestDir, "build", name+".elf")
	image, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("guest %s not built (run make guests): %v", name, err)
	}
	var out bytes.Buffer
	m, err := New(Config{Console: &out, Env: NewVirtualClock(0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		t.Fatal(err)
	}
	exit := m.Run(maxInsns)
	return out.String(), exit, m
}

func TestGuestsGolden(t *testing.T) {
	goldens, _ := filepath.Glob(filepath.Join(guestDir, "*.golden"))
	if len(goldens) == 0 {
		t.Skip("no golden files")
	}
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		t.Run(name, func(t *testing.T) {
			if name == "bench" && testing.Short() {
				t.Skip("bench guest is long; skipped in -short mode")
			}
			want, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			got, exit, m := runGuest(t, name, 20_000_000_000)
			if got != string(want) {
				t.Errorf("console output differs from %s\n got: %q\nwant: %q", g, got, want)
			}
			if exit.Reason == ExitTripleFault || exit.Reason == ExitInsnLimit {
				t.Errorf("guest ended with %v at RIP %#x\n%s", exit.Reason, m.CPU.RIP, m.CPU.Dump())
			}
			if m.CPU.UD != 0 {
				t.Errorf("%d unimplemented instructions raised #UD: %v", m.CPU.UD, m.CPU.Unimplemented)
			}
		})
	}
}

// TestExerciseAgainstHost runs the instruction-exercise computation on the
// host CPU (as an ordinary program) and in the guest: the outputs must be
// identical.
func TestExerciseAgainstHost(t *testing.T) {
	host := filepath.Join(guestDir, "build", "exercise_host")
	if _, err := os.Stat(host); err != nil {
		t.Skipf("host oracle not built (run make guests): %v", err)
	}
	want, err := exec.Command(host).Output()
	if err != nil {
		t.Fatalf("host oracle: %v", err)
	}
	got, exit, m := runGuest(t, "exercise", 5_000_000_000)
	if exit.Reason != ExitDebug {
		t.Fatalf("exercise guest ended with %v, not debug-exit\n%s", exit.Reason, m.CPU.Dump())
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("line %d: guest %q, host %q", i+1, g, w)
		}
	}
}
