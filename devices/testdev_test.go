package devices

import "testing"

type levelLine struct{ high *bool }

func (l levelLine) SetLevel(h bool) { *l.high = h }

func TestTestDev(t *testing.T) {
	var levels [TestDevIRQLines]bool
	d := NewTestDev(func(n int) IRQLine { return levelLine{&levels[n]} })
	steps := []struct {
		name    string
		write   bool
		port    uint16
		size    int
		value   uint32
		want    uint32 // read result, or Scratch after a write
		wantIRQ int    // line expected high after the step (-1: none)
	}{
		{"outl scratch", true, 0xE0, 4, 0x11223344, 0x11223344, -1},
		{"inl scratch", false, 0xE0, 4, 0, 0x11223344, -1},
		{"inb lane 2", false, 0xE2, 1, 0, 0x22, -1},
		{"outw lane 1", true, 0xE1, 2, 0xAABB, 0x11AABB44, -1},
		{"byte view", false, 0xEB, 1, 0, 0x11, -1},
		{"byte view write", true, 0xE8, 1, 0x55, 0x11AABB55, -1},
		{"flush reads 0", false, 0xE4, 4, 0, 0, -1},
		{"flush write ignored", true, 0xE4, 4, 0x1000, 0x11AABB55, -1},
		{"raise line 10", true, 0x200A, 1, 1, 0x11AABB55, 10},
		{"irq ports read 0", false, 0x200A, 1, 0, 0, 10},
		{"lower line 10", true, 0x200A, 1, 0, 0x11AABB55, -1},
		{"raise line 23", true, 0x2017, 1, 7, 0x11AABB55, 23},
	}
	for _, s := range steps {
		if s.write {
			d.WritePort(s.port, s.size, s.value)
			if d.Scratch != s.want {
				t.Errorf("%s: scratch %#x, want %#x", s.name, d.Scratch, s.want)
			}
		} else if got := d.ReadPort(s.port, s.size); got != s.want {
			t.Errorf("%s: read %#x, want %#x", s.name, got, s.want)
		}
		for n, h := range levels {
			if h != (n == s.wantIRQ) || (d.Levels>>n&1 != 0) != h {
				t.Errorf("%s: line %d level %v (state %#x)", s.name, n, h, d.Levels)
			}
		}
	}
	st := d.Snapshot()
	d2 := NewTestDev(func(n int) IRQLine { return nopLine{} })
	if err := d2.Restore(st); err != nil || d2.Snapshot() != st {
		t.Errorf("restore: %v, state %+v want %+v", err, d2.Snapshot(), st)
	}
}
