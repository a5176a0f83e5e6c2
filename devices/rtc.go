package devices

import (
	"fmt"
	"time"

	"ftvm/mmu"
)

var _ mmu.PortDevice = (*RTC)(nil)
var _ Timed = (*RTC)(nil)

// RTC ports and interrupt line.
const (
	RTCIndexPort = 0x70
	RTCDataPort  = 0x71
	RTCIRQ       = 8
	RTCCMOSSize  = 128
)

// RTC register indices.
const (
	rtcSeconds      = 0x00
	rtcSecondsAlarm = 0x01
	rtcMinutes      = 0x02
	rtcMinutesAlarm = 0x03
	rtcHours        = 0x04
	rtcHoursAlarm   = 0x05
	rtcDayOfWeek    = 0x06
	rtcDayOfMonth   = 0x07
	rtcMonth        = 0x08
	rtcYear         = 0x09
	rtcRegA         = 0x0A
	rtcRegB         = 0x0B
	rtcRegC         = 0x0C
	rtcRegD         = 0x0D
	rtcCentury      = 0x32
)

// Register A, B, C, D bits.
const (
	regAUIP     = 0x80
	regADivider = 0x70
	regARate    = 0x0F

	regBSet  = 0x80
	regBPIE  = 0x40
	regBAIE  = 0x20
	regBUIE  = 0x10
	regBDM   = 0x04 // binary
	regB24   = 0x02
	regBMask = 0x7F // interrupt enables and modes (without SET)

	regCIRQF = 0x80
	regCPF   = 0x40
	regCAF   = 0x20
	regCUF   = 0x10

	regDVRT = 0x80
)

const (
	nsPerSec = 1_000_000_000
	// rtcUIPNs is how long before an update cycle UIP reads as set: 244
	// microseconds (8 periods of the 32768 Hz time base, as in QEMU).
	rtcUIPNs = 8 * nsPerSec / 32768
	rtcHz    = 32768
	// rtcAlarmDontCare marks an alarm byte that matches any value.
	rtcAlarmDontCare = 0xC0
)

// RTCState is the complete state of the RTC.
type RTCState struct {
	// CMOS holds the 128 bytes of the chip. The time registers (0x00,
	// 0x02, 0x04, 0x06-0x09, 0x32) hold the time as last read or
	// written; while the clock runs, a read recomputes them from guest
	// time. Register C's flags are kept in Flags, register D reads VRT.
	CMOS [RTCCMOSSize]byte
	// Index is the selected register (port 0x70, without the NMI bit).
	Index uint8
	// Offset is the wall-clock time in Unix nanoseconds at guest time 0:
	// while the clock runs, the time is Offset + now.
	Offset int64
	// Last is the guest time up to which update cycles, alarms and
	// periodic ticks have been taken into the flags.
	Last uint64
	// Flags is register C: IRQF, PF, AF, UF.
	Flags uint8
}

// RTC is the Motorola MC146818 real-time clock with its CMOS RAM, as on a
// PC: the time of day and date (binary or BCD, 12 or 24 hours), the
// century byte at 0x32, registers A-D, and the periodic, alarm and
// update-ended interrupts on IRQ 8.
//
// The clock is computed from guest time: wall time is the Unix time given
// at construction plus guest time, in UTC; no update cycle is stepped. The
// update cycle happens at each whole second: UIP reads as set during the 244
// microseconds before it and the registers change at the second. Setting
// SET in register B (or putting the divider in reset through register A)
// freezes the registers so the guest can write them; clearing it starts the
// clock from the written time, keeping the phase of the second (after a
// divider reset, the first update comes half a second later). A time
// register written while the clock runs sets the clock at once. Values the
// calendar cannot hold (month 13, say) are normalised, not refused. The
// periodic interrupt runs on the 32768 Hz time base counted from boot.
//
// Register C reads the flags and clears them, lowering IRQ 8. IRQ 8 is high
// while IRQF is set. RTC implements Timed (the next flag that raises IRQF)
// and mmu.PortDevice; map it at 0x70-0x71. Every port access first brings
// the RTC up to the clock's time. Bit 7 of the index (NMI disable) is
// ignored.
type RTC struct {
	s     RTCState
	clock Clock
	irq   IRQLine
}

// NewRTC returns an RTC whose time at guest time 0 is the Unix time
// baseUnix (seconds), reading guest time from clock and driving irq (which
// may be nil). Registers A, B and D are as a BIOS leaves them: 32768 Hz time
// base, 1024 Hz periodic rate, 24-hour BCD, valid RAM.
func NewRTC(clock Clock, baseUnix int64, irq IRQLine) *RTC {
	r := &RTC{clock: clock, irq: irq}
	r.s.Offset = baseUnix * nsPerSec
	r.s.CMOS[rtcRegA] = 0x26
	r.s.CMOS[rtcRegB] = regB24
	r.s.CMOS[rtcRegD] = regDVRT
	now := r.now()
	r.s.Last = now
	r.refresh(now)
	return r
}

// Snapshot returns the RTC's complete state.
func (r *RTC) Snapshot() RTCState { return r.s }

// Restore replaces the RTC's state with s after checking it, and drives the
// IRQ line to the restored level.
func (r *RTC) Restore(s RTCState) error {
	switch {
	case s.Index >= RTCCMOSSize:
		return fmt.Errorf("rtc: restore: index %#x out of range", s.Index)
	case s.Flags&0x0F != 0:
		return fmt.Errorf("rtc: restore: register C %#x has reserved bits set", s.Flags)
	case s.CMOS[rtcRegA]&regAUIP != 0:
		return fmt.Errorf("rtc: restore: UIP stored in register A")
	case s.CMOS[rtcRegD] != regDVRT:
		return fmt.Errorf("rtc: restore: register D %#x", s.CMOS[rtcRegD])
	case s.CMOS[rtcRegC] != 0:
		return fmt.Errorf("rtc: restore: register C stored in CMOS")
	}
	if want := irqf(s.Flags, s.CMOS[rtcRegB]); (s.Flags&regCIRQF != 0) != want {
		return fmt.Errorf("rtc: restore: IRQF does not match the flags and enables")
	}
	r.s = s
	if r.irq != nil {
		r.irq.SetLevel(s.Flags&regCIRQF != 0)
	}
	return nil
}

// SetCMOS sets CMOS RAM byte index (0x0E-0x7F, except the century byte
// 0x32), as the board does for the memory size bytes. Other indices are
// ignored.
func (r *RTC) SetCMOS(index int, value uint8) {
	if index < 0x0E || index >= RTCCMOSSize || index == rtcCentury {
		return
	}
	r.s.CMOS[index] = value
}

// CMOS returns CMOS byte index as the guest would read it, without side
// effects (register C reads its flags without clearing them).
func (r *RTC) CMOS(index int) uint8 {
	if index < 0 || index >= RTCCMOSSize {
		return 0xFF
	}
	if index == rtcRegC {
		return r.s.Flags
	}
	return r.s.CMOS[index]
}

func (r *RTC) now() uint64 {
	if r.clock == nil {
		return 0
	}
	return r.clock.Now()
}

// irqf reports whether an enabled flag is set.
func irqf(flags, regB uint8) bool {
	return flags&regB&(regCPF|regCAF|regCUF) != 0
}

// running reports whether the time of day advances.
func (r *RTC) running() bool {
	return r.s.CMOS[rtcRegB]&regBSet == 0 && r.s.CMOS[rtcRegA]&regADivider <= 0x20
}

// periodicRunning reports whether the divider chain feeds the periodic
// interrupt.
func (r *RTC) periodicRunning() bool {
	return r.s.CMOS[rtcRegA]&0x60 != 0x60 && r.s.CMOS[rtcRegA]&regARate != 0
}

// periodTicks returns the period of the periodic interrupt in 32768 Hz ticks.
func (r *RTC) periodTicks() uint64 {
	rs := r.s.CMOS[rtcRegA] & regARate
	if rs <= 2 {
		rs += 7
	}
	return 1 << (rs - 1)
}

// wall returns the wall time in Unix nanoseconds at guest time now.
func (r *RTC) wall(now uint64) int64 { return r.s.Offset + int64(now) }

// floorDiv returns floor(a/b) for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// nextUpdate returns the guest time of the first update cycle (a whole
// wall second) after guest time t.
func (r *RTC) nextUpdate(t uint64) uint64 {
	sec := floorDiv(r.wall(t), nsPerSec) + 1
	return uint64(sec*nsPerSec - r.s.Offset)
}

// nextPeriodic returns the guest time of the first periodic tick after t.
func (r *RTC) nextPeriodic(t uint64) uint64 {
	p := r.periodTicks()
	return tickTime((ticksAt(t, rtcHz)/p+1)*p, rtcHz)
}

// NextEvent implements Timed: the time of the next flag that raises IRQF.
func (r *RTC) NextEvent() (uint64, bool) {
	if r.s.Flags&regCIRQF != 0 {
		return 0, false // IRQ 8 stays high until register C is read
	}
	b := r.s.CMOS[rtcRegB]
	var at uint64
	ok := false
	if b&regBPIE != 0 && r.periodicRunning() {
		at, ok = r.nextPeriodic(r.s.Last), true
	}
	if b&(regBUIE|regBAIE) != 0 && r.running() {
		if u := r.nextUpdate(r.s.Last); !ok || u < at {
			at, ok = u, true
		}
	}
	return at, ok
}

// Advance implements Timed: the update cycles, alarms and periodic ticks
// due by now set their flags and raise IRQ 8 if enabled.
func (r *RTC) Advance(now uint64) {
	last := r.s.Last
	if now <= last {
		return
	}
	if r.periodicRunning() {
		p := r.periodTicks()
		if ticksAt(now, rtcHz)/p > ticksAt(last, rtcHz)/p {
			r.s.Flags |= regCPF
		}
	}
	if r.running() {
		first := floorDiv(r.wall(last), nsPerSec) + 1
		lastSec := floorDiv(r.wall(now), nsPerSec)
		if lastSec >= first {
			r.s.Flags |= regCUF
			if r.alarmBetween(first, lastSec) {
				r.s.Flags |= regCAF
			}
		}
	}
	r.s.Last = now
	r.update()
}

// update recomputes IRQF and drives the line.
func (r *RTC) update() {
	old := r.s.Flags&regCIRQF != 0
	level := irqf(r.s.Flags, r.s.CMOS[rtcRegB])
	if level {
		r.s.Flags |= regCIRQF
	} else {
		r.s.Flags &^= regCIRQF
	}
	if level != old && r.irq != nil {
		r.irq.SetLevel(level)
	}
}

// alarmBetween reports whether the alarm matches the time after an update
// cycle at some wall second in [first, last].
func (r *RTC) alarmBetween(first, last int64) bool {
	sa := r.alarm(rtcSecondsAlarm, r.fromReg, 59)
	ma := r.alarm(rtcMinutesAlarm, r.fromReg, 59)
	ha := r.alarm(rtcHoursAlarm, r.decodeHour, 23)
	if sa == -2 || ma == -2 || ha == -2 {
		return false
	}
	if sa < 0 && ma < 0 && ha < 0 {
		return true
	}
	n := last - first + 1
	if n > 86400 {
		n = 86400 // the alarm compares the time of day only
	}
	sod := first - floorDiv(first, 86400)*86400
	for i := int64(0); i < n; i++ {
		s := (sod + i) % 86400
		if (sa < 0 || sa == s%60) && (ma < 0 || ma == s/60%60) && (ha < 0 || ha == s/3600) {
			return true
		}
	}
	return false
}

// alarm decodes alarm byte i with decode: -1 for don't care, -2 for a value
// above limit (one that never matches).
func (r *RTC) alarm(i int, decode func(uint8) int, limit int) int64 {
	v := r.s.CMOS[i]
	if v&rtcAlarmDontCare == rtcAlarmDontCare {
		return -1
	}
	n := decode(v)
	if n > limit {
		return -2
	}
	return int64(n)
}

// toReg encodes n for a time register in the current data mode.
func (r *RTC) toReg(n int) uint8 {
	if r.s.CMOS[rtcRegB]&regBDM != 0 {
		return uint8(n)
	}
	return uint8(n/10<<4 | n%10)
}

// fromReg decodes a time register in the current data mode.
func (r *RTC) fromReg(v uint8) int {
	if r.s.CMOS[rtcRegB]&regBDM != 0 {
		return int(v)
	}
	return int(v>>4)*10 + int(v&0xF)
}

// encodeHour encodes hour 0-23 in the current hour and data mode.
func (r *RTC) encodeHour(h int) uint8 {
	if r.s.CMOS[rtcRegB]&regB24 != 0 {
		return r.toReg(h)
	}
	pm := uint8(0)
	if h >= 12 {
		pm = 0x80
	}
	h %= 12
	if h == 0 {
		h = 12
	}
	return r.toReg(h) | pm
}

// decodeHour decodes an hours register to 0-23 (or more for bad values).
func (r *RTC) decodeHour(v uint8) int {
	if r.s.CMOS[rtcRegB]&regB24 != 0 {
		return r.fromReg(v)
	}
	h := r.fromReg(v & 0x7F)
	if h == 12 {
		h = 0
	}
	if v&0x80 != 0 {
		h += 12
	}
	return h
}

// refresh stores the time at guest time now in the time registers.
func (r *RTC) refresh(now uint64) {
	sec := floorDiv(r.wall(now), nsPerSec)
	t := time.Unix(sec, 0).UTC()
	c := &r.s.CMOS
	c[rtcSeconds] = r.toReg(t.Second())
	c[rtcMinutes] = r.toReg(t.Minute())
	c[rtcHours] = r.encodeHour(t.Hour())
	c[rtcDayOfWeek] = r.toReg(int(t.Weekday()) + 1)
	c[rtcDayOfMonth] = r.toReg(t.Day())
	c[rtcMonth] = r.toReg(int(t.Month()))
	y := t.Year()
	c[rtcYear] = r.toReg(((y % 100) + 100) % 100)
	c[rtcCentury] = r.toReg(((y / 100) + 100) % 100)
}

// registerTime returns the wall time, in Unix seconds, the time registers
// hold.
func (r *RTC) registerTime() int64 {
	c := &r.s.CMOS
	year := r.fromReg(c[rtcCentury])*100 + r.fromReg(c[rtcYear])
	t := time.Date(year, time.Month(r.fromReg(c[rtcMonth])), r.fromReg(c[rtcDayOfMonth]),
		r.decodeHour(c[rtcHours]), r.fromReg(c[rtcMinutes]), r.fromReg(c[rtcSeconds]), 0, time.UTC)
	return t.Unix()
}

// setClock makes the clock read the time registers at guest time now: the
// second's phase is kept, or, when restart is set (the divider leaves
// reset), the first update comes half a second later.
func (r *RTC) setClock(now uint64, restart bool) {
	sec := r.registerTime()
	phase := r.wall(now) - floorDiv(r.wall(now), nsPerSec)*nsPerSec
	if restart {
		phase = nsPerSec / 2
	}
	r.s.Offset = sec*nsPerSec + phase - int64(now)
}

// ReadPort implements mmu.PortDevice. A wider access is split into byte
// accesses of consecutive ports; the index port and bytes beyond the data
// port read 0xFF.
func (r *RTC) ReadPort(port uint16, size int) uint32 {
	now := r.now()
	r.Advance(now)
	var v uint32
	for i := 0; i < size && i < 4; i++ {
		b := uint8(0xFF)
		if port+uint16(i) == RTCDataPort {
			b = r.readReg(now)
		}
		v |= uint32(b) << (8 * i)
	}
	return v
}

// WritePort implements mmu.PortDevice; wide accesses are split as in
// ReadPort.
func (r *RTC) WritePort(port uint16, size int, value uint32) {
	now := r.now()
	r.Advance(now)
	for i := 0; i < size && i < 4; i++ {
		b := uint8(value >> (8 * i))
		switch port + uint16(i) {
		case RTCIndexPort:
			r.s.Index = b & 0x7F
		case RTCDataPort:
			r.writeReg(now, b)
		}
	}
}

func (r *RTC) readReg(now uint64) uint8 {
	i := r.s.Index
	switch i {
	case rtcSeconds, rtcMinutes, rtcHours, rtcDayOfWeek, rtcDayOfMonth, rtcMonth, rtcYear, rtcCentury:
		if r.running() {
			r.refresh(now)
		}
		return r.s.CMOS[i]
	case rtcRegA:
		v := r.s.CMOS[rtcRegA]
		if r.running() && r.nextUpdate(now)-now <= rtcUIPNs {
			v |= regAUIP
		}
		return v
	case rtcRegC:
		v := r.s.Flags
		r.s.Flags = 0
		if v&regCIRQF != 0 && r.irq != nil {
			r.irq.SetLevel(false)
		}
		return v
	}
	return r.s.CMOS[i]
}

func (r *RTC) writeReg(now uint64, v uint8) {
	i := r.s.Index
	c := &r.s.CMOS
	switch i {
	case rtcSeconds, rtcMinutes, rtcHours, rtcDayOfWeek, rtcDayOfMonth, rtcMonth, rtcYear, rtcCentury:
		if r.running() {
			r.refresh(now)
			c[i] = v
			r.setClock(now, false)
			return
		}
		c[i] = v
	case rtcRegA:
		wasRunning := r.running()
		wasReset := c[rtcRegA]&0x60 == 0x60
		if wasRunning {
			r.refresh(now)
		}
		c[rtcRegA] = v &^ regAUIP
		if !wasRunning && r.running() {
			r.setClock(now, wasReset)
		}
	case rtcRegB:
		wasRunning := r.running()
		if wasRunning {
			r.refresh(now)
		}
		if v&regBSet != 0 {
			v &^= regBUIE // setting SET clears UIE
		}
		c[rtcRegB] = v
		if !wasRunning && r.running() {
			r.setClock(now, false)
		}
		r.update()
	case rtcRegC, rtcRegD:
		// Read-only.
	default:
		c[i] = v
	}
}
