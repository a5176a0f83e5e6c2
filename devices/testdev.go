package devices

import "ftvm/mmu"

var _ mmu.PortDevice = (*TestDev)(nil)

// pc-testdev placement (QEMU: -device pc-testdev), as test suites written for
// qemu-system-x86_64 -kernel (kvm-unit-tests) use it.
const (
	TestDevScratch     = 0xE0   // 4 ports: a 32-bit scratch register, by byte lanes
	TestDevFlush       = 0xE4   // 4 ports: "flush page" (a 32-bit write of a physical address)
	TestDevScratchByte = 0xE8   // 4 ports: the scratch register again, one byte per access
	TestDevIRQBase     = 0x2000 // 24 ports: port TestDevIRQBase+n drives interrupt line n
	TestDevIRQLines    = 24
)

// TestDev is QEMU's pc-testdev. Its scratch register holds what the guest
// wrote (each port is a byte lane: an access at port p of size s covers
// bytes p..p+s-1 of the register). A write to port TestDevIRQBase+n sets
// interrupt line n high (value non-zero) or low; those ports read 0. The
// flush-page ports read 0 and accept writes without effect: the host-side
// page flush they ask for changes nothing the guest sees. TestDev
// implements mmu.PortDevice; it is not safe for concurrent use.
type TestDev struct {
	// Scratch is the scratch register; Levels the levels the guest set on
	// the interrupt lines (bit n: line n).
	Scratch uint32
	Levels  uint32
	lines   [TestDevIRQLines]IRQLine // fixed at construction
}

// TestDevState is TestDev's state for snapshots.
type TestDevState struct {
	Scratch, Levels uint32
}

// NewTestDev returns a pc-testdev whose line n is line(n).
func NewTestDev(line func(n int) IRQLine) *TestDev {
	d := &TestDev{}
	for n := range d.lines {
		d.lines[n] = line(n)
	}
	return d
}

// testDevLane returns the bit offset of port within the scratch register, or false
// for a port outside it.
func testDevLane(port uint16) (uint, bool) {
	switch {
	case port >= TestDevScratch && port < TestDevScratch+4:
		return uint(port-TestDevScratch) * 8, true
	case port >= TestDevScratchByte && port < TestDevScratchByte+4:
		return uint(port-TestDevScratchByte) * 8, true
	}
	return 0, false
}

// ReadPort implements mmu.PortDevice.
func (d *TestDev) ReadPort(port uint16, size int) uint32 {
	if shift, ok := testDevLane(port); ok {
		return d.Scratch >> shift & byteMask(size)
	}
	return 0
}

// WritePort implements mmu.PortDevice.
func (d *TestDev) WritePort(port uint16, size int, value uint32) {
	if shift, ok := testDevLane(port); ok {
		mask := byteMask(size) << shift
		d.Scratch = d.Scratch&^mask | value<<shift&mask
		return
	}
	if n := int(port) - TestDevIRQBase; n >= 0 && n < TestDevIRQLines {
		high := value&byteMask(size) != 0
		d.Levels &^= 1 << n
		if high {
			d.Levels |= 1 << n
		}
		d.lines[n].SetLevel(high)
	}
}

// Snapshot returns the device state.
func (d *TestDev) Snapshot() TestDevState { return TestDevState{d.Scratch, d.Levels} }

// Restore loads a state returned by Snapshot (the interrupt controllers
// restore their input levels themselves).
func (d *TestDev) Restore(s TestDevState) error {
	d.Scratch, d.Levels = s.Scratch, s.Levels
	return nil
}
