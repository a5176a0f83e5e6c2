package softfp

// roundBits drops the low shift bits of m (sticky: more non-zero bits lie
// below m) and rounds what is kept by rounding mode rc for a value of sign
// neg. shift may exceed 64.
func roundBits(m uint64, shift uint, sticky, neg bool, rc uint32) (k uint64, inexact bool) {
	var rest, half uint64
	switch {
	case shift == 0:
		return m, sticky
	case shift < 64:
		k, rest, half = m>>shift, m&(1<<shift-1), 1<<(shift-1)
	case shift == 64:
		rest, half = m, 1<<63
	default: // below half an ulp: half is beyond 64 bits
		rest, half = m, 0
	}
	if rest == 0 && !sticky {
		return k, false
	}
	switch rc {
	case RoundNearest:
		if half != 0 && (rest > half || rest == half && (sticky || k&1 != 0)) {
			k++
		}
	case RoundDown:
		if neg {
			k++
		}
	case RoundUp:
		if !neg {
			k++
		}
	}
	return k, true
}

// overflow returns the masked response to overflow in rounding mode rc: the
// infinity or the largest finite of sign neg.
func (f *format) overflow(neg bool, rc uint32) uint64 {
	if rc == RoundZero || rc == RoundDown && !neg || rc == RoundUp && neg {
		return f.zero(neg) | f.max
	}
	return f.infinity(neg)
}

// roundPack rounds the non-zero value m * 2^(exp-64) (m's top bit set;
// sticky: non-zero bits lie below m) of sign neg to f under csr: rounding
// mode, overflow, tininess detected after rounding (SDM Vol. 1, 11.5.2.5),
// the denormal result or FTZ's zero, and the flags. With overflow or
// underflow unmasked the result is not delivered (the instruction faults),
// and PE reports the rounding to f's precision with unbounded exponent, as
// the hardware does.
func (f *format) roundPack(neg bool, m uint64, exp int, sticky bool, csr uint32) (uint64, uint32) {
	rc := mode(csr)
	e := exp - 1 // m * 2^(exp-64) lies in [2^e, 2^(e+1))
	var fl uint32
	if e < f.emin {
		tiny := true
		if e == f.emin-1 { // not tiny if it rounds up to 2^emin
			k, _ := roundBits(m, 64-f.prec, sticky, neg, rc)
			tiny = k>>f.prec == 0
		}
		if tiny && !masked(csr, FlagUE) {
			// Unmasked, no denormal result is delivered: the precision
			// flag is that of the rounding with unbounded exponent.
			if _, inexact := roundBits(m, 64-f.prec, sticky, neg, rc); inexact {
				return f.zero(neg), FlagUE | FlagPE
			}
			return f.zero(neg), FlagUE
		}
		if tiny && csr&FTZ != 0 {
			return f.zero(neg), FlagUE | FlagPE
		}
		k, inexact := roundBits(m, 64-f.prec+uint(f.emin-e), sticky, neg, rc)
		if inexact {
			fl |= FlagPE
		}
		if tiny && inexact {
			fl |= FlagUE
		}
		return f.zero(neg) | k, fl // k == 2^(prec-1) encodes 2^emin
	}
	k, inexact := roundBits(m, 64-f.prec, sticky, neg, rc)
	if k>>f.prec != 0 {
		k >>= 1
		e++
	}
	if inexact {
		fl = FlagPE
	}
	if e > f.emax {
		fl |= FlagOE
		if masked(csr, FlagOE) {
			fl |= FlagPE
		}
		return f.overflow(neg, rc), fl
	}
	return f.zero(neg) | uint64(e+f.bias)<<f.fracBits | k&f.frac, fl
}
