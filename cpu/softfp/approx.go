package softfp

import "math"

// The SDM bounds RCPSS's and RSQRTSS's relative error by 1.5*2^-12 and leaves
// the exact bits to the implementation (Intel and AMD differ). These
// approximations round the exact value to 12 significant bits (relative
// error at most 2^-12): a deterministic result inside the bound, the same on
// every host, so that a recording replays identically anywhere.

// approxBits is how many fraction bits an approximation keeps.
const approxBits = 11

// roundApprox rounds the positive binary64 v to 1+approxBits significant
// bits, to nearest.
func roundApprox(v float64) float64 {
	b := math.Float64bits(v)
	const drop = 52 - approxBits
	b += 1 << (drop - 1)
	return math.Float64frombits(b &^ (1<<drop - 1))
}

// approx32 packs the positive approximation v of sign neg as binary32,
// flushing results below the smallest normal to zero (SDM: tiny results
// are flushed).
func approx32(v float64, neg bool) uint64 {
	s := uint64(0)
	if neg {
		s = f32.sign
	}
	if v < 0x1p-126 {
		return s
	}
	return s | uint64(math.Float32bits(float32(v)))
}

// Rcp returns RCPSS's approximation of 1/x (binary32). It raises no
// exceptions; denormal operands count as zeros.
func Rcp(x uint64) uint64 {
	c := f32.classify(x)
	neg := f32.neg(x)
	switch c {
	case clsQNaN, clsSNaN:
		return x | f32.quiet
	case clsZero, clsDenormal:
		return f32.infinity(neg)
	case clsInf:
		return f32.zero(neg)
	}
	v := math.Abs(float64(math.Float32frombits(uint32(x))))
	return approx32(roundApprox(1/v), neg)
}

// Rsqrt returns RSQRTSS's approximation of 1/sqrt(x) (binary32). It raises
// no exceptions; denormal operands count as zeros, negative ones give the
// QNaN indefinite.
func Rsqrt(x uint64) uint64 {
	c := f32.classify(x)
	neg := f32.neg(x)
	switch {
	case c.isNaN():
		return x | f32.quiet
	case c == clsZero || c == clsDenormal:
		return f32.infinity(neg)
	case neg:
		return f32.indef
	case c == clsInf:
		return 0
	}
	v := float64(math.Float32frombits(uint32(x)))
	return approx32(roundApprox(1/math.Sqrt(v)), false)
}
