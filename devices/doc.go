// Package devices holds the models of the devices a guest reaches through the
// I/O port and MMIO buses of package mmu: the 16550A UART, the isa-debug-exit
// port, the i8042's reset line, the 8259 pair, the I/O APIC, the local APIC,
// the 8254 PIT, the MC146818 RTC, and the virtio-mmio transport with its net
// and block devices.
//
// Every model is a deterministic function of its state, of the accesses the
// guest makes and of the inputs it is handed at exact positions (see
// host.go). No model starts a goroutine, reads the host clock or does host
// I/O: what leaves the guest goes through the interfaces a model is built
// with (an io.Writer for the console, NetBackend, BlockBackend,
// FrameCapture), and the backends that reach the host (TAP, sockets, disk
// image files, pcap) are in package hostio, which the board's builder wires
// in. Models are not safe for concurrent use: the board calls them from the
// goroutine that runs the CPU.
package devices

// IRQLine is an interrupt request line that a device drives as a level, such
// as an input pin of an interrupt controller.
type IRQLine interface {
	// SetLevel drives the line high (interrupt requested) or low.
	SetLevel(high bool)
}

// inputLine is input n of an interrupt controller whose inputs set drives.
type inputLine struct {
	set func(n int, high bool)
	n   int
}

func (l inputLine) SetLevel(high bool) { l.set(l.n, high) }

// nopLine is a line connected to nothing.
type nopLine struct{}

func (nopLine) SetLevel(bool) {}

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
