package machine

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// TSCHz is the guest's nominal time-stamp counter frequency: 1 GHz, so one
// tick is one nanosecond of guest time.
const TSCHz = 1_000_000_000

// VirtualClock is a cpu.Env whose time is a fixed function of the position:
// one retired instruction is one nanosecond. Its random numbers are a fixed
// function of the position and a seed. A run on it is reproducible bit for
// bit.
type VirtualClock struct {
	seed uint64
}

// NewVirtualClock returns a virtual clock whose random numbers derive from
// seed.
func NewVirtualClock(seed uint64) *VirtualClock { return &VirtualClock{seed: seed} }

// TSC implements cpu.Env.
func (v *VirtualClock) TSC(pos uint64) uint64 { return pos }

// Random implements cpu.Env with SplitMix64 of the seed and position.
func (v *VirtualClock) Random(pos uint64, seed bool) (uint64, bool) {
	z := v.seed ^ pos*0x9E3779B97F4A7C15
	if seed {
		z ^= 0x5EED
	}
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31, true
}

// HostClock is a cpu.Env that follows the host: the TSC counts host
// nanoseconds since the clock was made, random numbers come from the host's
// generator. Runs on it are not reproducible unless recorded.
type HostClock struct {
	start time.Time
}

// NewHostClock returns a host clock starting at zero now.
func NewHostClock() *HostClock { return &HostClock{start: time.Now()} }

// TSC implements cpu.Env.
func (h *HostClock) TSC(pos uint64) uint64 { return uint64(time.Since(h.start).Nanoseconds()) }

// Random implements cpu.Env.
func (h *HostClock) Random(pos uint64, seed bool) (uint64, bool) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}
