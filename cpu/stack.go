package cpu

// Stack instructions: PUSH, POP, PUSHF, POPF, ENTER, LEAVE and PUSH/POP of
// FS and GS. In 64-bit mode the stack address size is always 64 bits; the
// operand size is 64 bits, or 16 with a 66 prefix.

func init() {
	binders[OpPUSH] = bindPUSH
	binders[OpPOP] = bindPOP
	bindFixed(map[Op]handler{
		OpPUSHF: execPUSHF, OpPOPF: execPOPF, OpENTER: execENTER, OpLEAVE: execLEAVE,
		OpPUSHSeg: execPUSHSeg, OpPOPSeg: execPOPSeg,
	})
}

// ---- PUSH, POP ----

func bindPUSH(in *Inst) handler {
	switch in.form {
	case formReg:
		if in.osz == 8 {
			return execPUSHReg64
		}
		return execPUSHReg
	case formE:
		return execPUSHE
	case formIz, formIb:
		return execPUSHImm
	}
	return nil
}

//go:noinline
func execPUSHReg64(c *CPU, in *Inst) {
	sp := c.R[RSP] - 8
	c.write64(sp, c.R[in.reg])
	c.R[RSP] = sp
}

func execPUSHReg(c *CPU, in *Inst) { c.push(in.osz, c.R[in.reg]) }
func execPUSHE(c *CPU, in *Inst)   { c.push(in.osz, c.readE(in)) }
func execPUSHImm(c *CPU, in *Inst) { c.push(in.osz, in.imm) }

func bindPOP(in *Inst) handler {
	switch in.form {
	case formReg:
		if in.osz == 8 {
			return execPOPReg64
		}
		return execPOPReg
	case formE:
		if in.isReg() {
			return execPOPReg
		}
		return execPOPMem
	}
	return nil
}

// execPOPReg64 pops into a register; POP RSP leaves the popped value in RSP.
//
//go:noinline
func execPOPReg64(c *CPU, in *Inst) {
	sp := c.R[RSP]
	v := c.read64(sp)
	c.R[RSP] = sp + 8
	c.R[in.reg] = v
}

// execPOPReg pops into the register named by the opcode (58+r) or by ModRM
// (8F /0 with mod 3).
func execPOPReg(c *CPU, in *Inst) {
	r := in.reg
	if in.form == formE {
		r = in.rm
	}
	v := c.pop(in.osz)
	c.setReg(r, in.osz, false, v)
}

// execPOPMem pops into memory. An address computed from rSP uses the value
// rSP has after the pop; if the store faults, rSP is unchanged.
func execPOPMem(c *CPU, in *Inst) {
	m := c.stackMask
	sp := c.R[RSP] & m
	v := c.readN(c.stackLinear(sp), in.osz)
	nsp := c.R[RSP]&^m | (sp+uint64(in.osz))&m
	base, index := c.R[in.base], c.R[in.index]
	if in.base == RSP {
		base = nsp
	}
	if in.index == RSP {
		index = nsp
	}
	c.writeN(c.segAddr(in, base+index<<in.scale+in.disp), in.osz, v)
	c.R[RSP] = nsp
}

// ---- PUSHF, POPF ----

// execPUSHF pushes RFLAGS (the low 16 bits with a 66 prefix) with VM and RF
// cleared.
func execPUSHF(c *CPU, in *Inst) {
	c.push(in.osz, c.flags()&^(FlagVM|FlagRF))
}

// execPOPF pops RFLAGS. IOPL changes only at CPL 0, IF only when CPL <=
// IOPL; RF is cleared; VM, VIP and VIF are unchanged; with a 66 prefix only
// the low 16 bits are loaded. It ends the block: IF may have changed.
func execPOPF(c *CPU, in *Inst) {
	v := c.readN(c.stackAddr(0), in.osz)
	mask := uint64(FlagsArith | FlagTF | FlagDF | FlagNT | FlagAC | FlagID)
	if c.CPL == 0 {
		mask |= FlagIOPL
	}
	if c.CPL <= c.iopl() {
		mask |= FlagIF
	}
	if in.osz == 2 {
		mask &= 0xFFFF
	}
	f := c.flags()
	c.rflags = (f&^mask|v&mask)&^FlagRF | flagsFixed
	c.lazy.op = flagsNone
	c.pop(in.osz)
	c.endBlock(in)
}

// ---- ENTER, LEAVE ----

// execENTER builds a stack frame: push rBP, copy level-1 frame pointers from
// the enclosing frame, push the new frame pointer (level > 0), set rBP to it
// and allocate imm16 bytes. Everything is read before anything is written,
// and registers change only after the writes succeeded. The stack's address
// size (SS.B outside 64-bit mode) selects SP/BP or ESP/EBP.
func execENTER(c *CPU, in *Inst) {
	size := uint64(in.osz)
	level := uint64(in.imm2 & 31)
	m := c.stackMask
	sp := c.R[RSP] & m
	bp := c.R[RBP] & m
	var vals [33]uint64
	n := 0
	vals[n] = c.R[RBP]
	n++
	frame := (sp - size) & m
	if level > 0 {
		for i := uint64(1); i < level; i++ {
			vals[n] = c.readN(c.stackLinear((bp-i*size)&m), in.osz)
			n++
		}
		vals[n] = frame
		n++
	}
	low := (sp - uint64(n)*size) & m
	c.probeWrite(c.stackLinear(low), n*int(size))
	for i := 0; i < n; i++ {
		c.writeN(c.stackLinear((sp-uint64(i+1)*size)&m), in.osz, vals[i])
	}
	if c.csize == Code64 {
		c.setReg(RBP, in.osz, false, frame)
	} else {
		c.R[RBP] = c.R[RBP]&^m | frame // EBP or BP, by the stack's size
	}
	c.R[RSP] = c.R[RSP]&^m | (low-in.imm)&m
}

// execLEAVE is rSP = rBP (at the stack's address size); pop rBP.
func execLEAVE(c *CPU, in *Inst) {
	m := c.stackMask
	bp := c.R[RBP] & m
	v := c.readN(c.stackLinear(bp), in.osz)
	c.R[RSP] = c.R[RSP]&^m | (bp+uint64(in.osz))&m
	c.setReg(RBP, in.osz, false, v)
}

// ---- PUSH/POP FS, GS ----

// stackSeg returns the segment register of 0F A0/A1 (FS) or 0F A8/A9 (GS),
// or of 06/07 (ES), 0E (CS), 16/17 (SS), 1E/1F (DS) outside 64-bit mode.
func stackSeg(in *Inst) int {
	if in.opcode < 0x100 {
		return int(in.opcode >> 3 & 3)
	}
	if in.opcode&0x8 != 0 {
		return GS
	}
	return FS
}

// execPUSHSeg pushes the zero-extended selector.
func execPUSHSeg(c *CPU, in *Inst) {
	c.push(in.osz, uint64(c.Seg[stackSeg(in)].Selector))
}

// execPOPSeg loads a segment register from the stack like MOV Sreg
// (setting the base from the descriptor); RSP changes only if the load
// succeeds. POP SS blocks interrupts for one instruction.
func execPOPSeg(c *CPU, in *Inst) {
	v := c.readN(c.stackAddr(0), in.osz)
	s := stackSeg(in)
	c.segLoadData(s, uint16(v))
	c.pop(in.osz)
	if s == SS {
		c.intShadow = true
	}
	c.endBlock(in)
}
