package devices

import (
	"testing"

	"ftvm/mmu"
)

func TestDebugExit(t *testing.T) {
	checkOuts(t, []outCase{
		{"outb", 0xF4, 1, 0x10, []uint32{0x10}},
		{"outb keeps the low byte", 0xF4, 1, 0x1FF, []uint32{0xFF}},
		{"outw", 0xF4, 2, 0x12345678, []uint32{0x5678}},
		{"outl", 0xF4, 4, 0xDEADBEEF, []uint32{0xDEADBEEF}},
		{"outb to the last port", 0xF7, 1, 0x03, []uint32{0x03}},
		{"zero", 0xF4, 4, 0, []uint32{0}},
		{"port after the device", 0xF8, 1, 0x01, nil},
		{"port before the device", 0xF3, 1, 0x01, nil},
	}, func(t *testing.T, call func(uint32)) *mmu.Memory {
		return portMemory(t, NewDebugExit(call), [2]uint16{DebugExitPort, DebugExitPort + DebugExitSize - 1})
	})
}

func TestDebugExitReads(t *testing.T) {
	mem := portMemory(t, &DebugExit{}, [2]uint16{DebugExitPort, DebugExitPort + DebugExitSize - 1})
	for _, size := range []int{1, 2, 4} {
		for port := uint16(DebugExitPort); port < DebugExitPort+DebugExitSize; port++ {
			if got := mem.In(port, size); got != 0 {
				t.Errorf("in %#x (size %d) = %#x, want 0 as in QEMU", port, size, got)
			}
		}
	}
	mem.Out(DebugExitPort, 1, 1) // nil OnExit: ignored
}
