package fp80

import "math/bits"

// Relation is the outcome of a comparison.
type Relation uint8

// Relations.
const (
	Less Relation = iota
	Equal
	Greater
	Unordered
)

// Compare compares a with b. Any NaN raises IE unless quiet (FUCOM), where
// only an SNaN does; unsupported encodings always raise IE; denormals raise DE.
func (e *Env) Compare(a, b F80, quiet bool) Relation {
	ca, cb := a.Classify(), b.Classify()
	switch {
	case ca == ClassUnsupported || cb == ClassUnsupported || ca == ClassSNaN || cb == ClassSNaN:
		e.Flags |= FlagIE
		return Unordered
	case ca == ClassQNaN || cb == ClassQNaN:
		if !quiet {
			e.Flags |= FlagIE
		}
		return Unordered
	}
	e.denormals(a, b)
	return order(a, b)
}

// order compares two non-NaN values.
func order(a, b F80) Relation {
	za, zb := a.Classify() == ClassZero, b.Classify() == ClassZero
	if za && zb {
		return Equal
	}
	sa, sb := a.Sign(), b.Sign()
	if za {
		sa = !sb
	}
	if zb {
		sb = !sa
	}
	if sa != sb {
		if sa {
			return Less
		}
		return Greater
	}
	ma, mb := magnitude(a), magnitude(b)
	r := Equal
	switch {
	case ma.exp < mb.exp || ma.exp == mb.exp && ma.m < mb.m:
		r = Less
	case ma.exp > mb.exp || ma.m > mb.m:
		r = Greater
	}
	if sa && r != Equal {
		r = Less + Greater - r
	}
	return r
}

// magnitude returns a comparable (exp, m) of a non-zero non-NaN value;
// infinities compare above all finite values.
func magnitude(f F80) unpacked {
	if f.Classify() == ClassInf {
		return unpacked{exp: 1 << 20, m: intBit}
	}
	return unpack(f)
}

// FromInt64 returns v exactly.
func FromInt64(v int64) F80 {
	if v == 0 {
		return Zero
	}
	sign := v < 0
	m := uint64(v)
	if sign {
		m = -m
	}
	lz := bits.LeadingZeros64(m)
	return signed(F80{Mant: m << lz, SignExp: uint16(bias + 63 - lz)}, sign)
}

// roundInt rounds the finite u to an integer magnitude in mode rc. ovf
// reports a magnitude of 2^64 or more.
func roundInt(u unpacked, rc uint8) (q uint64, ovf, inexact, inc bool) {
	switch {
	case u.m == 0:
		return 0, false, false, false
	case u.exp > 63:
		return 0, true, false, false
	case u.exp == 63:
		return u.m, false, false, false
	}
	shift := uint(63 - u.exp)
	var frac uint64
	switch {
	case shift < 64:
		q, frac = u.m>>shift, u.m<<(64-shift)
	case shift == 64:
		frac = u.m
	default:
		frac = 1
	}
	inexact = frac != 0
	switch rc {
	case RoundNearest:
		inc = frac > 1<<63 || frac == 1<<63 && q&1 != 0
	case RoundDown:
		inc = inexact && u.sign
	case RoundUp:
		inc = inexact && !u.sign
	}
	if inc {
		q++
		ovf = q == 0
	}
	return
}

// ToInt converts a to a signed integer of n bits (16, 32 or 64), rounding
// in mode rc. ok is false when a is a NaN, infinite, unsupported or out of
// range: IE is raised and the integer indefinite returned.
func (e *Env) ToInt(a F80, n uint, rc uint8) (v uint64, ok bool) {
	indef := uint64(1) << (n - 1)
	switch a.Classify() {
	case ClassZero:
		return 0, true
	case ClassUnsupported, ClassQNaN, ClassSNaN, ClassInf:
		e.Flags |= FlagIE
		return indef, false
	}
	u := unpack(a)
	q, ovf, inexact, inc := roundInt(u, rc)
	limit := indef - 1
	if u.sign {
		limit = indef
	}
	if ovf || q > limit {
		e.Flags |= FlagIE
		return indef, false
	}
	if inexact {
		e.Flags |= FlagPE
		e.C1 = inc
	}
	if u.sign {
		q = -q
	}
	return q & (indef<<1 - 1), true
}

// RoundInt rounds a to an integral value in mode e.RC (FRNDINT).
func (e *Env) RoundInt(a F80) F80 {
	if r, done := e.operand(a); done {
		return r
	}
	switch a.Classify() {
	case ClassZero, ClassInf:
		return a
	}
	if e.denormals(a) {
		return Indefinite
	}
	u := unpack(a)
	if u.exp >= 63 {
		return a
	}
	q, _, inexact, inc := roundInt(u, e.RC)
	if inexact {
		e.Flags |= FlagPE
		e.C1 = inc
	}
	if q == 0 {
		return signed(Zero, u.sign)
	}
	lz := bits.LeadingZeros64(q)
	return signed(F80{Mant: q << lz, SignExp: uint16(bias + 63 - lz)}, u.sign)
}

// widen widens an IEEE binary value exactly, keeping SNaNs signaling;
// denormals raise DE.
func (e *Env) widen(v uint64, fracBits, expBits uint, ebias int32) F80 {
	sign := v>>(fracBits+expBits)&1 != 0
	ex := int32(v >> fracBits & (1<<expBits - 1))
	frac := v & (1<<fracBits - 1)
	var r F80
	switch {
	case ex == 1<<expBits-1:
		r = F80{Mant: intBit | frac<<(63-fracBits), SignExp: expMax}
	case ex == 0 && frac == 0:
	case ex == 0:
		e.Flags |= FlagDE
		m := frac << (63 - fracBits)
		lz := bits.LeadingZeros64(m)
		r = F80{Mant: m << lz, SignExp: uint16(1 - ebias + bias - int32(lz))}
	default:
		r = F80{Mant: intBit | frac<<(63-fracBits), SignExp: uint16(ex - ebias + bias)}
	}
	return signed(r, sign)
}

// toIEEE narrows a to an IEEE binary format, rounding in mode e.RC with the
// format's own exponent range.
func (e *Env) toIEEE(a F80, f format, fracBits, expBits uint, ebias int32) uint64 {
	signBit := uint64(1) << (fracBits + expBits)
	expAll := uint64(1<<expBits-1) << fracBits
	var s uint64
	if a.Sign() {
		s = signBit
	}
	switch a.Classify() {
	case ClassUnsupported:
		e.Flags |= FlagIE
		return signBit | expAll | 1<<(fracBits-1)
	case ClassSNaN, ClassQNaN:
		if a.Classify() == ClassSNaN {
			e.Flags |= FlagIE
		}
		return s | expAll | 1<<(fracBits-1) | a.Mant<<1>>(64-fracBits)
	case ClassInf:
		return s | expAll
	case ClassZero:
		return s
	}
	u := unpack(a)
	return e.round(u.sign, u.exp, u.m, 0, f, false).packIEEE(fracBits, expBits, ebias)
}

// ToF64 narrows a to an IEEE double.
func (e *Env) ToF64(a F80) uint64 { return e.toIEEE(a, fmt64, 52, 11, 1023) }

// ToF32 narrows a to an IEEE single.
func (e *Env) ToF32(a F80) uint32 { return uint32(e.toIEEE(a, fmt32, 23, 8, 127)) }

// BCD is an 80-bit packed decimal: 18 digits in bytes 0-8 (low digit in the
// low nibble of byte 0) and the sign in bit 7 of byte 9.
type BCD [10]byte

// BCDIndefinite is what FBSTP stores for a masked invalid operation.
var BCDIndefinite = BCD{7: 0xC0, 8: 0xFF, 9: 0xFF}

// FromBCD converts a packed decimal exactly. Digits above 9 are undefined
// in the SDM; they are weighted like valid digits here.
func FromBCD(b BCD) F80 {
	var v uint64
	for i := 8; i >= 0; i-- {
		v = v*100 + uint64(b[i]>>4)*10 + uint64(b[i]&15)
	}
	r := FromInt64(int64(v))
	return signed(r, b[9]&0x80 != 0)
}

// ToBCD rounds a to an integer in mode e.RC and encodes it in packed
// decimal; out of range, NaN, infinite and unsupported values raise IE and
// give the BCD indefinite.
func (e *Env) ToBCD(a F80) (BCD, bool) {
	var b BCD
	if a.Sign() {
		b[9] = 0x80
	}
	switch a.Classify() {
	case ClassZero:
		return b, true
	case ClassUnsupported, ClassQNaN, ClassSNaN, ClassInf:
		e.Flags |= FlagIE
		return BCDIndefinite, false
	}
	q, ovf, inexact, inc := roundInt(unpack(a), e.RC)
	if ovf || q > 999999999999999999 {
		e.Flags |= FlagIE
		return BCDIndefinite, false
	}
	if inexact {
		e.Flags |= FlagPE
		e.C1 = inc
	}
	for i := 0; i < 9; i++ {
		lo := q % 10
		q /= 10
		b[i] = byte(lo | q%10<<4)
		q /= 10
	}
	return b, true
}

// Scale returns a × 2^trunc(b) (FSCALE).
func (e *Env) Scale(a, b F80) F80 {
	if r, done := e.operands(a, b); done {
		return r
	}
	ca, cb := a.Classify(), b.Classify()
	if cb == ClassInf {
		switch {
		case ca == ClassZero && !b.Sign(), ca == ClassInf && b.Sign():
			return e.invalid()
		case ca == ClassZero, ca == ClassInf:
			return a
		}
		e.denormals(a)
		if b.Sign() {
			return signed(Zero, a.Sign())
		}
		return signed(infinity(), a.Sign())
	}
	if e.denormals(a, b) {
		return Indefinite
	}
	if ca == ClassZero || ca == ClassInf {
		return a
	}
	var n int32
	if cb != ClassZero {
		ub := unpack(b)
		switch {
		case ub.exp >= 20:
			n = 1 << 20
		case ub.exp >= 0:
			n = int32(ub.m >> (63 - ub.exp))
		}
		if ub.sign {
			n = -n
		}
	}
	ua := unpack(a)
	return e.round(ua.sign, ua.exp+n, ua.m, 0, fmt80, true).pack80()
}

// Extract splits a into its unbiased exponent and its significand with a
// zero exponent (FXTRACT).
func (e *Env) Extract(a F80) (exp, sig F80) {
	switch a.Classify() {
	case ClassUnsupported:
		r := e.invalid()
		return r, r
	case ClassQNaN, ClassSNaN:
		r := e.propagate(a, a)
		return r, r
	case ClassZero:
		e.Flags |= FlagZE
		return Inf(true), a
	case ClassInf:
		return infinity(), a
	}
	if e.denormals(a) {
		return Indefinite, Indefinite
	}
	u := unpack(a)
	return FromInt64(int64(u.exp)), signed(F80{Mant: u.m, SignExp: bias}, u.sign)
}

// Rem returns the partial remainder of a by b (FPREM, or FPREM1 with
// nearest), the low bits of the quotient, and whether the reduction is
// incomplete (exponent difference of 64 or more: C2).
func (e *Env) Rem(a, b F80, nearest bool) (r F80, q uint64, partial bool) {
	if r, done := e.operands(a, b); done {
		return r, 0, false
	}
	ca, cb := a.Classify(), b.Classify()
	switch {
	case ca == ClassInf || cb == ClassZero:
		return e.invalid(), 0, false
	}
	if e.denormals(a, b) {
		return Indefinite, 0, false
	}
	if ca == ClassZero {
		return a, 0, false
	}
	ua, ub := unpack(a), unpack(b)
	if cb == ClassInf {
		return e.round(ua.sign, ua.exp, ua.m, 0, fmt80, true).pack80(), 0, false
	}
	d := ua.exp - ub.exp
	sign := ua.sign
	var rem uint64 // the remainder's magnitude is rem × 2^(rexp-63)
	rexp := ub.exp
	switch {
	case d >= 64:
		n := 32 + d%32
		rexp = ua.exp - n
		d = n
		nearest = false
		partial = true
		fallthrough
	case d >= 0:
		var nh, nl uint64
		if d == 0 {
			nl = ua.m
		} else {
			nh, nl = ua.m>>(64-uint(d)), ua.m<<uint(d)
		}
		q, rem = bits.Div64(nh, nl, ub.m)
		if nearest && (rem > ub.m-rem || rem == ub.m-rem && q&1 != 0) {
			q++
			rem = ub.m - rem
			sign = !sign
		}
	case d == -1 && nearest && ua.m > ub.m:
		q, rem, rexp = 1, 2*ub.m-ua.m, ua.exp
		sign = !sign
	default:
		return e.round(ua.sign, ua.exp, ua.m, 0, fmt80, true).pack80(), 0, false
	}
	if rem == 0 {
		return signed(Zero, ua.sign), q, partial
	}
	return e.round(sign, rexp, rem, 0, fmt80, true).pack80(), q, partial
}

// Constant names the x87 load-constant instructions' irrational values.
type Constant uint8

// Constants of FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2.
const (
	ConstL2T Constant = iota
	ConstL2E
	ConstPi
	ConstLG2
	ConstLN2
)

// constants holds each constant truncated to 64 bits and whether the bits
// beyond make round-to-nearest round up.
var constants = [...]struct {
	f      F80
	nearUp bool
}{
	ConstL2T: {F80{0xD49A784BCD1B8AFE, 0x4000}, false},
	ConstL2E: {F80{0xB8AA3B295C17F0BB, 0x3FFF}, true},
	ConstPi:  {F80{0xC90FDAA22168C234, 0x4000}, true},
	ConstLG2: {F80{0x9A209A84FBCFF798, 0x3FFD}, true},
	ConstLN2: {F80{0xB17217F7D1CF79AB, 0x3FFE}, true},
}

// Const returns constant c rounded in mode rc, as the x87 loads it.
func Const(c Constant, rc uint8) F80 {
	k := constants[c]
	if rc == RoundUp || rc == RoundNearest && k.nearUp {
		k.f.Mant++
	}
	return k.f
}

// WidenF32 widens an IEEE single exactly, as an arithmetic operand: an SNaN
// stays signaling (the operation raises IE); a denormal raises DE.
func (e *Env) WidenF32(v uint32) F80 { return e.widen(uint64(v), 23, 8, 127) }

// WidenF64 widens an IEEE double exactly, like WidenF32.
func (e *Env) WidenF64(v uint64) F80 { return e.widen(v, 52, 11, 1023) }
