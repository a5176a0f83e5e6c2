package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ftvm/failover"
	"ftvm/internal/testenv"
)

// The CLI contract (ARCHITECTURE.md §5) tested end to end on the built binary
// and the guests of testdata/guests (built by `make guests`).

var ftvmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ftvm-cli")
	if err != nil {
		panic(err)
	}
	ftvmBin = filepath.Join(dir, "ftvm")
	if out, err := exec.Command("go", "build", "-o", ftvmBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ftvm runs the binary and returns stdout, stderr and the exit status.
func ftvm(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return ftvmEnv(t, nil, args...)
}

// ftvmEnv runs the binary with extra environment variables.
func ftvmEnv(t testing.TB, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(ftvmBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	status := exitStatus(t, cmd.Run())
	return stdout.String(), stderr.String(), status
}

// exitStatus returns the exit status of a process whose Run or Wait
// returned err; any other error fails the test.
func exitStatus(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		name   string
		guest  string
		args   []string
		status int
		stderr string // a phrase stderr must contain
	}{
		{"debug-exit 0", "hello", nil, 1, ""},
		{"debug-exit value", "exitcode", nil, 0x21<<1 | 1, ""},
		{"halt with interrupts off", "halt", nil, 0, ""},
		{"keyboard reset", "reset", nil, 0, ""},
		{"triple fault", "triple", nil, 126, "triple fault"},
		{"instruction limit", "spin", []string{"--max-insns", "100000"}, 124, "limit"},
		{"trace with gdb", "hello", []string{"--trace", "--gdb", "127.0.0.1:0"}, 2, "cannot be combined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--clock", "virtual"}, tc.args...)
			_, stderr, status := ftvm(t, append(args, testenv.Guest(t, tc.guest))...)
			if status != tc.status {
				t.Errorf("exit status %d, want %d; stderr:\n%s", status, tc.status, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.stderr)
			}
		})
	}
}

func TestTripleFaultDump(t *testing.T) {
	_, stderr, status := ftvm(t, "run", testenv.Guest(t, "triple"))
	if status != 126 {
		t.Fatalf("status %d, want 126", status)
	}
	for _, want := range []string{"rip ", "rsp ", "cr3 ", "ud2"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("register dump lacks %q:\n%s", want, stderr)
		}
	}
}

func TestStatsLine(t *testing.T) {
	stdout, stderr, status := ftvm(t, "run", "--stats", testenv.Guest(t, "hello"))
	if status != 1 {
		t.Fatalf("status %d, want 1; stderr %s", status, stderr)
	}
	if !regexp.MustCompile(`(?m)^ftvm: retired=\d+ wall=[0-9.]+s mips=[0-9.]+`).MatchString(stderr) {
		t.Errorf("no stats line in stderr:\n%s", stderr)
	}
	if strings.Contains(stdout, "ftvm:") {
		t.Errorf("ftvm's own messages leaked onto stdout: %q", stdout)
	}
}

func TestSerialDestinations(t *testing.T) {
	hello := testenv.Guest(t, "hello")
	stdout, _, _ := ftvm(t, "run", hello)
	if stdout == "" {
		t.Fatal("no console output on stdout")
	}
	out := filepath.Join(t.TempDir(), "console.txt")
	stdout2, _, _ := ftvm(t, "run", "--serial", "file:"+out, hello)
	if stdout2 != "" {
		t.Errorf("stdout not empty with --serial file: %q", stdout2)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != stdout {
		t.Errorf("file console %q (err %v), want %q", b, err, stdout)
	}
	stdout3, _, _ := ftvm(t, "run", "--serial", "none", hello)
	if stdout3 != "" {
		t.Errorf("stdout not empty with --serial none: %q", stdout3)
	}
}

func TestTrace(t *testing.T) {
	_, stderr, status := ftvm(t, "run", "--trace", testenv.Guest(t, "hello"))
	if status != 1 {
		t.Fatalf("status %d", status)
	}
	lines := strings.Split(stderr, "\n")
	if len(lines) < 10 || !strings.Contains(lines[0], "rax=") {
		t.Fatalf("trace too short or without registers:\n%.500s", stderr)
	}
}

// elfHeader returns a minimal ELF64 header with one program header slot.
func elfHeader(machine uint16) []byte {
	b := make([]byte, 64+56)
	copy(b, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(b[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(b[18:], machine)
	binary.LittleEndian.PutUint32(b[20:], 1)
	binary.LittleEndian.PutUint64(b[24:], 0x100000)
	binary.LittleEndian.PutUint64(b[32:], 64)
	binary.LittleEndian.PutUint16(b[52:], 64)
	binary.LittleEndian.PutUint16(b[54:], 56)
	binary.LittleEndian.PutUint16(b[56:], 1)
	p := b[64:]
	binary.LittleEndian.PutUint32(p[0:], 1) // PT_LOAD
	binary.LittleEndian.PutUint32(p[4:], 5) // R+X
	binary.LittleEndian.PutUint64(p[16:], 0x100000)
	binary.LittleEndian.PutUint64(p[24:], 0x100000)
	binary.LittleEndian.PutUint64(p[32:], 0)
	binary.LittleEndian.PutUint64(p[40:], 0x1000)
	return b
}

// writeTemp writes b to the file name in dir and returns its path.
func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string { return writeTemp(t, dir, name, b) }
	outside := elfHeader(62)
	binary.LittleEndian.PutUint64(outside[64+24:], 0x7FFF0000) // p_paddr beyond 64 MiB
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no arguments", []string{"run"}, 2, "IMAGE"},
		{"unknown flag", []string{"run", "--bogus", "x"}, 2, "bogus"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"demo --linux, no such side", []string{"demo", "--linux", "--kill", "sideways"}, 2, "--kill"},
		{"bad memory size", []string{"run", "-m", "lots", "x"}, 2, "size"},
		{"bad clock", []string{"run", "--clock", "sundial", "x"}, 2, "clock"},
		{"missing file", []string{"run", filepath.Join(dir, "nope.elf")}, 125, "no such file"},
		{"empty file", []string{"run", write("empty", nil)}, 125, "image"},
		{"truncated ELF", []string{"run", write("trunc", elfHeader(62)[:40])}, 125, "image"},
		{"not an ELF", []string{"run", write("text", []byte("#!/bin/sh\necho hi\n"))}, 125, "image"},
		{"non-x86 ELF", []string{"run", write("arm", elfHeader(183))}, 125, "image"},
		{"segment outside RAM", []string{"run", write("outside", outside)}, 125, "outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := ftvm(t, tc.args...)
			if status != tc.status {
				t.Errorf("status %d, want %d; stderr %q", status, tc.status, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) || !strings.HasPrefix(stderr, "ftvm:") && tc.status == 125 {
				t.Errorf("stderr %q should start with ftvm: and mention %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

func TestDisasmHex(t *testing.T) {
	stdout, stderr, status := ftvm(t, "disasm", "4801d8", "c3")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if !strings.Contains(stdout, "add") || !strings.Contains(stdout, "ret") {
		t.Errorf("disassembly %q lacks add/ret", stdout)
	}
}

func TestDisasmImage(t *testing.T) {
	stdout, stderr, status := ftvm(t, "disasm", testenv.Guest(t, "hello"))
	if status != 0 || !strings.Contains(stdout, "0000000000100") {
		t.Fatalf("status %d, stdout %.300q, stderr %s", status, stdout, stderr)
	}
}

// --events writes the run's end as a JSON line: position and exit status.
func TestRunEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events")
	_, stderr, status := ftvm(t, "run", "--clock", "virtual", "--events", path, testenv.Guest(t, "hello"))
	if status != 1 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev failover.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("events %q: %v", b, err)
	}
	if ev.Kind != failover.EventEnded || ev.Status != 1 || ev.Position == 0 || ev.At.IsZero() {
		t.Errorf("event %+v, want the end with status 1", ev)
	}
}
