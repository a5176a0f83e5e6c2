// Package devices holds the models of the PC devices a guest reaches through
// the I/O port and MMIO buses of package mmu: the 16550A UART, the
// isa-debug-exit port and the reset line of the i8042 keyboard controller.
//
// Every model is a deterministic function of its state and of the accesses
// and inputs it is given; none reads the host clock or does host I/O on the
// guest's path except writing transmitted bytes to the io.Writer it was given.
// Models are not safe for concurrent use: the board calls them from the
// goroutine that runs the CPU.
package devices

// IRQLine is an interrupt request line that a device drives as a level, such
// as an input pin of an interrupt controller.
type IRQLine interface {
	// SetLevel drives the line high (interrupt requested) or low.
	SetLevel(high bool)
}

// byteMask returns the mask of the low size bytes of a 32-bit value; sizes
// outside 1..4 are clamped so that no input can cause a bad shift.
func byteMask(size int) uint32 {
	if size >= 4 {
		return 0xFFFFFFFF
	}
	if size <= 0 {
		return 0
	}
	return 1<<(8*uint(size)) - 1
}
