//go:build !ftvm_testhooks

package cpu

// breakAddCarry reports whether ADD's carry flag is to be inverted: never,
// outside builds with the ftvm_testhooks tag (see testhooks.go).
func breakAddCarry() bool { return false }
