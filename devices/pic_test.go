package devices

import (
	"testing"

	"ftvm/mmu"
)

// picStep is one step of a PIC test: "out" port value, "in" port want,
// "set" irq level, "ack" want-vector, "pend" want (0/1).
type picStep struct {
	op   string
	a, b int
}

func pOut(port, v int) picStep { return picStep{"out", port, v} }
func pIn(port, v int) picStep  { return picStep{"in", port, v} }
func pSet(irq, l int) picStep  { return picStep{"set", irq, l} }
func pAck(v int) picStep       { return picStep{"ack", v, 0} }
func pPend(v int) picStep      { return picStep{"pend", v, 0} }

// picInit programs the pair as Linux does: vectors 0x20 and 0x28, cascade
// on IRQ 2, 8086 mode (icw4 0x01, or 0x03 for auto-EOI), all unmasked.
func picInit(icw4 int) []picStep {
	return []picStep{
		pOut(0x20, 0x11), pOut(0x21, 0x20), pOut(0x21, 0x04), pOut(0x21, icw4),
		pOut(0xA0, 0x11), pOut(0xA1, 0x28), pOut(0xA1, 0x02), pOut(0xA1, icw4),
		pOut(0x21, 0x00), pOut(0xA1, 0x00),
	}
}

func newPICRig(t *testing.T) (*mmu.Memory, *PIC) {
	t.Helper()
	p := NewPIC()
	return portMemory(t, p, [2]uint16{0x20, 0x21}, [2]uint16{0xA0, 0xA1}, [2]uint16{0x4D0, 0x4D1}), p
}

func runPIC(t *testing.T, mem *mmu.Memory, p *PIC, steps []picStep) {
	t.Helper()
	for i, s := range steps {
		switch s.op {
		case "out":
			mem.Out(uint16(s.a), 1, uint32(s.b))
		case "in":
			if got := mem.In(uint16(s.a), 1); got != uint32(s.b) {
				t.Errorf("step %d: in %#x = %#x, want %#x", i, s.a, got, s.b)
			}
		case "set":
			p.Line(s.a).SetLevel(s.b != 0)
		case "ack":
			if got := p.Acknowledge(); got != uint8(s.a) {
				t.Errorf("step %d: INTA vector %#x, want %#x", i, got, s.a)
			}
		case "pend":
			if got := p.Pending(); got != (s.a != 0) {
				t.Errorf("step %d: Pending %v, want %v", i, got, s.a != 0)
			}
		}
	}
}

func TestPIC(t *testing.T) {
	const readIRR, readISR = 0x0A, 0x0B
	cat := func(parts ...[]picStep) []picStep {
		var all []picStep
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name  string
		steps []picStep
	}{
		{"power-on: all masked", []picStep{
			pIn(0x21, 0xFF), pIn(0xA1, 0xFF), pSet(1, 1), pPend(0), pIn(0x20, 0x02),
		}},
		{"ICW1 clears IMR and the edge sense", []picStep{
			pSet(1, 1), pOut(0x20, 0x11), pOut(0x21, 0x20), pOut(0x21, 0x04), pOut(0x21, 0x01),
			pIn(0x21, 0x00), pPend(0), pIn(0x20, 0x00),
			pSet(1, 0), pSet(1, 1), pPend(1), pAck(0x21),
		}},
		{"single interrupt, ISR, non-specific EOI", cat(picInit(1), []picStep{
			pPend(0), pSet(1, 1), pPend(1), pIn(0x20, 0x02), pAck(0x21), pPend(0),
			pOut(0x20, readISR), pIn(0x20, 0x02), pOut(0x20, 0x20), pIn(0x20, 0x00),
			pOut(0x20, readIRR), pIn(0x20, 0x00),
			// An edge input held high does not request again.
			pPend(0),
		})},
		{"masking", cat(picInit(1), []picStep{
			pOut(0x21, 0x02), pIn(0x21, 0x02), pSet(1, 1), pPend(0), pIn(0x20, 0x02),
			pOut(0x21, 0x00), pPend(1), pAck(0x21),
		})},
		{"priorities and nesting", cat(picInit(1), []picStep{
			pSet(3, 1), pSet(1, 1), pAck(0x21), pPend(0), // 3 waits behind 1
			pSet(0, 1), pPend(1), pAck(0x20), // 0 nests
			pOut(0x20, readISR), pIn(0x20, 0x03),
			pOut(0x20, 0x20), pIn(0x20, 0x02), pPend(0),
			pOut(0x20, 0x20), pIn(0x20, 0x00), pPend(1), pAck(0x23),
		})},
		{"specific EOI", cat(picInit(1), []picStep{
			pSet(1, 1), pAck(0x21), pSet(0, 1), pAck(0x20), pOut(0x20, readISR),
			pOut(0x20, 0x61), pIn(0x20, 0x01), pOut(0x20, 0x60), pIn(0x20, 0x00),
		})},
		{"rotate on non-specific EOI", cat(picInit(1), []picStep{
			pSet(1, 1), pAck(0x21), pOut(0x20, 0xA0), // IRQ 1 becomes lowest
			pSet(1, 0), pSet(1, 1), pSet(3, 1), pAck(0x23), pOut(0x20, 0x20), pAck(0x21),
		})},
		{"rotate on specific EOI and set priority", cat(picInit(1), []picStep{
			pOut(0x20, 0xC4),                                     // IRQ 4 lowest, 5 highest
			pSet(1, 1), pSet(5, 1), pAck(0x25), pOut(0x20, 0xE5), // rotate: 5 lowest, 6 highest
			pSet(5, 0), pSet(5, 1), pSet(6, 1), pAck(0x26),
		})},
		{"cascade", cat(picInit(1), []picStep{
			pSet(10, 1), pPend(1), pIn(0x20, 0x04), pIn(0xA0, 0x04), pAck(0x2A),
			pOut(0x20, readISR), pOut(0xA0, readISR), pIn(0x20, 0x04), pIn(0xA0, 0x04),
			pSet(9, 1), pPend(0), // blocked: master IRQ 2 in service
			pOut(0xA0, 0x20), pOut(0x20, 0x20), pPend(1), pAck(0x29),
			pIn(0x20, 0x04), pIn(0xA0, 0x02),
		})},
		{"cascade masked at the master", cat(picInit(1), []picStep{
			pOut(0x21, 0x04), pSet(12, 1), pPend(0), pOut(0x21, 0x00), pPend(1), pAck(0x2C),
		})},
		{"spurious IRQ 7", cat(picInit(1), []picStep{
			pPend(0), pAck(0x27), pOut(0x20, readISR), pIn(0x20, 0x00),
			// A request withdrawn (masked) before INTA.
			pSet(5, 1), pPend(1), pOut(0x21, 0x20), pAck(0x27), pIn(0x20, 0x00),
		})},
		{"spurious IRQ 15", cat(picInit(1), []picStep{
			pSet(11, 1), pPend(1), pOut(0xA1, 0x08), pAck(0x2F),
			pOut(0x20, readISR), pOut(0xA0, readISR), pIn(0x20, 0x04), pIn(0xA0, 0x00),
		})},
		{"level triggered through ELCR", cat(picInit(1), []picStep{
			pOut(0x4D0, 0xFF), pIn(0x4D0, 0xF8), pOut(0x4D1, 0xFF), pIn(0x4D1, 0xDE),
			pOut(0x4D0, 0x20), pOut(0x4D1, 0x00),
			pSet(5, 1), pAck(0x25), pPend(0), pOut(0x20, 0x20), pPend(1), // still high
			pAck(0x25), pSet(5, 0), pOut(0x20, 0x20), pPend(0), pIn(0x20, 0x00),
		})},
		{"edge request latched after the line falls", cat(picInit(1), []picStep{
			pSet(4, 1), pSet(4, 0), pPend(1), pAck(0x24),
		})},
		{"auto-EOI", cat(picInit(3), []picStep{
			pSet(1, 1), pAck(0x21), pOut(0x20, readISR), pIn(0x20, 0x00),
			pSet(3, 1), pAck(0x23), pIn(0x20, 0x00),
			pSet(10, 1), pAck(0x2A), pIn(0x20, 0x00), pOut(0xA0, readISR), pIn(0xA0, 0x00),
		})},
		{"rotate in auto-EOI mode", cat(picInit(3), []picStep{
			pOut(0x20, 0x80), pSet(1, 1), pAck(0x21), // IRQ 1 becomes lowest
			pSet(1, 0), pSet(1, 1), pSet(3, 1), pAck(0x23), pAck(0x21),
			pOut(0x20, 0x00), pSet(4, 1), pSet(5, 1), pAck(0x24), pSet(4, 0), pSet(4, 1), pAck(0x24),
		})},
		{"special mask mode", cat(picInit(1), []picStep{
			pSet(3, 1), pAck(0x23), pSet(5, 1), pPend(0),
			pOut(0x20, 0x68), pOut(0x21, 0x08), pPend(1), pAck(0x25),
			pOut(0x20, 0x48), pOut(0x20, readISR), pIn(0x20, 0x28),
		})},
		{"poll", cat(picInit(1), []picStep{
			pOut(0x20, 0x0C), pIn(0x20, 0x00), // nothing: 0
			pSet(4, 1), pOut(0x20, 0x0C), pIn(0x21, 0x84), pIn(0x21, 0x00), // IMR again
			pOut(0x20, readISR), pIn(0x20, 0x10),
		})},
		{"single PIC without ICW3", []picStep{
			pOut(0x20, 0x13), pOut(0x21, 0x08), pOut(0x21, 0x01), pOut(0x21, 0xFE),
			pIn(0x21, 0xFE), pSet(0, 1), pAck(0x08),
		}},
		{"ICW1 without ICW4", []picStep{
			pOut(0x20, 0x10), pOut(0x21, 0x40), pOut(0x21, 0x04), pOut(0x21, 0x7F),
			pIn(0x21, 0x7F), pSet(7, 1), pAck(0x47),
		}},
		{"IRQ 2 line is not connected", cat(picInit(1), []picStep{
			pSet(2, 1), pPend(0), pSet(16, 1), pSet(-1, 1), pPend(0),
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, p := newPICRig(t)
			runPIC(t, mem, p, tt.steps)
		})
	}
}

func TestPICWideAccess(t *testing.T) {
	mem, p := newPICRig(t)
	runPIC(t, mem, p, picInit(1))
	mem.Out(0x20, 2, 0x0300|0x0B) // OCW3 read ISR; IMR 0x03
	if got := mem.In(0x20, 2); got != 0x0300 {
		t.Errorf("inw 0x20 = %#x, want 0x0300", got)
	}
	if got := mem.In(0x4D0, 4); got != 0xFFFF0000 {
		t.Errorf("inl 0x4D0 = %#x, want 0xFFFF0000", got)
	}
}

func TestPICSnapshot(t *testing.T) {
	mem, p := newPICRig(t)
	runPIC(t, mem, p, picInit(1))
	runPIC(t, mem, p, []picStep{
		pOut(0x4D1, 0x02), pSet(9, 1), pSet(3, 1), pSet(1, 1), pAck(0x21), pOut(0x20, 0x0B),
	})
	mem2, p2 := newPICRig(t)
	if err := p2.Restore(p.Snapshot()); err != nil {
		t.Fatal(err)
	}
	rest := []picStep{
		pIn(0x20, 0x02), pIn(0xA0, 0x02), pIn(0x4D1, 0x02),
		pPend(0), pOut(0x20, 0x20), // EOI of IRQ 1 lets the cascade through
		pPend(1), pAck(0x29), pOut(0xA0, 0x20), pOut(0x20, 0x20), pPend(1), pAck(0x29), // level: again
		pSet(9, 0), pOut(0xA0, 0x20), pOut(0x20, 0x20),
		pPend(1), pAck(0x23), pPend(0),
	}
	runPIC(t, mem, p, rest)
	runPIC(t, mem2, p2, rest)
	if p.Snapshot() != p2.Snapshot() {
		t.Errorf("states differ after the same steps:\n%+v\n%+v", p.Snapshot(), p2.Snapshot())
	}

	bad := []func(*PICState){
		func(s *PICState) { s.Chips[0].InitState = 1 },
		func(s *PICState) { s.Chips[1].PriorityAdd = 8 },
		func(s *PICState) { s.Chips[0].VectorBase = 0x21 },
		func(s *PICState) { s.Chips[0].ELCR = 0x01 },
		func(s *PICState) { s.Chips[1].ELCR = 0x02; s.Chips[1].IRR = 0; s.Chips[1].Lines = 0x02 },
		func(s *PICState) { s.Chips[0].Lines ^= 1 << PICCascadeIRQ },
	}
	for i, f := range bad {
		s := p.Snapshot()
		f(&s)
		if err := NewPIC().Restore(s); err == nil {
			t.Errorf("bad state %d restored", i)
		}
	}
}
