package cpu

import "math/bits"

// Multiply and divide: MUL and one-operand IMUL (rDX:rAX = rAX * E), two-
// and three-operand IMUL (G = E * G or E * imm, truncated), DIV and IDIV
// (rAX, rDX = rDX:rAX / E).
//
// Flags. MUL/IMUL define only CF = OF = "the result does not fit the
// destination" (for MUL: the high half is non-zero; for IMUL: the product
// is not the sign extension of its truncated value). SF, ZF, AF and PF are
// undefined (SDM Vol. 2); we do what Bochs does to model Intel CPUs: SF, ZF
// and PF from the low half of the product (the truncated product for the
// two- and three-operand forms), AF = 0 (lazy kind flagsMul).
//
// DIV/IDIV leave all six status flags undefined; we leave them unchanged.
// Divide by zero and a quotient that does not fit the destination
// (including IDIV of -2^(n-1) by -1) raise #DE before any state changes.

func init() {
	setBinders(map[Op]func(*Inst) handler{
		OpMUL: bindMulDiv, OpIMUL1: bindMulDiv, OpDIV: bindMulDiv, OpIDIV: bindMulDiv,
		OpIMUL: bindIMUL,
	})
}

func bindMulDiv(in *Inst) handler {
	if in.form != formE {
		return nil
	}
	switch in.op {
	case OpMUL:
		return execMUL
	case OpIMUL1:
		return execIMUL1
	case OpDIV:
		return execDIV
	}
	return execIDIV
}

// mulFlags records the flags of a multiply: r is the (low half of the)
// result, overflow says whether CF and OF are set.
func (c *CPU) mulFlags(size uint8, r uint64, overflow bool) {
	var o uint64
	if overflow {
		o = 1
	}
	c.setFlags(flagsMul, size, 0, o, r)
}

// execMUL is the unsigned rDX:rAX = rAX * E.
func execMUL(c *CPU, in *Inst) {
	b := c.readE(in)
	switch in.osz {
	case 1:
		p := (c.R[RAX] & 0xFF) * b
		c.R[RAX] = c.R[RAX]&^0xFFFF | p
		c.mulFlags(1, p&0xFF, p>>8 != 0)
	case 2:
		p := (c.R[RAX] & 0xFFFF) * b
		c.R[RAX] = c.R[RAX]&^0xFFFF | p&0xFFFF
		c.R[RDX] = c.R[RDX]&^0xFFFF | p>>16
		c.mulFlags(2, p&0xFFFF, p>>16 != 0)
	case 4:
		p := (c.R[RAX] & 0xFFFFFFFF) * b
		c.R[RAX] = p & 0xFFFFFFFF
		c.R[RDX] = p >> 32
		c.mulFlags(4, p&0xFFFFFFFF, p>>32 != 0)
	default:
		hi, lo := bits.Mul64(c.R[RAX], b)
		c.R[RAX], c.R[RDX] = lo, hi
		c.mulFlags(8, lo, hi != 0)
	}
}

// imul64 returns the signed 128-bit product of a and b.
func imul64(a, b uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(a, b)
	hi -= b & uint64(int64(a)>>63)
	hi -= a & uint64(int64(b)>>63)
	return
}

// execIMUL1 is the signed rDX:rAX = rAX * E.
func execIMUL1(c *CPU, in *Inst) {
	b := signExtend(c.readE(in), in.osz)
	switch in.osz {
	case 1, 2, 4:
		s := in.osz
		p := uint64(int64(signExtend(c.R[RAX], s)) * int64(b))
		lo := p & sizeMask(s)
		ov := signExtend(lo, s) != p
		switch s {
		case 1:
			c.R[RAX] = c.R[RAX]&^0xFFFF | p&0xFFFF
		case 2:
			c.R[RAX] = c.R[RAX]&^0xFFFF | lo
			c.R[RDX] = c.R[RDX]&^0xFFFF | p>>16&0xFFFF
		default:
			c.R[RAX] = lo
			c.R[RDX] = p >> 32 & 0xFFFFFFFF
		}
		c.mulFlags(s, lo, ov)
	default:
		hi, lo := imul64(c.R[RAX], b)
		c.R[RAX], c.R[RDX] = lo, hi
		c.mulFlags(8, lo, hi != uint64(int64(lo)>>63))
	}
}

// bindIMUL picks the handler of two- and three-operand IMUL.
func bindIMUL(in *Inst) handler {
	switch in.form {
	case formGE:
		if in.osz == 8 {
			if in.isReg() {
				return imul64RR
			}
			return imul64RM
		}
		if in.osz == 4 && in.isReg() {
			return imul32RR
		}
	case formGEI, formGEIb:
		if in.isReg() {
			switch in.osz {
			case 8:
				return imul64RI
			case 4:
				return imul32RI
			}
		}
	default:
		return nil
	}
	return execIMUL
}

func imul64RR(c *CPU, in *Inst) {
	hi, lo := imul64(c.R[in.reg], c.R[in.rm])
	c.R[in.reg] = lo
	c.mulFlags(8, lo, hi != uint64(int64(lo)>>63))
}

func imul64RM(c *CPU, in *Inst) {
	hi, lo := imul64(c.R[in.reg], c.read64(c.ea(in)))
	c.R[in.reg] = lo
	c.mulFlags(8, lo, hi != uint64(int64(lo)>>63))
}

func imul64RI(c *CPU, in *Inst) {
	hi, lo := imul64(c.R[in.rm], in.imm)
	c.R[in.reg] = lo
	c.mulFlags(8, lo, hi != uint64(int64(lo)>>63))
}

func imul32RR(c *CPU, in *Inst) {
	p := int64(int32(c.R[in.reg])) * int64(int32(c.R[in.rm]))
	c.R[in.reg] = uint64(uint32(p))
	c.mulFlags(4, uint64(uint32(p)), p != int64(int32(p)))
}

func imul32RI(c *CPU, in *Inst) {
	p := int64(int32(c.R[in.rm])) * int64(int32(in.imm))
	c.R[in.reg] = uint64(uint32(p))
	c.mulFlags(4, uint64(uint32(p)), p != int64(int32(p)))
}

// execIMUL is two- or three-operand IMUL of any size.
func execIMUL(c *CPU, in *Inst) {
	s := in.osz
	a := c.readE(in)
	b := in.imm
	if in.form == formGE {
		b = c.readG(in)
	}
	var r uint64
	var ov bool
	if s == 8 {
		var hi uint64
		hi, r = imul64(a, b)
		ov = hi != uint64(int64(r)>>63)
	} else {
		p := uint64(int64(signExtend(a, s)) * int64(signExtend(b, s)))
		r = p & sizeMask(s)
		ov = signExtend(r, s) != p
	}
	c.writeG(in, r)
	c.mulFlags(s, r, ov)
}

// execDIV is the unsigned rAX, rDX = rDX:rAX / E (quotient, remainder).
func execDIV(c *CPU, in *Inst) {
	d := c.readE(in)
	if d == 0 {
		c.raise(VecDE, 0)
	}
	switch in.osz {
	case 1:
		n := c.R[RAX] & 0xFFFF
		q, r := n/d, n%d
		if q > 0xFF {
			c.raise(VecDE, 0)
		}
		c.R[RAX] = c.R[RAX]&^0xFFFF | r<<8 | q
	case 2:
		n := (c.R[RDX]&0xFFFF)<<16 | c.R[RAX]&0xFFFF
		q, r := n/d, n%d
		if q > 0xFFFF {
			c.raise(VecDE, 0)
		}
		c.R[RAX] = c.R[RAX]&^0xFFFF | q
		c.R[RDX] = c.R[RDX]&^0xFFFF | r
	case 4:
		n := (c.R[RDX]&0xFFFFFFFF)<<32 | c.R[RAX]&0xFFFFFFFF
		q, r := n/d, n%d
		if q > 0xFFFFFFFF {
			c.raise(VecDE, 0)
		}
		c.R[RAX], c.R[RDX] = q, r
	default:
		if c.R[RDX] >= d {
			c.raise(VecDE, 0)
		}
		c.R[RAX], c.R[RDX] = bits.Div64(c.R[RDX], c.R[RAX], d)
	}
}

// execIDIV is the signed rAX, rDX = rDX:rAX / E (quotient rounded toward
// zero, remainder with the sign of the dividend).
func execIDIV(c *CPU, in *Inst) {
	s := in.osz
	d := int64(signExtend(c.readE(in), s))
	if d == 0 {
		c.raise(VecDE, 0)
	}
	if s == 8 {
		q, r, ok := idiv128(c.R[RDX], c.R[RAX], d)
		if !ok {
			c.raise(VecDE, 0)
		}
		c.R[RAX], c.R[RDX] = q, r
		return
	}
	var n int64
	switch s {
	case 1:
		n = int64(int16(c.R[RAX]))
	case 2:
		n = int64(int32(uint32(c.R[RDX]&0xFFFF)<<16 | uint32(c.R[RAX]&0xFFFF)))
	default:
		n = int64(c.R[RDX]<<32 | c.R[RAX]&0xFFFFFFFF)
	}
	// -2^63 / -1 cannot occur with a divisor of at most 32 bits unless the
	// dividend is -2^63 and d = -1; Go defines that quotient as -2^63, which
	// the range check below rejects.
	q, r := n/d, n%d
	if q != int64(signExtend(uint64(q), s)) {
		c.raise(VecDE, 0)
	}
	m := sizeMask(s)
	switch s {
	case 1:
		c.R[RAX] = c.R[RAX]&^0xFFFF | (uint64(r)&0xFF)<<8 | uint64(q)&0xFF
	case 2:
		c.R[RAX] = c.R[RAX]&^0xFFFF | uint64(q)&m
		c.R[RDX] = c.R[RDX]&^0xFFFF | uint64(r)&m
	default:
		c.R[RAX], c.R[RDX] = uint64(q)&m, uint64(r)&m
	}
}

// idiv128 divides the signed 128-bit hi:lo by d, reporting false when the
// quotient does not fit 64 bits.
func idiv128(hi, lo uint64, d int64) (q, r uint64, ok bool) {
	neg := int64(hi) < 0
	if neg {
		// Negate the 128-bit value.
		lo = -lo
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	dm := uint64(d)
	if d < 0 {
		dm = -dm
	}
	if hi >= dm {
		return 0, 0, false
	}
	q, r = bits.Div64(hi, lo, dm)
	if neg != (d < 0) {
		if q > 1<<63 {
			return 0, 0, false
		}
		q = -q
	} else if q >= 1<<63 {
		return 0, 0, false
	}
	if neg {
		r = -r
	}
	return q, r, true
}
