package softfp

import (
	"math"
	"math/bits"
)

// The exact operations behind the slow paths: binary32 operations carried
// out in binary64 with an exact residual, and binary64 ones in 128-bit
// integer arithmetic. None of them allocates.

// roundResidual rounds z+e to f, where z is a binary64 normal or zero and e
// the exact error of the computation that produced z (only its sign
// matters, |e| < ulp(z)/2).
func (f *format) roundResidual(z, e float64, csr uint32) (uint64, uint32) {
	b := math.Float64bits(z)
	neg := b>>63 != 0
	m, exp := f64.unpack(b, clsNormal) // 11 zero bits below the significand
	if e != 0 && (e < 0) != neg {
		// |z+e| lies strictly between m-2^10 and m (in units of m's last
		// bit), an interval no rounding boundary of 53 or fewer bits
		// enters: m-1 with the sticky bit stands for it.
		m--
		if m>>63 == 0 {
			m = m<<1 | 1
			exp--
		}
	}
	return f.roundPack(neg, m, exp, e != 0, csr)
}

// arith32 computes a binary32 addition, multiplication or division (a, b
// finite; zeros allowed for addition, not as divisors) in binary64: exactly
// for products, with the exact 2Sum error or division remainder otherwise.
func arith32(op binop, a, b uint64, csr uint32) (uint64, uint32) {
	x := float64(math.Float32frombits(uint32(a)))
	y := float64(math.Float32frombits(uint32(b)))
	var z, e float64
	switch op {
	case opAdd:
		z = x + y
		yy := z - x
		e = (x - (z - yy)) + (y - yy)
		if z == 0 { // exact cancellation
			return f32.zero(mode(csr) == RoundDown), 0
		}
	case opMul:
		z = x * y
	case opDiv:
		z = x / y
		e = math.FMA(-z, y, x)
		if y < 0 {
			e = -e
		}
	}
	return f32.roundResidual(z, e, csr)
}

// arith64 computes a binary64 addition, multiplication or division exactly
// in integers (a, b finite; zeros allowed for addition, not as divisors) and
// rounds it.
func arith64(op binop, a uint64, ca class, b uint64, cb class, csr uint32) (uint64, uint32) {
	f := &f64
	na, nb := f.neg(a), f.neg(b)
	if op == opAdd {
		switch {
		case ca == clsZero && cb == clsZero:
			return f.zero(mode(csr) == RoundDown), 0 // opposite signs
		case ca == clsZero:
			a, ca, na, b, cb, nb = b, cb, nb, a, ca, na
		}
		ma, ea := f.unpack(a, ca)
		if cb == clsZero {
			return f.roundPack(na, ma, ea, false, csr)
		}
		mb, eb := f.unpack(b, cb)
		neg, m, e, sticky, zero := add128(na, ma, ea, nb, mb, eb)
		if zero {
			return f.zero(mode(csr) == RoundDown), 0
		}
		return f.roundPack(neg, m, e, sticky, csr)
	}
	ma, ea := f.unpack(a, ca)
	mb, eb := f.unpack(b, cb)
	neg := na != nb
	if op == opMul {
		hi, lo := bits.Mul64(ma, mb)
		e := ea + eb
		if hi>>63 == 0 {
			hi, lo = hi<<1|lo>>63, lo<<1
			e--
		}
		return f.roundPack(neg, hi, e, lo != 0, csr)
	}
	// a/b: the 64-bit quotient of ma*2^64 (or ma*2^63) by mb lies in
	// [2^63, 2^64).
	hi, lo, e := ma, uint64(0), ea-eb
	if ma >= mb {
		hi, lo, e = ma>>1, ma<<63, e+1
	}
	q, r := bits.Div64(hi, lo, mb)
	return f.roundPack(neg, q, e, r != 0, csr)
}

// add128 adds the non-zero ±ma*2^(ea-64) and ±mb*2^(eb-64) (top bits set)
// in 128 bits: the sum's top 64 bits, exponent and sticky bit, or zero.
func add128(na bool, ma uint64, ea int, nb bool, mb uint64, eb int) (neg bool, m uint64, e int, sticky, zero bool) {
	if ea < eb || ea == eb && ma < mb {
		na, ma, ea, nb, mb, eb = nb, mb, eb, na, ma, ea
	}
	// Align b below a in 128 bits; bits shifted out are jammed into the
	// lowest bit (far below the rounding position).
	d := ea - eb
	var bh, bl uint64
	switch {
	case d == 0:
		bh = mb
	case d < 64:
		bh, bl = mb>>d, mb<<(64-d)
	case d < 128:
		bl = mb >> (d - 64)
		if mb<<(128-d) != 0 {
			bl |= 1
		}
	default:
		bl = 1
	}
	var hi, lo uint64
	e = ea
	if na == nb {
		var c uint64
		lo, c = bits.Add64(0, bl, 0)
		hi, c = bits.Add64(ma, bh, c)
		if c != 0 {
			lo = lo>>1 | hi<<63 | lo&1
			hi = hi>>1 | 1<<63
			e++
		}
	} else {
		var brw uint64
		lo, brw = bits.Sub64(0, bl, 0)
		hi, _ = bits.Sub64(ma, bh, brw)
		if hi == 0 && lo == 0 {
			return false, 0, 0, false, true
		}
		if hi == 0 {
			hi, lo = lo, 0
			e -= 64
		}
		if s := bits.LeadingZeros64(hi); s != 0 {
			hi, lo = hi<<s|lo>>(64-s), lo<<s
			e -= s
		}
	}
	return na, hi, e, lo != 0, false
}

// sqrtExact returns the square root of the positive finite non-zero a (f32
// or f64) rounded to f: computed in binary64 on a scaled copy of a (made a
// mid-range normal by an even power of two) with the exact residual
// a - z*z. The root of a binary32 or binary64 never overflows or
// underflows.
func (f *format) sqrtExact(a uint64, ca class, csr uint32) (uint64, uint32) {
	var x float64
	if f == &f32 {
		x = float64(math.Float32frombits(uint32(a)))
	} else {
		m, exp := f.unpack(a, ca)
		x = math.Ldexp(float64(m>>11), exp-53) // exact: 53 bits
	}
	fr, exp := math.Frexp(x) // x = fr * 2^exp, fr in [0.5, 1)
	k := exp &^ 1            // even
	xs := math.Ldexp(fr, exp-k)
	z := math.Sqrt(xs)
	return f.roundResidual(math.Ldexp(z, k/2), math.FMA(-z, z, xs), csr)
}
