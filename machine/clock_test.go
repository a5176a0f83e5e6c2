package machine

import "testing"

// The host clock's rate is fitted only over enough instructions, so a
// re-anchor just after an idle skip (the host's wake-up delay, a few
// instructions) does not make guest time run a thousand times too fast; and
// guest time that ran ahead of the host's slows down until the host catches
// up, never going back.
func TestGuestClockAnchor(t *testing.T) {
	var pos uint64
	g := NewGuestClock(ClockHost, func() uint64 { return pos })
	type step struct {
		pos    uint64
		skip   bool   // Skip rather than Anchor
		t      uint64 // host time of the anchor or skip
		wantNS uint64 // guest time at pos after the step
		rate   uint64 // ns per instruction << rateShift after the step (0: don't check)
	}
	steps := []step{
		{pos: 1000, skip: true, t: 10_000_000, wantNS: 10_000_000},
		// 6 instructions and 0.6 ms later: no refit from so few.
		{pos: 1006, t: 10_600_000, wantNS: 10_600_000, rate: 1 << rateShift},
		// 400k instructions in 1.6 ms: 4 ns each.
		{pos: 401_006, t: 12_200_000, wantNS: 12_200_000, rate: 4 << rateShift},
		// The host reports less than the last anchor (guest time ran
		// ahead): time does not go back, the rate drops to the least.
		{pos: 801_006, t: 12_100_000, wantNS: 12_200_000 + 400_000*4, rate: minRate},
		// The host caught up: the rate is fitted again.
		{pos: 1_201_006, t: 16_000_000, wantNS: 16_000_000},
	}
	for i, s := range steps {
		pos = s.pos
		if s.skip {
			g.Skip(s.t)
		} else {
			g.Anchor(s.t)
		}
		if now := g.Now(); now != s.wantNS {
			t.Errorf("step %d: guest time %d, want %d", i, now, s.wantNS)
		}
		if s.rate != 0 && g.rate != s.rate {
			t.Errorf("step %d: rate %d, want %d", i, g.rate, s.rate)
		}
	}
	if g.rate <= minRate || g.rate >= 10<<rateShift {
		t.Errorf("rate after the host caught up: %d, want between %d and %d", g.rate, minRate, 10<<rateShift)
	}
}
