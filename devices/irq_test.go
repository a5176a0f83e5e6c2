package devices

import (
	"slices"
	"testing"

	"ftvm/mmu"
)

// portMemory returns a page of guest memory with dev mapped at each range of
// ports (its first and last port).
func portMemory(t *testing.T, dev mmu.PortDevice, ranges ...[2]uint16) *mmu.Memory {
	t.Helper()
	mem, err := mmu.NewMemory(mmu.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		if err := mem.MapPorts(r[0], r[1], dev); err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

// outCase is a guest OUT and the calls it must make to the device's
// callback: the values passed, in order (none: no call).
type outCase struct {
	name  string
	port  uint16
	size  int
	value uint32
	calls []uint32
}

// checkOuts runs each case on fresh memory from mk, which maps a new device
// whose callback is call, and compares the calls the OUT made.
func checkOuts(t *testing.T, cases []outCase, mk func(t *testing.T, call func(uint32)) *mmu.Memory) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint32
			mem := mk(t, func(v uint32) { got = append(got, v) })
			mem.Out(tc.port, tc.size, tc.value)
			if !slices.Equal(got, tc.calls) {
				t.Errorf("callback calls %#x, want %#x", got, tc.calls)
			}
		})
	}
}

// icClock is a settable guest clock for the interrupt and timer tests.
type icClock struct{ t uint64 }

func (c *icClock) Now() uint64 { return c.t }

// icLine records the levels driven on an interrupt line.
type icLine struct {
	level bool
	rises int
	// at records the clock time of each rising edge when clock is set.
	clock *icClock
	at    []uint64
}

func (l *icLine) SetLevel(high bool) {
	if high && !l.level {
		l.rises++
		if l.clock != nil {
			l.at = append(l.at, l.clock.t)
		}
	}
	l.level = high
}

func TestISALine(t *testing.T) {
	tests := []struct {
		irq     int
		picIRR  uint16 // IRR of the pair, slave in the high byte
		ioapics uint32 // asserted I/O APIC pins
	}{
		{0, 1 << 0, 1 << 2},
		{1, 1 << 1, 1 << 1},
		{2, 0, 0},
		{4, 1 << 4, 1 << 4},
		{8, 1 << 8, 1 << 8},
		{15, 1 << 15, 1 << 15},
		{16, 0, 0},
		{-1, 0, 0},
	}
	for _, tt := range tests {
		pic := NewPIC()
		io := NewIOAPIC(nil)
		ISALine(pic, io, tt.irq).SetLevel(true)
		s := pic.Snapshot()
		irr := uint16(s.Chips[0].IRR) | uint16(s.Chips[1].IRR)<<8
		irr &^= 1 << PICCascadeIRQ // the slave's output
		if irr != tt.picIRR {
			t.Errorf("IRQ %d: PIC IRR %#x, want %#x", tt.irq, irr, tt.picIRR)
		}
		if got := io.Snapshot().Lines; got != tt.ioapics {
			t.Errorf("IRQ %d: I/O APIC lines %#x, want %#x", tt.irq, got, tt.ioapics)
		}
	}
	// Nil controllers are allowed.
	ISALine(nil, nil, 3).SetLevel(true)
	ISALine(NewPIC(), nil, 3).SetLevel(true)
	ISALine(nil, NewIOAPIC(nil), 3).SetLevel(true)
}

// icRun plays the board: it runs guest time up to to, advancing the
// devices at each of their events in time order, and calls after (if not
// nil) at every event time.
func icRun(c *icClock, to uint64, after func(), devs ...Timed) {
	for {
		var at uint64
		found := false
		for _, d := range devs {
			if t, ok := d.NextEvent(); ok && t <= to && (!found || t < at) {
				at, found = t, true
			}
		}
		if !found {
			break
		}
		if at < c.t {
			panic("event in the past")
		}
		c.t = at
		for _, d := range devs {
			d.Advance(at)
		}
		if after != nil {
			after()
		}
	}
	c.t = to
}
