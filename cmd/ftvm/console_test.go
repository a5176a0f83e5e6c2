package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ftvmStdin runs the binary with stdin and returns stdout and the status.
func ftvmStdin(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(ftvmBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// Bytes typed on stdin reach the guest's COM1 receive side, more than the
// 16-byte FIFO at once, and a recording of them replays identically.
func TestConsoleInput(t *testing.T) {
	image := guest(t, "echo")
	in := "the brown fox jumps over the lazy dog, twice over; then q"
	out, st := ftvmStdin(t, in, "run", image)
	if st != 1 || !strings.Contains(out, "THE BROWN FOX JUMPS OVER THE LAZY DOG, TWICE OVER; THEN ") {
		t.Fatalf("status %d, output %q", st, out)
	}
	log := filepath.Join(t.TempDir(), "echo.log")
	rec, st := ftvmStdin(t, "abc q", "run", "--record", log, image)
	if st != 1 {
		t.Fatalf("record: status %d", st)
	}
	rep, st := ftvmStdin(t, "", "replay", "--log", log, image)
	if st != 1 || rep != rec {
		t.Errorf("replay: status %d, output %q, recorded %q", st, rep, rec)
	}
}
