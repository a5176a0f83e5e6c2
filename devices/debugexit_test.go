package devices

import "testing"

func TestDebugExit(t *testing.T) {
	tests := []struct {
		name   string
		port   uint16
		size   int
		value  uint32
		want   uint32
		called bool
	}{
		{"outb", 0xF4, 1, 0x10, 0x10, true},
		{"outb keeps the low byte", 0xF4, 1, 0x1FF, 0xFF, true},
		{"outw", 0xF4, 2, 0x12345678, 0x5678, true},
		{"outl", 0xF4, 4, 0xDEADBEEF, 0xDEADBEEF, true},
		{"outb to the last port", 0xF7, 1, 0x03, 0x03, true},
		{"zero", 0xF4, 4, 0, 0, true},
		{"port after the device", 0xF8, 1, 0x01, 0, false},
		{"port before the device", 0xF3, 1, 0x01, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint32
			dev := NewDebugExit(func(v uint32) { got = append(got, v) })
			mem := portMemory(t, dev, [2]uint16{DebugExitPort, DebugExitPort + DebugExitSize - 1})
			mem.Out(tt.port, tt.size, tt.value)
			switch {
			case !tt.called && len(got) != 0:
				t.Errorf("OnExit called with %#x, want no call", got)
			case tt.called && (len(got) != 1 || got[0] != tt.want):
				t.Errorf("OnExit calls %#x, want one with %#x", got, tt.want)
			}
		})
	}
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
