package machine

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"

	"ftvm/cpu"
)

// TSCHz is the guest's time-stamp counter frequency: 1 GHz, so one tick is
// one nanosecond of guest time.
const TSCHz = cpu.TSCHz

// ClockMode selects where guest time comes from.
type ClockMode int

// Clock modes (ARCHITECTURE.md §5, --clock).
const (
	// ClockHost follows the host clock through recorded re-anchors.
	ClockHost ClockMode = iota
	// ClockVirtual derives all guest time from the position.
	ClockVirtual
)

// rateShift is the fixed-point shift of GuestClock.rate.
const rateShift = 16

// Bounds of the fitted rate, in nanoseconds per instruction (fixed point):
// from a 10 GIPS guest to a 1 MIPS one.
const (
	minRate = 1 << rateShift / 10
	maxRate = 1000 << rateShift
)

// GuestClock is guest time: a piecewise-linear, deterministic function of
// the position. Between anchors it advances rate nanoseconds per retired
// instruction; an anchor (a recorded clock input, or an idle skip to a timer
// deadline) moves it forward. It implements devices.Clock and the TSC half
// of cpu.Env.
type GuestClock struct {
	pos   func() uint64 // the CPU's current position
	apos  uint64        // position of the last anchor
	ans   uint64        // guest time at the last anchor, ns
	rate  uint64        // ns per instruction << rateShift
	seed  uint64
	mode  ClockMode
	fixed bool // the rate never changes (virtual clock)
}

// NewGuestClock returns a clock at time 0 at position 0 advancing 1 ns per
// instruction; pos reports the current position.
func NewGuestClock(mode ClockMode, pos func() uint64) *GuestClock {
	return &GuestClock{pos: pos, rate: 1 << rateShift, mode: mode, fixed: mode == ClockVirtual}
}

// Mode returns the clock's mode.
func (g *GuestClock) Mode() ClockMode { return g.mode }

// At returns the guest time at position p (p at or after the last anchor).
func (g *GuestClock) At(p uint64) uint64 {
	hi, lo := bits.Mul64(p-g.apos, g.rate)
	return g.ans + (hi<<(64-rateShift) | lo>>rateShift)
}

// Now implements devices.Clock.
func (g *GuestClock) Now() uint64 { return g.At(g.pos()) }

// PosAt returns the first position at which the guest time is at least t.
func (g *GuestClock) PosAt(t uint64) uint64 {
	if t <= g.ans {
		return g.apos
	}
	d := t - g.ans
	hi, lo := bits.Mul64(d, 1<<rateShift)
	if hi >= g.rate {
		return ^uint64(0)
	}
	q, r := bits.Div64(hi, lo, g.rate)
	if r != 0 {
		q++
	}
	return g.apos + q
}

// minFitInsns is the fewest instructions since the last anchor or skip over
// which a host clock's rate is refitted: over fewer, the host's own delays
// (waking from an idle wait, scheduling) would count as instruction time
// and the fitted rate could be far too fast.
const minFitInsns = 1 << 17

// Anchor sets the guest time at the current position to t (never moving it
// backwards) and, on a host clock, fits the rate to the host time and
// instructions since the previous anchor or skip. When the guest's time ran
// ahead of the host's, the rate is fitted from the host's time, so that
// guest time slows until the host catches up.
func (g *GuestClock) Anchor(t uint64) {
	p := g.pos()
	now := g.At(p) // at the rate in effect until here
	if !g.fixed && p >= g.apos+minFitInsns {
		r := uint64(minRate)
		if t > g.ans {
			hi, lo := bits.Mul64(t-g.ans, 1<<rateShift)
			if hi < p-g.apos {
				r, _ = bits.Div64(hi, lo, p-g.apos)
			} else {
				r = maxRate
			}
		}
		g.rate = min(max(r, minRate), maxRate)
	}
	g.apos, g.ans = p, max(t, now)
}

// Skip moves guest time forward to t at the current position without
// changing the rate: the guest was idle until then.
func (g *GuestClock) Skip(t uint64) {
	p := g.pos()
	if now := g.At(p); t < now {
		t = now
	}
	g.apos, g.ans = p, t
}

// ClockState is the clock's state for snapshots.
type ClockState struct {
	AnchorPos, AnchorNS, Rate, Seed uint64
}

// Snapshot returns the clock state.
func (g *GuestClock) Snapshot() ClockState {
	return ClockState{AnchorPos: g.apos, AnchorNS: g.ans, Rate: g.rate, Seed: g.seed}
}

// Restore sets the clock state.
func (g *GuestClock) Restore(s ClockState) {
	g.apos, g.ans, g.rate, g.seed = s.AnchorPos, s.AnchorNS, max(s.Rate, 1), s.Seed
}

// TSC implements cpu.Env: the TSC counts guest nanoseconds.
func (g *GuestClock) TSC(pos uint64) uint64 { return g.At(pos) }

// Random implements cpu.Env. On the virtual clock the value is SplitMix64
// of the seed and the position (reproducible); on the host clock it comes
// from the host's generator (the lockstep layer records it).
func (g *GuestClock) Random(pos uint64, seed bool) (uint64, bool) {
	if g.mode == ClockHost {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, false
		}
		return binary.LittleEndian.Uint64(b[:]), true
	}
	z := g.seed ^ pos*0x9E3779B97F4A7C15
	if seed {
		z ^= 0x5EED
	}
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31, true
}
