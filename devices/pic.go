package devices

import (
	"fmt"

	"ftvm/mmu"
)

var _ mmu.PortDevice = (*PIC)(nil)

// Ports of the 8259A pair and of the edge/level control registers (ELCR).
const (
	PICMasterCmd  = 0x20  // master command (ICW1, OCW2, OCW3) and IRR/ISR/poll read
	PICMasterData = 0x21  // master data (ICW2-4, OCW1 = IMR)
	PICSlaveCmd   = 0xA0  // slave command
	PICSlaveData  = 0xA1  // slave data
	PICELCRMaster = 0x4D0 // edge/level control of IRQ 0-7
	PICELCRSlave  = 0x4D1 // edge/level control of IRQ 8-15
)

// PICCascadeIRQ is the master input the slave's output is wired to.
const PICCascadeIRQ = 2

// ELCR bits that can be set: IRQ 0, 1, 2, 8 and 13 are always edge
// triggered on a PC (as on the PIIX).
const (
	elcrMaskMaster = 0xF8
	elcrMaskSlave  = 0xDE
)

// PICChipState is the state of one 8259A.
type PICChipState struct {
	IRR, ISR, IMR uint8
	// Lines is the level of the eight request inputs, for edge detection.
	// It is the physical input: ICW1 does not clear it.
	Lines uint8
	// ELCR selects level triggering per input (1 = level).
	ELCR uint8
	// PriorityAdd is the input that has the highest priority (rotation).
	PriorityAdd uint8
	// VectorBase is ICW2: the vector of input 0 (low 3 bits clear).
	VectorBase uint8
	// InitState is the next initialization word expected on the data
	// port: 0 none (normal operation), 2 ICW2, 3 ICW3, 4 ICW4.
	InitState uint8
	// ICW4Needed and Single are ICW1 bits 0 and 1.
	ICW4Needed, Single bool
	// ReadISR selects what the command port reads (OCW3 RR/RIS): ISR when
	// set, IRR otherwise.
	ReadISR bool
	// Poll is set by an OCW3 poll command: the next read of the chip is
	// the poll byte.
	Poll bool
	// SpecialMask is OCW3 special mask mode.
	SpecialMask bool
	// AutoEOI, SpecialFullyNested are ICW4 bits 1 and 4.
	AutoEOI, SpecialFullyNested bool
	// RotateOnAutoEOI is set by OCW2 command 4 and cleared by command 0.
	RotateOnAutoEOI bool
}

// PICState is the state of the 8259A pair; Chips[0] is the master.
type PICState struct {
	Chips [2]PICChipState
}

// PIC is the cascaded pair of Intel 8259A programmable interrupt controllers
// of a PC. The slave's INT output drives master input 2. The master's INT
// output is read through Pending and Acknowledge, which the local APIC calls
// for an ExtINT delivery (virtual-wire mode).
//
// Supported: the ICW1-ICW4 initialization sequence (single or cascaded,
// with or without ICW4), OCW1 (IMR), OCW2 (non-specific, specific and
// rotating EOI, set priority, rotate in auto-EOI mode), OCW3 (read IRR or
// ISR, poll, special mask mode), auto-EOI, special fully nested mode,
// per-input edge or level triggering through the ELCR (ports 0x4D0-0x4D1),
// and the spurious IRQ 7 (master) and IRQ 15 (slave) of an INTA cycle that
// finds nothing to deliver. The ICW1 LTIM bit is ignored, as on the PIIX:
// the ELCR selects the trigger mode. Buffered mode and the 8080/85 call
// address interval are accepted and have no effect.
//
// The power-on state has every input masked (IMR 0xFF), vector base 0 and
// no initialization in progress; a guest programs the pair with ICW1-ICW4
// before it unmasks anything (ICW1 clears the IMR). PIC implements
// mmu.PortDevice; the board maps 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1 to
// the same PIC.
type PIC struct {
	s PICState
}

// NewPIC returns a PIC pair in its power-on state.
func NewPIC() *PIC {
	p := &PIC{}
	p.s.Chips[0].IMR = 0xFF
	p.s.Chips[1].IMR = 0xFF
	return p
}

// Snapshot returns the PIC pair's complete state.
func (p *PIC) Snapshot() PICState { return p.s }

// Restore replaces the PIC pair's state with s after checking it.
func (p *PIC) Restore(s PICState) error {
	masks := [2]uint8{elcrMaskMaster, elcrMaskSlave}
	for i := range s.Chips {
		c := &s.Chips[i]
		switch {
		case c.InitState != 0 && (c.InitState < 2 || c.InitState > 4):
			return fmt.Errorf("pic: restore: chip %d: invalid init state %d", i, c.InitState)
		case c.PriorityAdd > 7:
			return fmt.Errorf("pic: restore: chip %d: priority %d out of range", i, c.PriorityAdd)
		case c.VectorBase&7 != 0:
			return fmt.Errorf("pic: restore: chip %d: vector base %#x not a multiple of 8", i, c.VectorBase)
		case c.ELCR&^masks[i] != 0:
			return fmt.Errorf("pic: restore: chip %d: ELCR %#x sets fixed edge-triggered inputs", i, c.ELCR)
		case c.IRR&c.ELCR != c.Lines&c.ELCR:
			return fmt.Errorf("pic: restore: chip %d: IRR %#x of level inputs does not follow the lines %#x", i, c.IRR, c.Lines)
		}
	}
	var q PIC
	q.s = s
	if got, want := s.Chips[0].Lines&(1<<PICCascadeIRQ) != 0, q.output(1); got != want {
		return fmt.Errorf("pic: restore: cascade input %v does not match the slave output %v", got, want)
	}
	p.s = s
	return nil
}

// Line returns ISA interrupt line irq (0-15) of the pair. IRQ 2 is the
// cascade input, driven by the slave: its line, like a line outside 0-15,
// is not connected (on a PC the ISA bus's IRQ 2 pin is wired to IRQ 9).
func (p *PIC) Line(irq int) IRQLine {
	if irq < 0 || irq > 15 || irq == PICCascadeIRQ {
		return nopLine{}
	}
	return inputLine{p.SetIRQ, irq}
}

// SetIRQ drives ISA IRQ irq (0-15, not 2) to level high. An edge-triggered
// input latches its IRR bit on the rising edge; a level-triggered one
// requests while high. Other IRQ numbers are ignored.
func (p *PIC) SetIRQ(irq int, high bool) {
	if irq < 0 || irq > 15 || irq == PICCascadeIRQ {
		return
	}
	p.setInput(irq>>3, uint(irq&7), high)
	p.cascade()
}

// setInput sets input n of chip c to level high.
func (p *PIC) setInput(c int, n uint, high bool) {
	s := &p.s.Chips[c]
	bit := uint8(1) << n
	if high {
		if s.ELCR&bit != 0 || s.Lines&bit == 0 {
			s.IRR |= bit
		}
		s.Lines |= bit
	} else {
		if s.ELCR&bit != 0 {
			s.IRR &^= bit
		}
		s.Lines &^= bit
	}
}

// cascade propagates the slave's INT output to master input 2.
func (p *PIC) cascade() {
	p.setInput(0, PICCascadeIRQ, p.output(1))
}

// priority returns the priority (0 = highest) of the highest-priority bit
// of mask for chip c, or 8 when mask is empty.
func (p *PIC) priority(c int, mask uint8) int {
	if mask == 0 {
		return 8
	}
	add := p.s.Chips[c].PriorityAdd
	pr := 0
	for mask&(1<<((uint8(pr)+add)&7)) == 0 {
		pr++
	}
	return pr
}

// request returns the input chip c would interrupt for, or -1.
func (p *PIC) request(c int) int {
	s := &p.s.Chips[c]
	pr := p.priority(c, s.IRR&^s.IMR)
	if pr == 8 {
		return -1
	}
	inService := s.ISR
	if s.SpecialMask {
		inService &^= s.IMR
	}
	if c == 0 && s.SpecialFullyNested {
		inService &^= 1 << PICCascadeIRQ
	}
	if pr < p.priority(c, inService) {
		return int((uint8(pr) + s.PriorityAdd) & 7)
	}
	return -1
}

// output reports chip c's INT output.
func (p *PIC) output(c int) bool { return p.request(c) >= 0 }

// Pending reports whether the master's INT output is asserted.
func (p *PIC) Pending() bool { return p.output(0) }

// Acknowledge performs an INTA cycle and returns the vector the pair puts
// on the bus: the highest-priority request moves from IRR to ISR (unless
// auto-EOI). With no request the master answers with its IRQ 7 vector
// without setting an ISR bit; when the slave has nothing for a cascade
// request it answers with its IRQ 7 (IRQ 15) vector, the master's ISR bit 2
// being set.
func (p *PIC) Acknowledge() uint8 {
	m := &p.s.Chips[0]
	irq := p.request(0)
	if irq < 0 {
		return m.VectorBase + 7
	}
	var vec uint8
	if irq == PICCascadeIRQ {
		sl := &p.s.Chips[1]
		irq2 := p.request(1)
		if irq2 >= 0 {
			p.intack(1, irq2)
		} else {
			irq2 = 7
		}
		vec = sl.VectorBase + uint8(irq2)
	} else {
		vec = m.VectorBase + uint8(irq)
	}
	p.intack(0, irq)
	p.cascade()
	return vec
}

// intack marks input irq of chip c in service.
func (p *PIC) intack(c int, irq int) {
	s := &p.s.Chips[c]
	bit := uint8(1) << uint(irq)
	if s.AutoEOI {
		if s.RotateOnAutoEOI {
			s.PriorityAdd = uint8(irq+1) & 7
		}
	} else {
		s.ISR |= bit
	}
	if s.ELCR&bit == 0 {
		s.IRR &^= bit
	}
}

// ReadPort implements mmu.PortDevice. The registers are 8 bits wide; a
// wider access is split into byte accesses of consecutive ports, bytes that
// fall outside the PIC's ports reading 0xFF.
func (p *PIC) ReadPort(port uint16, size int) uint32 {
	var v uint32
	for i := 0; i < size && i < 4; i++ {
		v |= uint32(p.readByte(port+uint16(i))) << (8 * i)
	}
	return v
}

// WritePort implements mmu.PortDevice; wide accesses are split as in
// ReadPort.
func (p *PIC) WritePort(port uint16, size int, value uint32) {
	for i := 0; i < size && i < 4; i++ {
		p.writeByte(port+uint16(i), uint8(value>>(8*i)))
	}
}

func (p *PIC) readByte(port uint16) uint8 {
	switch port {
	case PICMasterCmd, PICMasterData:
		return p.readChip(0, port&1)
	case PICSlaveCmd, PICSlaveData:
		return p.readChip(1, port&1)
	case PICELCRMaster:
		return p.s.Chips[0].ELCR
	case PICELCRSlave:
		return p.s.Chips[1].ELCR
	}
	return 0xFF
}

func (p *PIC) readChip(c int, a uint16) uint8 {
	s := &p.s.Chips[c]
	if s.Poll {
		s.Poll = false
		irq := p.request(c)
		if irq < 0 {
			return 0
		}
		// A poll of the master that finds the cascade input answers 2;
		// the guest then polls the slave itself.
		p.intack(c, irq)
		p.cascade()
		return 0x80 | uint8(irq)
	}
	if a == 1 {
		return s.IMR
	}
	if s.ReadISR {
		return s.ISR
	}
	return s.IRR
}

func (p *PIC) writeByte(port uint16, v uint8) {
	switch port {
	case PICMasterCmd, PICMasterData:
		p.writeChip(0, port&1, v)
	case PICSlaveCmd, PICSlaveData:
		p.writeChip(1, port&1, v)
	case PICELCRMaster:
		p.setELCR(0, v&elcrMaskMaster)
	case PICELCRSlave:
		p.setELCR(1, v&elcrMaskSlave)
	}
	p.cascade()
}

func (p *PIC) setELCR(c int, v uint8) {
	s := &p.s.Chips[c]
	s.ELCR = v
	// A level-triggered input requests exactly while its line is high.
	s.IRR = s.IRR&^v | s.Lines&v
}

func (p *PIC) writeChip(c int, a uint16, v uint8) {
	s := &p.s.Chips[c]
	if a == 0 {
		switch {
		case v&0x10 != 0: // ICW1
			elcr, lines := s.ELCR, s.Lines
			*s = PICChipState{ELCR: elcr, Lines: lines}
			// The edge sense circuit is reset: an edge input must
			// rise again; level inputs still request.
			s.IRR = lines & elcr
			s.InitState = 2
			s.ICW4Needed = v&1 != 0
			s.Single = v&2 != 0
		case v&0x08 != 0: // OCW3
			if v&0x04 != 0 {
				s.Poll = true
			}
			if v&0x02 != 0 {
				s.ReadISR = v&1 != 0
			}
			if v&0x40 != 0 {
				s.SpecialMask = v&0x20 != 0
			}
		default: // OCW2
			p.ocw2(c, v)
		}
		return
	}
	switch s.InitState {
	case 0: // OCW1
		s.IMR = v
	case 2: // ICW2
		s.VectorBase = v & 0xF8
		switch {
		case !s.Single:
			s.InitState = 3
		case s.ICW4Needed:
			s.InitState = 4
		default:
			s.InitState = 0
		}
	case 3: // ICW3: the cascade wiring is fixed
		if s.ICW4Needed {
			s.InitState = 4
		} else {
			s.InitState = 0
		}
	case 4: // ICW4
		s.SpecialFullyNested = v&0x10 != 0
		s.AutoEOI = v&0x02 != 0
		s.InitState = 0
	}
}

func (p *PIC) ocw2(c int, v uint8) {
	s := &p.s.Chips[c]
	switch cmd := v >> 5; cmd {
	case 0, 4: // clear / set rotate in auto-EOI mode
		s.RotateOnAutoEOI = cmd == 4
	case 1, 5: // non-specific EOI (5: and rotate)
		pr := p.priority(c, s.ISR)
		if pr == 8 {
			return
		}
		irq := (uint8(pr) + s.PriorityAdd) & 7
		s.ISR &^= 1 << irq
		if cmd == 5 {
			s.PriorityAdd = (irq + 1) & 7
		}
	case 3: // specific EOI
		s.ISR &^= 1 << (v & 7)
	case 6: // set priority: v&7 becomes the lowest
		s.PriorityAdd = (v + 1) & 7
	case 7: // rotate on specific EOI
		irq := v & 7
		s.ISR &^= 1 << irq
		s.PriorityAdd = (irq + 1) & 7
	}
	// 2: no operation
}
