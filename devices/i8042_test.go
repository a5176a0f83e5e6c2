package devices

import (
	"testing"

	"ftvm/mmu"
)

func newI8042Rig(t *testing.T, resets *int) *mmu.Memory {
	t.Helper()
	dev := NewI8042(func() { *resets++ })
	return portMemory(t, dev, [2]uint16{I8042DataPort, I8042DataPort}, [2]uint16{I8042CommandPort, I8042CommandPort})
}

func TestI8042Reset(t *testing.T) {
	tests := []struct {
		name  string
		port  uint16
		size  int
		value uint32
		reset bool
	}{
		{"reset command", I8042CommandPort, 1, 0xFE, true},
		{"reset command, wide write", I8042CommandPort, 4, 0x123400FE, true},
		{"pulse all output lines", I8042CommandPort, 1, 0xF0, true},
		{"pulse line 1 and reset", I8042CommandPort, 1, 0xFC, true},
		{"pulse nothing", I8042CommandPort, 1, 0xFF, false},
		{"pulse line 1 only", I8042CommandPort, 1, 0xFD, false},
		{"read command byte", I8042CommandPort, 1, 0x20, false},
		{"write output port", I8042CommandPort, 1, 0xD1, false},
		{"self test", I8042CommandPort, 1, 0xAA, false},
		{"0xFE to the data port", I8042DataPort, 1, 0xFE, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resets int
			mem := newI8042Rig(t, &resets)
			mem.Out(tt.port, tt.size, tt.value)
			if want := map[bool]int{false: 0, true: 1}[tt.reset]; resets != want {
				t.Errorf("OnReset called %d times, want %d", resets, want)
			}
		})
	}
}

func TestI8042Reads(t *testing.T) {
	var resets int
	mem := newI8042Rig(t, &resets)
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
