package devices

import (
	"fmt"

	"ftvm/mmu"
)

var _ mmu.MMIODevice = (*IOAPIC)(nil)

// I/O APIC placement and constants.
const (
	IOAPICBase = 0xFEC00000
	IOAPICSize = 0x1000
	IOAPICPins = 24

	// IOAPICVersion is the version register: 24 redirection entries
	// (maximum entry 23), version 0x20 (with the EOI register).
	IOAPICVersion = 0x00170020
)

// Direct register offsets and indirect register indices.
const (
	ioapicRegSel = 0x00
	ioapicWindow = 0x10
	ioapicEOIReg = 0x40

	ioapicID      = 0x00
	ioapicVer     = 0x01
	ioapicArb     = 0x02
	ioapicRedtbl  = 0x10
	ioapicRedLast = ioapicRedtbl + 2*IOAPICPins - 1
)

// Redirection entry fields.
const (
	redirDeliveryMode = 7 << 8
	redirRemoteIRR    = 1 << 14
	redirLevel        = 1 << 15
	redirMasked       = 1 << 16
	// redirWritable: vector, delivery mode, destination mode, polarity,
	// trigger mode, mask and destination. Delivery status (bit 12) reads
	// 0 (delivery is instant) and remote IRR (bit 14) is read-only.
	redirWritable = 0xFF00000000000000 | 0x1AFFF
)

// IOAPICState is the complete state of the I/O APIC.
type IOAPICState struct {
	ID     uint32 // ID register (bits 24-27)
	RegSel uint8  // IOREGSEL
	Redir  [IOAPICPins]uint64
	// Lines is the level of each input pin. A level-triggered pin requests
	// while its line is asserted.
	Lines uint32
}

// IOAPIC is the 82093AA-style I/O APIC with 24 pins. There is one CPU, so
// every destination, physical or logical, reaches the one local APIC.
// Fixed and lowest-priority entries deliver their vector; an ExtINT entry
// asks the local APIC to take the vector from the 8259 pair; NMI, SMI and
// INIT deliveries are dropped (nothing carries them to the CPU).
//
// Pin levels are logical: SetLevel(true) asserts the pin whatever its
// polarity bit says. An edge-triggered pin delivers on the rising edge; an
// edge that arrives while the pin is masked is lost, as the 82093AA data
// sheet says (QEMU holds it). A level-triggered pin delivers while asserted and its remote
// IRR is clear, setting remote IRR; the local APIC's EOI of the vector (or
// a write of the vector to the EOI register) clears remote IRR and delivers
// again if the pin is still asserted.
//
// Its reset state has every entry masked. IOREGSEL, IOWIN and EOI are 32-bit
// registers; narrower accesses reach the low bytes, wider ones are taken as
// 4 bytes. IOAPIC implements mmu.MMIODevice.
type IOAPIC struct {
	s     IOAPICState
	lapic *LAPIC
}

// NewIOAPIC returns an I/O APIC in its reset state, delivering to lapic
// (nil drops every interrupt). Call lapic.SetIOAPIC to route EOIs back.
func NewIOAPIC(lapic *LAPIC) *IOAPIC {
	io := &IOAPIC{lapic: lapic}
	for i := range io.s.Redir {
		io.s.Redir[i] = redirMasked
	}
	return io
}

// Snapshot returns the I/O APIC's complete state.
func (io *IOAPIC) Snapshot() IOAPICState { return io.s }

// Restore replaces the I/O APIC's state with s after checking it.
func (io *IOAPIC) Restore(s IOAPICState) error {
	const pins = 1<<IOAPICPins - 1
	switch {
	case s.ID&^0x0F000000 != 0:
		return fmt.Errorf("ioapic: restore: ID %#x has reserved bits set", s.ID)
	case s.Lines&^pins != 0:
		return fmt.Errorf("ioapic: restore: lines beyond pin %d", IOAPICPins-1)
	}
	for i, r := range s.Redir {
		switch {
		case r&^(redirWritable|redirRemoteIRR) != 0:
			return fmt.Errorf("ioapic: restore: entry %d %#x has reserved bits set", i, r)
		case r&redirLevel == 0 && r&redirRemoteIRR != 0:
			return fmt.Errorf("ioapic: restore: entry %d: remote IRR on an edge-triggered pin", i)
		}
	}
	io.s = s
	return nil
}

// Line returns input pin (0-23); a line for another pin is not connected.
func (io *IOAPIC) Line(pin int) IRQLine {
	if pin < 0 || pin >= IOAPICPins {
		return nopLine{}
	}
	return inputLine{io.SetPin, pin}
}

// SetPin drives input pin to level high (asserted). Pins outside 0-23 are
// ignored.
func (io *IOAPIC) SetPin(pin int, high bool) {
	if pin < 0 || pin >= IOAPICPins {
		return
	}
	s := &io.s
	bit := uint32(1) << pin
	rising := high && s.Lines&bit == 0
	if high {
		s.Lines |= bit
	} else {
		s.Lines &^= bit
	}
	if s.Redir[pin]&redirLevel != 0 {
		io.service(pin)
	} else if rising {
		io.deliver(pin)
	}
}

// service delivers the request of level-triggered pin if it is asserted,
// unmasked and not already in service (remote IRR).
func (io *IOAPIC) service(pin int) {
	r := io.s.Redir[pin]
	if r&redirLevel == 0 || io.s.Lines&(1<<pin) == 0 || r&redirRemoteIRR != 0 {
		return
	}
	io.deliver(pin)
}

// deliver sends pin's interrupt to the local APIC unless the pin is masked.
func (io *IOAPIC) deliver(pin int) {
	r := io.s.Redir[pin]
	if r&redirMasked != 0 {
		return
	}
	level := r&redirLevel != 0
	if level {
		io.s.Redir[pin] |= redirRemoteIRR
	}
	if io.lapic == nil {
		return
	}
	switch (r & redirDeliveryMode) >> 8 {
	case dmFixed, dmLowest:
		io.lapic.Deliver(uint8(r), level)
	case dmExtINT:
		io.lapic.deliverExtINT()
	}
}

// EOI is the end of interrupt of vector broadcast by the local APIC for a
// level-triggered vector: every level-triggered entry with that vector
// clears its remote IRR and delivers again if its pin is still asserted.
func (io *IOAPIC) EOI(vector uint8) {
	for pin := range io.s.Redir {
		r := io.s.Redir[pin]
		if uint8(r) == vector && r&redirLevel != 0 && r&redirRemoteIRR != 0 {
			io.s.Redir[pin] &^= redirRemoteIRR
			io.service(pin)
		}
	}
}

// ReadMMIO implements mmu.MMIODevice.
func (io *IOAPIC) ReadMMIO(offset uint64, size int) uint64 {
	offset &= IOAPICSize - 1
	var v uint32
	switch offset &^ 3 {
	case ioapicRegSel:
		v = uint32(io.s.RegSel)
	case ioapicWindow:
		v = io.readReg(io.s.RegSel)
	default:
		return 0
	}
	v >>= 8 * (offset & 3)
	if size < 4 {
		v &= byteMask(size)
	}
	return uint64(v)
}

// WriteMMIO implements mmu.MMIODevice.
func (io *IOAPIC) WriteMMIO(offset uint64, size int, value uint64) {
	offset &= IOAPICSize - 1
	if offset&3 != 0 {
		return
	}
	v := uint32(value)
	switch offset {
	case ioapicRegSel:
		io.s.RegSel = uint8(v)
	case ioapicWindow:
		if size < 4 {
			// A narrow write changes the low bytes of the register.
			m := byteMask(size)
			v = io.readReg(io.s.RegSel)&^m | v&m
		}
		io.writeReg(io.s.RegSel, v)
	case ioapicEOIReg:
		io.EOI(uint8(v))
	}
}

func (io *IOAPIC) readReg(sel uint8) uint32 {
	switch {
	case sel == ioapicID, sel == ioapicArb:
		return io.s.ID
	case sel == ioapicVer:
		return IOAPICVersion
	case sel >= ioapicRedtbl && sel <= ioapicRedLast:
		r := io.s.Redir[(sel-ioapicRedtbl)/2]
		if sel&1 != 0 {
			return uint32(r >> 32)
		}
		return uint32(r)
	}
	return 0
}

func (io *IOAPIC) writeReg(sel uint8, v uint32) {
	switch {
	case sel == ioapicID:
		io.s.ID = v & 0x0F000000
	case sel >= ioapicRedtbl && sel <= ioapicRedLast:
		pin := int(sel-ioapicRedtbl) / 2
		r := io.s.Redir[pin]
		if sel&1 != 0 {
			r = r&0xFFFFFFFF | uint64(v)<<32
		} else {
			r = r&^0xFFFFFFFF | uint64(v)
		}
		r = r&redirWritable | io.s.Redir[pin]&redirRemoteIRR
		if r&redirLevel == 0 {
			r &^= redirRemoteIRR
		}
		io.s.Redir[pin] = r
		io.service(pin)
	}
}
