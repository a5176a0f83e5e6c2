package cpu

// Control flow: JMP, Jcc, CALL, RET (near and far), far JMP/CALL through
// memory, LOOP/LOOPE/LOOPNE and JRCXZ.
//
// Direct branch targets are known when the instruction is decoded, so the
// binder checks that they are canonical and picks tiny handlers that only
// set RIP; a non-canonical target gets a handler that raises #GP(0) when the
// branch is taken.

func init() {
	setBinders(map[Op]func(*Inst) handler{
		OpJMP: bindJMP, OpJCC: bindJCC, OpJMPInd: bindJMPInd, OpCALL: bindCALL,
		OpCALLInd: bindCALLInd, OpRET: bindRET,
	})
	bindFixed(map[Op]handler{
		OpRETF: execRETF, OpJMPFar: execJMPFar, OpCALLFar: execCALLFar, OpLOOP: execLOOP,
		OpLOOPE: execLOOPE, OpLOOPNE: execLOOPNE, OpJRCXZ: execJRCXZ,
	})
}

// branch ends the block at the instruction's target if taken, which must be
// valid (checkTarget); if not, the block goes on, as after jcc.
func (c *CPU) branch(in *Inst, taken bool) {
	if taken {
		c.jumpChecked(in.imm)
	}
}

// checkTarget raises #GP(0) unless target is a valid branch target:
// canonical in 64-bit mode, within the CS limit outside it.
func (c *CPU) checkTarget(target uint64) {
	if c.csize == Code64 && !canonical(target) || c.csize != Code64 && target > uint64(c.Seg[CS].Limit) {
		c.raise(VecGP, 0)
	}
}

// jumpChecked transfers control to target after checkTarget, ending the
// block.
func (c *CPU) jumpChecked(target uint64) {
	c.checkTarget(target)
	c.RIP = target
	c.brk = true
}

// checkCodeLimit applies the CS limit to an instruction decoded outside
// 64-bit mode, when the block is built: one whose bytes run past the limit
// raises #GP(0) when executed, and a relative JMP or Jcc whose target lies
// beyond it checks it (raising #GP(0)) when taken.
func checkCodeLimit(in *Inst, limit uint64) {
	switch {
	case in.rip+uint64(in.len)-1 > limit:
		*in = Inst{rip: in.rip, next: in.rip, op: OpInvalid, fn: gpHandler, prefix: pfxEndsBlock}
	case in.imm <= limit:
	case in.op == OpJMP:
		in.fn = execJMPSlow
	case in.op == OpJCC:
		in.fn = execJCCSlow
	}
}

// ---- JMP, Jcc ----

func bindJMP(in *Inst) handler {
	if !canonical(in.imm) {
		return execJMPSlow
	}
	return execJMP
}

func execJMP(c *CPU, in *Inst) {
	c.RIP = in.imm
	c.brk = true
}

func execJMPSlow(c *CPU, in *Inst) { c.jumpChecked(in.imm) }

func bindJCC(in *Inst) handler {
	if !canonical(in.imm) {
		return execJCCSlow
	}
	return jccHandlers[in.opcode&0xF]
}

func execJCCSlow(c *CPU, in *Inst) { c.branch(in, c.cond(uint8(in.opcode&0xF))) }

var jccHandlers = [16]handler{
	execJO, execJNO, execJB, execJNB, execJZ, execJNZ, execJBE, execJA,
	execJS, execJNS, execJP, execJNP, execJL, execJGE, execJLE, execJG,
}

// jcc ends the block at the target if taken; if not, the block goes on (a
// conditional branch does not end a decoded block, so a block runs on
// through the branches not taken). The target is canonical (checked when
// bound).
func (c *CPU) jcc(in *Inst, taken bool) {
	if taken {
		c.RIP = in.imm
		c.brk = true
	}
}

// The conditions read straight from the lazy record: after a CMP or SUB
// (lazy flagsSub, the common case before a conditional branch) the
// unsigned and signed ones compare the operands; ZF and SF come from the
// result after any operation. The Jcc handlers use them, and so do the
// run loop's fused pairs (see cpu/gen/dispatchgen).

// subSigned returns the operands of the lazy flagsSub record sign-extended.
func (l *lazyFlags) subSigned() (int64, int64) {
	s := 63 - l.top
	return int64(l.a<<s) >> s, int64(l.b<<s) >> s
}

func (l *lazyFlags) zero() bool    { return l.r == 0 }
func (l *lazyFlags) sign() bool    { return l.r>>l.top&1 != 0 }
func (l *lazyFlags) below() bool   { return l.a < l.b }
func (l *lazyFlags) belowEq() bool { return l.a <= l.b }

func (l *lazyFlags) less() bool {
	a, b := l.subSigned()
	return a < b
}

func (l *lazyFlags) lessEq() bool {
	a, b := l.subSigned()
	return a <= b
}

// The conditions of the conditional branches (one of each pair with its
// negation), read straight from a flagsSub record where they can: the Jcc
// handlers and the run loop's switch (cpu/gen/dispatchgen) use them.

func (c *CPU) condB() bool {
	if c.lazy.op == flagsSub {
		return c.lazy.below()
	}
	return c.cf()
}

func (c *CPU) condBE() bool {
	if c.lazy.op == flagsSub {
		return c.lazy.belowEq()
	}
	return c.cf() || c.zf()
}

func (c *CPU) condL() bool {
	if c.lazy.op == flagsSub {
		return c.lazy.less()
	}
	return c.sf() != c.of()
}

func (c *CPU) condLE() bool {
	if c.lazy.op == flagsSub {
		return c.lazy.lessEq()
	}
	return c.zf() || c.sf() != c.of()
}

func execJO(c *CPU, in *Inst)  { c.jcc(in, c.of()) }
func execJNO(c *CPU, in *Inst) { c.jcc(in, !c.of()) }
func execJB(c *CPU, in *Inst)  { c.jcc(in, c.condB()) }
func execJNB(c *CPU, in *Inst) { c.jcc(in, !c.condB()) }
func execJZ(c *CPU, in *Inst)  { c.jcc(in, c.zf()) }
func execJNZ(c *CPU, in *Inst) { c.jcc(in, !c.zf()) }
func execJBE(c *CPU, in *Inst) { c.jcc(in, c.condBE()) }
func execJA(c *CPU, in *Inst)  { c.jcc(in, !c.condBE()) }
func execJS(c *CPU, in *Inst)  { c.jcc(in, c.sf()) }
func execJNS(c *CPU, in *Inst) { c.jcc(in, !c.sf()) }
func execJP(c *CPU, in *Inst)  { c.jcc(in, c.pf()) }
func execJNP(c *CPU, in *Inst) { c.jcc(in, !c.pf()) }
func execJL(c *CPU, in *Inst)  { c.jcc(in, c.condL()) }
func execJGE(c *CPU, in *Inst) { c.jcc(in, !c.condL()) }
func execJLE(c *CPU, in *Inst) { c.jcc(in, c.condLE()) }
func execJG(c *CPU, in *Inst)  { c.jcc(in, !c.condLE()) }

// ---- indirect JMP, CALL, RET ----

// bindIndirect picks an indirect JMP's or CALL's handler: narrow for a 16-
// or 32-bit operand, reg for a 64-bit register operand, mem for memory.
func bindIndirect(in *Inst, narrow, reg, mem handler) handler {
	if in.osz != 8 {
		return narrow
	}
	if in.isReg() {
		return reg
	}
	return mem
}

func bindJMPInd(in *Inst) handler {
	return bindIndirect(in, execJMPIndN, execJMPIndReg, execJMPInd)
}

func execJMPIndReg(c *CPU, in *Inst) { c.jump(c.R[in.rm]) }
func execJMPInd(c *CPU, in *Inst)    { c.jump(c.read64(c.ea(in))) }

// execJMPIndN is an indirect JMP outside 64-bit mode: the target is E at
// the operand size.
func execJMPIndN(c *CPU, in *Inst) { c.jumpChecked(c.readE(in)) }

// execCALLN is a near CALL outside 64-bit mode (relative, or indirect
// through E at the operand size).
func execCALLN(c *CPU, in *Inst) {
	target := in.imm
	if in.op == OpCALLInd {
		target = c.readE(in)
	}
	c.checkTarget(target)
	c.push(in.osz, in.next)
	c.RIP = target
	c.brk = true
}

// execRETN is a near RET outside 64-bit mode; RET imm16 also releases
// imm16 bytes of the stack.
func execRETN(c *CPU, in *Inst) {
	t := c.readN(c.stackAddr(0), in.osz)
	c.checkTarget(t)
	c.pop(in.osz)
	if in.form == formIw {
		c.R[RSP] = c.R[RSP]&^c.stackMask | (c.R[RSP]+in.imm)&c.stackMask
	}
	c.RIP = t
	c.brk = true
}

func bindCALL(in *Inst) handler {
	if in.osz != 8 {
		return execCALLN
	}
	if !canonical(in.imm) {
		return execCALLSlow
	}
	return execCALL
}

// execCALL pushes the return address and jumps to a canonical target.
//
//go:noinline
func execCALL(c *CPU, in *Inst) {
	sp := c.R[RSP] - 8
	c.write64(sp, in.next)
	c.R[RSP] = sp
	c.RIP = in.imm
	c.brk = true
}

// execCALLSlow is a CALL to a non-canonical target: #GP(0) before pushing.
func execCALLSlow(c *CPU, in *Inst) { c.raise(VecGP, 0) }

func bindCALLInd(in *Inst) handler {
	return bindIndirect(in, execCALLN, execCALLIndReg, execCALLInd)
}

func execCALLIndReg(c *CPU, in *Inst) { c.callTo(in, c.R[in.rm]) }
func execCALLInd(c *CPU, in *Inst)    { c.callTo(in, c.read64(c.ea(in))) }

// callTo checks target, pushes the return address and transfers control.
func (c *CPU) callTo(in *Inst, target uint64) {
	if !canonical(target) {
		c.raise(VecGP, 0)
	}
	sp := c.R[RSP] - 8
	c.write64(sp, in.next)
	c.R[RSP] = sp
	c.RIP = target
	c.brk = true
}

func bindRET(in *Inst) handler {
	if in.osz != 8 {
		return execRETN
	}
	if in.form == formIw {
		return execRETImm
	}
	return execRET
}

// execRET pops the return address; a non-canonical one faults at the RET
// with RSP unchanged (as Intel CPUs do).
//
//go:noinline
func execRET(c *CPU, in *Inst) {
	sp := c.R[RSP]
	t := c.read64(sp)
	if !canonical(t) {
		c.raise(VecGP, 0)
	}
	c.R[RSP] = sp + 8
	c.RIP = t
	c.brk = true
}

func execRETImm(c *CPU, in *Inst) {
	sp := c.R[RSP]
	t := c.read64(sp)
	if !canonical(t) {
		c.raise(VecGP, 0)
	}
	c.R[RSP] = sp + 8 + in.imm
	c.RIP = t
	c.brk = true
}

// ---- far transfers ----

// loadCodeDescriptor loads the descriptor of selector sel, which must be
// a code segment's: #GP(0) for a null selector, #GP(sel) for a descriptor
// outside the table or not of code.
func (c *CPU) loadCodeDescriptor(sel uint16) Segment {
	if sel&^3 == 0 {
		c.raise(VecGP, 0)
	}
	d, err := c.loadDescriptor(sel)
	if err != nil || d.Attr&0x18 != 0x18 {
		c.raise(VecGP, uint32(sel&^3))
	}
	return d
}

// farCodeDescriptor checks the code-segment descriptor for a far JMP or
// CALL to selector sel (not null) at the current privilege (call gates are
// farGate's): lo, hi and ok are rawDescriptor's for sel. It returns the
// descriptor with the selector's RPL replaced by the CPL.
func (c *CPU) farCodeDescriptor(sel uint16, lo, hi uint64, ok bool) Segment {
	code := uint32(sel &^ 3)
	d := decodeDescriptor(sel, lo, hi)
	if !ok || d.Attr&0x18 != 0x18 {
		c.raise(VecGP, code)
	}
	dpl := uint8(d.Attr >> 5 & 3)
	if d.Attr&0x4 != 0 { // conforming
		if dpl > c.CPL {
			c.raise(VecGP, code)
		}
	} else if uint8(sel&3) > c.CPL || dpl != c.CPL {
		c.raise(VecGP, code)
	}
	if d.Attr&SegAttrP == 0 {
		c.raise(VecNP, code)
	}
	d.Selector = sel&^3 | uint16(c.CPL)
	return d
}

// farTarget checks the offset of a far transfer into code segment d.
func (c *CPU) farTarget(d *Segment, off uint64) {
	if d.Attr&SegAttrL != 0 && c.EFER&EFERLMA != 0 {
		if !canonical(off) {
			c.raise(VecGP, 0)
		}
	} else if off > uint64(d.Limit) {
		c.raise(VecGP, 0)
	}
}

// readFarPointer reads m16:16, m16:32 or m16:64 (by operand size), or
// returns the instruction's ptr16:16/32 operand.
func (c *CPU) readFarPointer(in *Inst) (off uint64, sel uint16) {
	if in.form == formPtr {
		return in.imm, uint16(in.disp)
	}
	addr := c.ea(in)
	off = c.readN(addr, in.osz)
	sel = c.read16(addr + uint64(in.osz))
	return
}

// execJMPFar is JMP m16:32/m16:64 (FF /5) or ptr16:16/32 (EA) to the same
// privilege level, directly or through a call gate.
func execJMPFar(c *CPU, in *Inst) {
	off, sel := c.readFarPointer(in)
	g, d, gate := c.farGate(sel)
	if gate {
		c.jumpGate(g)
		return
	}
	c.farTarget(&d, off)
	c.farJump(d, off)
}

// farJump loads CS with d and continues at off: decoding depends on CS, so
// the decoded blocks of the old mode are left behind.
func (c *CPU) farJump(d Segment, off uint64) {
	c.Seg[CS] = d
	c.RIP = off
	c.brk = true
	c.privilegeChanged()
	c.code.newGeneration()
}

// execCALLFar is CALL m16:32/m16:64 (FF /3) or ptr16:16/32 (9A): pushes CS
// and the return offset at the operand size, then jumps; through a call
// gate, see callGateTo.
func execCALLFar(c *CPU, in *Inst) {
	off, sel := c.readFarPointer(in)
	g, d, gate := c.farGate(sel)
	if gate {
		c.callGateTo(g, in.next)
		return
	}
	c.farTarget(&d, off)
	c.pushFar(in.osz, in.next)
	c.farJump(d, off)
}

// execRETF is the far return (CB, CA iw). In 64-bit mode its default operand
// size is 32 bits (REX.W: 64). A return to an outer privilege level also pops
// RSP and SS, and nulls data segment registers the new CPL may not use.
func execRETF(c *CPU, in *Inst) {
	size := uint64(in.osz)
	off := c.readN(c.stackAddr(0), in.osz)
	sel := uint16(c.readN(c.stackAddr(size), in.osz))
	sp := c.R[RSP]&^c.stackMask | (c.R[RSP]+2*size+in.imm)&c.stackMask

	code := uint32(sel &^ 3)
	d := c.loadCodeDescriptor(sel)
	rpl := uint8(sel & 3)
	dpl := uint8(d.Attr >> 5 & 3)
	if rpl < c.CPL {
		c.raise(VecGP, code)
	}
	if d.Attr&0x4 != 0 {
		if dpl > rpl {
			c.raise(VecGP, code)
		}
	} else if dpl != rpl {
		c.raise(VecGP, code)
	}
	if d.Attr&SegAttrP == 0 {
		c.raise(VecNP, code)
	}
	c.farTarget(&d, off)
	d.Selector = sel

	if rpl == c.CPL {
		c.R[RSP] = sp
		c.farJump(d, off)
		return
	}

	// Return to an outer level: pop RSP and SS from the old stack.
	newSP := c.readN(c.stackAddr(2*size+in.imm), in.osz)
	ssSel := uint16(c.readN(c.stackAddr(3*size+in.imm), in.osz))
	var ss Segment
	if ssSel&^3 == 0 {
		// A null SS is allowed in 64-bit mode unless returning to CPL 3.
		if rpl == 3 || d.Attr&SegAttrL == 0 {
			c.raise(VecGP, 0)
		}
		ss = Segment{Selector: ssSel}
	} else {
		sc := uint32(ssSel &^ 3)
		sd, err := c.loadDescriptor(ssSel)
		if err != nil || sd.Attr&0x1A != 0x12 || uint8(ssSel&3) != rpl || uint8(sd.Attr>>5&3) != rpl {
			c.raise(VecGP, sc)
		}
		if sd.Attr&SegAttrP == 0 {
			c.raise(VecSS, sc)
		}
		sd.Selector = ssSel
		ss = sd
	}
	c.Seg[SS] = ss
	c.R[RSP] = newSP + in.imm
	c.nullOuterDataSegments(rpl)
	c.farJump(d, off)
}

// nullOuterDataSegments makes null the data segment registers a return to
// the outer level rpl may not use (conforming code excepted). The FS/GS
// bases are kept.
func (c *CPU) nullOuterDataSegments(rpl uint8) {
	for _, s := range [...]int{ES, DS, FS, GS} {
		a := c.Seg[s].Attr
		conformingCode := a&0x1C == 0x1C
		if c.Seg[s].Selector&^3 != 0 && !conformingCode && uint8(a>>5&3) < rpl {
			c.Seg[s].Selector = 0
			c.Seg[s].Attr &^= SegAttrP
		}
	}
}

// ---- LOOP, JRCXZ ----

// loopCount decrements rCX (ECX with a 32-bit address size, zero-extending
// RCX) and returns the new count; flags are untouched. The write is done by
// the caller through loopBranch once the branch is known to be valid.
func (c *CPU) loopCount(in *Inst) uint64 {
	if in.asz != 8 {
		return (c.R[RCX] - 1) & sizeMask(in.asz)
	}
	return c.R[RCX] - 1
}

// loopBranch branches and commits the new count n: a branch target that
// faults (before the branch changes anything) leaves rCX as it was.
func (c *CPU) loopBranch(in *Inst, n uint64, taken bool) {
	c.branch(in, taken)
	c.setReg(RCX, in.asz, false, n)
}

func execLOOP(c *CPU, in *Inst) {
	n := c.loopCount(in)
	c.loopBranch(in, n, n != 0)
}

func execLOOPE(c *CPU, in *Inst) {
	n := c.loopCount(in)
	c.loopBranch(in, n, n != 0 && c.zf())
}

func execLOOPNE(c *CPU, in *Inst) {
	n := c.loopCount(in)
	c.loopBranch(in, n, n != 0 && !c.zf())
}

func execJRCXZ(c *CPU, in *Inst) {
	n := c.R[RCX]
	if in.asz != 8 {
		n &= sizeMask(in.asz)
	}
	c.branch(in, n == 0)
}
