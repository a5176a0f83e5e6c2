package devices

import "testing"

func TestIOAPICRegisters(t *testing.T) {
	r := newAPICRig(t)
	if v := r.ioRead(ioapicVer); v != 0x00170020 {
		t.Errorf("version %#x", v)
	}
	r.ioWrite(ioapicID, 0xFFFFFFFF)
	if v := r.ioRead(ioapicID); v != 0x0F000000 {
		t.Errorf("ID %#x, want 0x0F000000", v)
	}
	if v := r.ioRead(ioapicArb); v != 0x0F000000 {
		t.Errorf("arbitration %#x, want the ID", v)
	}
	for pin := 0; pin < IOAPICPins; pin++ {
		if v := r.ioRead(uint8(0x10 + 2*pin)); v != 0x10000 {
			t.Errorf("pin %d entry low %#x at reset, want masked", pin, v)
		}
	}
	if v := r.ioRead(0x10 + 2*IOAPICPins); v != 0 {
		t.Errorf("register beyond the table reads %#x", v)
	}
	// Read-only bits (delivery status, remote IRR) are not written.
	r.ioWrite(0x10, 0xFFFFFFFF)
	r.ioWrite(0x11, 0xFFFFFFFF)
	if v := r.ioRead(0x10); v != 0x1AFFF {
		t.Errorf("entry 0 low %#x, want 0x1AFFF", v)
	}
	if v := r.ioRead(0x11); v != 0xFF000000 {
		t.Errorf("entry 0 high %#x, want 0xFF000000", v)
	}
	// A narrow write of IOWIN changes the low bytes.
	r.mem.Write(IOAPICBase, 4, 0x12)
	r.mem.Write(IOAPICBase+0x10, 1, 0x42)
	if v := r.ioRead(0x12); v != 0x10042 {
		t.Errorf("entry 1 low %#x after a byte write, want 0x10042", v)
	}
	r.mem.Write(IOAPICBase+0x11, 1, 0x42) // unaligned: ignored
	if v := r.ioRead(0x12); v != 0x10042 {
		t.Errorf("entry 1 low %#x after an unaligned write", v)
	}
	r.mem.Write(IOAPICBase, 4, 0x11)
	if v := r.mem.Read(IOAPICBase, 4); v != 0x11 {
		t.Errorf("IOREGSEL reads %#x", v)
	}
	if v := r.mem.Read(IOAPICBase+0x13, 1); v != 0xFF {
		t.Errorf("byte 3 of IOWIN reads %#x", v)
	}
	if v := r.mem.Read(IOAPICBase+0x20, 4); v != 0 {
		t.Errorf("unused offset reads %#x", v)
	}
}

func TestIOAPICDelivery(t *testing.T) {
	const (
		edge  = 0
		level = 1 << 15
		mask  = 1 << 16
	)
	type step struct {
		op   string // "entry" value, "line" level, "eoi" (LAPIC), "eoireg" vector, "take" vector (0: none), "rirr" want
		v    uint32
		want uint32
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"edge", []step{
			{"entry", edge | 0x31, 0}, {"line", 1, 0}, {"take", 0x31, 0}, {"eoi", 0, 0},
			{"line", 1, 0}, {"take", 0, 0}, // no new edge
			{"line", 0, 0}, {"line", 1, 0}, {"take", 0x31, 0}, {"eoi", 0, 0},
		}},
		{"edge while masked is lost", []step{
			{"entry", mask | edge | 0x32, 0}, {"line", 1, 0}, {"take", 0, 0},
			{"entry", edge | 0x32, 0}, {"take", 0, 0},
		}},
		{"level with remote IRR and EOI re-delivery", []step{
			{"entry", level | 0x33, 0}, {"line", 1, 0}, {"rirr", 0, 1},
			{"take", 0x33, 0}, {"take", 0, 0},
			{"eoi", 0, 0}, {"rirr", 0, 1}, {"take", 0x33, 0}, // still high: again
			{"line", 0, 0}, {"eoi", 0, 0}, {"rirr", 0, 0}, {"take", 0, 0},
			{"line", 1, 0}, {"take", 0x33, 0}, {"line", 0, 0}, {"eoi", 0, 0}, {"rirr", 0, 0},
		}},
		{"level held while masked, delivered on unmask", []step{
			{"entry", mask | level | 0x34, 0}, {"line", 1, 0}, {"take", 0, 0}, {"rirr", 0, 0},
			{"entry", level | 0x34, 0}, {"rirr", 0, 1}, {"take", 0x34, 0},
		}},
		{"EOI register", []step{
			{"entry", level | 0x35, 0}, {"line", 1, 0}, {"take", 0x35, 0},
			{"eoireg", 0x36, 0}, {"rirr", 0, 1}, // other vector: no effect
			{"line", 0, 0}, {"eoireg", 0x35, 0}, {"rirr", 0, 0},
		}},
		{"level to edge clears remote IRR", []step{
			{"entry", level | 0x37, 0}, {"line", 1, 0}, {"rirr", 0, 1}, {"entry", edge | 0x37, 0}, {"rirr", 0, 0},
		}},
		{"lowest priority and logical destination reach the one CPU", []step{
			{"entry", 1<<11 | 1<<8 | 0x38, 0}, {"line", 1, 0}, {"take", 0x38, 0},
		}},
		{"NMI, SMI and INIT deliveries are dropped", []step{
			{"entry", 4 << 8, 0}, {"line", 1, 0}, {"line", 0, 0},
			{"entry", 2 << 8, 0}, {"line", 1, 0}, {"line", 0, 0},
			{"entry", 5 << 8, 0}, {"line", 1, 0}, {"take", 0, 0},
		}},
	}
	const pin = 5
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newAPICRig(t)
			r.wr(lapicLVT0+0x30, 0x10700) // LINT0 masked: only the I/O APIC
			line := r.ioapic.Line(pin)
			for i, s := range tt.steps {
				switch s.op {
				case "entry":
					r.ioWrite(0x10+2*pin, s.v)
				case "line":
					line.SetLevel(s.v != 0)
				case "eoi":
					r.wr(lapicEOI, 0)
				case "eoireg":
					r.mem.Write(IOAPICBase+0x40, 4, uint64(s.v))
				case "take":
					if s.v == 0 {
						if r.lapic.Pending() {
							t.Errorf("step %d: unexpected interrupt %#x", i, r.lapic.Acknowledge())
						}
					} else if got := r.lapic.Acknowledge(); got != uint8(s.v) {
						t.Errorf("step %d: took %#x, want %#x", i, got, s.v)
					}
				case "rirr":
					if got := r.ioRead(0x10+2*pin) >> 14 & 1; got != s.want {
						t.Errorf("step %d: remote IRR %d, want %d", i, got, s.want)
					}
				}
			}
		})
	}
}

func TestIOAPICLevelTMR(t *testing.T) {
	r := newAPICRig(t)
	r.ioWrite(0x10+2*9, 1<<15|0x49)
	r.ioWrite(0x10+2*4, 0x44)
	r.ioapic.Line(9).SetLevel(true)
	r.ioapic.Line(4).SetLevel(true)
	if tmr := r.rd(lapicTMR + 0x20); tmr != 1<<(0x49-0x40) {
		t.Errorf("TMR[2] = %#x: only the level vector 0x49 is set", tmr)
	}
}

func TestIOAPICExtINT(t *testing.T) {
	r := newAPICRig(t)
	for _, s := range picInit(1) {
		r.mem.Out(uint16(s.a), 1, uint32(s.b))
	}
	r.wr(lapicLVT0+0x30, 0x10700) // virtual wire through the I/O APIC instead
	r.ioWrite(0x10, 7<<8)         // pin 0 ExtINT
	r.pic.Line(1).SetLevel(true)
	r.pending(false)
	r.ioapic.Line(0).SetLevel(true)
	r.pending(true)
	r.ack(0x21)
	r.pending(false)
}

func TestIOAPICSnapshot(t *testing.T) {
	r := newAPICRig(t)
	r.ioWrite(ioapicID, 0x02000000)
	r.ioWrite(0x10+2*3, 1<<15|0x43)
	r.ioWrite(0x10+2*7, 0x47)
	r.ioapic.Line(3).SetLevel(true)
	r.ioapic.Line(7).SetLevel(true)
	r.mem.Write(IOAPICBase, 4, 0x1E) // entry 7 low

	r2 := newAPICRig(t)
	if err := r2.lapic.Restore(r.lapic.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if err := r2.ioapic.Restore(r.ioapic.Snapshot()); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*apicRig{r, r2} {
		if v := x.mem.Read(IOAPICBase+0x10, 4); v != 0x47 {
			t.Errorf("IOWIN through restored IOREGSEL %#x", v)
		}
		// EOI of 0x43 re-delivers it while pin 3 stays high.
		for _, want := range []uint8{0x47, 0x43, 0x43, 0x43} {
			if got := x.lapic.Acknowledge(); got != want {
				t.Errorf("took %#x, want %#x", got, want)
			}
			x.wr(lapicEOI, 0)
		}
		x.ioapic.Line(3).SetLevel(false)
		x.ioapic.Line(7).SetLevel(false)
		x.ioapic.Line(7).SetLevel(true)
		x.lapic.Acknowledge()
		x.wr(lapicEOI, 0)
	}
	if r.ioapic.Snapshot() != r2.ioapic.Snapshot() || r.lapic.Snapshot() != r2.lapic.Snapshot() {
		t.Error("restored I/O APIC diverged")
	}

	bad := []func(*IOAPICState){
		func(s *IOAPICState) { s.ID = 1 },
		func(s *IOAPICState) { s.Lines = 1 << 24 },
		func(s *IOAPICState) { s.Redir[0] = 1 << 12 },
		func(s *IOAPICState) { s.Redir[1] = 1 << 14 },
	}
	for i, f := range bad {
		s := r.ioapic.Snapshot()
		f(&s)
		if err := NewIOAPIC(nil).Restore(s); err == nil {
			t.Errorf("bad state %d restored", i)
		}
	}
}
