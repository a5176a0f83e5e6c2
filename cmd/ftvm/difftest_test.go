package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ftvm/cpu/kvm"
	"ftvm/difftest"
	"ftvm/internal/testenv"
)

// ftvm difftest and ftvm run --accel kvm. The tests that need KVM skip when
// it is not usable here.

func runDifftest(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	status, err := runDifftestCmd(&out, args)
	if err != nil {
		t.Fatalf("difftest %v: %v\n%s", args, err, out.String())
	}
	return status, out.String()
}

func TestDifftestGuests(t *testing.T) {
	testenv.RequireKVM(t)
	var images []string
	for _, g := range []string{"hello", "exercise_r3", "sse_r3", "fpu_r3", "exitcode", "halt", "reset", "triple", "tick"} {
		images = append(images, testenv.Guest(t, g))
	}
	status, out := runDifftest(t, images...)
	t.Log(out)
	if status != int(difftest.Match) || strings.Count(out, ": MATCH: ") != len(images) {
		t.Errorf("status %d, want every image to match", status)
	}
}

func TestDifftestBenchR3(t *testing.T) {
	if testing.Short() {
		t.Skip("bench_r3 takes about 12 s in the interpreter")
	}
	testenv.RequireKVM(t)
	status, out := runDifftest(t, testenv.Guest(t, "bench_r3"))
	t.Log(out)
	if status != int(difftest.Match) {
		t.Errorf("status %d, want a match", status)
	}
}

// TestDifftestRing3 finds NAME_r3.elf for NAME.elf.
func TestDifftestRing3(t *testing.T) {
	testenv.RequireKVM(t)
	status, out := runDifftest(t, "--ring3", testenv.Guest(t, "exercise"))
	if status != int(difftest.Match) || !strings.Contains(out, "exercise_r3.elf: MATCH") {
		t.Errorf("status %d\n%s", status, out)
	}
}

func TestDifftestStep(t *testing.T) {
	testenv.RequireKVM(t)
	var small []string
	for _, g := range []string{"hello", "exitcode", "halt", "reset", "triple"} {
		small = append(small, testenv.Guest(t, g))
	}
	status, out := runDifftest(t, append([]string{"--step", "1"}, small...)...)
	t.Log(out)
	if status != int(difftest.Match) || strings.Count(out, "register checks") != len(small) {
		t.Errorf("--step 1: status %d, want every image to match", status)
	}
	// Interrupts come when host time says under KVM: not comparable by
	// position, and reported so.
	status, out = runDifftest(t, "--step", "1", testenv.Guest(t, "tick"))
	t.Log(out)
	if status != int(difftest.Inconclusive) || !strings.Contains(out, "not an ftvm mismatch") {
		t.Errorf("tick --step 1: status %d, want inconclusive (interrupt timing)", status)
	}
	if testing.Short() {
		return
	}
	status, out = runDifftest(t, "--step", "5000", testenv.Guest(t, "exercise_r3"))
	t.Log(out)
	if status != int(difftest.Match) {
		t.Errorf("exercise_r3 --step 5000: status %d", status)
	}
}

func TestDifftestUsage(t *testing.T) {
	var out bytes.Buffer
	if _, err := runDifftestCmd(&out, nil); err == nil {
		t.Error("difftest without an image: no error")
	} else if _, ok := err.(usageError); !ok {
		t.Errorf("difftest without an image: %v, want a usage error", err)
	}
	t.Setenv(kvm.DeviceEnv, "/nonexistent/kvm")
	_, err := runDifftestCmd(&out, []string{testenv.Guest(t, "hello")})
	if err == nil || err.Error() != "KVM is not available: open /nonexistent/kvm: no such file or directory" {
		t.Errorf("difftest without KVM: %v", err)
	}
}

func TestRunAccelKVM(t *testing.T) {
	testenv.RequireKVM(t)
	for _, g := range []string{"hello", "exercise_r3"} {
		golden := strings.TrimSuffix(g, "_r3") + ".golden"
		want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "guests", golden))
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, status := ftvmEnv(t, nil, "run", "--accel", "kvm", "--stats", testenv.Guest(t, g))
		if stdout != string(want) || status != 1 {
			t.Errorf("%s: status %d, stdout %q, stderr %q", g, status, stdout, stderr)
		}
		if !strings.Contains(stderr, "ftvm: accel=kvm wall=") {
			t.Errorf("%s: no --stats line on stderr: %q", g, stderr)
		}
	}
}

func TestRunAccelKVMUnavailable(t *testing.T) {
	_, stderr, status := ftvmEnv(t, []string{kvm.DeviceEnv + "=/nonexistent/kvm"}, "run", "--accel", "kvm", testenv.Guest(t, "hello"))
	want := "ftvm: KVM is not available: open /nonexistent/kvm: no such file or directory\n"
	if status != 125 || stderr != want {
		t.Errorf("status %d, stderr %q; want 125 and %q", status, stderr, want)
	}
}

func TestRunAccelUsage(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--accel", "qemu", testenv.Guest(t, "hello")},
		{"run", "--accel", "kvm", "--record", filepath.Join(t.TempDir(), "log"), testenv.Guest(t, "hello")},
		{"run", "--accel", "kvm", "--trace", testenv.Guest(t, "hello")},
	} {
		if _, stderr, status := ftvmEnv(t, nil, args...); status != 2 {
			t.Errorf("%v: status %d, want 2 (usage); stderr %q", args, status, stderr)
		}
	}
}
