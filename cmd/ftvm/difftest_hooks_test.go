//go:build ftvm_testhooks

package main

import (
	"strings"
	"testing"

	"ftvm/cpu"
	"ftvm/difftest"
	"ftvm/internal/testenv"
)

// TestDifftestCatchesBrokenFlags breaks the interpreter's carry flag for
// ADD (cpu.TestingBreakFlags): difftest must report it, with and without
// --step.
func TestDifftestCatchesBrokenFlags(t *testing.T) {
	testenv.RequireKVM(t)
	cpu.TestingBreakFlags = true
	defer func() { cpu.TestingBreakFlags = false }()

	status, out := runDifftest(t, testenv.Guest(t, "exercise_r3"))
	t.Log(out)
	if status != int(difftest.Mismatch) || !strings.Contains(out, "FIRST DIFFERENCE") || !strings.Contains(out, "serial output") ||
		!strings.Contains(out, `"add hash=`) {
		t.Errorf("exercise_r3 with a broken ADD carry: status %d, want a serial output difference at the add line", status)
	}

	status, out = runDifftest(t, "--step", "1", testenv.Guest(t, "hello"))
	t.Log(out)
	if status != int(difftest.Mismatch) || !strings.Contains(out, "rflags") || !strings.Contains(out, "differing bits: CF") {
		t.Errorf("hello --step 1 with a broken ADD carry: status %d, want an rflags difference in CF", status)
	}
}
