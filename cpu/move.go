package cpu

// Data movement: MOV and its extending forms, LEA, XCHG, XADD, CMPXCHG,
// CMPXCHG8B/16B, CMOVcc, SETcc, CBW/CWD and friends, XLAT, MOVNTI and the
// moves to and from segment registers.

func init() {
	setBinders(map[Op]func(*Inst) handler{
		OpMOV: bindMOV, OpMOVZX: bindMOVZX, OpMOVSX: bindMOVSX, OpLEA: bindLEA, OpXCHG: bindXCHG,
		OpCMPXCHG16B: bindCMPXCHG16B, OpCMOV: bindCMOV, OpMOVNTI: bindMOVNTI,
		OpMOVFromSeg: bindMOVFromSeg, OpMOVSeg: bindMOVSeg,
	})
	bindFixed(map[Op]handler{
		OpMOVSXD: execMOVSXD, OpXADD: execXADD, OpCMPXCHG: execCMPXCHG, OpSETCC: execSETCC,
		OpCBW: execCBW, OpCWD: execCWD, OpXLAT: execXLAT,
	})
}

// simpleEA reports whether the memory operand is base+disp with a 64-bit
// address and no FS/GS base, so its address is c.R[in.base] + in.disp.
func (in *Inst) simpleEA() bool {
	return in.mod != 3 && in.index == regZero && in.asz == 8 && in.seg != FS && in.seg != GS
}

// ---- MOV ----

// movForms are the handlers of one direction of a MOV between a register
// and an E operand: register to register (64 and 32 bits), memory at a
// simple 64-bit address, memory (64 and 32 bits), and any other size.
type movForms struct{ rr64, rr32, simple64, mem64, mem32, general handler }

// The store (EG) and load (GE, the EG form with the roles swapped) forms.
var (
	movEG = movForms{execMOVRR64, execMOVRR32, execMOVStore64Simple, execMOVStore64, execMOVStore32, execMOVEG}
	movGE = movForms{execMOVRR64GE, execMOVRR32GE, execMOVLoad64Simple, execMOVLoad64, execMOVLoad32, execMOVGE}
)

// pick returns the handler for in's operand size and E operand.
func (f *movForms) pick(in *Inst) handler {
	if in.isReg() {
		switch in.osz {
		case 8:
			return f.rr64
		case 4:
			return f.rr32
		}
		return f.general
	}
	switch {
	case in.osz == 8 && in.simpleEA():
		return f.simple64
	case in.osz == 8:
		return f.mem64
	case in.osz == 4:
		return f.mem32
	}
	return f.general
}

func bindMOV(in *Inst) handler {
	switch in.form {
	case formEG:
		return movEG.pick(in)
	case formGE:
		return movGE.pick(in)
	case formEI:
		switch {
		case in.isReg() && in.osz >= 4:
			return execMOVRegImmE
		case in.isReg():
			return execMOVEI
		}
		return movStoreImm[in.osz]
	case formRegI:
		if in.osz >= 4 {
			return execMOVRegImm
		}
		return execMOVRegI
	case formMoffs:
		if in.opcode&2 == 0 {
			return execMOVMoffsLoad
		}
		return execMOVMoffsStore
	}
	return nil
}

func execMOVRR64(c *CPU, in *Inst)   { c.R[in.rm] = c.R[in.reg] }
func execMOVRR32(c *CPU, in *Inst)   { c.R[in.rm] = c.R[in.reg] & 0xFFFFFFFF }
func execMOVRR64GE(c *CPU, in *Inst) { c.R[in.reg] = c.R[in.rm] }
func execMOVRR32GE(c *CPU, in *Inst) { c.R[in.reg] = c.R[in.rm] & 0xFFFFFFFF }

//go:noinline
func execMOVStore64Simple(c *CPU, in *Inst) { c.write64(c.R[in.base]+in.disp, c.R[in.reg]) }

//go:noinline
func execMOVStore64(c *CPU, in *Inst) { c.write64(c.ea(in), c.R[in.reg]) }

//go:noinline
func execMOVStore32(c *CPU, in *Inst) { c.write32(c.ea(in), uint32(c.R[in.reg])) }

//go:noinline
func execMOVLoad64Simple(c *CPU, in *Inst) { c.R[in.reg] = c.read64(c.R[in.base] + in.disp) }

//go:noinline
func execMOVLoad64(c *CPU, in *Inst) { c.R[in.reg] = c.read64(c.ea(in)) }

//go:noinline
func execMOVLoad32(c *CPU, in *Inst) { c.R[in.reg] = uint64(c.read32(c.ea(in))) }

// movStoreImm holds the handlers of MOV memory, immediate (C6 /0, C7 /0) by
// operand size.
var movStoreImm = [9]handler{1: execMOVStoreImm8, 2: execMOVStoreImm16, 4: execMOVStoreImm32, 8: execMOVStoreImm64}

//go:noinline
func execMOVStoreImm8(c *CPU, in *Inst)  { c.write8(c.ea(in), uint8(in.imm)) }
func execMOVStoreImm16(c *CPU, in *Inst) { c.write16(c.ea(in), uint16(in.imm)) }

//go:noinline
func execMOVStoreImm32(c *CPU, in *Inst) { c.write32(c.ea(in), uint32(in.imm)) }

//go:noinline
func execMOVStoreImm64(c *CPU, in *Inst) { c.write64(c.ea(in), in.imm) }

func execMOVEG(c *CPU, in *Inst) { c.writeE(in, c.readG(in)) }
func execMOVGE(c *CPU, in *Inst) { c.writeG(in, c.readE(in)) }

// execMOVEI is C6 /0 or C7 /0 with an 8- or 16-bit register destination.
func execMOVEI(c *CPU, in *Inst) { c.setReg(in.rm, in.osz, in.legacy(), in.imm) }

// execMOVRegImmE is C7 /0 with a 32- or 64-bit register destination.
func execMOVRegImmE(c *CPU, in *Inst) { c.R[in.rm] = in.imm & sizeMask(in.osz) }

// execMOVRegImm is B8+r with a 32- or 64-bit register.
func execMOVRegImm(c *CPU, in *Inst) { c.R[in.reg] = in.imm & sizeMask(in.osz) }

func execMOVRegI(c *CPU, in *Inst) { c.setReg(in.reg, in.osz, in.legacy(), in.imm) }

// execMOVMoffsLoad is A0/A1: rAX = [moffs].
func execMOVMoffsLoad(c *CPU, in *Inst) {
	c.setReg(RAX, in.osz, false, c.readN(c.ea(in), in.osz))
}

// execMOVMoffsStore is A2/A3: [moffs] = rAX.
func execMOVMoffsStore(c *CPU, in *Inst) {
	c.writeN(c.ea(in), in.osz, c.R[RAX])
}

// ---- MOVZX, MOVSX, MOVSXD ----

// extSrcSize returns the source size of MOVZX/MOVSX: a byte for 0F B6/BE,
// a word for 0F B7/BF.
func extSrcSize(in *Inst) uint8 {
	if in.opcode&1 == 0 {
		return 1
	}
	return 2
}

// readExtSrc reads the narrow source of MOVZX/MOVSX. A byte register source
// names AH-BH for numbers 4-7 when the instruction has no REX prefix (the
// decoder's legacy flag only covers byte operand sizes).
func (c *CPU) readExtSrc(in *Inst, size uint8) uint64 {
	if in.mod == 3 {
		return c.getReg(in.rm, size, in.prefix&pfxRex == 0)
	}
	return c.readN(c.ea(in), size)
}

func bindMOVZX(in *Inst) handler {
	if !in.isReg() && in.osz >= 4 {
		if extSrcSize(in) == 1 {
			return execMOVZXLoad8
		}
		return execMOVZXLoad16
	}
	return execMOVZX
}

//go:noinline
func execMOVZXLoad8(c *CPU, in *Inst)  { c.R[in.reg] = uint64(c.read8(c.ea(in))) }
func execMOVZXLoad16(c *CPU, in *Inst) { c.R[in.reg] = uint64(c.read16(c.ea(in))) }

//go:noinline
func execMOVZX(c *CPU, in *Inst) {
	c.setReg(in.reg, in.osz, false, c.readExtSrc(in, extSrcSize(in)))
}

func bindMOVSX(in *Inst) handler { return execMOVSX }

func execMOVSX(c *CPU, in *Inst) {
	size := extSrcSize(in)
	c.setReg(in.reg, in.osz, false, signExtend(c.readExtSrc(in, size), size))
}

// execMOVSXD is 63: with REX.W it sign-extends 32 bits to 64; otherwise it
// is a plain move of the operand size.
//
//go:noinline
func execMOVSXD(c *CPU, in *Inst) {
	if in.osz == 8 {
		c.R[in.reg] = signExtend(c.readESize(in, 4), 4)
		return
	}
	c.setReg(in.reg, in.osz, false, c.readESize(in, in.osz))
}

// ---- LEA ----

func bindLEA(in *Inst) handler {
	if in.osz == 8 && in.asz == 8 {
		if in.index == regZero {
			return execLEA64Base
		}
		return execLEA64
	}
	return execLEA
}

func execLEA64Base(c *CPU, in *Inst) { c.R[in.reg] = c.R[in.base] + in.disp }
func execLEA64(c *CPU, in *Inst) {
	c.R[in.reg] = c.R[in.base] + c.R[in.index]<<in.scale + in.disp
}

// execLEA computes the offset (no segment base) truncated to the address
// size, then stores it at the operand size.
func execLEA(c *CPU, in *Inst) {
	a := c.R[in.base] + c.R[in.index]<<in.scale + in.disp
	if in.asz != 8 {
		a &= sizeMask(in.asz)
	}
	c.setReg(in.reg, in.osz, false, a)
}

// ---- XCHG, XADD, CMPXCHG ----

func bindXCHG(in *Inst) handler {
	switch in.form {
	case formReg:
		return execXCHGAcc
	case formEG:
		if in.isReg() {
			return execXCHGRR
		}
		return execXCHGMem
	}
	return nil
}

// execXCHGAcc is 90+r: swap rAX with a register.
func execXCHGAcc(c *CPU, in *Inst) {
	a := c.getReg(RAX, in.osz, false)
	b := c.getReg(in.reg, in.osz, false)
	c.setReg(RAX, in.osz, false, b)
	c.setReg(in.reg, in.osz, false, a)
}

func execXCHGRR(c *CPU, in *Inst) {
	l := in.legacy()
	a := c.getReg(in.rm, in.osz, l)
	b := c.getReg(in.reg, in.osz, l)
	c.setReg(in.rm, in.osz, l, b)
	c.setReg(in.reg, in.osz, l, a)
}

// execXCHGMem swaps memory with a register (always locked on hardware; one
// CPU makes that moot).
func execXCHGMem(c *CPU, in *Inst) {
	addr := c.ea(in)
	a := c.readN(addr, in.osz)
	c.writeN(addr, in.osz, c.readG(in))
	c.writeG(in, a)
}

// execXADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (so with the same
// register for both, the register ends up with the sum).
func execXADD(c *CPU, in *Inst) {
	w, d := c.beginRMW(in)
	s := c.readG(in)
	m := sizeMask(in.osz)
	r := (d + s) & m
	if w.reg {
		c.writeG(in, d)
		c.endRMW(in, w, r)
	} else {
		c.endRMW(in, w, r)
		c.writeG(in, d)
	}
	c.setFlags(flagsAdd, in.osz, d, s, r)
}

// execCMPXCHG compares the accumulator with the destination (flags as CMP
// acc, dest). Equal: dest = src. Not equal: acc = dest; a memory destination
// is written back with its own value, a register destination is left
// untouched (its upper half is not zeroed by a failed 32-bit CMPXCHG) and on
// success the accumulator is not written.
func execCMPXCHG(c *CPU, in *Inst) {
	m := sizeMask(in.osz)
	acc := c.R[RAX] & m
	w, d := c.beginRMW(in)
	if acc == d {
		c.endRMW(in, w, c.readG(in))
	} else {
		if !w.reg {
			c.endRMW(in, w, d)
		}
		c.setReg(RAX, in.osz, false, d)
	}
	c.setFlags(flagsSub, in.osz, acc, d, (acc-d)&m)
}

func bindCMPXCHG16B(in *Inst) handler {
	if in.isReg() {
		return nil
	}
	if in.osz == 8 {
		return execCMPXCHG16B
	}
	return execCMPXCHG8B
}

// execCMPXCHG16B compares RDX:RAX with m128; equal: m128 = RCX:RBX, ZF=1;
// else RDX:RAX = m128 (written back), ZF=0. The operand must be 16-byte
// aligned.
func execCMPXCHG16B(c *CPU, in *Inst) {
	addr := c.ea(in)
	if addr&15 != 0 {
		c.raise(VecGP, 0)
	}
	lo := c.read64(addr)
	hi := c.read64(addr + 8)
	if lo == c.R[RAX] && hi == c.R[RDX] {
		// Aligned: both halves are in one page, so the second write cannot
		// fault once the first succeeded.
		c.write64(addr, c.R[RBX])
		c.write64(addr+8, c.R[RCX])
		c.setStatus(FlagZF, FlagZF)
		return
	}
	c.write64(addr, lo)
	c.write64(addr+8, hi)
	c.R[RAX], c.R[RDX] = lo, hi
	c.setStatus(FlagZF, 0)
}

// execCMPXCHG8B compares EDX:EAX with m64; equal: m64 = ECX:EBX, ZF=1; else
// EDX:EAX = m64 (zero-extended into RDX and RAX; written back), ZF=0.
func execCMPXCHG8B(c *CPU, in *Inst) {
	addr := c.ea(in)
	v := c.read64(addr)
	if v == c.R[RDX]<<32|c.R[RAX]&0xFFFFFFFF {
		c.write64(addr, c.R[RCX]<<32|c.R[RBX]&0xFFFFFFFF)
		c.setStatus(FlagZF, FlagZF)
		return
	}
	c.write64(addr, v)
	c.R[RAX], c.R[RDX] = v&0xFFFFFFFF, v>>32
	c.setStatus(FlagZF, 0)
}

// ---- CMOVcc, SETcc ----

func bindCMOV(in *Inst) handler {
	if in.isReg() && in.osz == 8 {
		switch in.opcode & 0xF {
		case 0x4:
			return execCMOVZ64
		case 0x5:
			return execCMOVNZ64
		}
		return execCMOVRR64
	}
	return execCMOV
}

func execCMOVZ64(c *CPU, in *Inst) {
	if c.zf() {
		c.R[in.reg] = c.R[in.rm]
	}
}

func execCMOVNZ64(c *CPU, in *Inst) {
	if !c.zf() {
		c.R[in.reg] = c.R[in.rm]
	}
}

func execCMOVRR64(c *CPU, in *Inst) {
	if c.cond(uint8(in.opcode & 0xF)) {
		c.R[in.reg] = c.R[in.rm]
	}
}

// execCMOV always reads the source (a memory source faults even when the
// condition is false), and a 32-bit CMOV zeroes the destination's upper half
// whatever the condition.
func execCMOV(c *CPU, in *Inst) {
	v := c.readE(in)
	if c.cond(uint8(in.opcode & 0xF)) {
		c.writeG(in, v)
	} else if in.osz == 4 {
		c.R[in.reg] &= 0xFFFFFFFF
	}
}

//go:noinline
func execSETCC(c *CPU, in *Inst) {
	var v uint64
	if c.cond(uint8(in.opcode & 0xF)) {
		v = 1
	}
	c.writeESize(in, 1, v)
}

// ---- CBW, CWD, XLAT, MOVNTI ----

// execCBW is CBW, CWDE or CDQE: sign-extend the lower half of rAX into it.
func execCBW(c *CPU, in *Inst) {
	half := in.osz / 2
	c.setReg(RAX, in.osz, false, signExtend(c.R[RAX], half))
}

// execCWD is CWD, CDQ or CQO: fill rDX with the sign of rAX.
func execCWD(c *CPU, in *Inst) {
	var v uint64
	if c.R[RAX]>>(8*uint64(in.osz)-1)&1 != 0 {
		v = ^uint64(0)
	}
	c.setReg(RDX, in.osz, false, v)
}

// execXLAT is AL = [rBX + zero-extended AL].
func execXLAT(c *CPU, in *Inst) {
	a := c.R[RBX] + c.R[RAX]&0xFF
	if in.asz != 8 {
		a &= sizeMask(in.asz)
	}
	c.setReg(RAX, 1, false, uint64(c.read8(a+c.segBase64[in.seg])))
}

func bindMOVNTI(in *Inst) handler {
	if in.osz < 4 {
		return nil
	}
	return execMOVEG
}

// ---- MOV to and from segment registers ----

func bindMOVFromSeg(in *Inst) handler {
	if in.reg&7 > GS {
		return nil
	}
	return execMOVFromSeg
}

// execMOVFromSeg stores a selector: to memory always 16 bits; to a register
// zero-extended at operand size 32 or 64.
func execMOVFromSeg(c *CPU, in *Inst) {
	sel := uint64(c.Seg[in.reg&7].Selector)
	if in.isReg() {
		c.setReg(in.rm, in.osz, false, sel)
		return
	}
	c.write16(c.ea(in), uint16(sel))
}

func bindMOVSeg(in *Inst) handler {
	if s := in.reg & 7; s == CS || s > GS {
		return nil
	}
	return execMOVSeg
}

func execMOVSeg(c *CPU, in *Inst) {
	s := int(in.reg & 7)
	sel := uint16(c.readESize(in, 2))
	c.segLoadData(s, sel)
	if s == SS {
		c.intShadow = true
	}
	c.endBlock(in)
}

// segLoadData loads data segment register s (ES, SS, DS, FS or GS) with
// selector sel, as MOV Sreg and POP Sreg do in 64-bit mode, raising #GP,
// #SS or #NP before changing anything. The descriptor's accessed bit is not
// set in memory.
func (c *CPU) segLoadData(s int, sel uint16) {
	rpl := uint8(sel & 3)
	if sel&^3 == 0 {
		// A null selector: allowed for DS, ES, FS, GS, and for SS in 64-bit
		// mode at CPL < 3 when RPL == CPL.
		if s == SS && (c.CPL == 3 || rpl != c.CPL || c.csize != Code64) {
			c.raise(VecGP, 0)
		}
		seg := Segment{Selector: sel}
		if s == SS {
			seg.Attr = c.Seg[SS].Attr &^ SegAttrP
		}
		// Intel CPUs clear the base of FS and GS on a null load (AMD keeps
		// it); we follow Intel.
		c.Seg[s] = seg
		c.updateMode()
		return
	}
	code := uint32(sel &^ 3)
	d, err := c.loadDescriptor(sel)
	if err != nil {
		c.raise(VecGP, code)
	}
	dpl := uint8(d.Attr >> 5 & 3)
	isCode := d.Attr&0x8 != 0
	if d.Attr&0x10 == 0 { // system descriptor
		c.raise(VecGP, code)
	}
	if s == SS {
		// A writable data segment with RPL == DPL == CPL.
		if isCode || d.Attr&0x2 == 0 || rpl != c.CPL || dpl != c.CPL {
			c.raise(VecGP, code)
		}
		if d.Attr&SegAttrP == 0 {
			c.raise(VecSS, code)
		}
	} else {
		// Data or readable code; unless conforming code, RPL and CPL must
		// not exceed DPL.
		if isCode && d.Attr&0x2 == 0 {
			c.raise(VecGP, code)
		}
		conforming := isCode && d.Attr&0x4 != 0
		if !conforming && (rpl > dpl || c.CPL > dpl) {
			c.raise(VecGP, code)
		}
		if d.Attr&SegAttrP == 0 {
			c.raise(VecNP, code)
		}
	}
	d.Selector = sel
	c.Seg[s] = d
	c.updateMode()
}
