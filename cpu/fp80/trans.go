package fp80

import (
	"math/big"
	"math/bits"
	"sync"
)

// The transcendental instructions: F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN,
// FSIN, FCOS, FSINCOS. Results are computed in 160-bit binary floating point
// (math/big) from the exact operands and rounded once to 64 bits in the
// current rounding mode, so they are correctly rounded except in cases
// closer to a rounding boundary than about 2^-150 (none is known). Intel
// documents errors of at most one ulp for these instructions; where its
// result is not the correctly rounded one, this differs in the last bit.
//
// FSIN, FCOS, FSINCOS and FPTAN reduce their argument modulo pi/2 with the
// 66-bit approximation of pi that Intel processors use (SDM Vol. 1, 8.3.10),
// so large arguments give the results those processors give rather than the
// mathematically exact ones.

const transPrec = 160

var (
	transOnce sync.Once
	bigLn2    *big.Float // ln 2
	bigPi     *big.Float // pi to transPrec bits
	pi66      *big.Float // pi rounded to 66 bits, as the x87 reduces with
)

func newF() *big.Float { return new(big.Float).SetPrec(transPrec) }

func transInit() {
	transOnce.Do(func() {
		bigLn2 = newF().Mul(big.NewFloat(2), atanhSeries(newF().Quo(big.NewFloat(1), big.NewFloat(3))))
		// pi = 16 atan(1/5) - 4 atan(1/239) (Machin)
		a := atanSeries(newF().Quo(big.NewFloat(1), big.NewFloat(5)))
		b := atanSeries(newF().Quo(big.NewFloat(1), big.NewFloat(239)))
		bigPi = newF().Sub(newF().Mul(a, big.NewFloat(16)), newF().Mul(b, big.NewFloat(4)))
		pi66 = new(big.Float).SetPrec(66).SetMode(big.ToNearestEven).Set(bigPi)
		pi66 = newF().Set(pi66)
	})
}

// atanhSeries returns atanh(t) = t + t^3/3 + t^5/5 + ... for small |t|.
func atanhSeries(t *big.Float) *big.Float { return oddSeries(t, false) }

// atanSeries returns atan(t) = t - t^3/3 + t^5/5 - ... for small |t|.
func atanSeries(t *big.Float) *big.Float { return oddSeries(t, true) }

func oddSeries(t *big.Float, alternate bool) *big.Float {
	sum := newF().Set(t)
	t2 := newF().Mul(t, t)
	pow := newF().Set(t)
	term := newF()
	for k := int64(3); k < 400; k += 2 {
		pow.Mul(pow, t2)
		if alternate {
			pow.Neg(pow)
		}
		term.Quo(pow, newF().SetInt64(k))
		if term.Sign() == 0 || term.MantExp(nil)-sum.MantExp(nil) < -transPrec-4 {
			break
		}
		sum.Add(sum, term)
	}
	return sum
}

// bigOf returns f exactly (a finite, non-zero, supported value).
func bigOf(f F80) *big.Float {
	u := unpack(f)
	r := newF().SetUint64(u.m)
	r.SetMantExp(r, int(u.exp)-63)
	if u.sign {
		r.Neg(r)
	}
	return r
}

// roundBig rounds x, an approximation of a transcendental result that is
// never exactly representable, to an F80 in mode e.RC, raising PE (and C1),
// OE, UE. When x itself has few bits (a tiny argument's correction term is
// below the working precision), dir says which side of x the true value
// lies: -1 toward zero (sin x, cos x, atan x against x, 1, x), +1 away from
// zero (tan x).
func (e *Env) roundBig(x *big.Float, dir int) F80 {
	if x.Sign() == 0 {
		return signed(Zero, x.Signbit())
	}
	mant := new(big.Float)
	exp := x.MantExp(mant) // x = mant × 2^exp, 0.5 <= |mant| < 1
	mant.Abs(mant)
	mant.SetMantExp(mant, 128)
	i, acc := mant.Int(nil)
	lo := i.Uint64()
	hi := new(big.Int).Rsh(i, 64).Uint64()
	switch {
	case acc == big.Exact && dir < 0:
		var b uint64
		lo, b = bits.Sub64(lo, 1, 0)
		hi -= b
	default:
		lo |= 1
	}
	return e.round(x.Signbit(), int32(exp-1), hi, lo, fmt80, true).pack80()
}

// ln returns the natural logarithm of x > 0.
func ln(x *big.Float) *big.Float {
	m := newF()
	k := x.MantExp(m) // x = m × 2^k, m in [0.5, 1)
	if m.Cmp(big.NewFloat(0.7071067811865476)) < 0 {
		m.SetMantExp(m, 1)
		k--
	}
	// ln m = 2 atanh((m-1)/(m+1))
	num := newF().Sub(m, big.NewFloat(1))
	den := newF().Add(m, big.NewFloat(1))
	r := atanhSeries(num.Quo(num, den))
	r.Mul(r, big.NewFloat(2))
	return r.Add(r, newF().Mul(bigLn2, newF().SetInt64(int64(k))))
}

// expm1 returns e^y - 1 for |y| <= 1.
func expm1(y *big.Float) *big.Float {
	sum := newF()
	term := newF().SetInt64(1)
	for k := int64(1); k < 200; k++ {
		term.Mul(term, y)
		term.Quo(term, newF().SetInt64(k))
		if term.Sign() == 0 || k > 2 && term.MantExp(nil)-sum.MantExp(nil) < -transPrec-4 {
			break
		}
		sum.Add(sum, term)
	}
	return sum
}

// sinCosSeries returns sin(r) and cos(r) for |r| <= pi/4.
func sinCosSeries(r *big.Float) (s, c *big.Float) {
	s, c = newF(), newF()
	r2 := newF().Mul(r, r)
	ts, tc := newF().Set(r), newF().SetInt64(1)
	s.Set(ts)
	c.Set(tc)
	for k := int64(1); k < 200; k++ {
		ts.Mul(ts, r2)
		ts.Quo(ts, newF().SetInt64((2*k)*(2*k+1)))
		ts.Neg(ts)
		tc.Mul(tc, r2)
		tc.Quo(tc, newF().SetInt64((2*k-1)*(2*k)))
		tc.Neg(tc)
		s.Add(s, ts)
		c.Add(c, tc)
		if tc.Sign() == 0 || tc.MantExp(nil) < -transPrec-8 {
			break
		}
	}
	return
}

// atan returns atan(z) for any finite z.
func atan(z *big.Float) *big.Float {
	neg := z.Signbit()
	z = newF().Abs(z)
	invert := z.Cmp(big.NewFloat(1)) > 0
	if invert {
		z.Quo(newF().SetInt64(1), z)
	}
	// atan z = 2 atan(z / (1 + sqrt(1 + z²))), twice: |z| <= tan(pi/16).
	for range 2 {
		d := newF().Mul(z, z)
		d.Add(d, big.NewFloat(1))
		d.Sqrt(d)
		d.Add(d, big.NewFloat(1))
		z.Quo(z, d)
	}
	r := atanSeries(z)
	r.Mul(r, big.NewFloat(4))
	if invert {
		r.Sub(newF().Quo(bigPi, big.NewFloat(2)), r)
	}
	if neg {
		r.Neg(r)
	}
	return r
}

// reduce returns x reduced modulo pi66/2 to [-pi66/4, pi66/4] and the
// quadrant (the quotient modulo 4).
func reduce(x *big.Float) (*big.Float, int) {
	half := newF().Quo(pi66, big.NewFloat(2))
	q := newF().Quo(x, half)
	// nearest integer to q
	qi, _ := newF().Add(q, big.NewFloat(0.5)).Int(nil)
	if newF().Add(q, big.NewFloat(0.5)).Sign() < 0 {
		qi.Sub(qi, big.NewInt(1)) // Int truncates toward zero
	}
	// the reduction is exact: x and k·pi66/2 need about 66 + 63 + 16384 bits
	// at most; use enough precision for the operands at hand.
	prec := uint(transPrec + 66 + 64)
	if e := x.MantExp(nil); e > 0 {
		prec += uint(e)
	}
	k := new(big.Float).SetPrec(prec).SetInt(qi)
	r := new(big.Float).SetPrec(prec).Mul(k, half)
	r.Sub(new(big.Float).SetPrec(prec).Set(x), r)
	quad := int(new(big.Int).And(qi, big.NewInt(3)).Int64())
	return newF().Set(r), quad
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
	transInit()
	r, quad := reduce(bigOf(a))
	bs, bc := sinCosSeries(r)
	switch quad {
	case 1:
		bs, bc = bc, bs.Neg(bs)
	case 2:
		bs, bc = bs.Neg(bs), bc.Neg(bc)
	case 3:
		bs, bc = bc.Neg(bc), bs
	}
	if wantSin {
		s = e.roundBig(bs, -1)
	}
	if wantCos {
		c = e.roundBig(bc, -1)
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
	transInit()
	x, quad := reduce(bigOf(a))
	bs, bc := sinCosSeries(x)
	if quad&1 != 0 {
		return e.roundBig(bc.Quo(bc, bs.Neg(bs)), 1), false
	}
	return e.roundBig(bs.Quo(bs, bc), 1), false
}

// TwoXM1 returns 2^a - 1 (F2XM1), defined for -1 <= a <= 1.
func (e *Env) TwoXM1(a F80) F80 {
	if r, done := e.operand(a); done {
		return r
	}
	switch a.Classify() {
	case ClassZero:
		return a
	case ClassInf:
		if a.Sign() {
			return One.Neg()
		}
		return a
	}
	if e.denormals(a) {
		return Indefinite
	}
	transInit()
	y := newF().Mul(bigOf(a), bigLn2)
	if y.MantExp(nil) > 2 {
		// outside the defined domain: 2^a - 1 computed all the same
		return e.roundBig(newF().Sub(exp2(bigOf(a)), big.NewFloat(1)), 1)
	}
	return e.roundBig(expm1(y), 1)
}

// exp2 returns 2^x for a moderate finite x.
func exp2(x *big.Float) *big.Float {
	xi, _ := x.Int(nil)
	frac := newF().Sub(x, newF().SetInt(xi))
	r := expm1(newF().Mul(frac, bigLn2))
	r.Add(r, big.NewFloat(1))
	return r.SetMantExp(r, int(xi.Int64()))
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
	transInit()
	x := bigOf(a)
	var l *big.Float
	if plus1 {
		// ln(1+x) = 2 atanh(x / (2 + x)), accurate for small x
		d := newF().Add(x, big.NewFloat(2))
		l = atanhSeries(newF().Quo(x, d))
		l.Mul(l, big.NewFloat(2))
	} else {
		l = ln(x)
	}
	l.Quo(l, bigLn2)
	return e.roundBig(l.Mul(l, bigOf(b)), 1)
}

// Atan returns atan(b / a) in the quadrant of (a, b) (FPATAN: a = ST(0),
// b = ST(1)).
func (e *Env) Atan(a, b F80) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	transInit()
	ca, cb := a.Classify(), b.Classify()
	pi := func(num, den int64) F80 {
		v := newF().Mul(bigPi, big.NewFloat(float64(num)))
		v.Quo(v, big.NewFloat(float64(den)))
		if b.Sign() {
			v.Neg(v)
		}
		return e.roundBig(v, 1)
	}
	switch {
	case ca == ClassInf && cb == ClassInf:
		if a.Sign() {
			return pi(3, 4)
		}
		return pi(1, 4)
	case cb == ClassInf:
		e.denormals(a)
		return pi(1, 2)
	case ca == ClassInf:
		e.denormals(b)
		if a.Sign() {
			return pi(1, 1)
		}
		return signed(Zero, b.Sign())
	case cb == ClassZero && ca == ClassZero:
		if a.Sign() {
			return pi(1, 1)
		}
		return b
	case cb == ClassZero:
		e.denormals(a)
		if a.Sign() {
			return pi(1, 1)
		}
		return b
	case ca == ClassZero:
		e.denormals(b)
		return pi(1, 2)
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	x, y := bigOf(a), bigOf(b)
	r := atan(newF().Quo(y, x))
	if a.Sign() {
		if b.Sign() {
			r.Sub(r, bigPi)
		} else {
			r.Add(r, bigPi)
		}
	}
	return e.roundBig(r, -1)
}
