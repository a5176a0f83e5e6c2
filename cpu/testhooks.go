//go:build ftvm_testhooks

package cpu

// TestingBreakFlags deliberately breaks the interpreter for tests: while it
// is set, ADD computes the wrong carry flag. It exists only in builds with
// the ftvm_testhooks tag (make test sets it), so tests can prove that
// difftest catches a flag bug; production builds have no such switch.
var TestingBreakFlags bool

// breakAddCarry reports whether ADD's carry flag is to be inverted.
func breakAddCarry() bool { return TestingBreakFlags }
