package devices

import (
	"testing"

	"ftvm/mmu"
)

// newI8042Rig maps a controller whose reset line calls onReset.
func newI8042Rig(t *testing.T, onReset func()) *mmu.Memory {
	t.Helper()
	dev := NewI8042(onReset)
	return portMemory(t, dev, [2]uint16{I8042DataPort, I8042DataPort}, [2]uint16{I8042CommandPort, I8042CommandPort})
}

func TestI8042Reset(t *testing.T) {
	reset := []uint32{0} // one call of the reset callback
	checkOuts(t, []outCase{
		{"reset command", I8042CommandPort, 1, 0xFE, reset},
		{"reset command, wide write", I8042CommandPort, 4, 0x123400FE, reset},
		{"pulse all output lines", I8042CommandPort, 1, 0xF0, reset},
		{"pulse line 1 and reset", I8042CommandPort, 1, 0xFC, reset},
		{"pulse nothing", I8042CommandPort, 1, 0xFF, nil},
		{"pulse line 1 only", I8042CommandPort, 1, 0xFD, nil},
		{"read command byte", I8042CommandPort, 1, 0x20, nil},
		{"write output port", I8042CommandPort, 1, 0xD1, nil},
		{"self test", I8042CommandPort, 1, 0xAA, nil},
		{"0xFE to the data port", I8042DataPort, 1, 0xFE, nil},
	}, func(t *testing.T, call func(uint32)) *mmu.Memory {
		return newI8042Rig(t, func() { call(0) })
	})
}

func TestI8042Reads(t *testing.T) {
	var resets int
	mem := newI8042Rig(t, func() { resets++ })
	mem.Out(I8042CommandPort, 1, 0x20) // a command that would produce data elsewhere
	mem.Out(I8042DataPort, 1, 0xF4)
	tests := []struct {
		port uint16
		size int
		want uint32
	}{
		{I8042CommandPort, 1, 0x14},
		{I8042CommandPort, 2, 0xFF14},
		{I8042DataPort, 1, 0x00},
		{I8042DataPort, 4, 0xFFFFFF00},
		{0x61, 1, 0xFF}, // not the controller's
	}
	for _, tt := range tests {
		if got := mem.In(tt.port, tt.size); got != tt.want {
			t.Errorf("in %#x (size %d) = %#x, want %#x", tt.port, tt.size, got, tt.want)
		}
	}
	if resets != 0 {
		t.Errorf("reads or ignored commands caused %d resets", resets)
	}
	(&I8042{}).WritePort(I8042CommandPort, 1, 0xFE) // nil OnReset: ignored
}
