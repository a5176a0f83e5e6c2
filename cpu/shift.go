package cpu

import "math/bits"

// Shifts and rotates: ROL ROR RCL RCR SHL SHR SAR (group 2: C0/C1 count
// imm8, D0/D1 count 1, D2/D3 count CL) and SHLD SHRD (count imm8 or CL).
//
// The count is masked to 5 bits (6 with a 64-bit operand). A masked count of
// 0 changes neither the operand nor the flags; a 32-bit register operand is
// still written, so its upper half is cleared (as on Intel CPUs, and as
// Bochs models them).
//
// SHL, SHR and SAR use the lazy flags flagsShl, flagsShr and flagsSar with
// b = the masked count. The flags model the "last bit shifted out" of an
// operand of unbounded width, which is what Intel CPUs do for 8- and 16-bit
// operands shifted by their width or more (CF is undefined there, SDM Vol. 2
// "SAL/SAR/SHL/SHR"): SHL and SHR give CF=0, SAR gives CF = the sign. For
// flagsSar the recorded a is the operand sign-extended to 64 bits (only CF
// reads it). Where the SDM leaves flags undefined we follow Intel CPUs:
//   - AF is undefined for a non-zero count: cleared.
//   - OF is defined only for a count of 1. For other counts, SHL:
//     OF = MSB(result) XOR CF; SHR: OF = the XOR of the two top bits of the
//     result, which is MSB(original operand) for a count of 1 and 0 for larger
//     counts; SAR: OF = 0.
//
// The rotates change only CF and OF. CF is the bit last rotated into it.
// Undefined OF (count > 1) follows the count-1 rule applied to the final
// result: ROL and RCL: OF = MSB(result) XOR CF; ROR and RCR: OF = XOR of the
// two top bits of the result. ROL/ROR rotate by count mod width but set the
// flags whenever the masked count is non-zero (SDM pseudo-code). RCL/RCR
// rotate through CF by count mod 9 (8-bit), mod 17 (16-bit) or by the masked
// count; when that is 0 nothing changes, flags included.
//
// SHLD/SHRD set SF, ZF, PF from the result, CF = last bit shifted out of the
// destination, AF = 0 (undefined), OF = MSB(result) XOR CF for SHLD and the
// XOR of the two top result bits for SHRD (defined for a count of 1, where
// both are "the sign changed"). For a 16-bit operand and a count of 17-31
// the result and flags are undefined; we do what P6-family and later Intel
// CPUs do: shift the 48-bit value dest:src:dest (SHLD) or dest:src:dest
// read from the other end (SHRD) and take CF from the same value.

func init() {
	for _, op := range []Op{OpROL, OpROR, OpRCL, OpRCR, OpSHL, OpSHR, OpSAR} {
		binders[op] = bindShift
	}
	binders[OpSHLD] = bindShiftDouble
	binders[OpSHRD] = bindShiftDouble
}

// shiftCountMask returns the mask applied to the count of a shift of an
// operand of size bytes.
func shiftCountMask(size uint8) uint64 {
	if size == 8 {
		return 63
	}
	return 31
}

// bindShift picks the handler of a group 2 instruction.
func bindShift(in *Inst) handler {
	var cnt int // 0: imm8, 1: one, 2: CL
	switch {
	case in.form == formEIbCount:
		cnt = 0
	case in.form == formE && (in.opcode == 0xD0 || in.opcode == 0xD1):
		cnt = 1
	case in.form == formE && (in.opcode == 0xD2 || in.opcode == 0xD3):
		cnt = 2
	default:
		return nil
	}
	if in.isReg() && (in.osz == 8 || in.osz == 4) && !(cnt == 0 && in.imm&shiftCountMask(in.osz) == 0) {
		var set *[3][2]handler
		switch in.op {
		case OpSHL:
			set = &shlFast
		case OpSHR:
			set = &shrFast
		case OpSAR:
			set = &sarFast
		case OpROL:
			if cnt == 0 {
				set = &[3][2]handler{{rol64RI, rol32RI}}
			}
		case OpROR:
			if cnt == 0 {
				set = &[3][2]handler{{ror64RI, ror32RI}}
			}
		}
		if set != nil {
			if in.osz == 8 {
				return set[cnt][0]
			}
			return set[cnt][1]
		}
	}
	return execShift
}

var (
	shlFast = [3][2]handler{{shl64RI, shl32RI}, {shl64R1, shl32R1}, {shl64RC, shl32RC}}
	shrFast = [3][2]handler{{shr64RI, shr32RI}, {shr64R1, shr32R1}, {shr64RC, shr32RC}}
	sarFast = [3][2]handler{{sar64RI, sar32RI}, {sar64R1, sar32R1}, {sar64RC, sar32RC}}
)

// shiftCount returns the unmasked count of a group 2 instruction.
func (c *CPU) shiftCount(in *Inst) uint64 {
	switch {
	case in.form == formEIbCount:
		return in.imm
	case in.opcode == 0xD0 || in.opcode == 0xD1:
		return 1
	}
	return c.R[RCX] & 0xFF
}

// setAllStatus replaces all six status flags with f.
func (c *CPU) setAllStatus(f uint64) {
	c.lazy.op = flagsNone
	c.rflags = c.rflags&^FlagsArith | f&FlagsArith
}

// szpFlags returns SF, ZF and PF for result r of size bytes.
func szpFlags(r uint64, size uint8) uint64 {
	var f uint64
	if r == 0 {
		f |= FlagZF
	}
	f |= (r >> (8*uint64(size) - 1) & 1) << 7
	if parityTable[uint8(r)] {
		f |= FlagPF
	}
	return f
}

// b2f returns flag if b is true, else 0.
func b2f(b bool, flag uint64) uint64 {
	if b {
		return flag
	}
	return 0
}

// shiftNone ends a shift or rotate that changes nothing (its count is 0)
// with operand a: a 32-bit register operand is still written, which clears
// its upper half.
func (c *CPU) shiftNone(in *Inst, a uint64) {
	if in.isReg() && in.osz == 4 {
		c.R[in.rm] = a
	}
}

// execShift is the generic group 2 handler: any operation, size and operand.
func execShift(c *CPU, in *Inst) {
	size := in.osz
	n := c.shiftCount(in) & shiftCountMask(size)
	w, a := c.beginRMW(in)
	if n == 0 {
		c.shiftNone(in, a)
		return
	}
	width := 8 * uint64(size)
	m := sizeMask(size)
	top := width - 1
	switch in.op {
	case OpSHL:
		r := a << n & m
		c.endRMW(in, w, r)
		c.setFlags(flagsShl, size, a, n, r)
	case OpSHR:
		r := a >> n
		c.endRMW(in, w, r)
		c.setFlags(flagsShr, size, a, n, r)
	case OpSAR:
		sa := signExtend(a, size)
		r := uint64(int64(sa)>>n) & m
		c.endRMW(in, w, r)
		c.setFlags(flagsSar, size, sa, n, r)
	case OpROL:
		k := n % width
		r := (a<<k | a>>(width-k)) & m
		c.endRMW(in, w, r)
		cf := r & 1
		c.setRotateFlags(cf, r>>top^cf)
	case OpROR:
		k := n % width
		r := (a>>k | a<<(width-k)) & m
		c.endRMW(in, w, r)
		msb := r >> top
		c.setRotateFlags(msb, msb^r>>(top-1)&1)
	case OpRCL, OpRCR:
		k := n
		switch size {
		case 1:
			k = n % 9
		case 2:
			k = n % 17
		}
		if k == 0 {
			c.shiftNone(in, a)
			return
		}
		cf := c.carry()
		var r, ncf uint64
		if in.op == OpRCL {
			r = (a<<k | cf<<(k-1) | a>>(width+1-k)) & m
			ncf = a >> (width - k) & 1
		} else {
			r = (a>>k | cf<<(width-k) | a<<(width+1-k)) & m
			ncf = a >> (k - 1) & 1
		}
		c.endRMW(in, w, r)
		var of bool
		if in.op == OpRCL {
			of = r>>top != ncf
		} else {
			of = r>>top != r>>(top-1)&1
		}
		c.setStatus(FlagCF|FlagOF, ncf|b2f(of, FlagOF))
	}
}

func rol64RI(c *CPU, in *Inst) {
	r := bits.RotateLeft64(c.R[in.rm], int(in.imm&63))
	c.R[in.rm] = r
	cf := r & 1
	c.setRotateFlags(cf, r>>63^cf)
}

func rol32RI(c *CPU, in *Inst) {
	r := bits.RotateLeft32(uint32(c.R[in.rm]), int(in.imm&31))
	c.R[in.rm] = uint64(r)
	cf := uint64(r & 1)
	c.setRotateFlags(cf, uint64(r>>31)^cf)
}

func ror64RI(c *CPU, in *Inst) {
	r := bits.RotateLeft64(c.R[in.rm], -int(in.imm&63))
	c.R[in.rm] = r
	c.setRotateFlags(r>>63, r>>63^r>>62&1)
}

func ror32RI(c *CPU, in *Inst) {
	r := bits.RotateLeft32(uint32(c.R[in.rm]), -int(in.imm&31))
	c.R[in.rm] = uint64(r)
	c.setRotateFlags(uint64(r>>31), uint64(r>>31^r>>30&1))
}

// bindShiftDouble picks the handler of SHLD or SHRD.
func bindShiftDouble(in *Inst) handler {
	if in.form != formEGIb && in.form != formEGCL {
		return nil
	}
	return execShiftDouble
}

// execShiftDouble is SHLD or SHRD of any size and operand.
func execShiftDouble(c *CPU, in *Inst) {
	size := in.osz
	n := c.R[RCX]
	if in.form == formEGIb {
		n = in.imm
	}
	n &= shiftCountMask(size)
	w, a := c.beginRMW(in)
	if n == 0 {
		c.shiftNone(in, a)
		return
	}
	b := c.readG(in)
	width := 8 * uint64(size)
	top := width - 1
	m := sizeMask(size)
	var r, cf uint64
	left := in.op == OpSHLD
	switch {
	case size == 2 && left:
		// The 48-bit value dest:src:dest, shifted left.
		v := a<<32 | b<<16 | a
		r = v << n >> 32 & m
		cf = v >> (48 - n) & 1
	case size == 2:
		// dest:src:dest seen from the low end, shifted right.
		v := a | b<<16 | a<<32
		r = v >> n & m
		cf = v >> (n - 1) & 1
	case left:
		r = (a<<n | b>>(width-n)) & m
		cf = a >> (width - n) & 1
	default:
		r = (a>>n | b<<(width-n)) & m
		cf = a >> (n - 1) & 1
	}
	c.endRMW(in, w, r)
	var of bool
	if left {
		of = r>>top != cf
	} else {
		of = r>>top != r>>(top-1)&1
	}
	c.setAllStatus(szpFlags(r, size) | cf | b2f(of, FlagOF))
}

// The specialized SHL/SHR/SAR handlers of 64- and 32-bit registers, with the
// count in the immediate (I; non-zero, checked by the binder), one (1) or in
// CL (C). Each is one call of shiftTo with constant operation and size, which
// the compiler inlines and folds to the one shift.

// shiftBy shifts a by n with op (flagsShl, flagsShr or flagsSar).
func shiftBy(op flagOp, a, n uint64) uint64 {
	switch op {
	case flagsShr:
		return a >> n
	case flagsSar:
		return uint64(int64(a) >> n)
	}
	return a << n
}

// shiftTo writes to *reg operand a (size 8 or 4; for flagsSar sign-extended
// to 64 bits, as flagsSar records it) shifted by the masked count n with op,
// and records the flags. A count of 0 leaves the flags alone and writes a
// truncated to size: a 32-bit register is still written. It must stay
// inlinable: go build -gcflags=-m=2 ./cpu shows its cost (80, the limit).
func (c *CPU) shiftTo(reg *uint64, op flagOp, size uint8, a, n uint64) {
	r := shiftBy(op, a, n)
	if size == 4 {
		r = uint64(uint32(r))
	}
	*reg = r
	if n != 0 {
		c.setFlags(op, size, a, n, r)
	}
}

func shl64RI(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShl, 8, c.R[in.rm], in.imm&63) }
func shr64RI(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShr, 8, c.R[in.rm], in.imm&63) }
func sar64RI(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsSar, 8, c.R[in.rm], in.imm&63) }
func shl32RI(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShl, 4, c.R[in.rm]&0xFFFFFFFF, in.imm&31) }
func shr32RI(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShr, 4, c.R[in.rm]&0xFFFFFFFF, in.imm&31) }
func sar32RI(c *CPU, in *Inst) {
	c.shiftTo(&c.R[in.rm], flagsSar, 4, signExtend(c.R[in.rm], 4), in.imm&31)
}

func shl64R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShl, 8, c.R[in.rm], 1) }
func shr64R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShr, 8, c.R[in.rm], 1) }
func sar64R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsSar, 8, c.R[in.rm], 1) }
func shl32R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShl, 4, c.R[in.rm]&0xFFFFFFFF, 1) }
func shr32R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShr, 4, c.R[in.rm]&0xFFFFFFFF, 1) }
func sar32R1(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsSar, 4, signExtend(c.R[in.rm], 4), 1) }

func shl64RC(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShl, 8, c.R[in.rm], c.R[RCX]&63) }
func shr64RC(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsShr, 8, c.R[in.rm], c.R[RCX]&63) }
func sar64RC(c *CPU, in *Inst) { c.shiftTo(&c.R[in.rm], flagsSar, 8, c.R[in.rm], c.R[RCX]&63) }
func shl32RC(c *CPU, in *Inst) {
	c.shiftTo(&c.R[in.rm], flagsShl, 4, c.R[in.rm]&0xFFFFFFFF, c.R[RCX]&31)
}
func shr32RC(c *CPU, in *Inst) {
	c.shiftTo(&c.R[in.rm], flagsShr, 4, c.R[in.rm]&0xFFFFFFFF, c.R[RCX]&31)
}
func sar32RC(c *CPU, in *Inst) {
	c.shiftTo(&c.R[in.rm], flagsSar, 4, signExtend(c.R[in.rm], 4), c.R[RCX]&31)
}
