package softfp

import "math"

// Format selects binary32 (F32: the low 32 bits of an operand) or binary64.
type Format uint8

// The two formats.
const (
	F32 Format = iota
	F64
)

func (w Format) f() *format {
	if w == F32 {
		return &f32
	}
	return &f64
}

// binop is a two-operand arithmetic operation.
type binop uint8

const (
	opAdd binop = iota
	opSub
	opMul
	opDiv
)

// Add returns a+b.
func Add(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	if csr&hotMask == hotBits {
		if w == F64 {
			if r := math.Float64bits(f64of(a) + f64of(b)); hot64(a, b, r) {
				return r, 0
			}
		} else if r := bits32(f32of(a) + f32of(b)); hot32(a, b, r) {
			return r, 0
		}
	}
	return arith(w, opAdd, a, b, csr)
}

// Sub returns a-b.
func Sub(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	if csr&hotMask == hotBits {
		if w == F64 {
			if r := math.Float64bits(f64of(a) - f64of(b)); hot64(a, b, r) {
				return r, 0
			}
		} else if r := bits32(f32of(a) - f32of(b)); hot32(a, b, r) {
			return r, 0
		}
	}
	return arith(w, opSub, a, b, csr)
}

// Mul returns a*b.
func Mul(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	if csr&hotMask == hotBits {
		if w == F64 {
			if r := math.Float64bits(f64of(a) * f64of(b)); hot64(a, b, r) {
				return r, 0
			}
		} else if r := bits32(f32of(a) * f32of(b)); hot32(a, b, r) {
			return r, 0
		}
	}
	return arith(w, opMul, a, b, csr)
}

// Div returns a/b.
func Div(w Format, a, b uint64, csr uint32) (uint64, uint32) {
	if csr&hotMask == hotBits {
		if w == F64 {
			if r := math.Float64bits(f64of(a) / f64of(b)); hot64(a, b, r) {
				return r, 0
			}
		} else if r := bits32(f32of(a) / f32of(b)); hot32(a, b, r) {
			return r, 0
		}
	}
	return arith(w, opDiv, a, b, csr)
}

func arith(w Format, op binop, a, b uint64, csr uint32) (uint64, uint32) {
	if w == F64 {
		if r, fl, ok := fast64(op, a, b, csr); ok {
			return r, fl
		}
	} else if csr&rcMask == 0 {
		if r, fl, ok := fast32(op, a, b, csr); ok {
			return r, fl
		}
	}
	return w.f().arith(op, a, b, csr)
}

// The common case, decided without error terms: round to nearest, PE already
// set and masked (so inexactness needs no detection).
const (
	hotMask = rcMask | FlagPE | FlagPE<<MaskShift
	hotBits = FlagPE | FlagPE<<MaskShift
)

// hot64 reports whether a binary64 operation on a and b with the host's
// round-to-nearest result r needs nothing more: no special operand, and r
// neither zero nor near the edges of the exponent range.
func hot64(a, b, r uint64) bool {
	return plain64(a) && plain64(b) && plain64(r) && r<<1 != 0
}

// hot32 is hot64 for binary32 (computed in binary64 and rounded again:
// innocuous in round to nearest for these operations, 53 >= 2*24+2).
func hot32(a, b, r uint64) bool {
	return plain32(a) && plain32(b) && r<<33 != 0 && uint32(r)>>23&0xFF-2 < 0xFC
}

// f64of returns the binary64 x.
func f64of(x uint64) float64 { return math.Float64frombits(x) }

// f32of returns the binary32 in x's low half, widened exactly.
func f32of(x uint64) float64 { return float64(math.Float32frombits(uint32(x))) }

// bits32 rounds v to binary32 and returns its bits.
func bits32(v float64) uint64 { return uint64(math.Float32bits(float32(v))) }

// plain64 reports whether x is a zero or a binary64 normal whose exponent
// leaves room for exact error terms (|x| in [2^-958, 2^960) ).
func plain64(x uint64) bool {
	e := x >> 52 & 0x7FF
	return e-0x40 < 0x780 || x<<1 == 0
}

// plain32 reports whether x is a zero or a binary32 normal.
func plain32(x uint64) bool {
	e := x >> 23 & 0xFF
	return e-1 < 0xFE || x<<33 == 0
}

// fast64 computes an operation on host floats (which round to nearest) when
// neither the operands nor the result are special, with the exact error
// term (2Sum, FMA) giving the inexact flag and the directed roundings. ok is
// false when the slow path must decide.
func fast64(op binop, a, b uint64, csr uint32) (r uint64, fl uint32, ok bool) {
	if !plain64(a) || !plain64(b) {
		return 0, 0, false
	}
	x, y := math.Float64frombits(a), math.Float64frombits(b)
	need := !peKnown(csr) || csr&rcMask != 0 // the error term
	var z, e float64
	switch op {
	case opAdd, opSub:
		if op == opSub {
			y = -y
		}
		z = x + y
		if need {
			yy := z - x
			e = (x - (z - yy)) + (y - yy)
		}
	case opMul:
		z = x * y
		if need {
			e = math.FMA(x, y, -z)
		}
	case opDiv:
		z = x / y
		if need {
			e = math.FMA(-z, y, x) // x - z*y = y*(x/y - z)
			if y < 0 {
				e = -e
			}
		}
	}
	if r = math.Float64bits(z); r<<1 == 0 || !plain64(r) {
		return 0, 0, false
	}
	return directed(z, e, csr)
}

// directed returns z, the round-to-nearest result whose exact value is z+e
// (e only by its sign), in csr's rounding mode, with PE when inexact.
func directed(z, e float64, csr uint32) (uint64, uint32, bool) {
	if e == 0 {
		return math.Float64bits(z), 0, true
	}
	switch mode(csr) {
	case RoundUp:
		if e > 0 {
			z = math.Nextafter(z, math.Inf(1))
		}
	case RoundDown:
		if e < 0 {
			z = math.Nextafter(z, math.Inf(-1))
		}
	case RoundZero:
		if (e > 0) != (z > 0) {
			z = math.Nextafter(z, 0)
		}
	}
	return math.Float64bits(z), FlagPE, true
}

// fast32 is fast64 for binary32, computed exactly or with an exact
// remainder in binary64 and rounded once more (innocuous for these
// operations: 53 >= 2*24+2).
func fast32(op binop, a, b uint64, csr uint32) (r uint64, fl uint32, ok bool) {
	if !plain32(a) || !plain32(b) {
		return 0, 0, false
	}
	x := float64(math.Float32frombits(uint32(a)))
	y := float64(math.Float32frombits(uint32(b)))
	var z float64
	inexact := false
	switch op {
	case opAdd, opSub:
		if op == opSub {
			y = -y
		}
		z = x + y
		if !peKnown(csr) {
			yy := z - x
			inexact = (x-(z-yy))+(y-yy) != 0
		}
	case opMul:
		z = x * y // exact: 48 bits
	case opDiv:
		z = x / y
		inexact = !peKnown(csr) && math.FMA(-z, y, x) != 0
	}
	s := math.Float32bits(float32(z))
	r = uint64(s)
	if r<<33 == 0 || s>>23&0xFF-2 >= 0xFC { // zero, tiny or near the edges
		return 0, 0, false
	}
	if inexact || float64(math.Float32frombits(s)) != z {
		fl = FlagPE
	}
	return r, fl, true
}

func (f *format) arith(op binop, a, b uint64, csr uint32) (uint64, uint32) {
	ca, cb := f.classify(a), f.classify(b)
	if ca.isNaN() || cb.isNaN() {
		return f.propagate(a, ca, b, cb)
	}
	var fl uint32
	a, ca = f.operand(a, ca, csr, &fl)
	b, cb = f.operand(b, cb, csr, &fl)
	if op == opSub {
		b ^= f.sign
		op = opAdd
	}
	sa, sb := f.neg(a), f.neg(b)
	neg := sa != sb
	switch op {
	case opAdd:
		switch {
		case ca == clsInf && cb == clsInf && neg:
			return f.indef, FlagIE
		case ca == clsInf:
			return a, fl
		case cb == clsInf:
			return b, fl
		case ca == clsZero && cb == clsZero && !neg:
			return a, fl
		}
	case opMul:
		switch {
		case (ca == clsInf || cb == clsInf) && (ca == clsZero || cb == clsZero):
			return f.indef, FlagIE
		case ca == clsInf || cb == clsInf:
			return f.infinity(neg), fl
		case ca == clsZero || cb == clsZero:
			return f.zero(neg), fl
		}
	case opDiv:
		switch {
		case ca == clsInf && cb == clsInf, ca == clsZero && cb == clsZero:
			return f.indef, FlagIE
		case ca == clsInf:
			return f.infinity(neg), fl
		case cb == clsZero:
			return f.infinity(neg), FlagZE
		case ca == clsZero || cb == clsInf:
			return f.zero(neg), fl
		}
	}
	var r uint64
	var rf uint32
	if f == &f32 {
		r, rf = arith32(op, a, b, csr)
	} else {
		r, rf = arith64(op, a, ca, b, cb, csr)
	}
	return r, fl | rf
}

// Sqrt returns the square root of a.
func Sqrt(w Format, a uint64, csr uint32) (uint64, uint32) {
	if w == F64 {
		if a>>52-0x80 < 0x700 { // positive, |a| in [2^-895, 2^897)
			x := math.Float64frombits(a)
			z := math.Sqrt(x)
			if peKnown(csr) && csr&rcMask == 0 {
				return math.Float64bits(z), 0
			}
			r, fl, _ := directed(z, math.FMA(-z, z, x), csr)
			return r, fl
		}
	} else if csr&rcMask == 0 {
		if a>>23-1 < 0xFE { // positive normal
			x := float64(math.Float32frombits(uint32(a)))
			z := math.Sqrt(x)
			s := math.Float32bits(float32(z))
			if peKnown(csr) || float64(math.Float32frombits(s)) == z && math.FMA(z, z, -x) == 0 {
				return uint64(s), 0
			}
			return uint64(s), FlagPE
		}
	}
	return w.f().sqrt(a, csr)
}

func (f *format) sqrt(a uint64, csr uint32) (uint64, uint32) {
	ca := f.classify(a)
	if ca.isNaN() {
		return f.propagate(a, ca, a, ca)
	}
	var fl uint32
	a, ca = f.operand(a, ca, csr, &fl)
	switch {
	case ca == clsZero:
		return a, fl
	case f.neg(a):
		return f.indef, FlagIE
	case ca == clsInf:
		return a, fl
	}
	r, rf := f.sqrtExact(a, ca, csr)
	return r, fl | rf
}
