package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ftvm/devices"
	"ftvm/hostio"
	"ftvm/internal/testenv"
)

// A guest idle in `sti; hlt` with no timer of its own (testdata/guests/
// idle_wake.c) is woken by each kind of host input: a received frame, a
// console byte, a disk completion. The board's PIT runs as firmware leaves
// it (IRQ 0 masked by the guest), so the board skips idle time to its
// deadlines while the guest sleeps; the input arrives after such skips. Each
// run is recorded and its replay must match.
func TestIdleWake(t *testing.T) {
	image := testenv.Guest(t, "idle_wake")
	frame := func(typ uint16) []byte {
		f := make([]byte, 60)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1})
		f[12], f[13] = byte(typ>>8), byte(typ)
		return f
	}
	for _, tc := range []struct {
		name  string
		input string // net, console or disk
		want  []string
	}{
		{"frame", "net", []string{"frame 1: 60 bytes, ethertype 0806", "frame 2: 60 bytes, ethertype 0800", "frame 3: 60 bytes, ethertype 88b5"}},
		{"console", "console", []string{"byte 61", "byte 62", "byte 71"}},
		{"disk", "disk", []string{"sector 0: status 0, idle_wake disk", "sector 2: status 0, ................"}},
	} {
		for _, clock := range []string{"host", "virtual"} {
			t.Run(tc.name+"/"+clock, func(t *testing.T) {
				dir := testenv.ShortTempDir(t)
				log := filepath.Join(dir, "wake.log")
				args := []string{"run", "--clock", clock, "--record", log}
				var sw string
				switch tc.input {
				case "net":
					sw = testenv.Switch(t, filepath.Join(dir, "sw.sock")).Path()
					args = append(args, "--net", "socket:"+sw, "--pcap", filepath.Join(dir, "wake.pcap"))
				case "disk":
					disk := filepath.Join(dir, "disk.img")
					img := make([]byte, 1<<20)
					copy(img, "idle_wake disk sector 0")
					if err := os.WriteFile(disk, img, 0o644); err != nil {
						t.Fatal(err)
					}
					args = append(args, "--disk", disk)
				}
				stdinR, stdinW, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer stdinW.Close()
				p := ftvmProcStdin(t, "idle_wake", stdinR, append(args, image)...)
				stdinR.Close()
				if !p.waitConsole("waiting with no timer", 30*time.Second) {
					t.Fatalf("the guest did not get ready; stderr:\n%s", p.stderr.String())
				}
				// Long enough for the board to skip idle time to a few
				// deadlines of the PIT (55 ms apart) before the input.
				time.Sleep(300 * time.Millisecond)
				switch tc.input {
				case "net":
					port, err := hostio.OpenSocket(sw, func(devices.Input) {}, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer port.Close()
					for _, typ := range []uint16{0x0806, 0x0800, 0x88b5} {
						if err := port.Send(frame(typ)); err != nil {
							t.Fatal(err)
						}
						time.Sleep(100 * time.Millisecond)
					}
				case "console":
					for _, b := range []string{"a", "b", "q"} {
						stdinW.WriteString(b)
						time.Sleep(100 * time.Millisecond)
					}
				}
				if st := p.wait(t, 20*time.Second); st != 1 {
					t.Fatalf("exit status %d, want 1; console:\n%s\nstderr:\n%s", st, p.stdout.String(), p.stderr.String())
				}
				out := p.stdout.String()
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("console lacks %q:\n%s", w, out)
					}
				}
				if tc.input == "net" {
					if fi, err := os.Stat(filepath.Join(dir, "wake.pcap")); err != nil || fi.Size() <= 24 {
						t.Errorf("pcap holds no frame (%v)", err)
					}
				}
				rep, stderr, st := ftvm(t, "replay", "--log", log, image)
				if st != 1 || rep != out {
					t.Errorf("replay: status %d, console %q, want %q; stderr:\n%s", st, rep, out, stderr)
				}
			})
		}
	}
}

// ftvmProcStdin starts ftvm with stdin from r.
func ftvmProcStdin(t testing.TB, name string, r *os.File, args ...string) *apProc {
	t.Helper()
	return apStartStdin(t, name, r, append([]string{ftvmBin}, args...)...)
}
