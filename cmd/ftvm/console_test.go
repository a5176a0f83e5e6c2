package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/internal/testenv"
)

// ftvmStdin runs the binary with stdin and returns stdout and the status.
func ftvmStdin(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(ftvmBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	status := exitStatus(t, cmd.Run())
	return out.String(), status
}

// Bytes typed on stdin reach the guest's COM1 receive side, more than the
// 16-byte FIFO at once, and a recording of them replays identically.
func TestConsoleInput(t *testing.T) {
	image := testenv.Guest(t, "echo")
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

// A pair's console (direct) has every byte in the file as soon as it is
// written: a killed process loses nothing the gate released.
func TestDirectConsole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.txt")
	for _, direct := range []bool{true, false} {
		c, err := openConsole("file:"+path, direct)
		if err != nil {
			t.Fatal(err)
		}
		c.w.Write([]byte("partial line"))
		got, _ := os.ReadFile(path)
		if direct != (string(got) == "partial line") {
			t.Errorf("direct=%v: file holds %q right after the write", direct, got)
		}
		c.finish()
	}
}
