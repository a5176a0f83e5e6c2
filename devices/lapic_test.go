package devices

import (
	"slices"
	"testing"

	"ftvm/mmu"
)

// The local APIC is what the CPU sees as its interrupt controller and MSR
// device.
var (
	_ interface {
		Pending() bool
		Acknowledge() uint8
	} = (*LAPIC)(nil)
	_ interface {
		ReadMSR(uint32) (uint64, bool)
		WriteMSR(uint32, uint64) bool
	} = (*LAPIC)(nil)
)

type apicRig struct {
	t      *testing.T
	clock  *icClock
	mem    *mmu.Memory
	pic    *PIC
	lapic  *LAPIC
	ioapic *IOAPIC
	// taken records (time, vector) of interrupts taken by acceptAll.
	taken [][2]uint64
}

func newAPICRig(t *testing.T) *apicRig {
	t.Helper()
	pic := NewPIC()
	mem := portMemory(t, pic, [2]uint16{0x20, 0x21}, [2]uint16{0xA0, 0xA1})
	r := &apicRig{t: t, clock: &icClock{}, mem: mem, pic: pic}
	r.lapic = NewLAPIC(r.clock, r.pic)
	r.ioapic = NewIOAPIC(r.lapic)
	r.lapic.SetIOAPIC(r.ioapic)
	if err := mem.MapMMIO(LAPICBase, LAPICSize, r.lapic); err != nil {
		t.Fatal(err)
	}
	if err := mem.MapMMIO(IOAPICBase, IOAPICSize, r.ioapic); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *apicRig) rd(off uint64) uint32    { return uint32(r.mem.Read(LAPICBase+off, 4)) }
func (r *apicRig) wr(off uint64, v uint32) { r.mem.Write(LAPICBase+off, 4, uint64(v)) }

func (r *apicRig) expect(off uint64, want uint32) {
	r.t.Helper()
	if got := r.rd(off); got != want {
		r.t.Errorf("t=%d: LAPIC[%#x] = %#x, want %#x", r.clock.t, off, got, want)
	}
}

func (r *apicRig) ioWrite(reg uint8, v uint32) {
	r.mem.Write(IOAPICBase, 4, uint64(reg))
	r.mem.Write(IOAPICBase+0x10, 4, uint64(v))
}

func (r *apicRig) ioRead(reg uint8) uint32 {
	r.mem.Write(IOAPICBase, 4, uint64(reg))
	return uint32(r.mem.Read(IOAPICBase+0x10, 4))
}

// acceptAll takes every pending interrupt at once, as a CPU with
// interrupts enabled would, and ends it with an EOI.
func (r *apicRig) acceptAll() {
	for r.lapic.Pending() {
		v := r.lapic.Acknowledge()
		r.taken = append(r.taken, [2]uint64{r.clock.t, uint64(v)})
		r.wr(lapicEOI, 0)
	}
}

func (r *apicRig) pending(want bool) {
	r.t.Helper()
	if got := r.lapic.Pending(); got != want {
		r.t.Errorf("t=%d: Pending %v, want %v", r.clock.t, got, want)
	}
}

func (r *apicRig) ack(want uint8) {
	r.t.Helper()
	if got := r.lapic.Acknowledge(); got != want {
		r.t.Errorf("t=%d: Acknowledge %#x, want %#x", r.clock.t, got, want)
	}
}

func TestLAPICReset(t *testing.T) {
	r := newAPICRig(t)
	for _, c := range []struct {
		off  uint64
		want uint32
	}{
		{lapicID, 0}, {lapicVersion, 0x00050014}, {lapicTPR, 0}, {lapicPPR, 0},
		{lapicLDR, 0}, {lapicDFR, 0xFFFFFFFF}, {lapicSVR, 0x1FF}, {lapicESR, 0},
		{lapicLVT0, 0x10000}, {lapicLVT0 + 0x10, 0x10000}, {lapicLVT0 + 0x20, 0x10000},
		{lapicLVT0 + 0x30, 0x700}, {lapicLVT0 + 0x40, 0x400}, {lapicLVT0 + 0x50, 0x10000},
		{lapicInitCnt, 0}, {lapicCurCnt, 0}, {lapicDivide, 0},
	} {
		r.expect(c.off, c.want)
	}
	r.pending(false)
	r.ack(0xFF) // spurious
	if _, ok := r.lapic.NextEvent(); ok {
		t.Error("timer armed at reset")
	}
	// Narrow reads see the register's bytes; reads inside a register's
	// 16-byte slot beyond its 4 bytes read 0.
	if got := r.mem.Read(LAPICBase+lapicVersion+2, 1); got != 0x05 {
		t.Errorf("byte read of version byte 2 = %#x", got)
	}
	if got := r.mem.Read(LAPICBase+lapicVersion+4, 4); got != 0 {
		t.Errorf("read at version+4 = %#x", got)
	}
	if got := r.mem.Read(LAPICBase+lapicVersion, 8); got != 0x00050014 {
		t.Errorf("8-byte read of version = %#x", got)
	}
	// Read-only registers ignore writes; narrow writes are ignored.
	r.wr(lapicVersion, 0)
	r.expect(lapicVersion, 0x00050014)
	r.mem.Write(LAPICBase+lapicTPR, 1, 0x20)
	r.expect(lapicTPR, 0)
	// Illegal register addresses set ESR bit 7 (seen after an ESR write).
	r.rd(0x3F0)
	r.expect(lapicESR, 0)
	r.wr(lapicESR, 0)
	r.expect(lapicESR, esrIllegalReg)
	r.wr(lapicESR, 0)
	r.expect(lapicESR, 0)
}

func TestLAPICExtINT(t *testing.T) {
	r := newAPICRig(t)
	for _, s := range picInit(1) {
		r.mem.Out(uint16(s.a), 1, uint32(s.b))
	}
	r.pending(false)
	r.pic.Line(1).SetLevel(true)
	r.pending(true)
	r.ack(0x21)
	if isr := r.pic.Snapshot().Chips[0].ISR; isr != 0x02 {
		t.Errorf("PIC ISR %#x after ExtINT acknowledge, want 0x02", isr)
	}
	r.pending(false)
	r.mem.Out(0x20, 1, 0x20) // EOI at the PIC

	// A fixed interrupt of the APIC goes before the PIC's.
	r.pic.Line(3).SetLevel(true)
	r.lapic.Deliver(0x80, false)
	r.ack(0x80)
	r.wr(lapicEOI, 0)
	r.ack(0x23)
	r.mem.Out(0x20, 1, 0x20)

	// Masking LINT0 cuts the virtual wire.
	r.pic.Line(4).SetLevel(true)
	r.wr(lapicLVT0+0x30, 0x10700)
	r.pending(false)
	// LINT0 in fixed mode does not pass the PIC through either.
	r.wr(lapicLVT0+0x30, 0x00030)
	r.pending(false)
	r.wr(lapicLVT0+0x30, 0x00700)
	r.pending(true)
	r.ack(0x24)
}

func TestLAPICTimer(t *testing.T) {
	type read struct {
		at   uint64
		want uint32
	}
	tests := []struct {
		name    string
		start   uint64 // time of the initial-count write
		lvt     uint32
		divide  uint32
		count   uint32
		reads   []read // current-count reads
		until   uint64
		fired   []uint64
		armedAt uint64 // NextEvent afterwards (0: none)
	}{
		{"one-shot divide by 1", 100, 0x30, 0xB, 1000,
			[]read{{100, 1000}, {600, 500}, {1099, 1}, {1100, 0}, {5000, 0}},
			5000, []uint64{1100}, 0},
		{"one-shot divide by 2 (reset value)", 0, 0x30, 0x0, 10,
			[]read{{0, 10}, {1, 10}, {2, 9}, {19, 1}, {20, 0}},
			100, []uint64{20}, 0},
		{"one-shot divide by 16", 50, 0x30, 0x3, 10,
			[]read{{50, 10}, {65, 10}, {66, 9}, {209, 1}},
			1000, []uint64{210}, 0},
		{"one-shot divide by 128", 0, 0x30, 0xA, 3,
			[]read{{0, 3}, {128, 2}},
			1000, []uint64{384}, 0},
		{"periodic", 0, 0x20030, 0xB, 100,
			[]read{{0, 100}, {50, 50}, {100, 100}, {250, 50}, {399, 1}},
			450, []uint64{100, 200, 300, 400}, 500},
		{"masked timer counts but does not interrupt", 0, 0x10030, 0xB, 100,
			[]read{{50, 50}}, 1000, nil, 0},
		{"count 0 stops", 0, 0x30, 0xB, 0, []read{{10, 0}}, 1000, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newAPICRig(t)
			r.wr(lapicDivide, tt.divide)
			r.wr(lapicLVT0, tt.lvt)
			r.clock.t = tt.start
			r.wr(lapicInitCnt, tt.count)
			r.expect(lapicInitCnt, tt.count)
			var fired []uint64
			take := func() {
				for r.lapic.Pending() {
					fired = append(fired, r.clock.t)
					if v := r.lapic.Acknowledge(); v != 0x30 {
						t.Errorf("vector %#x, want 0x30", v)
					}
					r.wr(lapicEOI, 0)
				}
			}
			for _, rd := range tt.reads {
				icRun(r.clock, rd.at, take, r.lapic)
				r.expect(lapicCurCnt, rd.want)
				take()
			}
			icRun(r.clock, tt.until, take, r.lapic)
			if !slices.Equal(fired, tt.fired) {
				t.Errorf("fired at %v, want %v", fired, tt.fired)
			}
			at, ok := r.lapic.NextEvent()
			if tt.armedAt == 0 && ok || tt.armedAt != 0 && (!ok || at != tt.armedAt) {
				t.Errorf("NextEvent %d %v, want %d", at, ok, tt.armedAt)
			}
		})
	}
}

func TestLAPICTimerPeriodicMissed(t *testing.T) {
	r := newAPICRig(t)
	r.wr(lapicDivide, 0xB)
	r.wr(lapicLVT0, 0x20040)
	r.wr(lapicInitCnt, 100)
	// The board is late: three periods merge into one interrupt.
	r.clock.t = 350
	r.lapic.Advance(350)
	r.ack(0x40)
	r.wr(lapicEOI, 0)
	r.pending(false)
	if at, _ := r.lapic.NextEvent(); at != 400 {
		t.Errorf("next expiry %d, want 400", at)
	}
	r.expect(lapicCurCnt, 50)
	// Changing the divider keeps the count: 50 counts at divide-by-4.
	r.wr(lapicDivide, 0x1)
	if at, _ := r.lapic.NextEvent(); at != 350+200 {
		t.Errorf("next expiry after divide change %d, want 550", at)
	}
	// Switching to one-shot lets the current count run out, then stops.
	r.wr(lapicLVT0, 0x00040)
	icRun(r.clock, 10000, r.acceptAll, r.lapic)
	if want := [][2]uint64{{550, 0x40}}; !slices.Equal(r.taken, want) {
		t.Errorf("taken %v, want %v", r.taken, want)
	}
}

func TestLAPICTSCDeadline(t *testing.T) {
	r := newAPICRig(t)
	la := r.lapic
	// Outside TSC-deadline mode the MSR reads 0 and ignores writes.
	if !la.WriteMSR(MSRTSCDeadline, 500) {
		t.Error("write of IA32_TSC_DEADLINE refused")
	}
	if v, ok := la.ReadMSR(MSRTSCDeadline); !ok || v != 0 {
		t.Errorf("deadline read %d %v outside deadline mode", v, ok)
	}
	if _, ok := la.ReadMSR(0x1B); ok {
		t.Error("LAPIC claims MSR 0x1B")
	}
	if la.WriteMSR(0x10, 1) {
		t.Error("LAPIC accepted a write of MSR 0x10")
	}
	r.wr(lapicLVT0, 0x40050)
	r.wr(lapicInitCnt, 1000) // ignored in deadline mode
	r.expect(lapicInitCnt, 0)
	r.clock.t = 1000
	la.WriteMSR(MSRTSCDeadline, 5000)
	if v, _ := la.ReadMSR(MSRTSCDeadline); v != 5000 {
		t.Errorf("deadline reads %d, want 5000", v)
	}
	r.expect(lapicCurCnt, 0)
	icRun(r.clock, 4999, r.acceptAll, la)
	icRun(r.clock, 10000, r.acceptAll, la)
	if v, _ := la.ReadMSR(MSRTSCDeadline); v != 0 {
		t.Errorf("deadline reads %d after firing, want 0", v)
	}
	// A deadline already passed fires at once; 0 disarms.
	la.WriteMSR(MSRTSCDeadline, 20)
	r.acceptAll()
	la.WriteMSR(MSRTSCDeadline, 20000)
	la.WriteMSR(MSRTSCDeadline, 0)
	icRun(r.clock, 30000, r.acceptAll, la)
	// Leaving deadline mode disarms.
	la.WriteMSR(MSRTSCDeadline, 40000)
	r.wr(lapicLVT0, 0x00050)
	icRun(r.clock, 50000, r.acceptAll, la)
	if want := [][2]uint64{{5000, 0x50}, {10000, 0x50}}; !slices.Equal(r.taken, want) {
		t.Errorf("taken %v, want %v", r.taken, want)
	}
}

func TestLAPICPriorities(t *testing.T) {
	r := newAPICRig(t)
	la := r.lapic
	la.Deliver(0x51, false)
	r.wr(lapicTPR, 0x60)
	r.pending(false)
	r.expect(lapicPPR, 0x60)
	r.wr(lapicTPR, 0x50) // same class: still blocked
	r.pending(false)
	r.expect(lapicAPR, 0x50)
	r.wr(lapicTPR, 0x4F)
	r.pending(true)
	r.expect(lapicAPR, 0x50)
	r.wr(lapicTPR, 0x60)
	r.expect(lapicAPR, 0x60)
	r.wr(lapicTPR, 0)

	// Nesting: a higher class interrupts; the same class waits.
	r.ack(0x51)
	r.expect(lapicPPR, 0x50)
	r.expect(lapicISR+0x20, 1<<(0x51-0x40))
	la.Deliver(0x5F, false)
	r.pending(false)
	la.Deliver(0x65, false)
	r.pending(true)
	r.ack(0x65)
	r.expect(lapicPPR, 0x60)
	r.pending(false)
	r.wr(lapicEOI, 0) // retires 0x65
	r.expect(lapicPPR, 0x50)
	r.pending(false)
	r.wr(lapicEOI, 0) // retires 0x51
	r.expect(lapicPPR, 0x00)
	r.ack(0x5F)
	r.wr(lapicEOI, 0)
	r.wr(lapicEOI, 0) // nothing in service: no effect
	r.ack(0xFF)

	// TPR above the in-service class sets PPR.
	la.Deliver(0x30, false)
	r.ack(0x30)
	r.wr(lapicTPR, 0x45)
	r.expect(lapicPPR, 0x45)
	r.wr(lapicTPR, 0x25)
	r.expect(lapicPPR, 0x30)
	r.wr(lapicEOI, 0)

	// Vectors 0-15 are illegal.
	la.Deliver(0x05, false)
	r.pending(false)
	r.wr(lapicESR, 0)
	r.expect(lapicESR, esrReceiveIllegal)

	// A software-disabled APIC delivers nothing and keeps LVTs masked.
	la.Deliver(0x70, false)
	r.wr(lapicSVR, 0xFF)
	r.pending(false)
	r.expect(lapicLVT0+0x30, 0x10700)
	r.wr(lapicLVT0, 0x30)
	r.expect(lapicLVT0, 0x10030)
	r.ack(0xFF)
	r.wr(lapicSVR, 0x1EF)
	r.ack(0x70)
}

func TestLAPICSelfIPI(t *testing.T) {
	tests := []struct {
		name   string
		ldr    uint32
		dfr    uint32
		high   uint32
		low    uint32
		vector uint8 // 0: none delivered
		esr    uint32
	}{
		{"self shorthand", 0, 0xFFFFFFFF, 0, 0x40050, 0x50, 0},
		{"all including self", 0, 0xFFFFFFFF, 0, 0x80051, 0x51, 0},
		{"all excluding self", 0, 0xFFFFFFFF, 0, 0xC0052, 0, 0},
		{"physical to own ID", 0, 0xFFFFFFFF, 0, 0x00053, 0x53, 0},
		{"physical broadcast", 0, 0xFFFFFFFF, 0xFF000000, 0x00054, 0x54, 0},
		{"physical to another APIC", 0, 0xFFFFFFFF, 0x01000000, 0x00055, 0, 0},
		{"logical flat match", 0x02000000, 0xFFFFFFFF, 0x03000000, 0x00856, 0x56, 0},
		{"logical flat miss", 0x02000000, 0xFFFFFFFF, 0x01000000, 0x00857, 0, 0},
		{"logical cluster match", 0x21000000, 0x0FFFFFFF, 0x21000000, 0x00858, 0x58, 0},
		{"logical cluster miss", 0x21000000, 0x0FFFFFFF, 0x11000000, 0x00859, 0, 0},
		{"lowest priority to self", 0, 0xFFFFFFFF, 0, 0x4015A, 0x5A, 0},
		{"INIT ignored", 0, 0xFFFFFFFF, 0, 0x40500, 0, 0},
		{"SIPI ignored", 0, 0xFFFFFFFF, 0, 0x40608, 0, 0},
		{"NMI ignored", 0, 0xFFFFFFFF, 0, 0x40400, 0, 0},
		{"illegal vector", 0, 0xFFFFFFFF, 0, 0x40005, 0, esrSendIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newAPICRig(t)
			r.wr(lapicLDR, tt.ldr)
			r.wr(lapicDFR, tt.dfr)
			r.wr(lapicICRHigh, tt.high)
			r.wr(lapicICRLow, tt.low)
			r.expect(lapicICRLow, tt.low)
			r.expect(lapicICRHigh, tt.high)
			if tt.vector == 0 {
				r.pending(false)
			} else {
				r.ack(tt.vector)
			}
			r.wr(lapicESR, 0)
			r.expect(lapicESR, tt.esr)
		})
	}
}

func TestLAPICErrorInterrupt(t *testing.T) {
	r := newAPICRig(t)
	r.wr(lapicLVT0+0x50, 0xFE)
	r.wr(lapicICRLow, 0x40001)
	r.ack(0xFE)
}

func TestLAPICSnapshot(t *testing.T) {
	r := newAPICRig(t)
	r.wr(lapicDivide, 0x0)
	r.wr(lapicLVT0, 0x20031)
	r.wr(lapicTPR, 0x10)
	r.clock.t = 7
	r.wr(lapicInitCnt, 333)
	r.lapic.Deliver(0x44, true)
	r.ack(0x44)
	r.lapic.Deliver(0x45, false)
	icRun(r.clock, 1000, nil, r.lapic)

	r2 := newAPICRig(t)
	r2.clock.t = r.clock.t
	if err := r2.lapic.Restore(r.lapic.Snapshot()); err != nil {
		t.Fatal(err)
	}
	regs := []uint64{lapicTPR, lapicPPR, lapicSVR, lapicLVT0, lapicInitCnt, lapicCurCnt, lapicDivide,
		lapicISR + 0x20, lapicIRR + 0x20, lapicIRR + 0x10, lapicTMR + 0x20}
	for _, x := range []*apicRig{r, r2} {
		x.wr(lapicEOI, 0) // retire 0x44: 0x45 and the timer get through
		x.acceptAll()
		icRun(x.clock, 5000, x.acceptAll, x.lapic)
	}
	for _, off := range regs {
		if a, b := r.rd(off), r2.rd(off); a != b {
			t.Errorf("LAPIC[%#x]: %#x vs restored %#x", off, a, b)
		}
	}
	if !slices.Equal(r.taken, r2.taken) || len(r.taken) < 5 {
		t.Errorf("interrupts differ:\n%v\n%v", r.taken, r2.taken)
	}

	bad := []func(*LAPICState){
		func(s *LAPICState) { s.ID = 1 },
		func(s *LAPICState) { s.TPR = 0x100 },
		func(s *LAPICState) { s.DFR = 0 },
		func(s *LAPICState) { s.SVR = 0x1000 },
		func(s *LAPICState) { s.IRR[0] = 1 },
		func(s *LAPICState) { s.LVT[LVTTimer] = 0x60000 },
		func(s *LAPICState) { s.LVT[LVTError] = 0x700 },
		func(s *LAPICState) { s.SVR = 0xFF },
		func(s *LAPICState) { s.InitialCount = 0 },
		func(s *LAPICState) { s.TSCDeadline = 5 },
		func(s *LAPICState) { s.DivideConfig = 4 },
	}
	for i, f := range bad {
		s := r.lapic.Snapshot()
		f(&s)
		if err := NewLAPIC(r.clock, nil).Restore(s); err == nil {
			t.Errorf("bad state %d restored", i)
		}
	}
}
