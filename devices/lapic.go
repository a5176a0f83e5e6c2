package devices

import (
	"fmt"
	"math/bits"

	"ftvm/mmu"
)

var _ mmu.MMIODevice = (*LAPIC)(nil)
var _ Timed = (*LAPIC)(nil)

// Local APIC placement and constants.
const (
	LAPICBase = 0xFEE00000 // physical address of the xAPIC register page
	LAPICSize = 0x1000

	// LAPICVersion is the version register: version 0x14 (integrated
	// APIC), max LVT entry 5 (timer, thermal, performance, LINT0, LINT1,
	// error), no EOI-broadcast suppression.
	LAPICVersion = 0x00050014

	// LAPICTimerHz is the frequency of the APIC timer's input clock before
	// the divider: 1 GHz, one count per nanosecond of guest time at
	// divide-by-1. (The TSC also runs at 1 GHz.)
	LAPICTimerHz = 1_000_000_000

	// MSRTSCDeadline is IA32_TSC_DEADLINE.
	MSRTSCDeadline = 0x6E0
)

// Register offsets.
const (
	lapicID      = 0x020
	lapicVersion = 0x030
	lapicTPR     = 0x080
	lapicAPR     = 0x090
	lapicPPR     = 0x0A0
	lapicEOI     = 0x0B0
	lapicRRD     = 0x0C0
	lapicLDR     = 0x0D0
	lapicDFR     = 0x0E0
	lapicSVR     = 0x0F0
	lapicISR     = 0x100 // 8 registers, 0x100-0x170
	lapicTMR     = 0x180 // 0x180-0x1F0
	lapicIRR     = 0x200 // 0x200-0x270
	lapicESR     = 0x280
	lapicICRLow  = 0x300
	lapicICRHigh = 0x310
	lapicLVT0    = 0x320 // LVT timer; thermal, perf, LINT0, LINT1, error follow every 0x10
	lapicInitCnt = 0x380
	lapicCurCnt  = 0x390
	lapicDivide  = 0x3E0
)

// Indices of LAPICState.LVT.
const (
	LVTTimer = iota
	LVTThermal
	LVTPerf
	LVTLINT0
	LVTLINT1
	LVTError
	lvtCount
)

// LVT and ICR fields.
const (
	lvtMasked     = 1 << 16
	lvtTimerMode  = 3 << 17
	timerOneShot  = 0
	timerPeriodic = 1 << 17
	timerDeadline = 2 << 17

	dmFixed  = 0
	dmLowest = 1
	dmExtINT = 7
)

// lvtWritable are the writable bits of each LVT entry.
var lvtWritable = [lvtCount]uint32{
	LVTTimer:   0x700FF,
	LVTThermal: 0x107FF,
	LVTPerf:    0x107FF,
	LVTLINT0:   0x1A7FF,
	LVTLINT1:   0x1A7FF,
	LVTError:   0x100FF,
}

// SVR bits.
const (
	svrEnable   = 1 << 8
	svrWritable = 0x1FF
)

// ESR bits.
const (
	esrSendIllegal    = 1 << 5
	esrReceiveIllegal = 1 << 6
	esrIllegalReg     = 1 << 7
	esrWritable       = 0xFF
)

const (
	icrLowWritable = 0x000CCFFF // delivery status (bit 12) reads 0: delivery is instant
	idMask         = 0xFF000000
)

// LAPICState is the complete state of the local APIC.
type LAPICState struct {
	ID, TPR, LDR, DFR, SVR uint32
	IRR, ISR, TMR          [8]uint32
	// ESR is the error status register as last latched by a write;
	// ErrorPending collects errors until the next ESR write.
	ESR, ErrorPending uint32
	ICRLow, ICRHigh   uint32
	LVT               [lvtCount]uint32
	InitialCount      uint32
	DivideConfig      uint32

	// TimerArmed is set while the timer counts toward TimerNext, the
	// guest time of its next expiry (the deadline in TSC-deadline mode).
	TimerArmed bool
	TimerNext  uint64
	// TSCDeadline is IA32_TSC_DEADLINE (0: disarmed).
	TSCDeadline uint64
	// ExtINT is an ExtINT delivery from the I/O APIC waiting for its
	// INTA cycle at the 8259.
	ExtINT bool
}

// LAPIC is the local APIC of the one CPU, in xAPIC mode (the x2APIC is not
// offered). It owns the APIC timer (one-shot, periodic and TSC-deadline;
// input clock LAPICTimerHz), priorities (TPR, PPR), the IRR/ISR/TMR vectors
// and EOI, and the virtual-wire path from the 8259 pair: while LINT0 is an
// unmasked ExtINT entry, a request of the PIC is a pending interrupt whose
// vector comes from the PIC's INTA cycle. Interprocessor interrupts reach
// only this CPU: a fixed (or lowest-priority) IPI addressed to itself is
// delivered, every other IPI (INIT, SIPI, NMI, SMI, or one for another
// APIC) is dropped. LINT1 (NMI) and the thermal and performance LVTs are
// registers only: nothing drives them. The hardware enable bit of the
// IA32_APIC_BASE MSR (owned by the CPU) is not consulted.
//
// Its reset state is the one firmware leaves on a PC: enabled with spurious
// vector 0xFF (SVR 0x1FF), LINT0 ExtINT unmasked, LINT1 NMI, the other LVTs
// masked.
//
// The registers are 32 bits wide at 16-byte strides. A read of 1, 2 or 4
// bytes returns those bytes of the register (an 8-byte read the register
// zero-extended); a write takes effect only when it is at least 4 bytes wide
// at the register's offset; anything else is ignored. The timer is computed
// from the clock: LAPIC implements Timed, and every register access first
// brings it up to the clock's time.
//
// LAPIC implements mmu.MMIODevice, cpu.InterruptSource (Pending,
// Acknowledge) and cpu.MSRDevice (IA32_TSC_DEADLINE only).
type LAPIC struct {
	s      LAPICState
	clock  Clock
	pic    *PIC
	ioapic *IOAPIC
}

// NewLAPIC returns a local APIC in the state firmware leaves it, reading
// guest time from clock, with the 8259 pair pic (which may be nil) on
// LINT0.
func NewLAPIC(clock Clock, pic *PIC) *LAPIC {
	a := &LAPIC{clock: clock, pic: pic}
	a.s.DFR = 0xFFFFFFFF
	a.s.SVR = svrEnable | 0xFF
	for i := range a.s.LVT {
		a.s.LVT[i] = lvtMasked
	}
	a.s.LVT[LVTLINT0] = dmExtINT << 8
	a.s.LVT[LVTLINT1] = 4 << 8 // NMI
	return a
}

// SetIOAPIC attaches the I/O APIC that receives EOIs of level-triggered
// vectors.
func (a *LAPIC) SetIOAPIC(io *IOAPIC) { a.ioapic = io }

// Snapshot returns the local APIC's complete state.
func (a *LAPIC) Snapshot() LAPICState { return a.s }

// Restore replaces the local APIC's state with s after checking it.
func (a *LAPIC) Restore(s LAPICState) error {
	mode := s.LVT[LVTTimer] & lvtTimerMode
	switch {
	case s.ID&^idMask != 0, s.LDR&^idMask != 0:
		return fmt.Errorf("lapic: restore: reserved bits in ID %#x or LDR %#x", s.ID, s.LDR)
	case s.TPR > 0xFF:
		return fmt.Errorf("lapic: restore: TPR %#x out of range", s.TPR)
	case s.DFR|0xF0000000 != 0xFFFFFFFF:
		return fmt.Errorf("lapic: restore: DFR %#x has clear reserved bits", s.DFR)
	case s.SVR&^svrWritable != 0:
		return fmt.Errorf("lapic: restore: SVR %#x has reserved bits set", s.SVR)
	case s.ESR&^esrWritable != 0, s.ErrorPending&^esrWritable != 0:
		return fmt.Errorf("lapic: restore: invalid error status")
	case s.ICRLow&^icrLowWritable != 0, s.ICRHigh&^idMask != 0:
		return fmt.Errorf("lapic: restore: ICR %#x:%#x has reserved bits set", s.ICRHigh, s.ICRLow)
	case s.DivideConfig&^0xB != 0:
		return fmt.Errorf("lapic: restore: divide configuration %#x invalid", s.DivideConfig)
	case s.IRR[0]&0xFFFF != 0, s.ISR[0]&0xFFFF != 0:
		return fmt.Errorf("lapic: restore: vectors 0-15 pending or in service")
	case mode == lvtTimerMode:
		return fmt.Errorf("lapic: restore: reserved timer mode")
	case s.TSCDeadline != 0 && (mode != timerDeadline || !s.TimerArmed || s.TimerNext != s.TSCDeadline):
		return fmt.Errorf("lapic: restore: TSC deadline %d inconsistent with the timer", s.TSCDeadline)
	case s.TimerArmed && mode == timerDeadline && s.TSCDeadline == 0:
		return fmt.Errorf("lapic: restore: deadline timer armed without a deadline")
	case s.TimerArmed && mode != timerDeadline && s.InitialCount == 0:
		return fmt.Errorf("lapic: restore: timer armed with initial count 0")
	}
	for i, v := range s.LVT {
		if v&^lvtWritable[i] != 0 {
			return fmt.Errorf("lapic: restore: LVT %d value %#x has reserved bits set", i, v)
		}
		if s.SVR&svrEnable == 0 && v&lvtMasked == 0 {
			return fmt.Errorf("lapic: restore: LVT %d unmasked while the APIC is disabled", i)
		}
	}
	a.s = s
	return nil
}

func (a *LAPIC) now() uint64 {
	if a.clock == nil {
		return 0
	}
	return a.clock.Now()
}

// vectorBit returns the register index and bit of vector v.
func vectorBit(v uint8) (int, uint32) { return int(v >> 5), 1 << (v & 31) }

// highest returns the highest vector set in r, or -1.
func highest(r *[8]uint32) int {
	for i := 7; i >= 0; i-- {
		if r[i] != 0 {
			return i*32 + 31 - bits.LeadingZeros32(r[i])
		}
	}
	return -1
}

// ppr returns the processor priority.
func (a *LAPIC) ppr() uint32 {
	isrv := highest(&a.s.ISR)
	if isrv < 0 {
		isrv = 0
	}
	if a.s.TPR>>4 >= uint32(isrv)>>4 {
		return a.s.TPR
	}
	return uint32(isrv) & 0xF0
}

// apr returns the arbitration priority.
func (a *LAPIC) apr() uint32 {
	v := max(highest(&a.s.ISR), highest(&a.s.IRR), 0)
	if a.s.TPR>>4 >= uint32(v)>>4 {
		return a.s.TPR
	}
	return uint32(v) & 0xF0
}

func (a *LAPIC) enabled() bool { return a.s.SVR&svrEnable != 0 }

// fixedPending returns the vector of the fixed interrupt the APIC would
// dispatch, or -1.
func (a *LAPIC) fixedPending() int {
	if !a.enabled() {
		return -1
	}
	v := highest(&a.s.IRR)
	if v < 0 || uint32(v)&0xF0 <= a.ppr()&0xF0 {
		return -1
	}
	return v
}

// extINTPending reports whether the 8259 has a request that reaches the
// CPU through LINT0 in virtual-wire mode or an I/O APIC ExtINT entry.
func (a *LAPIC) extINTPending() bool {
	if a.pic == nil {
		return false
	}
	lint0 := a.s.LVT[LVTLINT0]
	wire := lint0&lvtMasked == 0 && (lint0>>8)&7 == dmExtINT
	return (wire || a.s.ExtINT) && a.pic.Pending()
}

// Pending implements cpu.InterruptSource: a fixed interrupt in IRR whose
// priority class beats PPR, or an ExtINT request of the 8259.
func (a *LAPIC) Pending() bool {
	return a.fixedPending() >= 0 || a.extINTPending()
}

// Acknowledge implements cpu.InterruptSource. A fixed interrupt moves from
// IRR to ISR and its vector is returned; otherwise an ExtINT request is
// acknowledged at the 8259, which supplies the vector; with nothing to
// deliver the spurious vector is returned.
func (a *LAPIC) Acknowledge() uint8 {
	if v := a.fixedPending(); v >= 0 {
		i, b := vectorBit(uint8(v))
		a.s.IRR[i] &^= b
		a.s.ISR[i] |= b
		return uint8(v)
	}
	if a.extINTPending() {
		a.s.ExtINT = false
		return a.pic.Acknowledge()
	}
	return uint8(a.s.SVR)
}

// Deliver accepts a fixed interrupt with vector from the I/O APIC (level:
// level-triggered, so its EOI is broadcast back). Vectors 0-15 are illegal:
// they are dropped and recorded in the error status.
func (a *LAPIC) Deliver(vector uint8, level bool) {
	a.accept(vector, level)
}

// deliverExtINT accepts an ExtINT delivery from the I/O APIC.
func (a *LAPIC) deliverExtINT() { a.s.ExtINT = true }

func (a *LAPIC) accept(vector uint8, level bool) {
	if vector < 16 {
		a.error(esrReceiveIllegal)
		return
	}
	i, b := vectorBit(vector)
	a.s.IRR[i] |= b
	if level {
		a.s.TMR[i] |= b
	} else {
		a.s.TMR[i] &^= b
	}
}

// error records an APIC error and raises the error interrupt.
func (a *LAPIC) error(bit uint32) {
	a.s.ErrorPending |= bit
	lvt := a.s.LVT[LVTError]
	if lvt&lvtMasked == 0 && uint8(lvt) >= 16 {
		a.accept(uint8(lvt), false)
	}
}

// eoi retires the highest-priority interrupt in service.
func (a *LAPIC) eoi() {
	v := highest(&a.s.ISR)
	if v < 0 {
		return
	}
	i, b := vectorBit(uint8(v))
	a.s.ISR[i] &^= b
	if a.s.TMR[i]&b != 0 && a.ioapic != nil {
		a.ioapic.EOI(uint8(v))
	}
}

// divisor returns the timer's divider.
func (a *LAPIC) divisor() uint64 {
	d := a.s.DivideConfig
	n := (d & 3) | (d&8)>>1
	return 1 << ((n + 1) & 7)
}

func (a *LAPIC) timerMode() uint32 { return a.s.LVT[LVTTimer] & lvtTimerMode }

// currentCount returns the current-count register at guest time now.
func (a *LAPIC) currentCount(now uint64) uint32 {
	if !a.s.TimerArmed || a.timerMode() == timerDeadline || now >= a.s.TimerNext {
		return 0
	}
	div := a.divisor()
	return uint32((a.s.TimerNext - now + div - 1) / div)
}

// NextEvent implements Timed: the timer's next expiry.
func (a *LAPIC) NextEvent() (uint64, bool) {
	return a.s.TimerNext, a.s.TimerArmed
}

// Advance implements Timed: a timer expiry due by now fires (expiries a
// periodic timer missed are merged into one interrupt).
func (a *LAPIC) Advance(now uint64) {
	if !a.s.TimerArmed || now < a.s.TimerNext {
		return
	}
	lvt := a.s.LVT[LVTTimer]
	if lvt&lvtMasked == 0 {
		a.accept(uint8(lvt), false)
	}
	switch a.timerMode() {
	case timerPeriodic:
		period := uint64(a.s.InitialCount) * a.divisor()
		a.s.TimerNext += ((now-a.s.TimerNext)/period + 1) * period
	case timerDeadline:
		a.s.TimerArmed = false
		a.s.TSCDeadline = 0
	default:
		a.s.TimerArmed = false
	}
}

// ReadMSR implements cpu.MSRDevice for IA32_TSC_DEADLINE, which reads 0
// outside TSC-deadline mode and after the deadline has passed.
func (a *LAPIC) ReadMSR(n uint32) (uint64, bool) {
	if n != MSRTSCDeadline {
		return 0, false
	}
	a.Advance(a.now())
	if a.timerMode() != timerDeadline {
		return 0, true
	}
	return a.s.TSCDeadline, true
}

// WriteMSR implements cpu.MSRDevice for IA32_TSC_DEADLINE. In TSC-deadline
// mode a write arms the timer to fire when the TSC (guest nanoseconds)
// reaches the value, at once if it already has; 0 disarms it. Outside that
// mode writes are ignored.
func (a *LAPIC) WriteMSR(n uint32, v uint64) bool {
	if n != MSRTSCDeadline {
		return false
	}
	now := a.now()
	a.Advance(now)
	if a.timerMode() != timerDeadline {
		return true
	}
	a.s.TSCDeadline = v
	a.s.TimerArmed = v != 0
	a.s.TimerNext = v
	a.Advance(now)
	return true
}

// ReadMMIO implements mmu.MMIODevice.
func (a *LAPIC) ReadMMIO(offset uint64, size int) uint64 {
	offset &= LAPICSize - 1
	sub := offset & 0xF
	if sub >= 4 {
		return 0
	}
	a.Advance(a.now())
	v := uint64(a.readReg(uint32(offset&^0xF))) >> (8 * sub)
	if size < 8 {
		v &= uint64(byteMask(size))
	}
	return v
}

// WriteMMIO implements mmu.MMIODevice.
func (a *LAPIC) WriteMMIO(offset uint64, size int, value uint64) {
	offset &= LAPICSize - 1
	if offset&0xF != 0 || size < 4 {
		return
	}
	a.Advance(a.now())
	a.writeReg(uint32(offset), uint32(value))
}

func (a *LAPIC) readReg(reg uint32) uint32 {
	s := &a.s
	switch {
	case reg == lapicID:
		return s.ID
	case reg == lapicVersion:
		return LAPICVersion
	case reg == lapicTPR:
		return s.TPR
	case reg == lapicAPR:
		return a.apr()
	case reg == lapicPPR:
		return a.ppr()
	case reg == lapicEOI, reg == lapicRRD:
		return 0
	case reg == lapicLDR:
		return s.LDR
	case reg == lapicDFR:
		return s.DFR
	case reg == lapicSVR:
		return s.SVR
	case reg >= lapicISR && reg < lapicISR+0x80:
		return s.ISR[(reg-lapicISR)>>4]
	case reg >= lapicTMR && reg < lapicTMR+0x80:
		return s.TMR[(reg-lapicTMR)>>4]
	case reg >= lapicIRR && reg < lapicIRR+0x80:
		return s.IRR[(reg-lapicIRR)>>4]
	case reg == lapicESR:
		return s.ESR
	case reg == lapicICRLow:
		return s.ICRLow
	case reg == lapicICRHigh:
		return s.ICRHigh
	case reg >= lapicLVT0 && reg < lapicLVT0+lvtCount*0x10:
		return s.LVT[(reg-lapicLVT0)>>4]
	case reg == lapicInitCnt:
		return s.InitialCount
	case reg == lapicCurCnt:
		return a.currentCount(a.now())
	case reg == lapicDivide:
		return s.DivideConfig
	}
	a.error(esrIllegalReg)
	return 0
}

func (a *LAPIC) writeReg(reg uint32, v uint32) {
	s := &a.s
	switch {
	case reg == lapicID:
		s.ID = v & idMask
	case reg == lapicTPR:
		s.TPR = v & 0xFF
	case reg == lapicEOI:
		a.eoi()
	case reg == lapicLDR:
		s.LDR = v & idMask
	case reg == lapicDFR:
		s.DFR = v | 0x0FFFFFFF
	case reg == lapicSVR:
		s.SVR = v & svrWritable
		if !a.enabled() {
			for i := range s.LVT {
				s.LVT[i] |= lvtMasked
			}
		}
	case reg == lapicESR:
		s.ESR = s.ErrorPending
		s.ErrorPending = 0
	case reg == lapicICRLow:
		s.ICRLow = v & icrLowWritable
		a.sendIPI()
	case reg == lapicICRHigh:
		s.ICRHigh = v & idMask
	case reg >= lapicLVT0 && reg < lapicLVT0+lvtCount*0x10:
		a.writeLVT(int((reg-lapicLVT0)>>4), v)
	case reg == lapicInitCnt:
		if a.timerMode() == timerDeadline {
			return
		}
		s.InitialCount = v
		s.TimerArmed = v != 0
		s.TimerNext = a.now() + uint64(v)*a.divisor()
	case reg == lapicDivide:
		now := a.now()
		c := a.currentCount(now)
		s.DivideConfig = v & 0xB
		if c != 0 {
			// Keep the count; it goes on at the new rate.
			s.TimerNext = now + uint64(c)*a.divisor()
		}
	case reg == lapicVersion, reg == lapicAPR, reg == lapicPPR, reg == lapicRRD,
		reg >= lapicISR && reg < lapicIRR+0x80, reg == lapicCurCnt:
		// Read-only.
	default:
		a.error(esrIllegalReg)
	}
}

func (a *LAPIC) writeLVT(i int, v uint32) {
	s := &a.s
	v &= lvtWritable[i]
	if !a.enabled() {
		v |= lvtMasked
	}
	if i == LVTTimer {
		if v&lvtTimerMode == lvtTimerMode {
			v &^= lvtTimerMode // reserved mode: taken as one-shot
		}
		old := a.timerMode()
		if (old == timerDeadline) != (v&lvtTimerMode == timerDeadline) {
			// Entering or leaving TSC-deadline mode disarms the timer.
			s.TimerArmed = false
			s.TSCDeadline = 0
			s.InitialCount = 0
		}
	}
	s.LVT[i] = v
}

// sendIPI carries out a write of ICR low. Only interrupts that reach this
// CPU are delivered.
func (a *LAPIC) sendIPI() {
	s := &a.s
	lo := s.ICRLow
	mode := (lo >> 8) & 7
	if mode != dmFixed && mode != dmLowest {
		return
	}
	var self bool
	switch lo >> 18 & 3 {
	case 0:
		self = a.addressed(uint8(s.ICRHigh>>24), lo&(1<<11) != 0)
	case 1, 2: // self, all including self
		self = true
	}
	vector := uint8(lo)
	if vector < 16 {
		a.error(esrSendIllegal)
		return
	}
	if self {
		a.accept(vector, false)
	}
}

// addressed reports whether destination dest (logical when logical is set)
// names this APIC.
func (a *LAPIC) addressed(dest uint8, logical bool) bool {
	if !logical {
		return dest == 0xFF || dest == uint8(a.s.ID>>24)
	}
	ldr := uint8(a.s.LDR >> 24)
	if a.s.DFR>>28 == 0xF { // flat model
		return dest&ldr != 0
	}
	// Cluster model: high nibble the cluster, low nibble the members.
	cluster := dest >> 4
	return (cluster == 0xF || cluster == ldr>>4) && dest&ldr&0xF != 0
}
