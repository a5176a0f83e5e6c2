package devices

import "ftvm/mmu"

var _ mmu.PortDevice = (*DebugExit)(nil)

// isa-debug-exit placement used by ftvm (QEMU: -device isa-debug-exit,iobase=0xf4,iosize=0x04).
const (
	DebugExitPort = 0xF4 // first port
	DebugExitSize = 4    // number of ports
)

// DebugExit is QEMU's isa-debug-exit device: a write of value v to any of its
// ports asks to end the run with exit status (v<<1)|1. Reads return 0, as in
// QEMU, which is how a guest can tell the device is present (an unmapped
// port reads as all ones). DebugExit implements mmu.PortDevice and has no
// state.
type DebugExit struct {
	// OnExit is called with the value written (its low size bytes). The
	// board turns it into exit status (v<<1)|1 and stops the CPU. Nil
	// ignores writes.
	OnExit func(v uint32)
}

// NewDebugExit returns a DebugExit that calls onExit on every write.
func NewDebugExit(onExit func(v uint32)) *DebugExit {
	return &DebugExit{OnExit: onExit}
}

// ReadPort implements mmu.PortDevice; it always returns 0.
func (d *DebugExit) ReadPort(port uint16, size int) uint32 { return 0 }

// WritePort implements mmu.PortDevice; it calls OnExit with the value
// written, whatever the port within the device and the access size.
func (d *DebugExit) WritePort(port uint16, size int, value uint32) {
	if d.OnExit != nil {
		d.OnExit(value & byteMask(size))
	}
}
