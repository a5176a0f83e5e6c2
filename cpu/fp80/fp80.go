// Package fp80 is a software implementation of the x87 80-bit extended
// precision format: arithmetic, comparison, conversions and rounding as the
// x87 FPU performs them (SDM Vol. 1, chapters 4 and 8), including precision
// control, the four rounding modes, denormals, pseudo-denormals, the
// unsupported encodings (pseudo-NaN, pseudo-infinity, unnormal), x87 NaN
// propagation, and the six exception flags with their masked responses.
package fp80

import (
	"math"
	"math/bits"
)

// F80 is an extended-precision value as stored: a 64-bit significand with an
// explicit integer bit (bit 63), and the sign (bit 15) with a 15-bit biased
// exponent.
type F80 struct {
	Mant    uint64
	SignExp uint16
}

// Exception flags, at their bit positions in the x87 status and control words.
const (
	FlagIE = 1 << 0 // invalid operation
	FlagDE = 1 << 1 // denormal operand
	FlagZE = 1 << 2 // zero divide
	FlagOE = 1 << 3 // overflow
	FlagUE = 1 << 4 // underflow
	FlagPE = 1 << 5 // precision (inexact)
)

// Rounding modes, as encoded in FCW.RC and MXCSR.RC.
const (
	RoundNearest = 0
	RoundDown    = 1
	RoundUp      = 2
	RoundZero    = 3
)

// Env is the environment of one operation: the rounding control, the
// precision, which exceptions are masked, and what the operation raised.
type Env struct {
	// RC is the rounding mode (RoundNearest...).
	RC uint8
	// Prec is the significand precision of arithmetic results: 24, 53 or 64.
	Prec uint8
	// Mask is the set of masked exceptions (FCW bits 0-5).
	Mask uint8
	// Flags accumulates the exceptions raised.
	Flags uint8
	// C1 reports that the last inexact result was rounded up in magnitude.
	C1 bool
}

// Unmasked reports the raised exceptions that are not masked.
func (e *Env) Unmasked() uint8 { return e.Flags &^ e.Mask }

// Special values.
var (
	// Indefinite is the QNaN the x87 produces for a masked invalid operation.
	Indefinite = F80{Mant: 0xC000000000000000, SignExp: 0xFFFF}
	// Zero, One are +0 and +1.
	Zero = F80{}
	One  = F80{Mant: 1 << 63, SignExp: 0x3FFF}
)

const (
	bias    = 16383
	expMax  = 0x7FFF
	intBit  = uint64(1) << 63
	quitBit = uint64(1) << 62
	// wrapBias is the exponent adjustment of unmasked overflow and
	// underflow responses (SDM Vol. 1, 8.5.4-8.5.5).
	wrapBias = 24576
)

// Sign reports whether f is negative.
func (f F80) Sign() bool { return f.SignExp&0x8000 != 0 }

// Exp returns the biased exponent.
func (f F80) Exp() int { return int(f.SignExp & expMax) }

// Neg returns f with its sign flipped.
func (f F80) Neg() F80 { f.SignExp ^= 0x8000; return f }

// Abs returns f with its sign cleared.
func (f F80) Abs() F80 { f.SignExp &^= 0x8000; return f }

// Class is the kind of value an encoding holds.
type Class uint8

// Classes. Unsupported covers pseudo-NaNs, pseudo-infinities and unnormals,
// which the x87 rejects as invalid operands.
const (
	ClassZero Class = iota
	ClassNormal
	ClassDenormal // includes pseudo-denormals
	ClassInf
	ClassQNaN
	ClassSNaN
	ClassUnsupported
)

// Classify returns f's class.
func (f F80) Classify() Class {
	e := f.Exp()
	switch {
	case e == 0:
		if f.Mant == 0 {
			return ClassZero
		}
		return ClassDenormal
	case f.Mant&intBit == 0:
		return ClassUnsupported
	case e == expMax:
		switch {
		case f.Mant == intBit:
			return ClassInf
		case f.Mant&quitBit != 0:
			return ClassQNaN
		}
		return ClassSNaN
	}
	return ClassNormal
}

// IsNaN reports whether f is a quiet or signaling NaN.
func (f F80) IsNaN() bool {
	c := f.Classify()
	return c == ClassQNaN || c == ClassSNaN
}

// unpacked is a finite value (-1)^sign × m × 2^(exp-63); m has bit 63 set
// unless the value is zero.
type unpacked struct {
	sign bool
	exp  int32
	m    uint64
}

// unpack returns a finite non-zero value (normal, denormal or
// pseudo-denormal) normalized.
func unpack(f F80) unpacked {
	u := unpacked{sign: f.Sign(), exp: int32(f.Exp()) - bias, m: f.Mant}
	if f.Exp() == 0 {
		u.exp = 1 - bias
	}
	if u.m != 0 {
		lz := bits.LeadingZeros64(u.m)
		u.m <<= lz
		u.exp -= int32(lz)
	}
	return u
}

// format is a destination format for rounding: its precision and normal
// exponent range.
type format struct {
	prec       uint
	eMin, eMax int32
}

var (
	fmt80 = format{64, 1 - bias, bias}
	fmt64 = format{53, -1022, 1023}
	fmt32 = format{24, -126, 127}
)

// rounded is a rounding result: finite (m bit 63 set, or a denormal with exp
// == eMin, or zero when m == 0) or infinite.
type rounded struct {
	sign bool
	inf  bool
	exp  int32
	m    uint64
}

// round rounds (-1)^sign × hi:lo × 2^(exp-127) to f, applying e.RC and
// raising OE, UE, PE and C1. With wrap (a register destination), unmasked
// overflow and underflow deliver the result with its exponent wrapped by
// 24576, as the x87 does; otherwise the masked response is computed and the
// caller discards it when the exception is unmasked.
func (e *Env) round(sign bool, exp int32, hi, lo uint64, f format, wrap bool) rounded {
	if hi == 0 && lo == 0 {
		return rounded{sign: sign}
	}
	if hi == 0 {
		hi, lo = lo, 0
		exp -= 64
	}
	if lz := uint(bits.LeadingZeros64(hi)); lz > 0 {
		hi = hi<<lz | lo>>(64-lz)
		lo <<= lz
		exp -= int32(lz)
	}
	// Tininess is detected after rounding: a value just below 2^eMin that
	// rounds to it at the destination precision is not tiny.
	tiny := exp < f.eMin && !(exp == f.eMin-1 && e.roundsUp(hi, lo, f.prec, sign))
	if tiny && wrap && e.Mask&FlagUE == 0 {
		exp += wrapBias
		tiny = false
		e.Flags |= FlagUE
	}
	if tiny {
		hi, lo = shr128Jam(hi, lo, uint(f.eMin-exp))
		exp = f.eMin
	}
	p := f.prec
	kept := hi >> (64 - p)
	var restHi, restLo, halfHi, halfLo uint64
	if p == 64 {
		restHi, halfHi = lo, 1<<63
	} else {
		restHi, restLo = hi&(1<<(64-p)-1), lo
		halfHi = 1 << (63 - p)
	}
	inexact := restHi|restLo != 0
	inc := false
	switch e.RC {
	case RoundNearest:
		c := cmp128(restHi, restLo, halfHi, halfLo)
		inc = c > 0 || c == 0 && kept&1 != 0
	case RoundDown:
		inc = inexact && sign
	case RoundUp:
		inc = inexact && !sign
	}
	if inc {
		kept++
		if kept == 1<<p || p == 64 && kept == 0 {
			kept = 1 << (p - 1)
			exp++
		}
	}
	if inexact {
		e.Flags |= FlagPE
		e.C1 = inc
		if tiny {
			e.Flags |= FlagUE
		}
	}
	if exp > f.eMax {
		e.Flags |= FlagOE
		if wrap && e.Mask&FlagOE == 0 {
			exp -= wrapBias
		} else {
			e.Flags |= FlagPE
			toInf := e.RC == RoundNearest || e.RC == RoundUp && !sign || e.RC == RoundDown && sign
			e.C1 = toInf
			if toInf {
				return rounded{sign: sign, inf: true}
			}
			return rounded{sign: sign, exp: f.eMax, m: ^uint64(0) << (64 - p)}
		}
	}
	return rounded{sign: sign, exp: exp, m: kept << (64 - p)}
}

// roundsUp reports whether rounding hi:lo (normalized) to prec bits carries
// into a new leading bit.
func (e *Env) roundsUp(hi, lo uint64, prec uint, sign bool) bool {
	if prec < 64 && hi>>(64-prec) != 1<<prec-1 || prec == 64 && hi != ^uint64(0) {
		return false // the kept bits are not all ones
	}
	var restHi, restLo, halfHi uint64
	if prec == 64 {
		restHi, halfHi = lo, 1<<63
	} else {
		restHi, restLo, halfHi = hi&(1<<(64-prec)-1), lo, 1<<(63-prec)
	}
	inexact := restHi|restLo != 0
	switch e.RC {
	case RoundNearest:
		return cmp128(restHi, restLo, halfHi, 0) >= 0 // the kept bits are odd
	case RoundDown:
		return inexact && sign
	case RoundUp:
		return inexact && !sign
	}
	return false
}

// pack80 encodes r as an F80.
func (r rounded) pack80() F80 {
	var s uint16
	if r.sign {
		s = 0x8000
	}
	switch {
	case r.inf:
		return F80{Mant: intBit, SignExp: s | expMax}
	case r.m == 0:
		return F80{SignExp: s}
	case r.m&intBit == 0:
		return F80{Mant: r.m, SignExp: s}
	}
	return F80{Mant: r.m, SignExp: s | uint16(r.exp+bias)}
}

// packIEEE encodes r in an IEEE binary format with fracBits fraction bits,
// expBits exponent bits and the given bias.
func (r rounded) packIEEE(fracBits, expBits uint, ebias int32) uint64 {
	var s uint64
	if r.sign {
		s = 1 << (fracBits + expBits)
	}
	var v uint64
	switch {
	case r.inf:
		v = (1<<expBits - 1) << fracBits
	case r.m == 0:
	case r.m&intBit == 0:
		v = r.m >> (63 - fracBits)
	default:
		v = uint64(r.exp+ebias)<<fracBits | r.m>>(63-fracBits)&(1<<fracBits-1)
	}
	return s | v
}

// shr128Jam shifts hi:lo right by n, ORing the bits shifted out into bit 0.
func shr128Jam(hi, lo uint64, n uint) (uint64, uint64) {
	switch {
	case n == 0:
		return hi, lo
	case n < 64:
		sticky := lo<<(64-n) != 0
		lo = lo>>n | hi<<(64-n)
		hi >>= n
		if sticky {
			lo |= 1
		}
	case n < 128:
		sticky := lo != 0 || hi<<(128-n) != 0
		lo = hi >> (n - 64)
		hi = 0
		if sticky {
			lo |= 1
		}
	default:
		sticky := hi|lo != 0
		hi, lo = 0, 0
		if sticky {
			lo = 1
		}
	}
	return hi, lo
}

// cmp128 compares two 128-bit unsigned values.
func cmp128(ah, al, bh, bl uint64) int {
	switch {
	case ah < bh || ah == bh && al < bl:
		return -1
	case ah == bh && al == bl:
		return 0
	}
	return 1
}

// Quiet returns the NaN f with its quiet bit set.
func Quiet(f F80) F80 { f.Mant |= quitBit; return f }

// propagate returns the NaN result of an operation on a and b, at least one
// of which is a NaN, as the x87 chooses it (SDM Vol. 1, Table 4-7): a QNaN
// over an SNaN, else the larger significand; an SNaN raises IE.
func (e *Env) propagate(a, b F80) F80 {
	ca, cb := a.Classify(), b.Classify()
	if ca == ClassSNaN || cb == ClassSNaN {
		e.Flags |= FlagIE
	}
	an := ca == ClassQNaN || ca == ClassSNaN
	bn := cb == ClassQNaN || cb == ClassSNaN
	switch {
	case an && bn:
		switch {
		case ca == ClassSNaN && cb == ClassQNaN:
			return b
		case ca == ClassQNaN && cb == ClassSNaN:
			return a
		case a.Mant|quitBit < b.Mant|quitBit:
			return Quiet(b)
		case a.Mant|quitBit > b.Mant|quitBit:
			return Quiet(a)
		case a.SignExp < b.SignExp:
			return Quiet(a)
		}
		return Quiet(b)
	case an:
		return Quiet(a)
	}
	return Quiet(b)
}

// invalid raises IE and returns the QNaN indefinite.
func (e *Env) invalid() F80 {
	e.Flags |= FlagIE
	return Indefinite
}

// operands screens the operands of a two-operand arithmetic instruction:
// unsupported encodings and NaNs decide the result (done), denormals raise DE.
func (e *Env) operands(a, b F80) (r F80, done bool) {
	ca, cb := a.Classify(), b.Classify()
	if ca == ClassUnsupported || cb == ClassUnsupported {
		return e.invalid(), true
	}
	if ca == ClassQNaN || ca == ClassSNaN || cb == ClassQNaN || cb == ClassSNaN {
		return e.propagate(a, b), true
	}
	return F80{}, false
}

// operand screens the operand of a one-operand instruction like operands.
func (e *Env) operand(a F80) (r F80, done bool) {
	switch a.Classify() {
	case ClassUnsupported:
		return e.invalid(), true
	case ClassQNaN, ClassSNaN:
		return e.propagate(a, a), true
	}
	return F80{}, false
}

// denormals raises DE if any operand is denormal and reports whether an
// unmasked DE stops the operation (its result is then not delivered).
func (e *Env) denormals(fs ...F80) bool {
	for _, f := range fs {
		if f.Classify() == ClassDenormal {
			e.Flags |= FlagDE
		}
	}
	return e.Flags&^e.Mask&FlagDE != 0
}

func (e *Env) arithFormat() format {
	f := fmt80
	f.prec = uint(e.Prec)
	if f.prec == 0 {
		f.prec = 64
	}
	return f
}

// zeroSign returns the sign of an exact zero sum of operands of different
// signs: negative only when rounding down.
func (e *Env) zeroSign() F80 {
	if e.RC == RoundDown {
		return Zero.Neg()
	}
	return Zero
}

// Add returns a + b.
func (e *Env) Add(a, b F80) F80 { return e.addSub(a, b, false) }

// Sub returns a - b.
func (e *Env) Sub(a, b F80) F80 { return e.addSub(a, b, true) }

func (e *Env) addSub(a, b F80, sub bool) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	if sub {
		b = b.Neg()
	}
	ca, cb := a.Classify(), b.Classify()
	switch {
	case ca == ClassInf && cb == ClassInf:
		if a.Sign() != b.Sign() {
			return e.invalid()
		}
		return a
	case ca == ClassInf:
		e.denormals(b)
		return a
	case cb == ClassInf:
		e.denormals(a)
		return b
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	if ca == ClassZero && cb == ClassZero {
		if a.Sign() == b.Sign() {
			return a
		}
		return e.zeroSign()
	}
	if ca == ClassZero {
		a, b = b, a
		ca, cb = cb, ca
	}
	ua := unpack(a)
	if cb == ClassZero {
		return e.round(ua.sign, ua.exp, ua.m, 0, e.arithFormat(), true).pack80()
	}
	ub := unpack(b)
	if ua.exp < ub.exp || ua.exp == ub.exp && ua.m < ub.m {
		ua, ub = ub, ua
	}
	bh, bl := shr128Jam(ub.m, 0, uint(ua.exp-ub.exp))
	exp := ua.exp
	var hi, lo uint64
	if ua.sign == ub.sign {
		var c uint64
		lo, c = bits.Add64(0, bl, 0)
		hi, c = bits.Add64(ua.m, bh, c)
		if c != 0 {
			hi, lo = shr128Jam(hi, lo, 1)
			hi |= intBit
			exp++
		}
	} else {
		var br uint64
		lo, br = bits.Sub64(0, bl, 0)
		hi, _ = bits.Sub64(ua.m, bh, br)
		if hi == 0 && lo == 0 {
			return e.zeroSign()
		}
	}
	return e.round(ua.sign, exp, hi, lo, e.arithFormat(), true).pack80()
}

// Mul returns a × b.
func (e *Env) Mul(a, b F80) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	ca, cb := a.Classify(), b.Classify()
	sign := a.Sign() != b.Sign()
	switch {
	case ca == ClassInf || cb == ClassInf:
		if ca == ClassZero || cb == ClassZero {
			return e.invalid()
		}
		e.denormals(a, b)
		return signed(infinity(), sign)
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	if ca == ClassZero || cb == ClassZero {
		return signed(Zero, sign)
	}
	ua, ub := unpack(a), unpack(b)
	hi, lo := bits.Mul64(ua.m, ub.m)
	return e.round(sign, ua.exp+ub.exp+1, hi, lo, e.arithFormat(), true).pack80()
}

// Div returns a / b.
func (e *Env) Div(a, b F80) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	ca, cb := a.Classify(), b.Classify()
	sign := a.Sign() != b.Sign()
	switch {
	case ca == ClassInf && cb == ClassInf, ca == ClassZero && cb == ClassZero:
		return e.invalid()
	case ca == ClassInf:
		e.denormals(b)
		return signed(infinity(), sign)
	case cb == ClassInf:
		e.denormals(a)
		return signed(Zero, sign)
	}
	if cb == ClassZero {
		e.Flags |= FlagZE
		return signed(infinity(), sign)
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	if ca == ClassZero {
		return signed(Zero, sign)
	}
	ua, ub := unpack(a), unpack(b)
	exp := ua.exp - ub.exp - 1
	nh, nl := ua.m, uint64(0)
	if ua.m >= ub.m {
		nh, nl = ua.m>>1, ua.m<<63
		exp++
	}
	q1, r := bits.Div64(nh, nl, ub.m)
	q2, r2 := bits.Div64(r, 0, ub.m)
	if r2 != 0 {
		q2 |= 1
	}
	return e.round(sign, exp, q1, q2, e.arithFormat(), true).pack80()
}

// passThrough handles the operands that Sqrt and TwoXM1 return unchanged,
// ±0 and +∞, and NaNs (as operand does); done reports whether r is the
// result. -∞ is left to the caller.
func (e *Env) passThrough(a F80) (r F80, done bool) {
	if r, done := e.operand(a); done {
		return r, true
	}
	if c := a.Classify(); c == ClassZero || c == ClassInf && !a.Sign() {
		return a, true
	}
	return F80{}, false
}

// Sqrt returns the square root of a.
func (e *Env) Sqrt(a F80) F80 {
	if r, done := e.passThrough(a); done {
		return r
	}
	if a.Sign() { // -∞ too
		return e.invalid()
	}
	if e.denormals(a) {
		return Indefinite
	}
	u := unpack(a)
	var rh, rl uint64
	var exp int32
	if u.exp&1 == 0 {
		rh, rl = u.m>>1, u.m<<63
		exp = 63 + (u.exp-126)/2
	} else {
		rh, rl = u.m, 0
		exp = 63 + (u.exp-127)/2
	}
	r, remHi, remLo := isqrt128(rh, rl)
	var lo uint64
	if remHi|remLo != 0 {
		lo = 1
		if remHi != 0 || remLo > r {
			lo |= 1 << 63
		}
	}
	return e.round(false, exp, r, lo, e.arithFormat(), true).pack80()
}

// isqrt128 returns the integer square root of hi:lo (at least 2^126) and the
// remainder hi:lo - r².
func isqrt128(hi, lo uint64) (r, remHi, remLo uint64) {
	// A float64 estimate, raised above the root (its error is below 2^12),
	// one Newton step from above (error below one), then exact correction.
	est := math.Sqrt(float64(hi)*0x1p64 + float64(lo))
	r = math.MaxUint64
	if est < 0x1p64-0x1p14 {
		r = uint64(est) + 1<<13
	}
	if hi < r { // always, except when the root is 2^64 - 1
		q, _ := bits.Div64(hi, lo, r)
		sum, c := bits.Add64(r, q, 0)
		r = sum>>1 | c<<63
	}
	for {
		sh, sl := bits.Mul64(r, r)
		if sh < hi || sh == hi && sl <= lo {
			break
		}
		r--
	}
	for r < math.MaxUint64 {
		sh, sl := bits.Mul64(r+1, r+1)
		if sh > hi || sh == hi && sl > lo {
			break
		}
		r++
	}
	sh, sl := bits.Mul64(r, r)
	var b uint64
	remLo, b = bits.Sub64(lo, sl, 0)
	remHi, _ = bits.Sub64(hi, sh, b)
	return
}

func infinity() F80 { return F80{Mant: intBit, SignExp: expMax} }

// Inf returns an infinity of the given sign.
func Inf(neg bool) F80 { return signed(infinity(), neg) }

func signed(f F80, neg bool) F80 {
	if neg {
		f.SignExp |= 0x8000
	} else {
		f.SignExp &^= 0x8000
	}
	return f
}
