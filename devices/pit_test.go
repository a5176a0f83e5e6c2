package devices

import (
	"slices"
	"testing"

	"ftvm/mmu"
)

// pitTime is the guest time at which PIT tick k begins, computed the plain
// way: ceil(k * 1e9 / 1193182).
func pitTime(k uint64) uint64 { return (k*1_000_000_000 + PITHz - 1) / PITHz }

// pitTick is the PIT tick in progress at guest time t.
func pitTick(t uint64) uint64 { return t * PITHz / 1_000_000_000 }

type pitRig struct {
	t     *testing.T
	clock *icClock
	mem   *mmu.Memory
	pit   *PIT
	line  *icLine
}

func newPITRig(t *testing.T, start uint64) *pitRig {
	t.Helper()
	c := &icClock{t: start}
	r := &pitRig{t: t, clock: c, line: &icLine{clock: c}}
	r.pit = NewPIT(c, r.line)
	r.mem = portMemory(t, r.pit, [2]uint16{PITBase, PITLast}, [2]uint16{PITPort61, PITPort61})
	return r
}

func (r *pitRig) out(port uint16, v ...uint8) {
	for _, b := range v {
		r.mem.Out(port, 1, uint32(b))
	}
}

func (r *pitRig) in(port uint16) uint8 { return uint8(r.mem.In(port, 1)) }

// at runs the board up to guest time t.
func (r *pitRig) at(t uint64) { icRun(r.clock, t, nil, r.pit) }

func (r *pitRig) expectIn(port uint16, want uint8) {
	r.t.Helper()
	if got := r.in(port); got != want {
		r.t.Errorf("t=%d (tick %d): in %#x = %#x, want %#x", r.clock.t, pitTick(r.clock.t), port, got, want)
	}
}

func TestPITReset(t *testing.T) {
	r := newPITRig(t, 0)
	if !r.line.level {
		t.Error("IRQ 0 low at reset: channel 0 in mode 3 starts high")
	}
	r.out(0x43, 0xEE) // read-back status of all channels
	r.expectIn(0x40, 0xB6)
	r.expectIn(0x41, 0xB6)
	r.expectIn(0x42, 0xB6)
	r.expectIn(0x40, 0x00) // count 0x10000 reads 0
	r.expectIn(0x40, 0x00)
	r.expectIn(0x43, 0xFF)
	r.expectIn(0x61, 0x20) // gate 2 low, channel 2 output high
	if at, ok := r.pit.NextEvent(); !ok || at != pitTime(65536) {
		t.Errorf("first event %d %v, want %d", at, ok, pitTime(65536))
	}
	r.line.at = nil
	r.at(pitTime(3*65536) + 1)
	want := []uint64{pitTime(65536), pitTime(2 * 65536), pitTime(3 * 65536)}
	if !slices.Equal(r.line.at, want) {
		t.Errorf("IRQ 0 edges at %v, want %v", r.line.at, want)
	}
}

func TestPITChannel0Edges(t *testing.T) {
	tests := []struct {
		name  string
		ctrl  uint8
		count []uint8
		ticks uint64   // run this many ticks after programming
		edges []uint64 // rising edges, in ticks after programming
	}{
		{"mode 2", 0x34, []uint8{0xA9, 0x04}, 4000, []uint64{1193, 2386, 3579}},
		{"mode 3", 0x36, []uint8{100, 0}, 450, []uint64{100, 200, 300, 400}},
		{"mode 3 (6)", 0x3C, []uint8{100, 0}, 250, []uint64{100, 200}},
		{"mode 2 (6)", 0x3C &^ 2, []uint8{100, 0}, 250, []uint64{100, 200}},
		{"mode 0", 0x30, []uint8{0xE8, 0x03}, 5000, []uint64{1000}},
		{"mode 0 count 0 is 0x10000", 0x30, []uint8{0, 0}, 70000, []uint64{65536}},
		{"mode 4", 0x38, []uint8{50, 0}, 1000, []uint64{51}},
		{"mode 1 never triggers on channel 0", 0x32, []uint8{10, 0}, 1000, nil},
		{"mode 5 never triggers on channel 0", 0x3A, []uint8{10, 0}, 1000, nil},
		{"mode 2 BCD", 0x35, []uint8{0x00, 0x01}, 250, []uint64{100, 200}},
		{"mode 0 BCD count 0 is 10000", 0x31, []uint8{0, 0}, 20000, []uint64{10000}},
		{"lobyte access", 0x14, []uint8{0x80}, 300, []uint64{128, 256}},
		{"hibyte access", 0x24, []uint8{0x01}, 600, []uint64{256, 512}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const start = 123456 // ns
			r := newPITRig(t, 0)
			r.at(start)
			r.out(0x43, tt.ctrl)
			r.out(0x40, tt.count...)
			s := pitTick(start)
			r.line.at = nil
			r.at(pitTime(s+tt.ticks) + 1)
			var want []uint64
			for _, e := range tt.edges {
				want = append(want, pitTime(s+e))
			}
			if !slices.Equal(r.line.at, want) {
				t.Errorf("edges at %v, want %v", r.line.at, want)
			}
			if len(want) > 0 && tt.ctrl&0x0E == 0 { // mode 0: no more events
				if _, ok := r.pit.NextEvent(); ok {
					t.Error("mode 0 still schedules events after terminal count")
				}
			}
		})
	}
}

func TestPITMode0Output(t *testing.T) {
	r := newPITRig(t, 0)
	r.out(0x43, 0x30)
	if r.line.level {
		t.Error("mode 0 control word leaves OUT high")
	}
	r.out(0x43, 0xE2)
	r.expectIn(0x40, 0x70) // OUT low, null count, lohi, mode 0
	r.out(0x40, 10)        // first byte: still waiting
	r.out(0x40, 0)
	r.out(0x43, 0xE2)
	r.expectIn(0x40, 0x30)
	r.at(pitTime(9))
	r.out(0x43, 0xE2)
	r.expectIn(0x40, 0x30)
	r.clock.t = pitTime(10)
	r.out(0x43, 0xE2)
	r.expectIn(0x40, 0xB0)
	if !r.line.level {
		t.Error("IRQ 0 low after terminal count")
	}
	// The count wraps and goes on; OUT stays high.
	r.clock.t = pitTime(15)
	r.out(0x43, 0x00)
	r.expectIn(0x40, 0xFB)
	r.expectIn(0x40, 0xFF)
}

func TestPITCounts(t *testing.T) {
	tests := []struct {
		name  string
		ctrl  uint8
		count []uint8
		tick  uint64 // when to read, ticks after programming
		want  uint16
	}{
		{"mode 2", 0x34, []uint8{0xE8, 0x03}, 100, 900},
		{"mode 2 reload", 0x34, []uint8{0xE8, 0x03}, 1000, 1000},
		{"mode 2 second period", 0x34, []uint8{0xE8, 0x03}, 1250, 750},
		{"mode 3 counts by two", 0x36, []uint8{0xE8, 0x03}, 100, 800},
		{"mode 0", 0x30, []uint8{0xE8, 0x03}, 999, 1},
		{"mode 0 wraps", 0x30, []uint8{0xE8, 0x03}, 1005, 0xFFFB},
		{"mode 0 BCD", 0x31, []uint8{0x00, 0x10}, 1, 0x0999},
		{"mode 0 BCD wraps", 0x31, []uint8{0x00, 0x10}, 1001, 0x9999},
		{"mode 2 BCD", 0x35, []uint8{0x00, 0x10}, 250, 0x0750},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPITRig(t, 0)
			r.out(0x43, tt.ctrl)
			r.out(0x40, tt.count...)
			r.at(pitTime(tt.tick))
			// Live read: low byte, then high byte.
			r.expectIn(0x40, uint8(tt.want))
			r.expectIn(0x40, uint8(tt.want>>8))
			// Latched read, taken now, read later.
			r.out(0x43, 0x00)
			r.clock.t += 5000
			r.expectIn(0x40, uint8(tt.want))
			r.expectIn(0x40, uint8(tt.want>>8))
		})
	}
}

func TestPITLatchAndReadBack(t *testing.T) {
	r := newPITRig(t, 0)
	r.out(0x43, 0x74) // channel 1, lohi, mode 2
	r.out(0x41, 0x00, 0x10)
	r.at(pitTime(0x100))
	r.out(0x43, 0x40) // latch channel 1: 0xF00
	r.clock.t = pitTime(0x200)
	r.out(0x43, 0x40) // ignored: the first latch is still unread
	r.expectIn(0x41, 0x00)
	r.clock.t = pitTime(0x300)
	r.expectIn(0x41, 0x0F)
	r.expectIn(0x41, 0x00) // live again: 0xD00
	r.expectIn(0x41, 0x0D)

	// Read-back of count and status: status first, then the count.
	r.clock.t = pitTime(0x400)
	r.out(0x43, 0xC4)
	r.clock.t = pitTime(0x500)
	r.expectIn(0x41, 0xB4)
	r.expectIn(0x41, 0x00)
	r.expectIn(0x41, 0x0C)
	// Count only, status only.
	r.out(0x43, 0xD4)
	r.expectIn(0x41, 0x00)
	r.expectIn(0x41, 0x0B)
	r.out(0x43, 0xE4)
	r.expectIn(0x41, 0xB4)
	r.expectIn(0x41, 0x00) // live
	r.expectIn(0x41, 0x0B)

	// Hibyte access latches the high byte.
	r.out(0x43, 0x64) // channel 1, hibyte, mode 2
	r.out(0x41, 0x10) // 0x1000
	r.clock.t += pitTime(0x300) + 1
	r.out(0x43, 0x40)
	r.expectIn(0x41, 0x0D)
	r.expectIn(0x41, 0x0D) // live

	// Lobyte access latches one byte.
	r.out(0x43, 0x50) // channel 1, lobyte, mode 0
	r.out(0x41, 0x80)
	r.clock.t += pitTime(0x10) + 1
	r.out(0x43, 0x40)
	r.expectIn(0x41, 0x70)
	r.out(0x43, 0xE4)
	r.expectIn(0x41, 0x10) // OUT low, lobyte, mode 0
}

func TestPITPort61(t *testing.T) {
	r := newPITRig(t, 0)
	r.expectIn(0x61, 0x20)
	r.clock.t = refreshNs
	r.expectIn(0x61, 0x30) // refresh toggle
	r.clock.t = 2 * refreshNs
	r.out(0x61, 0xFE)      // only bits 0-3 are kept; gate low
	r.expectIn(0x61, 0x2E) // speaker data on, OUT 2 high (mode 3 stopped)

	// Linux's pit_calibrate_tsc: gate high, speaker off, mode 0, wait
	// for OUT 2.
	const start = 1_000_000
	r.clock.t = start
	r.out(0x61, 0x01)
	r.out(0x43, 0xB0)
	r.out(0x42, 0x9C, 0x2E) // 11932 ticks: 10 ms
	s := pitTick(start)
	r.clock.t = pitTime(s+11932) - 1
	if r.in(0x61)&0x20 != 0 {
		t.Error("OUT 2 high before terminal count")
	}
	r.clock.t = pitTime(s + 11932)
	if r.in(0x61)&0x20 == 0 {
		t.Error("OUT 2 low at terminal count")
	}
	if _, ok := r.pit.NextEvent(); !ok || r.pit.s.Channels[0].Mode != 3 {
		t.Error("channel 2 disturbed channel 0")
	}

	// The gate suspends counting in mode 0.
	r.out(0x61, 0x00)
	r.out(0x43, 0xB0)
	r.out(0x42, 100, 0) // gate low: not counting
	r.clock.t += pitTime(1000)
	r.out(0x43, 0x80)
	r.expectIn(0x42, 100)
	r.expectIn(0x42, 0)
	g := pitTick(r.clock.t)
	r.out(0x61, 0x01)
	r.clock.t = pitTime(g + 30)
	r.out(0x61, 0x00) // pause at 70
	r.clock.t = pitTime(g + 500)
	r.out(0x43, 0x80)
	r.expectIn(0x42, 70)
	r.expectIn(0x42, 0)
	g = pitTick(r.clock.t)
	r.out(0x61, 0x01)
	r.clock.t = pitTime(g+70) - 1
	r.expectIn(0x61, 0x01)
	r.clock.t = pitTime(g + 70)
	r.expectIn(0x61, 0x21)

	// Mode 2: gate low holds OUT high and stops; the rise reloads.
	r.out(0x43, 0xB4)
	r.out(0x42, 10, 0)
	g = pitTick(r.clock.t)
	r.clock.t = pitTime(g + 9)
	r.expectIn(0x61, 0x01) // the low pulse before reload
	r.out(0x61, 0x00)
	r.expectIn(0x61, 0x20)
	r.clock.t = pitTime(g + 100)
	r.out(0x61, 0x01)
	g = pitTick(r.clock.t)
	r.clock.t = pitTime(g + 3)
	r.out(0x43, 0x80)
	r.expectIn(0x42, 7)

	// Mode 1: the gate's rising edge triggers the one-shot.
	r.out(0x61, 0x00)
	r.out(0x43, 0xB2)
	r.out(0x42, 5, 0)
	r.expectIn(0x61, 0x20)
	r.out(0x61, 0x01)
	g = pitTick(r.clock.t)
	r.clock.t = pitTime(g + 1)
	r.expectIn(0x61, 0x01)
	r.clock.t = pitTime(g + 5)
	r.expectIn(0x61, 0x21)
}

func TestPITSnapshot(t *testing.T) {
	r := newPITRig(t, 0)
	r.out(0x43, 0x34)
	r.out(0x40, 0x00, 0x01) // 256 ticks
	r.out(0x61, 0x01)
	r.out(0x43, 0xB6)
	r.out(0x42, 0x40) // half of a lohi write
	r.out(0x43, 0x74)
	r.out(0x41, 0x00, 0x02)
	r.out(0x43, 0x40)
	r.in(0x41) // half of a latched read
	r.at(pitTime(1000) + 17)

	r2 := newPITRig(t, r.clock.t)
	if err := r2.pit.Restore(r.pit.Snapshot()); err != nil {
		t.Fatal(err)
	}
	r.line.at, r2.line.at = nil, nil
	for _, x := range []*pitRig{r, r2} {
		x.out(0x42, 0x00) // completes channel 2's count: 0x40
		x.at(pitTime(2000))
		x.line.at = append(x.line.at, uint64(x.in(0x41)), uint64(x.in(0x41)), uint64(x.in(0x40)), uint64(x.in(0x61)))
		x.at(pitTime(5000))
		x.out(0x43, 0xEE)
		x.line.at = append(x.line.at, uint64(x.in(0x40)), uint64(x.in(0x41)), uint64(x.in(0x42)))
	}
	if !slices.Equal(r.line.at, r2.line.at) || len(r.line.at) < 10 {
		t.Errorf("restored PIT diverged:\n%v\n%v", r.line.at, r2.line.at)
	}

	bad := []func(*PITState){
		func(s *PITState) { s.Port61 = 0x20 },
		func(s *PITState) { s.Channels[0].Mode = 6 },
		func(s *PITState) { s.Channels[1].Access = 0 },
		func(s *PITState) { s.Channels[0].LatchState = 5 },
		func(s *PITState) { s.Channels[0].Gate = false },
		func(s *PITState) { s.Channels[2].Gate = !s.Channels[2].Gate },
		func(s *PITState) { s.Channels[0].Loaded = false },
		func(s *PITState) { s.Channels[0].Elapsed = 3 },
		func(s *PITState) { s.Channels[0].Triggered = true },
		func(s *PITState) { s.Channels[0].Access = accessLow; s.Channels[0].ReadHigh = true },
	}
	for i, f := range bad {
		s := r.pit.Snapshot()
		f(&s)
		if err := NewPIT(r.clock, nil).Restore(s); err == nil {
			t.Errorf("bad state %d restored", i)
		}
	}
}
