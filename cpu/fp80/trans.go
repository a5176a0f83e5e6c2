package fp80

import "math/bits"

// The transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN,
// FSIN, FCOS, FSINCOS. Results are computed in the 128-bit format xf from
// the exact operands and rounded once to 64 bits in the current rounding
// mode: correctly rounded except within about 2^-120 of a rounding boundary.
// Intel documents errors of at most one ulp for these instructions; where its
// result is not the correctly rounded one, this differs in the last bit.
//
// FSIN, FCOS, FSINCOS and FPTAN reduce their argument modulo pi/2 with the
// 66-bit approximation of pi that Intel (and AMD) processors use (SDM Vol. 1,
// 8.3.10), exactly, so large arguments give the results those processors
// give rather than the mathematically exact ones.

// pi66 is pi rounded to 66 bits, as an integer: pi66 = pi66Hi:pi66Lo × 2^-64.
const (
	pi66Hi = 0x3
	pi66Lo = 0x243F6A8885A308D3
)

// Constants and series coefficients, computed once in xf arithmetic.
var (
	xOne, xTwo  = xint(1), xint(2)
	xLn2        xf // ln 2
	xLog2e      xf // 1 / ln 2
	xPi         xf
	xRecipOdd   [48]xf // 1/(2k+1)
	xRecipOddAl [48]xf // (-1)^k/(2k+1)
	xExpm1Coef  [40]xf // 1/(k+1)!
	xSinCoef    [24]xf // (-1)^k/(2k+1)!
	xCosCoef    [24]xf // (-1)^k/(2k)!
)

func init() {
	f := xOne // k!
	for k := range xExpm1Coef {
		f = xmul(f, xrecip(xint(int64(k+1))))
		xExpm1Coef[k] = f
	}
	for k := range xRecipOdd {
		xRecipOdd[k] = xrecip(xint(int64(2*k + 1)))
		xRecipOddAl[k] = xRecipOdd[k]
		if k&1 != 0 {
			xRecipOddAl[k] = xneg(xRecipOdd[k])
		}
	}
	fs, fc := xOne, xOne // 1/(2k+1)!, 1/(2k)!
	for k := range xSinCoef {
		if k > 0 {
			fc = xmul(fs, xrecip(xint(int64(2*k))))
			fs = xmul(fc, xrecip(xint(int64(2*k+1))))
		}
		xSinCoef[k], xCosCoef[k] = fs, fc
		if k&1 != 0 {
			xSinCoef[k], xCosCoef[k] = xneg(fs), xneg(fc)
		}
	}
	xLn2 = xmul(xTwo, xoddSeries(xrecip(xint(3)), xRecipOdd[:]))
	xLog2e = xrecip(xLn2)
	// pi = 16 atan(1/5) - 4 atan(1/239) (Machin)
	a := xoddSeries(xrecip(xint(5)), xRecipOddAl[:])
	b := xoddSeries(xrecip(xint(239)), xRecipOddAl[:])
	xPi = xsub(xmul(a, xint(16)), xmul(b, xint(4)))
}

// xoddSeries returns t × Σ c[k] t^(2k), with as many terms as |t| needs for
// 127 bits: atanh (c = xRecipOdd) or atan (c = xRecipOddAl) for |t| < 1/2.
func xoddSeries(t xf, c []xf) xf {
	if t.isZero() {
		return t
	}
	t2 := xmul(t, t)
	decay := int(-t2.exp - 1) // t² < 2^-decay
	n := 1
	if decay > 0 {
		n = 130/decay + 2
	}
	if n > len(c) {
		n = len(c)
	}
	return xmul(t, xpoly(c[:n], t2))
}

// roundX rounds x, an approximation of a transcendental result that is never
// exactly representable, to an F80 in mode e.RC, raising PE (and C1), OE,
// UE. When x has no bits beyond its top 64 + 64 (a tiny argument's
// correction term is below the working precision), dir says which side of x
// the true value lies: -1 toward zero (sin x, cos x, atan x against x, 1,
// x), +1 away from zero.
func (e *Env) roundX(x xf, dir int) F80 {
	if x.isZero() {
		return signed(Zero, x.neg)
	}
	hi, lo := x.hi, x.lo
	if lo == 0 && dir < 0 {
		var b uint64
		lo, b = bits.Sub64(lo, 1, 0)
		hi -= b
	} else {
		lo |= 1
	}
	return e.round(x.neg, x.exp, hi, lo, fmt80, true).pack80()
}

// xln returns the natural logarithm of x > 0.
func xln(x xf) xf {
	// x = m × 2^k with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh((m-1)/(m+1))
	k := x.exp
	m := x
	m.exp = 0
	if m.hi < 0xB504F333F9DE6484 { // sqrt(2)/2 × 2^64
		m.exp = 1
		k--
	}
	t := xdiv(xsub(m, xOne), xadd(m, xOne))
	r := xoddSeries(t, xRecipOdd[:])
	r.exp++
	return xadd(r, xmul(xLn2, xint(int64(k))))
}

// xexpm1 returns e^y - 1 for |y| < 1.
func xexpm1(y xf) xf { return xmul(y, xpoly(xExpm1Coef[:], y)) }

// xsincos returns sin r and cos r for |r| <= pi/4.
func xsincos(r xf) (s, c xf) {
	r2 := xmul(r, r)
	return xmul(r, xpoly(xSinCoef[:], r2)), xpoly(xCosCoef[:], r2)
}

// xatan returns atan z for any finite z.
func xatan(z xf) xf {
	neg := z.neg
	z.neg = false
	invert := z.exp >= 0 && !(z.exp == 0 && z.hi == 1<<63 && z.lo == 0) // |z| > 1
	if invert {
		z = xrecip(z)
	}
	// atan z = 2 atan(z / (1 + sqrt(1 + z²))), twice: |z| <= tan(pi/16).
	for range 2 {
		z = xdiv(z, xadd(xOne, xsqrt(xadd(xOne, xmul(z, z)))))
	}
	r := xoddSeries(z, xRecipOddAl[:])
	r.exp += 2
	if invert {
		h := xPi
		h.exp--
		r = xsub(h, r)
	}
	r.neg = neg && !r.isZero()
	return r
}

// xreduce returns a reduced modulo pi66/2 to [-pi66/4, pi66/4], exactly, and
// the quadrant (the quotient modulo 4); |a| < 2^63.
func xreduce(a F80) (xf, int) {
	u := unpack(a)
	if u.exp < -2 { // |a| < 1/4 < pi/4
		return xfOf(a), 0
	}
	// In units of 2^-65: X = |a| × 2^65 (at most 128 bits), P = pi66/2 =
	// pi66Hi:pi66Lo (66 bits). k = round(X / P), r = X - k·P, |r| <= P/2.
	xh, xl := shl128(0, u.m, uint(u.exp+2))
	q := xmul(xf{exp: 127, hi: xh, lo: xl}.norm(), xrecip(xf{exp: 127, hi: pi66Hi, lo: pi66Lo}.norm()))
	k := uint64(0)
	if q.exp >= -1 {
		_, q2 := shr(q.hi, q.lo, uint(127-q.exp-1)) // the integer part of 2q
		k = (q2 + 1) >> 1
	}
	// r = X - k·P as a signed 192-bit integer; then correct k by one if the
	// estimate was off.
	r := func(k uint64) (neg bool, hi, lo uint64) {
		ph, pl := bits.Mul64(k, pi66Lo)
		ph += k * pi66Hi // k·P < 2^128: k < 2^62
		lo, b := bits.Sub64(xl, pl, 0)
		hi, _ = bits.Sub64(xh, ph, b)
		if int64(hi) < 0 {
			lo, b = bits.Sub64(0, lo, 0)
			hi, _ = bits.Sub64(0, hi, b)
			return true, hi, lo
		}
		return false, hi, lo
	}
	neg, rh, rl := r(k)
	// |r| must not exceed P/2 = pi66 × 2^-66, i.e. 2|r| <= P.
	if th, tl := shl128(rh, rl, 1); th > pi66Hi || th == pi66Hi && tl > pi66Lo {
		if neg {
			k--
		} else {
			k++
		}
		neg, rh, rl = r(k)
	}
	red := xf{neg: neg != u.sign, exp: 127 - 65, hi: rh, lo: rl}.norm()
	quad := int(k & 3)
	if u.sign {
		quad = -quad & 3
	}
	return red, quad
}

// quadrant returns sin and cos of quad·pi66/2 + r.
func quadrant(r xf, quad int) (s, c xf) {
	s, c = xsincos(r)
	switch quad {
	case 1:
		s, c = c, xneg(s)
	case 2:
		s, c = xneg(s), xneg(c)
	case 3:
		s, c = xneg(c), s
	}
	return
}

// shl128 shifts hi:lo left by n < 128.
func shl128(hi, lo uint64, n uint) (uint64, uint64) {
	switch {
	case n == 0:
		return hi, lo
	case n < 64:
		return hi<<n | lo>>(64-n), lo << n
	}
	return lo << (n - 64), 0
}

// trigArgument screens FSIN/FCOS/FSINCOS/FPTAN operands: NaNs and invalid
// operands decide the result (done), infinities are invalid, |x| >= 2^63 is
// out of range (C2 set, operand unchanged: outOfRange).
func (e *Env) trigArgument(a F80) (r F80, done, outOfRange bool) {
	switch a.Classify() {
	case ClassUnsupported, ClassInf:
		return e.invalid(), true, false
	case ClassQNaN, ClassSNaN:
		return e.propagate(a, a), true, false
	case ClassDenormal:
		e.Flags |= FlagDE
	}
	if a.Classify() != ClassZero && unpack(a).exp >= 63 {
		return a, true, true
	}
	return a, false, false
}

// SinCos returns sin a and cos a (FSINCOS; FSIN and FCOS use one of them).
// outOfRange reports |a| >= 2^63 (C2): the operand is then left alone.
func (e *Env) SinCos(a F80, wantSin, wantCos bool) (s, c F80, outOfRange bool) {
	if r, done, oor := e.trigArgument(a); done {
		return r, r, oor
	}
	if a.Classify() == ClassZero {
		return a, One, false
	}
	xs, xc := quadrant(xreduce(a))
	if wantSin {
		s = e.roundX(xs, -1)
	}
	if wantCos {
		c = e.roundX(xc, -1)
	}
	return s, c, false
}

// Tan returns tan a (FPTAN, which then pushes 1).
func (e *Env) Tan(a F80) (r F80, outOfRange bool) {
	if r, done, oor := e.trigArgument(a); done {
		return r, oor
	}
	if a.Classify() == ClassZero {
		return a, false
	}
	xs, xc := quadrant(xreduce(a))
	return e.roundX(xdiv(xs, xc), 1), false
}

// TwoXM1 returns 2^a - 1 (F2XM1), defined for -1 <= a <= 1.
func (e *Env) TwoXM1(a F80) F80 {
	if r, done := e.passThrough(a); done {
		return r
	}
	if a.Classify() == ClassInf { // 2^-∞ - 1
		return One.Neg()
	}
	if e.denormals(a) {
		return Indefinite
	}
	x := xfOf(a)
	if x.exp < 0 || x.exp == 0 && x.hi == 1<<63 && x.lo == 0 { // |a| <= 1
		return e.roundX(xexpm1(xmul(x, xLn2)), 1)
	}
	// Outside the defined domain: 2^a - 1 all the same, as 2^n × 2^f - 1.
	n := int32(1 << 16)
	if x.exp < 16 {
		_, l := shr(x.hi, x.lo, uint(127-x.exp))
		n = int32(l)
	}
	if x.neg {
		n = -n
	}
	p := xadd(xexpm1(xmul(xsub(x, xint(int64(n))), xLn2)), xOne)
	p.exp += n
	return e.roundX(xsub(p, xOne), 1)
}

// YL2X returns b × log2(a) (FYL2X: a = ST(0), b = ST(1)); with plus1 it
// returns b × log2(a + 1) (FYL2XP1).
func (e *Env) YL2X(a, b F80, plus1 bool) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	ca, cb := a.Classify(), b.Classify()
	one := F80{}
	if !plus1 {
		one = One
	}
	rel := order(a, one) // a against the point where the logarithm is 0
	neg := a.Sign() && ca != ClassZero
	if plus1 {
		neg = order(a, One.Neg()) == Less
	}
	switch {
	case neg:
		return e.invalid()
	case ca == ClassInf:
		if cb == ClassZero {
			return e.invalid()
		}
		e.denormals(b)
		return signed(infinity(), b.Sign())
	case cb == ClassInf:
		switch {
		case rel == Equal:
			return e.invalid()
		case !plus1 && ca == ClassZero || plus1 && order(a, One.Neg()) == Equal:
			e.denormals(a)
			return signed(infinity(), !b.Sign())
		}
		e.denormals(a)
		return signed(infinity(), b.Sign() != (rel == Less))
	case !plus1 && ca == ClassZero, plus1 && order(a, One.Neg()) == Equal:
		if cb == ClassZero {
			return e.invalid()
		}
		e.Flags |= FlagZE
		return signed(infinity(), !b.Sign())
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	if cb == ClassZero || rel == Equal {
		logNeg := rel == Less || plus1 && ca == ClassZero && a.Sign() // log2(1 + -0) = -0
		return signed(Zero, b.Sign() != logNeg)
	}
	x := xfOf(a)
	var l xf
	if plus1 {
		// ln(1+x) = 2 atanh(x / (2 + x)), accurate for small x
		l = xoddSeries(xdiv(x, xadd(x, xTwo)), xRecipOdd[:])
		l.exp++
	} else {
		l = xln(x)
	}
	return e.roundX(xmul(xmul(l, xLog2e), xfOf(b)), 1)
}

// Atan returns atan(b / a) in the quadrant of (a, b) (FPATAN: a = ST(0),
// b = ST(1)).
func (e *Env) Atan(a, b F80) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	ca, cb := a.Classify(), b.Classify()
	pi := func(frac float64) F80 {
		v := xmul(xPi, xfloat(frac))
		v.neg = b.Sign()
		return e.roundX(v, 1)
	}
	switch {
	case ca == ClassInf && cb == ClassInf:
		if a.Sign() {
			return pi(0.75)
		}
		return pi(0.25)
	case cb == ClassInf:
		e.denormals(a)
		return pi(0.5)
	case ca == ClassInf:
		e.denormals(b)
		if a.Sign() {
			return pi(1)
		}
		return signed(Zero, b.Sign())
	case cb == ClassZero && ca == ClassZero:
		if a.Sign() {
			return pi(1)
		}
		return b
	case cb == ClassZero:
		e.denormals(a)
		if a.Sign() {
			return pi(1)
		}
		return b
	case ca == ClassZero:
		e.denormals(b)
		return pi(0.5)
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	r := xatan(xdiv(xfOf(b), xfOf(a)))
	if a.Sign() {
		if b.Sign() {
			r = xsub(r, xPi)
		} else {
			r = xadd(r, xPi)
		}
	}
	return e.roundX(r, -1)
}
