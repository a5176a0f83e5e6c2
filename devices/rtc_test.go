package devices

import (
	"slices"
	"testing"
	"time"

	"ftvm/mmu"
)

// rtcBase is Thursday 2024-02-29 23:59:58 UTC.
var rtcBase = time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC).Unix()

type rtcRig struct {
	t     *testing.T
	clock *icClock
	mem   *mmu.Memory
	rtc   *RTC
	line  *icLine
}

func newRTCRig(t *testing.T, base int64, start uint64) *rtcRig {
	t.Helper()
	c := &icClock{t: start}
	r := &rtcRig{t: t, clock: c, line: &icLine{clock: c}}
	r.rtc = NewRTC(c, base, r.line)
	r.mem = portMemory(t, r.rtc, [2]uint16{RTCIndexPort, RTCDataPort})
	return r
}

func (r *rtcRig) read(i uint8) uint8 {
	r.mem.Out(RTCIndexPort, 1, uint32(i))
	return uint8(r.mem.In(RTCDataPort, 1))
}

func (r *rtcRig) write(i, v uint8) {
	r.mem.Out(RTCIndexPort, 1, uint32(i))
	r.mem.Out(RTCDataPort, 1, uint32(v))
}

func (r *rtcRig) expect(i, want uint8) {
	r.t.Helper()
	if got := r.read(i); got != want {
		r.t.Errorf("t=%d: CMOS[%#x] = %#x, want %#x", r.clock.t, i, got, want)
	}
}

func (r *rtcRig) at(t uint64) { icRun(r.clock, t, nil, r.rtc) }

func TestRTCTime(t *testing.T) {
	regs := []uint8{rtcSeconds, rtcMinutes, rtcHours, rtcDayOfWeek, rtcDayOfMonth, rtcMonth, rtcYear, rtcCentury}
	tests := []struct {
		name string
		b    uint8
		at   uint64
		want []uint8 // in the order of regs
	}{
		{"BCD 24h", 0x02, 0, []uint8{0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20}},
		{"binary 24h", 0x06, 0, []uint8{58, 59, 23, 5, 29, 2, 24, 20}},
		{"BCD 12h", 0x00, 0, []uint8{0x58, 0x59, 0x91, 5, 0x29, 0x02, 0x24, 0x20}},
		{"binary 12h", 0x04, 0, []uint8{58, 59, 0x8B, 5, 29, 2, 24, 20}},
		{"one second later", 0x02, 1_999_999_999, []uint8{0x59, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20}},
		{"rollover to March", 0x02, 2_000_000_000, []uint8{0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20}},
		{"midnight in 12h", 0x00, 2_500_000_000, []uint8{0x00, 0x00, 0x12, 6, 0x01, 0x03, 0x24, 0x20}},
		{"noon in 12h", 0x04, 2_000_000_000 + 12*3600e9, []uint8{0, 0, 0x8C, 6, 1, 3, 24, 20}},
		{"afternoon in 12h", 0x00, 2_000_000_000 + 13*3600e9 + 61e9, []uint8{0x01, 0x01, 0x81, 6, 0x01, 0x03, 0x24, 0x20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRTCRig(t, rtcBase, 0)
			r.write(rtcRegB, tt.b)
			r.clock.t = tt.at
			for i, reg := range regs {
				r.expect(reg, tt.want[i])
			}
		})
	}
	r := newRTCRig(t, 946684799, 0) // 1999-12-31 23:59:59
	r.at(1e9)
	r.expect(rtcYear, 0x00)
	r.expect(rtcCentury, 0x20)
	r.expect(rtcDayOfWeek, 7) // Saturday
}

func TestRTCRegisters(t *testing.T) {
	r := newRTCRig(t, rtcBase, 0)
	r.expect(rtcRegA, 0x26)
	r.expect(rtcRegB, 0x02)
	r.expect(rtcRegC, 0x00)
	r.expect(rtcRegD, 0x80)
	r.write(rtcRegC, 0xFF)
	r.write(rtcRegD, 0x00)
	r.expect(rtcRegC, 0x00)
	r.expect(rtcRegD, 0x80)
	// UIP: set during the 244 microseconds before each update.
	r.clock.t = 1e9 - rtcUIPNs - 1
	r.expect(rtcRegA, 0x26)
	r.clock.t = 1e9 - rtcUIPNs
	r.expect(rtcRegA, 0xA6)
	r.expect(rtcSeconds, 0x58) // not updated yet
	r.clock.t = 1e9
	r.expect(rtcRegA, 0x26)
	r.expect(rtcSeconds, 0x59)
	r.write(rtcRegA, 0xA5) // UIP is read-only
	r.expect(rtcRegA, 0x25)

	// CMOS RAM; the NMI bit of the index is ignored.
	r.rtc.SetCMOS(0x34, 0x12)
	r.rtc.SetCMOS(rtcRegC, 0x55)
	r.rtc.SetCMOS(0x80, 0x55)
	r.rtc.SetCMOS(-1, 0x55)
	r.expect(0x80|0x34, 0x12)
	r.write(0x7F, 0xAB)
	r.expect(0x7F, 0xAB)
	if got := r.rtc.CMOS(0x7F); got != 0xAB {
		t.Errorf("CMOS(0x7F) = %#x", got)
	}
	r.expect(rtcRegC, 0x50) // periodic and update flags, without enables
	r.expect(rtcRegC, 0x00)
	if got := r.mem.In(RTCIndexPort, 1); got != 0xFF {
		t.Errorf("index port reads %#x", got)
	}
	if got := r.mem.In(RTCIndexPort, 2); got != 0x00FF {
		t.Errorf("inw 0x70 = %#x, want 0x00FF (index port, then register C with no flags)", got)
	}
}

func TestRTCInterrupts(t *testing.T) {
	type event struct {
		at uint64 // guest time of a rising edge of IRQ 8
		c  uint8  // register C read right after
	}
	tests := []struct {
		name   string
		setup  [][2]uint8 // register writes at time 0
		until  uint64
		events []event
		final  uint8 // register C read at until
	}{
		{"update-ended", [][2]uint8{{rtcRegA, 0x20}, {rtcRegB, 0x12}}, 3e9 + 1,
			// AF too at midnight: the alarm registers reset to 00:00:00.
			[]event{{1e9, 0x90}, {2e9, 0xB0}, {3e9, 0x90}}, 0},
		{"periodic 1024 Hz", [][2]uint8{{rtcRegB, 0x42}}, 3e6,
			[]event{{976563, 0xC0}, {1953125, 0xC0}, {2929688, 0xC0}}, 0},
		{"periodic 2 Hz", [][2]uint8{{rtcRegA, 0x2F}, {rtcRegB, 0x42}}, 1e9 + 1,
			[]event{{5e8, 0xC0}, {1e9, 0xD0}}, 0},
		{"periodic 8192 Hz", [][2]uint8{{rtcRegA, 0x23}, {rtcRegB, 0x42}}, 250000,
			[]event{{122071, 0xC0}, {244141, 0xC0}}, 0},
		{"periodic rate 0 is off", [][2]uint8{{rtcRegA, 0x20}, {rtcRegB, 0x42}}, 1e8, nil, 0},
		{"periodic divider in reset is off", [][2]uint8{{rtcRegA, 0x66}, {rtcRegB, 0x42}}, 1e8, nil, 0},
		{"flags without enables", [][2]uint8{{rtcRegB, 0x02}}, 1e9, nil, 0x50},
		{"alarm at midnight", [][2]uint8{{rtcRegA, 0x20}, {rtcSecondsAlarm, 0}, {rtcMinutesAlarm, 0}, {rtcHoursAlarm, 0}, {rtcRegB, 0x22}},
			5e9, []event{{2e9, 0xB0}}, 0x10},
		{"alarm in binary 12h", [][2]uint8{{rtcRegA, 0x20}, {rtcRegB, 0x04}, {rtcSecondsAlarm, 1}, {rtcMinutesAlarm, 0}, {rtcHoursAlarm, 12}, {rtcRegB, 0x24}},
			5e9, []event{{3e9, 0xB0}}, 0x10},
		{"alarm with don't-care bytes", [][2]uint8{{rtcRegA, 0x20}, {rtcSecondsAlarm, 0xC0}, {rtcMinutesAlarm, 0xFF}, {rtcHoursAlarm, 0xC5}, {rtcRegB, 0x22}},
			2e9, []event{{1e9, 0xB0}, {2e9, 0xB0}}, 0},
		{"alarm that cannot match", [][2]uint8{{rtcRegA, 0x20}, {rtcSecondsAlarm, 0x60}, {rtcMinutesAlarm, 0xC0}, {rtcHoursAlarm, 0xC0}, {rtcRegB, 0x22}},
			5e9, nil, 0x10},
		{"alarm seen after a long idle", [][2]uint8{{rtcRegA, 0x20}, {rtcSecondsAlarm, 0x30}, {rtcMinutesAlarm, 0x00}, {rtcHoursAlarm, 0x00}},
			3 * 86400e9, nil, 0x30},
		{"SET clears UIE", [][2]uint8{{rtcRegA, 0x20}, {rtcRegB, 0x92}}, 3e9, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRTCRig(t, rtcBase, 0)
			r.write(rtcRegC, 0)
			for _, w := range tt.setup {
				r.write(w[0], w[1])
			}
			r.read(rtcRegC)
			var got []event
			icRun(r.clock, tt.until, func() {
				if r.line.level {
					got = append(got, event{r.clock.t, r.read(rtcRegC)})
					if r.line.level {
						t.Errorf("t=%d: IRQ 8 still high after reading register C", r.clock.t)
					}
				}
			}, r.rtc)
			if !slices.Equal(got, tt.events) {
				t.Errorf("interrupts %v, want %v", got, tt.events)
			}
			r.expect(rtcRegC, tt.final)
		})
	}
}

func TestRTCInterruptLine(t *testing.T) {
	r := newRTCRig(t, rtcBase, 0)
	r.write(rtcRegA, 0x20)
	r.write(rtcRegB, 0x12)
	r.at(3e9)
	// Not acknowledged: one edge, the line stays high, no more events.
	if r.line.rises != 1 || !r.line.level {
		t.Errorf("rises %d level %v, want one rise and high", r.line.rises, r.line.level)
	}
	if _, ok := r.rtc.NextEvent(); ok {
		t.Error("event scheduled while IRQF is set")
	}
	r.expect(rtcRegC, 0xB0) // UF, and AF of the 00:00:00 alarm
	if r.line.level {
		t.Error("IRQ 8 high after reading register C")
	}
	// Enabling an interrupt whose flag is already set raises IRQ 8.
	r.write(rtcRegA, 0x26)
	r.write(rtcRegB, 0x02)
	r.clock.t = 3_500_000_000 // periodic flag set since the read
	r.write(rtcRegB, 0x42)
	if !r.line.level {
		t.Error("enabling PIE with PF set did not raise IRQ 8")
	}
	r.expect(rtcRegC, 0xC0)
}

func TestRTCSet(t *testing.T) {
	r := newRTCRig(t, rtcBase, 0)
	r.write(rtcRegB, 0x82) // SET: frozen
	r.clock.t = 5e9
	r.expect(rtcSeconds, 0x58)
	r.write(rtcSeconds, 0x10)
	r.write(rtcMinutes, 0x30)
	r.write(rtcHours, 0x12)
	r.write(rtcDayOfMonth, 0x15)
	r.write(rtcMonth, 0x06)
	r.write(rtcYear, 0x99)
	r.write(rtcCentury, 0x19)
	r.clock.t = 5_300_000_000
	r.expect(rtcSeconds, 0x10)
	r.write(rtcRegB, 0x02) // run: the second keeps its phase
	r.clock.t = 6e9 - 1
	r.expect(rtcSeconds, 0x10)
	r.clock.t = 6e9
	r.expect(rtcSeconds, 0x11)
	r.expect(rtcMinutes, 0x30)
	r.expect(rtcHours, 0x12)
	r.expect(rtcDayOfMonth, 0x15)
	r.expect(rtcMonth, 0x06)
	r.expect(rtcYear, 0x99)
	r.expect(rtcCentury, 0x19)
	r.expect(rtcDayOfWeek, 3) // 1999-06-15 was a Tuesday

	// A time register written while running sets the clock at once.
	r.clock.t = 6_250_000_000
	r.write(rtcMinutes, 0x45)
	r.expect(rtcMinutes, 0x45)
	r.expect(rtcSeconds, 0x11)
	r.clock.t = 7e9
	r.expect(rtcSeconds, 0x12)

	// Divider reset: frozen; released, the first update is 500 ms later.
	r.write(rtcRegA, 0x76)
	r.clock.t = 9_100_000_000
	r.expect(rtcSeconds, 0x12)
	r.expect(rtcRegA, 0x76)
	r.write(rtcRegA, 0x26)
	r.clock.t = 9_600_000_000 - 1
	r.expect(rtcSeconds, 0x12)
	r.clock.t = 9_600_000_000
	r.expect(rtcSeconds, 0x13)

	// Out-of-range values are normalised, not refused.
	r.write(rtcRegB, 0x06)
	r.write(rtcRegB, 0x86)
	r.write(rtcMonth, 13)
	r.write(rtcDayOfMonth, 0)
	r.write(rtcRegB, 0x06)
	r.expect(rtcMonth, 12)
	r.expect(rtcDayOfMonth, 31)
	r.expect(rtcYear, 99)
}

func TestRTCSnapshot(t *testing.T) {
	r := newRTCRig(t, rtcBase, 0)
	r.write(rtcRegA, 0x2C)
	r.write(rtcRegB, 0x52)
	r.write(rtcSecondsAlarm, 0x05)
	r.rtc.SetCMOS(0x40, 0x77)
	r.write(0x40&0x7F, 0x77)
	r.at(1_234_567_890)
	r.mem.Out(RTCIndexPort, 1, 0x40)

	r2 := newRTCRig(t, 0, r.clock.t)
	if err := r2.rtc.Restore(r.rtc.Snapshot()); err != nil {
		t.Fatal(err)
	}
	var logs [2][]uint64
	for i, x := range []*rtcRig{r, r2} {
		logs[i] = append(logs[i], uint64(x.mem.In(RTCDataPort, 1)), uint64(x.read(rtcRegC)))
		icRun(x.clock, 5e9, func() {
			logs[i] = append(logs[i], x.clock.t, uint64(x.read(rtcRegC)))
		}, x.rtc)
		for _, reg := range []uint8{rtcSeconds, rtcMinutes, rtcHours, rtcDayOfMonth, rtcRegA, rtcRegB} {
			logs[i] = append(logs[i], uint64(x.read(reg)))
		}
	}
	if !slices.Equal(logs[0], logs[1]) || len(logs[0]) < 20 {
		t.Errorf("restored RTC diverged:\n%v\n%v", logs[0], logs[1])
	}

	bad := []func(*RTCState){
		func(s *RTCState) { s.Index = 0x80 },
		func(s *RTCState) { s.Flags = 0x01 },
		func(s *RTCState) { s.CMOS[rtcRegA] |= 0x80 },
		func(s *RTCState) { s.CMOS[rtcRegD] = 0 },
		func(s *RTCState) { s.CMOS[rtcRegC] = 0x10 },
		func(s *RTCState) { s.Flags = 0x10 }, // UF with UIE: IRQF must be set
	}
	for i, f := range bad {
		s := r.rtc.Snapshot()
		f(&s)
		if err := NewRTC(r.clock, 0, nil).Restore(s); err == nil {
			t.Errorf("bad state %d restored", i)
		}
	}
}
