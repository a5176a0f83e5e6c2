package cpu

import "unsafe"

//go:generate go run ./gen/ssegen -o sse_gen.go

// SSE execution support shared by the SSE families: the checks every SSE
// instruction makes before it executes, access to XMM operands, MXCSR and
// SIMD floating-point exceptions. The lane-wise integer and logic handlers
// are generated (sse_gen.go); moves, shuffles and the rest are in
// sse_*.go by family.

// MXCSR bits (SDM Vol. 1 §10.2.3).
const (
	MXCSRIE  = 1 << 0 // invalid operation flag
	MXCSRDE  = 1 << 1 // denormal flag
	MXCSRZE  = 1 << 2 // divide-by-zero flag
	MXCSROE  = 1 << 3 // overflow flag
	MXCSRUE  = 1 << 4 // underflow flag
	MXCSRPE  = 1 << 5 // precision flag
	MXCSRDAZ = 1 << 6 // denormals are zeros
	MXCSRFZ  = 1 << 15
	// MXCSRFlags are the six exception flags; the masks are the same bits
	// shifted left by MXCSRMaskShift.
	MXCSRFlags     = 0x3F
	MXCSRMaskShift = 7
	// MXCSRRCShift is the position of the two rounding-control bits.
	MXCSRRCShift = 13
	// MXCSRWritable are the bits LDMXCSR and FXRSTOR may set (the
	// MXCSR_MASK FXSAVE stores): setting any other is #GP(0).
	MXCSRWritable = 0xFFFF
)

// sseEnter makes the checks of an SSE instruction before it executes
// (SDM Vol. 2 §2.5, exception class tables): #UD with CR0.EM set or
// CR4.OSFXSR clear, else #NM with CR0.TS set.
func (c *CPU) sseEnter() {
	if c.CR0&(CR0EM|CR0TS) != 0 || c.CR4&CR4OSFXSR == 0 {
		c.sseUnavailable()
	}
}

func (c *CPU) sseUnavailable() {
	if c.CR0&CR0EM != 0 || c.CR4&CR4OSFXSR == 0 {
		c.raise(VecUD, 0)
	}
	c.raise(VecNM, 0)
}

// simdExceptions records the SIMD floating-point exceptions (MXCSR flag
// bits) an instruction detected. If any of them is unmasked, the
// instruction does not complete: #XM when CR4.OSXMMEXCPT is set, else #UD
// (SDM Vol. 3 §6.15, exception 19). Call it before writing the destination.
func (c *CPU) simdExceptions(flags uint32) {
	flags &= MXCSRFlags
	c.FPU.MXCSR |= flags
	if flags&^(c.FPU.MXCSR>>MXCSRMaskShift) != 0 {
		if c.CR4&CR4OSXMMEXCPT != 0 {
			c.raise(VecXM, 0)
		}
		c.raise(VecUD, 0)
	}
}

// checkAligned16 raises #GP(0) unless addr is 16-byte aligned, as the
// 128-bit memory operands of legacy SSE instructions must be unless the
// instruction says otherwise (MOVUPS, MOVDQU, LDDQU, PCMPxSTRx, ...).
func (c *CPU) checkAligned16(addr uint64) {
	if addr&15 != 0 {
		c.raise(VecGP, 0)
	}
}

// read128 reads 16 bytes at linear address addr, as its low and high
// quadwords.
func (c *CPU) read128(addr uint64) (lo, hi uint64) {
	if p, ok := c.hit(&c.mmu.read, addr, 16); ok {
		return *(*uint64)(p), *(*uint64)(unsafe.Add(p, 8))
	}
	return c.read64(addr), c.read64(addr + 8)
}

// write128 writes the quadwords lo and hi as 16 bytes at linear address
// addr; a fault leaves memory unchanged.
func (c *CPU) write128(addr uint64, lo, hi uint64) {
	if p, ok := c.hit(&c.mmu.write, addr, 16); ok {
		*(*uint64)(p) = lo
		*(*uint64)(unsafe.Add(p, 8)) = hi
		return
	}
	c.probeWrite(addr, 16)
	c.write64(addr, lo)
	c.write64(addr+8, hi)
}

// wAddr returns the address of the memory W operand, checked for 16-byte
// alignment when aligned is set.
func (c *CPU) wAddr(in *Inst, aligned bool) uint64 {
	a := c.ea(in)
	if aligned {
		c.checkAligned16(a)
	}
	return a
}

// readW returns the 128-bit W operand: an XMM register or 16 aligned bytes.
func (c *CPU) readW(in *Inst) XMM { return c.readWAt(in, true) }

// readWU returns the 128-bit W operand without an alignment check.
func (c *CPU) readWU(in *Inst) XMM { return c.readWAt(in, false) }

// readWAt returns the 128-bit W operand, checked for 16-byte alignment
// when aligned is set and in memory.
func (c *CPU) readWAt(in *Inst, aligned bool) XMM {
	if in.mod == 3 {
		return c.FPU.XMM[in.rm]
	}
	lo, hi := c.read128(c.wAddr(in, aligned))
	return XMM{lo, hi}
}

// readW64 returns the low quadword of the W register, or 8 bytes of memory.
func (c *CPU) readW64(in *Inst) uint64 {
	if in.mod == 3 {
		return c.FPU.XMM[in.rm][0]
	}
	return c.read64(c.ea(in))
}

// readW32 returns the low doubleword of the W register, or 4 bytes of memory.
func (c *CPU) readW32(in *Inst) uint32 {
	if in.mod == 3 {
		return uint32(c.FPU.XMM[in.rm][0])
	}
	return c.read32(c.ea(in))
}

// writeWAt writes *v to the W operand a quadword at a time: v may be a
// register the previous instruction wrote as two quadwords (see xmmLanes).
func (c *CPU) writeWAt(in *Inst, aligned bool, v *XMM) {
	if in.mod == 3 {
		d := &c.FPU.XMM[in.rm]
		d[0], d[1] = v[0], v[1]
		return
	}
	c.write128(c.wAddr(in, aligned), v[0], v[1])
}

// loadV sets the V register to the W operand a quadword at a time (see
// xmmLanes), W checked for 16-byte alignment when aligned is set.
func (c *CPU) loadV(in *Inst, aligned bool) {
	d := &c.FPU.XMM[in.reg]
	if in.mod == 3 {
		s := &c.FPU.XMM[in.rm]
		d[0], d[1] = s[0], s[1]
		return
	}
	d[0], d[1] = c.read128(c.wAddr(in, aligned))
}

// xmmBinary makes the SSE checks and returns the destination register V and
// the 128-bit source W (aligned if memory) of a two-operand instruction.
func (c *CPU) xmmBinary(in *Inst) (*XMM, XMM) {
	c.sseEnter()
	s := c.readW(in)
	return &c.FPU.XMM[in.reg], s
}

// xmmLanes is xmmBinary for the operations that compute each quadword of V
// from the same quadword of V and W only: W comes as a pointer, to its
// register (which may be V) or to srcXMM holding the memory operand. A
// register the previous instruction wrote as two quadwords is then read as
// two quadwords, not copied by one 16-byte load, which the host cannot
// forward from those two stores (a stall of about a dozen cycles).
func (c *CPU) xmmLanes(in *Inst) (*XMM, *XMM) {
	c.sseEnter()
	if in.mod == 3 {
		return &c.FPU.XMM[in.reg], &c.FPU.XMM[in.rm]
	}
	c.srcXMM = c.readW(in)
	return &c.FPU.XMM[in.reg], &c.srcXMM
}

func init() {
	bindFixed(map[Op]handler{
		OpLDMXCSR: execLDMXCSR, OpSTMXCSR: execSTMXCSR,
	})
}

// execLDMXCSR loads MXCSR from memory; reserved bits set are #GP(0).
func execLDMXCSR(c *CPU, in *Inst) {
	c.sseEnter()
	v := c.read32(c.ea(in))
	if v&^MXCSRWritable != 0 {
		c.raise(VecGP, 0)
	}
	c.FPU.MXCSR = v
}

// execSTMXCSR stores MXCSR to memory.
func execSTMXCSR(c *CPU, in *Inst) {
	c.sseEnter()
	c.write32(c.ea(in), c.FPU.MXCSR)
}

// Lane helpers of the generated handlers.

// satI8 saturates v to a signed byte.
func satI8(v int) int8 { return int8(max(min(v, 127), -128)) }

// satI16 saturates v to a signed word.
func satI16(v int) int16 { return int16(max(min(v, 32767), -32768)) }

// satU8 saturates v to an unsigned byte.
func satU8(v int) uint8 { return uint8(max(min(v, 255), 0)) }

// satU16 saturates v to an unsigned word.
func satU16(v int) uint16 { return uint16(max(min(v, 65535), 0)) }

// laneMask returns all ones for true, zero for false.
func laneMask[T uint8 | uint16 | uint32 | uint64](b bool) T {
	if b {
		return ^T(0)
	}
	return 0
}

// signLane is PSIGN's lane operation: a negated, zeroed or kept as b is
// negative, zero or positive.
func signLane[T int8 | int16 | int32](a, b T) T {
	switch {
	case b < 0:
		return -a
	case b == 0:
		return 0
	}
	return a
}

// absLane returns |v|; the most negative value stays itself (as unsigned,
// its magnitude).
func absLane[T int8 | int16 | int32](v T) T {
	if v < 0 {
		return -v
	}
	return v
}
