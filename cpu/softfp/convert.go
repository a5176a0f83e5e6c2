package softfp

import "math/bits"

// unpack returns the finite non-zero x of class c as a significand with its
// top bit set and an exponent: x = ±m * 2^(exp-64).
func (f *format) unpack(x uint64, c class) (m uint64, exp int) {
	m = x & f.frac
	e := int(x >> f.fracBits & f.expMax)
	if c == clsNormal {
		m |= 1 << f.fracBits
	} else {
		e = 1
	}
	lz := bits.LeadingZeros64(m)
	return m << lz, e - f.bias - int(f.fracBits) + 64 - lz
}

// Convert returns x (in format from) in format to, as CVTSS2SD, CVTSD2SS,
// CVTPS2PD and CVTPD2PS do: NaNs keep their sign and leading payload bits
// and are made quiet (IE if signaling); narrowing rounds under csr.
func Convert(from, to Format, x uint64, csr uint32) (uint64, uint32) {
	f, t := from.f(), to.f()
	c := f.classify(x)
	neg := f.neg(x)
	var fl uint32
	switch c {
	case clsQNaN, clsSNaN:
		if c == clsSNaN {
			fl = FlagIE
		}
		payload := x & f.frac
		if t.fracBits > f.fracBits {
			payload <<= t.fracBits - f.fracBits
		} else {
			payload >>= f.fracBits - t.fracBits
		}
		return t.infinity(neg) | payload | t.quiet, fl
	case clsInf:
		return t.infinity(neg), 0
	case clsZero:
		return t.zero(neg), 0
	}
	x, c = f.operand(x, c, csr, &fl)
	if c == clsZero {
		return t.zero(neg), fl
	}
	m, exp := f.unpack(x, c)
	r, rf := t.roundPack(neg, m, exp, false, csr)
	return r, fl | rf
}

// IntIndefinite returns the integer indefinite of a bits-wide integer: the
// result of an invalid float-to-integer conversion.
func IntIndefinite(bits int) uint64 { return 1 << (bits - 1) }

// ToInt converts x to a signed bits-wide (32 or 64) integer as CVTSS2SI
// (rounding under csr) or CVTTSS2SI (truncate) and their SD and packed forms
// do: the integer indefinite and IE for NaNs, infinities and out-of-range
// values, PE when inexact. The result is zero-extended from bits.
func ToInt(w Format, x uint64, bits int, truncate bool, csr uint32) (uint64, uint32) {
	f := w.f()
	c := f.classify(x)
	if c == clsInf || c.isNaN() {
		return IntIndefinite(bits), FlagIE
	}
	var fl uint32
	x, c = f.operand(x, c, csr, &fl)
	fl &^= FlagDE // conversions to integer do not report denormal operands
	if c == clsZero {
		return 0, fl
	}
	rc := mode(csr)
	if truncate {
		rc = RoundZero
	}
	neg := f.neg(x)
	m, exp := f.unpack(x, c) // |x| = m * 2^(exp-64)
	if exp > bits {
		return IntIndefinite(bits), FlagIE
	}
	k, inexact := roundBits(m, uint(64-exp), false, neg, rc)
	limit := uint64(1) << (bits - 1) // |INT_MIN|
	if k > limit || k == limit && !neg {
		return IntIndefinite(bits), FlagIE
	}
	if inexact {
		fl |= FlagPE
	}
	if neg {
		k = -k
	}
	if bits == 32 {
		k &= 0xFFFFFFFF
	}
	return k, fl
}

// FromInt converts the signed integer v to w as CVTSI2SS, CVTSI2SD,
// CVTDQ2PS and CVTDQ2PD do, rounding under csr (PE when inexact).
func FromInt(w Format, v int64, csr uint32) (uint64, uint32) {
	if v == 0 {
		return 0, 0
	}
	neg := v < 0
	mag := uint64(v)
	if neg {
		mag = -mag
	}
	lz := bits.LeadingZeros64(mag)
	return w.f().roundPack(neg, mag<<lz, 64-lz, false, csr)
}

// RoundInt rounds x to an integral value in w as ROUNDSS/ROUNDSD/ROUNDPS/
// ROUNDPD do with immediate imm: imm[1:0] the rounding mode unless imm[2]
// selects MXCSR.RC, imm[3] suppresses the precision exception; a signaling
// NaN is made quiet with IE.
func RoundInt(w Format, x uint64, imm uint8, csr uint32) (uint64, uint32) {
	f := w.f()
	c := f.classify(x)
	switch c {
	case clsQNaN, clsSNaN:
		return f.propagate(x, c, x, c)
	case clsInf, clsZero:
		return x, 0
	}
	var fl uint32
	x, c = f.operand(x, c, csr, &fl)
	fl &^= FlagDE // ROUND does not report denormal operands
	neg := f.neg(x)
	if c == clsZero {
		return x, fl
	}
	rc := uint32(imm & 3)
	if imm&4 != 0 {
		rc = mode(csr)
	}
	m, exp := f.unpack(x, c)
	if exp >= int(f.prec) { // already integral
		return x, fl
	}
	k, inexact := roundBits(m, uint(64-exp), false, neg, rc)
	if inexact && imm&8 == 0 {
		fl |= FlagPE
	}
	if k == 0 {
		return f.zero(neg), fl
	}
	lz := bits.LeadingZeros64(k)
	r, _ := f.roundPack(neg, k<<lz, 64-lz, false, csr) // exact
	return r, fl
}
