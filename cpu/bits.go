package cpu

import "math/bits"

// Bit instructions: BT BTS BTR BTC, BSF BSR, TZCNT LZCNT POPCNT, BSWAP.
//
// BT*: the bit offset comes from a register (form EG) or an immediate (form
// EIbCount). With a register operand, or with an immediate, it is taken
// modulo the operand width. With a memory operand and a register offset the
// offset is signed and may reach outside the addressed operand: the operand
// read is the one at ea + (offset >> log2(width)) * (width / 8). CF = the
// selected bit; OF, SF, AF, PF are undefined and, as on Intel CPUs (and in
// Bochs), left unchanged; ZF is unaffected.
//
// BSF/BSR with a zero source set ZF and leave the destination unchanged
// (Intel documents it as undefined, AMD as unchanged); a 32-bit destination
// register is still written, so its upper half is cleared, which is what
// Intel's architects say their CPUs do (see the comment on ffs() in Linux's
// arch/x86/include/asm/bitops.h). With a non-zero source ZF=0 and the
// undefined CF, OF, SF, AF, PF are set as Bochs does: as by a logic
// instruction on the result (all clear but PF).
//
// TZCNT and LZCNT are F3-prefixed BSF/BSR. On a CPU that does not have them
// the prefix is ignored: which one runs follows the fixed CPUID (cpuid.go):
// LZCNT with ABM (leaf 0x80000001 ECX bit 5), TZCNT with BMI1 (leaf 7 EBX
// bit 3). Flags: CF = the source was zero, ZF = the result is zero, the
// undefined OF, SF, AF, PF cleared (as Bochs does).
//
// POPCNT clears OF, SF, AF, CF, PF and sets ZF when the source is zero.

func init() {
	setBinders(map[Op]func(*Inst) handler{
		OpBT: bindBT, OpBTS: bindBT, OpBTR: bindBT, OpBTC: bindBT, OpBSF: bindBitScan,
		OpBSR: bindBitScan, OpTZCNT: bindBitScan, OpLZCNT: bindBitScan, OpPOPCNT: bindBitScan,
		OpBSWAP: bindBSWAP,
	})
}

// Whether the fixed CPUID advertises the F3 0F BC/BD instructions.
const (
	haveTZCNT = cpuid7EBX&(1<<3) != 0
	haveLZCNT = cpuidExt1ECX&(1<<5) != 0
)

func bindBT(in *Inst) handler {
	switch in.form {
	case formEG:
		if in.isReg() {
			return execBTReg
		}
		return execBTMem
	case formEIbCount:
		return execBTImm
	}
	return nil
}

// btApply performs op on bit n of v, returning the new value and the old bit.
func btApply(op Op, v, n uint64) (uint64, uint64) {
	bit := v >> n & 1
	switch op {
	case OpBTS:
		v |= 1 << n
	case OpBTR:
		v &^= 1 << n
	case OpBTC:
		v ^= 1 << n
	}
	return v, bit
}

// execBTReg is BT* with a register destination and a register offset.
func execBTReg(c *CPU, in *Inst) {
	n := c.readG(in) & (8*uint64(in.osz) - 1)
	v, bit := btApply(in.op, c.readE(in), n)
	if in.op != OpBT {
		c.writeE(in, v)
	}
	c.setStatus(FlagCF, bit)
}

// execBTImm is BT* with an immediate offset.
func execBTImm(c *CPU, in *Inst) {
	n := in.imm & (8*uint64(in.osz) - 1)
	w, old := c.beginRMW(in)
	v, bit := btApply(in.op, old, n)
	if in.op != OpBT {
		c.endRMW(in, w, v)
	}
	c.setStatus(FlagCF, bit)
}

// execBTMem is BT* with a memory destination and a register offset, which
// is signed and addresses bits outside the operand.
func execBTMem(c *CPU, in *Inst) {
	size := in.osz
	off := int64(signExtend(c.readG(in), size))
	shift := uint(bits.TrailingZeros8(size)) + 3 // log2 of the width in bits
	a := c.R[in.base] + c.R[in.index]<<in.scale + in.disp + uint64(off>>shift)*uint64(size)
	if in.asz != 8 {
		a &= sizeMask(in.asz)
	}
	a += c.segBase64[in.seg]
	n := uint64(off) & (8*uint64(size) - 1)
	v, bit := btApply(in.op, c.readN(a, size), n)
	if in.op != OpBT {
		c.writeN(a, size, v)
	}
	c.setStatus(FlagCF, bit)
}

func bindBitScan(in *Inst) handler {
	if in.form != formGE {
		return nil
	}
	switch in.op {
	case OpBSF:
		return execBSF
	case OpBSR:
		return execBSR
	case OpTZCNT:
		if !haveTZCNT {
			return execBSF
		}
		return execTZCNT
	case OpLZCNT:
		if !haveLZCNT {
			return execBSR
		}
		return execLZCNT
	}
	return execPOPCNT
}

// bitScanZero handles BSF/BSR of a zero source: ZF=1, destination unchanged
// (but a 32-bit register write still clears the upper half).
func (c *CPU) bitScanZero(in *Inst) {
	if in.osz == 4 {
		c.R[in.reg] &= 0xFFFFFFFF
	}
	c.setStatus(FlagZF, FlagZF)
}

func execBSF(c *CPU, in *Inst) {
	v := c.readE(in)
	if v == 0 {
		c.bitScanZero(in)
		return
	}
	r := uint64(bits.TrailingZeros64(v))
	c.writeG(in, r)
	c.setAllStatus(b2f(parityTable[uint8(r)], FlagPF))
}

func execBSR(c *CPU, in *Inst) {
	v := c.readE(in)
	if v == 0 {
		c.bitScanZero(in)
		return
	}
	r := uint64(63 - bits.LeadingZeros64(v))
	c.writeG(in, r)
	c.setAllStatus(b2f(parityTable[uint8(r)], FlagPF))
}

// countFlags returns the flags of TZCNT and LZCNT.
func countFlags(src, r uint64) uint64 {
	return b2f(src == 0, FlagCF) | b2f(r == 0, FlagZF)
}

func execTZCNT(c *CPU, in *Inst) {
	v := c.readE(in)
	width := 8 * uint64(in.osz)
	r := width
	if v != 0 {
		r = uint64(bits.TrailingZeros64(v))
	}
	c.writeG(in, r)
	c.setAllStatus(countFlags(v, r))
}

func execLZCNT(c *CPU, in *Inst) {
	v := c.readE(in)
	r := uint64(bits.LeadingZeros64(v)) - (64 - 8*uint64(in.osz))
	c.writeG(in, r)
	c.setAllStatus(countFlags(v, r))
}

func execPOPCNT(c *CPU, in *Inst) {
	v := c.readE(in)
	c.writeG(in, uint64(bits.OnesCount64(v)))
	c.setAllStatus(b2f(v == 0, FlagZF))
}

func bindBSWAP(in *Inst) handler {
	switch in.osz {
	case 8:
		return bswap64
	case 4:
		return bswap32
	}
	return nil
}

func bswap64(c *CPU, in *Inst) { c.R[in.reg] = bits.ReverseBytes64(c.R[in.reg]) }

func bswap32(c *CPU, in *Inst) { c.R[in.reg] = uint64(bits.ReverseBytes32(uint32(c.R[in.reg]))) }
