package devices

import "testing"

func TestACPIPower(t *testing.T) {
	for _, c := range []struct {
		name       string
		port       uint16
		value      uint32
		off, reset bool
	}{
		{"S5 with SLP_EN", ACPISleepControlPort, 0x20 | 5<<2, true, false},
		{"S5 without SLP_EN", ACPISleepControlPort, 5 << 2, false, false},
		{"S3 with SLP_EN", ACPISleepControlPort, 0x20 | 3<<2, false, false},
		{"S5 and high bits", ACPISleepControlPort, 0xFF00 | 0x20 | 5<<2, true, false},
		{"clear wake status", ACPISleepStatusPort, 0x80, false, false},
		{"reset value", ACPIResetPort, ACPIResetValue, false, true},
		{"other reset value", ACPIResetPort, 2, false, false},
	} {
		var off, reset bool
		p := &ACPIPower{OnPowerOff: func() { off = true }, OnReset: func() { reset = true }}
		p.WritePort(c.port, 1, c.value)
		if off != c.off || reset != c.reset {
			t.Errorf("%s: power off %v reset %v, want %v %v", c.name, off, reset, c.off, c.reset)
		}
		if v := p.ReadPort(c.port, 1); v != 0 {
			t.Errorf("%s: port %#x reads %#x", c.name, c.port, v)
		}
	}
	(&ACPIPower{}).WritePort(ACPISleepControlPort, 1, 0x20|5<<2) // nil callbacks
}
