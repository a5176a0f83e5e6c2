package fp80

import (
	"math"
	"math/bits"
)

// xf is the working format of the transcendental instructions: a 128-bit
// significand, value (-1)^neg × hi:lo × 2^(exp-127), hi normalized (bit 63
// set) unless the value is zero. Operations truncate; their relative error
// is a few units of 2^-127, far below the 2^-64 of the results, so the final
// rounding is correct except within about 2^-120 of a rounding boundary.
type xf struct {
	neg    bool
	exp    int32
	hi, lo uint64
}

func (a xf) isZero() bool { return a.hi == 0 }

// norm normalizes hi:lo.
func (a xf) norm() xf {
	if a.hi == 0 {
		if a.lo == 0 {
			return xf{}
		}
		a.hi, a.lo = a.lo, 0
		a.exp -= 64
	}
	if s := uint(bits.LeadingZeros64(a.hi)); s > 0 {
		a.hi, a.lo = a.hi<<s|a.lo>>(64-s), a.lo<<s
		a.exp -= int32(s)
	}
	return a
}

func xneg(a xf) xf {
	if !a.isZero() {
		a.neg = !a.neg
	}
	return a
}

// xfOf returns the exact value of a finite F80.
func xfOf(f F80) xf {
	if f.Classify() == ClassZero {
		return xf{}
	}
	u := unpack(f)
	return xf{neg: u.sign, exp: u.exp, hi: u.m}
}

// xint returns the integer v.
func xint(v int64) xf {
	a := xf{neg: v < 0, exp: 127, lo: uint64(v)}
	if v < 0 {
		a.lo = -a.lo
	}
	return a.norm()
}

// xfloat returns v (a float64 constant: exact).
func xfloat(v float64) xf {
	if v == 0 {
		return xf{}
	}
	fr, e := math.Frexp(math.Abs(v)) // v = fr × 2^e, fr in [0.5, 1)
	return xf{neg: v < 0, exp: int32(e - 1), hi: uint64(fr * (1 << 53) * (1 << 11))}
}

func xmul(a, b xf) xf {
	if a.isZero() || b.isZero() {
		return xf{}
	}
	// (ah·2^64 + al)(bh·2^64 + bl): the top 128 bits of the 256-bit product.
	h1, l1 := bits.Mul64(a.hi, b.hi)
	h2, _ := bits.Mul64(a.hi, b.lo)
	h3, _ := bits.Mul64(a.lo, b.hi)
	var c uint64
	l1, c = bits.Add64(l1, h2, 0)
	h1 += c
	l1, c = bits.Add64(l1, h3, 0)
	h1 += c
	r := xf{neg: a.neg != b.neg, exp: a.exp + b.exp + 1, hi: h1, lo: l1}
	return r.norm()
}

// shr shifts hi:lo right by n (truncating).
func shr(hi, lo uint64, n uint) (uint64, uint64) {
	switch {
	case n == 0:
		return hi, lo
	case n < 64:
		return hi >> n, lo>>n | hi<<(64-n)
	case n < 128:
		return 0, hi >> (n - 64)
	}
	return 0, 0
}

func xadd(a, b xf) xf {
	if a.isZero() {
		return b
	}
	if b.isZero() {
		return a
	}
	if a.exp < b.exp || a.exp == b.exp && (a.hi < b.hi || a.hi == b.hi && a.lo < b.lo) {
		a, b = b, a
	}
	bh, bl := shr(b.hi, b.lo, uint(a.exp-b.exp))
	if a.neg == b.neg {
		lo, c := bits.Add64(a.lo, bl, 0)
		hi, c := bits.Add64(a.hi, bh, c)
		r := xf{neg: a.neg, exp: a.exp, hi: hi, lo: lo}
		if c != 0 {
			r.hi, r.lo = shr(hi, lo, 1)
			r.hi |= 1 << 63
			r.exp++
		}
		return r
	}
	lo, br := bits.Sub64(a.lo, bl, 0)
	hi, _ := bits.Sub64(a.hi, bh, br)
	return xf{neg: a.neg, exp: a.exp, hi: hi, lo: lo}.norm()
}

func xsub(a, b xf) xf { return xadd(a, xneg(b)) }

// xrecip returns 1/b by Newton's iteration from a float64 estimate.
func xrecip(b xf) xf {
	est := 1 / (float64(b.hi) * math.Ldexp(1, -63)) // 1/b's significand, in (0.5, 1]
	r := xfloat(est)
	r.exp -= b.exp
	r.neg = b.neg
	two := xint(2)
	for range 2 { // 53 -> 106 -> 127 bits
		r = xmul(r, xsub(two, xmul(b, r)))
	}
	return r
}

func xdiv(a, b xf) xf { return xmul(a, xrecip(b)) }

// xsqrt returns the square root of a >= 0 (1/sqrt by Newton, then times a).
func xsqrt(a xf) xf {
	if a.isZero() {
		return a
	}
	e := a.exp
	m := a
	m.exp = 0
	if e&1 != 0 {
		m.exp = 1 // m in [1, 4), e - m.exp even
	}
	y := xfloat(1 / math.Sqrt(float64(m.hi)*math.Ldexp(1, int(m.exp)-63)))
	three := xint(3)
	for range 2 {
		t := xmul(m, xmul(y, y))
		y = xmul(y, xsub(three, t))
		y.exp--
	}
	r := xmul(m, y)
	r.exp += (e - m.exp) / 2
	return r
}

// xpoly evaluates c[0] + c[1]·x + c[2]·x² + ... by Horner's rule.
func xpoly(c []xf, x xf) xf {
	p := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		p = xadd(xmul(p, x), c[i])
	}
	return p
}
