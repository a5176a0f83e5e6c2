package machine

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// The guests of testdata/guests run on the whole board: golden serial output
// and exit status for each, and the host CPU as the oracle for the
// instruction-exercise guest.

const guestDir = "../testdata/guests"

// loadGuest makes a board with the virtual clock and loads a built guest
// into it (a missing guest: testenv.Guest). It returns the
// board and its console output.
func loadGuest(t *testing.T, name string) (*Machine, *bytes.Buffer) {
	t.Helper()
	image := testenv.GuestImage(t, name)
	var out bytes.Buffer
	m, err := New(Config{Console: &out, Clock: ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	if IsMultiboot(image) {
		// NAME.modules holds the module list (QEMU's -initrd, paths from
		// the repository's root), as scripts/qemu-check.sh passes it.
		var mods []MultibootModule
		if list, err := os.ReadFile(filepath.Join(guestDir, name+".modules")); err == nil {
			for _, item := range strings.Split(string(list), ",") {
				file, _, _ := strings.Cut(item, " ")
				data, err := os.ReadFile(filepath.Join("..", file))
				if err != nil {
					t.Fatal(err)
				}
				mods = append(mods, MultibootModule{String: item, Data: data})
			}
		}
		if err := m.LoadMultiboot(image, mods, ""); err != nil {
			t.Fatal(err)
		}
		return m, &out
	}
	if err := m.LoadImage(image, nil, ""); err != nil {
		t.Fatal(err)
	}
	return m, &out
}

// newLoaded makes a board from cfg with the ELF image loaded.
func newLoaded(tb testing.TB, cfg Config, image []byte) *Machine {
	tb.Helper()
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.LoadELF64(image); err != nil {
		tb.Fatal(err)
	}
	return m
}

// runGuest boots a built guest with the virtual clock and returns its console
// output and exit.
func runGuest(t *testing.T, name string, maxInsns uint64) (string, Exit, *Machine) {
	t.Helper()
	m, out := loadGuest(t, name)
	exit := m.Run(maxInsns)
	return out.String(), exit, m
}

// checkGolden checks a guest's console output and exit status against its
// line of expected.tsv.
func checkGolden(t *testing.T, e expectedGuest, out string, exit Exit, m *Machine) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(guestDir, e.golden))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("console output differs from %s\n got: %q\nwant: %q", e.golden, out, want)
	}
	if exit.Status() != e.status {
		t.Errorf("exit %v status %d, want %d; RIP %#x\n%s", exit.Reason, exit.Status(), e.status, m.CPU.RIP, m.CPU.Dump())
	}
}

// expectedGuest is one line of testdata/guests/expected.tsv.
type expectedGuest struct {
	name     string
	status   int    // exit status of ftvm run
	maxInsns uint64 // --max-insns to use (0: none)
	golden   string // golden serial output file
}

func readExpected(t *testing.T) []expectedGuest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(guestDir, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []expectedGuest
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("expected.tsv line %d: %d fields, want 5", i+1, len(f))
		}
		var e expectedGuest
		e.name, e.golden = f[0], f[4]
		if _, err := fmt.Sscan(f[1], &e.status); err != nil {
			t.Fatalf("expected.tsv line %d: %v", i+1, err)
		}
		if _, err := fmt.Sscan(f[2], &e.maxInsns); err != nil {
			t.Fatalf("expected.tsv line %d: %v", i+1, err)
		}
		out = append(out, e)
	}
	return out
}

func TestGuestsGolden(t *testing.T) {
	for _, e := range readExpected(t) {
		t.Run(e.name, func(t *testing.T) {
			if strings.HasPrefix(e.name, "bench") && testing.Short() {
				t.Skip("bench guests are long; skipped in -short mode")
			}
			got, exit, m := runGuest(t, e.name, e.maxInsns)
			checkGolden(t, e, got, exit, m)
			if m.CPU.UD != 0 {
				t.Errorf("%d unimplemented instructions raised #UD: %v", m.CPU.UD, m.CPU.Unimplemented)
			}
		})
	}
}

// TestGuestsAgainstHost runs each oracle guest's computation on the host CPU
// (as an ordinary program, NAME_host) and in the guest: the outputs must be
// identical. exercise covers the integer instructions, sse the SSE-SSE4.2
// integer, logic, shuffle, move and string instructions, ssefp the SSE
// floating-point instructions, fpu the x87 FPU.
func TestGuestsAgainstHost(t *testing.T) {
	for _, name := range []string{"exercise", "sse", "ssefp", "fpu"} {
		t.Run(name, func(t *testing.T) {
			host := filepath.Join(guestDir, "build", name+"_host")
			if _, err := os.Stat(host); err != nil {
				testenv.Missing(t, "host oracle not built (run make guests): %v", err)
			}
			want, err := exec.Command(host).Output()
			if err != nil {
				t.Fatalf("host oracle: %v", err)
			}
			got, exit, m := runGuest(t, name, 5_000_000_000)
			if exit.Reason != ExitDebug {
				t.Fatalf("%s guest ended with %v, not debug-exit\n%s", name, exit.Reason, m.CPU.Dump())
			}
			if m.CPU.UD != 0 {
				t.Errorf("%d unimplemented instructions raised #UD: %v", m.CPU.UD, m.CPU.Unimplemented)
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
		})
	}
}
