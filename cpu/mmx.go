package cpu

import "ftvm/cpu/softfp"

// MMX (SDM Vol. 1, chapter 9): the eight 64-bit MMX registers are the
// significands of the x87 physical registers R0-R7. Every MMX instruction
// but EMMS sets the x87 TOP to 0 and every tag to valid; a register it
// writes gets all ones in bits 79:64. EMMS empties the tag word. The MMX
// forms of the integer SSE instructions share the SSE handlers' lane
// arithmetic (sse_gen.go, sse_int.go, sse_shuffle.go) on one quadword.

// sseOrMMX returns a binder that picks the MMX handler for the MMX forms.
func sseOrMMX(sse, mmx handler) func(*Inst) handler {
	return func(in *Inst) handler {
		if in.form.isMMXForm() {
			return mmx
		}
		return sse
	}
}

func init() {
	for _, op := range []Op{OpPUNPCKLBW, OpPUNPCKLWD, OpPUNPCKLDQ, OpPUNPCKHBW, OpPUNPCKHWD, OpPUNPCKHDQ} {
		binders[op] = sseOrMMX(execUnpack, execMMXUnpack)
	}
	for _, op := range []Op{OpPACKSSWB, OpPACKSSDW, OpPACKUSWB} {
		binders[op] = sseOrMMX(execPack, execMMXPack)
	}
	for _, op := range []Op{OpPHADDW, OpPHADDD, OpPHADDSW, OpPHSUBW, OpPHSUBD, OpPHSUBSW} {
		binders[op] = sseOrMMX(execHorizontal, execMMXHorizontal)
	}
	setBinders(map[Op]func(*Inst) handler{
		OpPSHUFB:    sseOrMMX(execPSHUFB, execMMXPSHUFB),
		OpPALIGNR:   sseOrMMX(execPALIGNR, execMMXPALIGNR),
		OpPMADDWD:   sseOrMMX(execPMADDWD, execMMXPMADDWD),
		OpPMADDUBSW: sseOrMMX(execPMADDUBSW, execMMXPMADDUBSW),
		OpPSADBW:    sseOrMMX(execPSADBW, execMMXPSADBW),
		OpPINSRW:    sseOrMMX(execInsert, execMMXPINSRW),
		OpPEXTRW:    sseOrMMX(execExtract, execMMXPEXTRW),
		OpPMOVMSKB:  sseOrMMX(execMOVMSK, execMMXPMOVMSKB),
	})
	bindFixed(map[Op]handler{
		OpPSHUFW: execPSHUFW, OpMOVNTQ: execMMXStore, OpMASKMOVQ: execMASKMOVQ, OpEMMS: execEMMS,
		OpMOVQ2DQ: execMOVQ2DQ, OpMOVDQ2Q: execMOVDQ2Q,
	})
	for _, op := range []Op{OpCVTPI2PS, OpCVTPI2PD, OpCVTPS2PI, OpCVTTPS2PI, OpCVTPD2PI, OpCVTTPD2PI} {
		binders[op] = always(execCVTMMX)
	}
}

// mmxEnter makes the checks of an MMX instruction (#UD with CR0.EM, #NM with
// CR0.TS, #MF for a pending unmasked x87 exception) and puts the x87 stack
// in MMX state: TOP 0, every register valid.
func (c *CPU) mmxEnter() {
	if c.CR0&CR0EM != 0 {
		c.raise(VecUD, 0)
	}
	if c.CR0&CR0TS != 0 {
		c.raise(VecNM, 0)
	}
	c.x87Wait()
	c.FPU.setTop(0)
	c.FPU.FTW = 0
}

// getMM returns MMX register r (REX does not extend it).
func (c *CPU) getMM(r uint8) uint64 { return c.FPU.ST[r&7].Mant }

// setMM writes MMX register r: the significand, with bits 79:64 all ones.
func (c *CPU) setMM(r uint8, v uint64) { c.FPU.ST[r&7] = Float80{Mant: v, SignExp: 0xFFFF} }

// readQ returns the Q operand: an MMX register or 8 bytes of memory.
func (c *CPU) readQ(in *Inst) uint64 {
	if in.mod == 3 {
		return c.getMM(in.rm)
	}
	return c.read64(c.ea(in))
}

// mmxBinary makes the MMX checks and returns the P (destination) and Q
// operands of a two-operand instruction.
func (c *CPU) mmxBinary(in *Inst) (d, s uint64) {
	c.mmxEnter()
	s = c.readQ(in)
	return c.getMM(in.reg), s
}

// execMMXUnpack: PUNPCKL/H BW, WD, DQ on MMX registers.
func execMMXUnpack(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	w, high := unpackWidth(in.op)
	if high {
		d, s = d>>32, s>>32
	}
	c.setMM(in.reg, unpackLanes(XMM{d}, XMM{s}, w, false)[0])
}

// execMMXPack: PACKSSWB, PACKSSDW, PACKUSWB: P's lanes, then Q's, narrowed.
func execMMXPack(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, packLanes(XMM{d, s}, XMM{}, in.op)[0])
}

// execMMXHorizontal: PHADD/PHSUB on MMX registers: P's pairs, then Q's.
func execMMXHorizontal(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, horizontal(XMM{d, s}, XMM{}, in.op)[0])
}

// execMMXPSHUFB: byte i of P = byte Q[i]&7 of P, or zero if Q[i] has bit 7.
func execMMXPSHUFB(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, shuffleBytes(XMM{d, d}, XMM{s})[0])
}

// execMMXPALIGNR: P = the 16-byte P:Q shifted right by imm8 bytes, low 8.
func execMMXPALIGNR(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, alignBytes(XMM{}, XMM{s, d}, in.imm)[0])
}

func execMMXPMADDWD(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, maddWords(XMM{d}, XMM{s})[0])
}

func execMMXPMADDUBSW(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, maddBytes(XMM{d}, XMM{s})[0])
}

func execMMXPSADBW(c *CPU, in *Inst) {
	d, s := c.mmxBinary(in)
	c.setMM(in.reg, sadBytes(d, s))
}

// execMMXShift: PSLL/PSRL/PSRA of P by Q (a count), or of the Q register by
// imm8 (0F 71-73).
func execMMXShift(c *CPU, in *Inst) {
	c.mmxEnter()
	r, count := in.reg, uint64(0)
	if in.form == formPQIb {
		r, count = in.rm, in.imm
	} else {
		count = c.readQ(in)
	}
	x := XMM{c.getMM(r)}
	shiftLanes(&x, in.op, count)
	c.setMM(r, x[0])
}

// execPSHUFW: P = Q's words picked by imm8.
func execPSHUFW(c *CPU, in *Inst) {
	_, s := c.mmxBinary(in)
	c.setMM(in.reg, shuffleWords(s, in.imm))
}

// execMMXPINSRW: word imm8[1:0] of P = r32[15:0] or m16.
func execMMXPINSRW(c *CPU, in *Inst) {
	c.mmxEnter()
	var v uint64
	if in.mod == 3 {
		v = c.R[in.rm]
	} else {
		v = uint64(c.read16(c.ea(in)))
	}
	x := XMM{c.getMM(in.reg)}
	x.setLane(int(in.imm&3), 2, v)
	c.setMM(in.reg, x[0])
}

// execMMXPEXTRW: r32 (zero-extended) = word imm8[1:0] of the Q register.
func execMMXPEXTRW(c *CPU, in *Inst) {
	c.mmxEnter()
	c.R[in.reg] = c.getMM(in.rm) >> (16 * (in.imm & 3)) & 0xFFFF
}

// execMMXPMOVMSKB: r32 (zero-extended) = the top bits of the Q register's bytes.
func execMMXPMOVMSKB(c *CPU, in *Inst) {
	c.mmxEnter()
	c.R[in.reg] = byteSigns(c.getMM(in.rm))
}

// execMMXMOVDLoad: MOVD/MOVQ mm, r/m32/64 (0F 6E), zero-extended.
func execMMXMOVDLoad(c *CPU, in *Inst) {
	c.mmxEnter()
	c.setMM(in.reg, c.readE(in))
}

// execMMXMOVDStore: MOVD/MOVQ r/m32/64, mm (0F 7E).
func execMMXMOVDStore(c *CPU, in *Inst) {
	c.mmxEnter()
	c.writeE(in, c.getMM(in.reg)&sizeMask(in.osz))
}

// execMMXMOVQLoad: MOVQ mm, mm/m64 (0F 6F).
func execMMXMOVQLoad(c *CPU, in *Inst) {
	c.mmxEnter()
	c.setMM(in.reg, c.readQ(in))
}

// execMMXStore: MOVQ mm/m64, mm (0F 7F) and MOVNTQ m64, mm.
func execMMXStore(c *CPU, in *Inst) {
	c.mmxEnter()
	v := c.getMM(in.reg)
	if in.mod == 3 {
		c.setMM(in.rm, v)
		return
	}
	c.write64(c.ea(in), v)
}

// execMASKMOVQ stores the bytes of P whose mask byte in the Q register has
// its top bit set to seg:rDI.
func execMASKMOVQ(c *CPU, in *Inst) {
	c.mmxEnter()
	v, m := c.getMM(in.reg), c.getMM(in.rm)
	base := c.strReg(in, RDI) + c.segBase64[in.seg]
	for i := range 8 {
		if m>>(8*i+7)&1 != 0 {
			c.write8(base+uint64(i), uint8(v>>(8*i)))
		}
	}
}

// execEMMS empties the x87 tag word (#UD with CR0.EM, #NM with CR0.TS, #MF
// for a pending unmasked x87 exception).
func execEMMS(c *CPU, in *Inst) {
	if c.CR0&CR0EM != 0 {
		c.raise(VecUD, 0)
	}
	if c.CR0&CR0TS != 0 {
		c.raise(VecNM, 0)
	}
	c.x87Wait()
	c.FPU.FTW = FTWEmpty
}

// execMOVQ2DQ: xmm = the Q MMX register, zero-extended (an SSE2 instruction:
// SSE's checks, then MMX's).
func execMOVQ2DQ(c *CPU, in *Inst) {
	c.sseEnter()
	c.mmxEnter()
	c.FPU.XMM[in.reg] = XMM{c.getMM(in.rm)}
}

// execMOVDQ2Q: the P MMX register = the low quadword of the W XMM register.
func execMOVDQ2Q(c *CPU, in *Inst) {
	c.sseEnter()
	c.mmxEnter()
	c.setMM(in.reg, c.FPU.XMM[in.rm][0])
}

// execCVTMMX converts between an MMX register's two int32 lanes and SSE
// floats: CVTPI2PS (into XMM lanes 0-1, the others kept) and CVTPI2PD from
// mm/m64; CVT(T)PS2PI from xmm/m64 and CVT(T)PD2PI from xmm/m128 (aligned)
// into an MMX register, rounding by MXCSR or truncating. They are SSE
// instructions (SSE's checks and exceptions) that put the x87 stack in MMX
// state.
func execCVTMMX(c *CPU, in *Inst) {
	c.sseEnter()
	c.mmxEnter()
	csr := c.FPU.MXCSR
	var fl uint32
	switch in.op {
	case OpCVTPI2PS, OpCVTPI2PD:
		s := c.readQ(in)
		to, w := softfp.F32, 4
		r := c.getXMM(in.reg)
		if in.op == OpCVTPI2PD {
			to, w = softfp.F64, 8
		}
		for i := range 2 {
			v, f := softfp.FromInt(to, int64(int32(s>>(32*i))), csr)
			r.setLane(i, w, v)
			fl |= f
		}
		c.fpDone(fl)
		c.putXMM(in.reg, &r)
	default:
		from, w := softfp.F32, 4
		var s XMM
		switch {
		case in.op == OpCVTPD2PI || in.op == OpCVTTPD2PI:
			from, w = softfp.F64, 8
			s = c.readW(in)
		case in.mod == 3:
			s = c.FPU.XMM[in.rm]
		default:
			s[0] = c.read64(c.ea(in))
		}
		trunc := in.op == OpCVTTPS2PI || in.op == OpCVTTPD2PI
		var r uint64
		for i := range 2 {
			v, f := softfp.ToInt(from, s.lane(i, w), 32, trunc, csr)
			r |= v & 0xFFFFFFFF << (32 * i)
			fl |= f
		}
		c.fpDone(fl)
		c.setMM(in.reg, r)
	}
}
