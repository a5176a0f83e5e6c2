package softfp

// order compares two finite or infinite non-NaN operands (after DAZ):
// -1, 0 or +1 as a <, = or > b; zeros of either sign are equal.
func (f *format) order(a uint64, ca class, b uint64, cb class) int {
	if ca == clsZero && cb == clsZero {
		return 0
	}
	if a == b {
		return 0
	}
	sa, sb := f.neg(a), f.neg(b)
	switch {
	case ca == clsZero:
		if sb {
			return 1
		}
		return -1
	case cb == clsZero:
		if sa {
			return -1
		}
		return 1
	case sa != sb:
		if sa {
			return -1
		}
		return 1
	}
	// same sign: the magnitudes order as their bit patterns
	less := a&^f.sign < b&^f.sign
	if less != sa {
		return -1
	}
	return 1
}

// compareOperands classifies a and b for a comparison: unordered when either
// is a NaN (IE when one is signaling, or when quiet and the comparison
// signals on QNaNs); otherwise DAZ applied or DE raised, and the order.
func (f *format) compareOperands(a, b uint64, signaling bool, csr uint32) (a2, b2 uint64, ord int, unordered bool, fl uint32) {
	ca, cb := f.classify(a), f.classify(b)
	if ca.isNaN() || cb.isNaN() {
		if signaling || ca == clsSNaN || cb == clsSNaN {
			fl = FlagIE
		}
		return a, b, 0, true, fl
	}
	a, ca = f.operand(a, ca, csr, &fl)
	b, cb = f.operand(b, cb, csr, &fl)
	return a, b, f.order(a, ca, b, cb), false, fl
}

// Min returns MINSS/MINSD's result: b unless a < b, and b (unchanged, even a
// signaling NaN, but a denormal made zero under DAZ) when either is a NaN or
// both are zeros; IE on any NaN.
func Min(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	return minMax(w, a, b, -1, csr)
}

// Max returns MAXSS/MAXSD's result: b unless a > b, as Min.
func Max(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	return minMax(w, a, b, 1, csr)
}

func minMax(w Format, a, b uint64, want int, csr uint32) (uint64, uint32) {
	a2, b2, ord, unordered, fl := w.f().compareOperands(a, b, true, csr)
	if !unordered && ord == want {
		return a2, fl
	}
	f := w.f()
	if unordered && csr&DAZ != 0 && f.classify(b) == clsDenormal {
		return b & f.sign, fl // DAZ applies to the NaN case's returned operand too
	}
	return b2, fl
}

// Comparison predicates of CMPPS/CMPSS imm8[2:0] (SDM Vol. 2, Table 3-7).
const (
	CmpEQ = iota
	CmpLT
	CmpLE
	CmpUNORD
	CmpNEQ
	CmpNLT
	CmpNLE
	CmpORD
)

// Cmp evaluates predicate pred (0-7) on a and b as CMPSS/CMPSD do: true or
// false, IE on signaling NaNs and, for LT, LE, NLT and NLE, on quiet ones.
func Cmp(w Format, a, b uint64, pred int, csr uint32) (bool, uint32) {
	signaling := pred&3 == CmpLT || pred&3 == CmpLE
	_, _, ord, unordered, fl := w.f().compareOperands(a, b, signaling, csr)
	var r bool
	switch pred & 3 {
	case CmpEQ:
		r = !unordered && ord == 0
	case CmpLT:
		r = !unordered && ord < 0
	case CmpLE:
		r = !unordered && ord <= 0
	case CmpUNORD:
		r = unordered
	}
	if pred&4 != 0 {
		r = !r
	}
	return r, fl
}

// RFLAGS bits COMISS sets.
const (
	rflagCF = 1 << 0
	rflagPF = 1 << 2
	rflagZF = 1 << 6
)

// Comi compares a and b as COMISS/COMISD (signaling: IE on quiet NaNs too)
// or UCOMISS/UCOMISD do, returning ZF, PF and CF in their RFLAGS positions
// (OF, SF and AF are cleared).
func Comi(w Format, a, b uint64, signaling bool, csr uint32) (rflags uint64, fl uint32) {
	_, _, ord, unordered, fl := w.f().compareOperands(a, b, signaling, csr)
	switch {
	case unordered:
		return rflagZF | rflagPF | rflagCF, fl
	case ord < 0:
		return rflagCF, fl
	case ord == 0:
		return rflagZF, fl
	}
	return 0, fl
}
