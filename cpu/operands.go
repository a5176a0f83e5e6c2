package cpu

// Operand access shared by every family: registers by width, the effective
// address of the ModRM memory operand, and the E/G operands of an Inst.

// sizeMask returns the mask of an operand of size bytes.
func sizeMask(size uint8) uint64 {
	return ^uint64(0) >> (64 - 8*uint64(size))
}

// signExtend sign-extends the low size bytes of v.
func signExtend(v uint64, size uint8) uint64 {
	s := 64 - 8*uint64(size)
	return uint64(int64(v<<s) >> s)
}

// getReg reads register r at operand size size. For byte operands of an
// instruction without REX (legacy true), registers 4-7 are AH, CH, DH, BH.
func (c *CPU) getReg(r uint8, size uint8, legacy bool) uint64 {
	switch size {
	case 1:
		if legacy && r >= 4 && r < 8 {
			return c.R[r-4] >> 8 & 0xFF
		}
		return c.R[r] & 0xFF
	case 2:
		return c.R[r] & 0xFFFF
	case 4:
		return c.R[r] & 0xFFFFFFFF
	}
	return c.R[r]
}

// setReg writes register r at operand size size: 32-bit writes zero the upper
// half, 8- and 16-bit writes leave the other bits alone.
func (c *CPU) setReg(r uint8, size uint8, legacy bool, v uint64) {
	switch size {
	case 1:
		if legacy && r >= 4 && r < 8 {
			c.R[r-4] = c.R[r-4]&^0xFF00 | (v&0xFF)<<8
			return
		}
		c.R[r] = c.R[r]&^0xFF | v&0xFF
	case 2:
		c.R[r] = c.R[r]&^0xFFFF | v&0xFFFF
	case 4:
		c.R[r] = v & 0xFFFFFFFF
	default:
		c.R[r] = v
	}
}

// ea returns the linear address of the instruction's memory operand.
func (c *CPU) ea(in *Inst) uint64 {
	a := c.R[in.base] + c.R[in.index]<<in.scale + in.disp
	if in.asz != 8 {
		a &= sizeMask(in.asz)
	}
	return a + c.segBase64[in.seg]
}

// legacy reports whether the instruction's byte registers 4-7 name AH-BH.
func (in *Inst) legacy() bool { return in.prefix&pfxLegacyByteRegs != 0 }

// readE reads the E (ModRM r/m) operand at the instruction's operand size.
func (c *CPU) readE(in *Inst) uint64 {
	if in.mod == 3 {
		return c.getReg(in.rm, in.osz, in.legacy())
	}
	return c.readN(c.ea(in), in.osz)
}

// writeE writes the E operand at the instruction's operand size.
func (c *CPU) writeE(in *Inst, v uint64) {
	if in.mod == 3 {
		c.setReg(in.rm, in.osz, in.legacy(), v)
		return
	}
	c.writeN(c.ea(in), in.osz, v)
}

// readESize reads the E operand at an explicit size (MOVZX, MOVSX, ...).
func (c *CPU) readESize(in *Inst, size uint8) uint64 {
	if in.mod == 3 {
		return c.getReg(in.rm, size, in.legacy())
	}
	return c.readN(c.ea(in), size)
}

// writeESize writes the E operand at an explicit size (SETcc, MOV from Sreg).
func (c *CPU) writeESize(in *Inst, size uint8, v uint64) {
	if in.mod == 3 {
		c.setReg(in.rm, size, in.legacy(), v)
		return
	}
	c.writeN(c.ea(in), size, v)
}

// readG reads the G (ModRM reg) operand at the operand size.
func (c *CPU) readG(in *Inst) uint64 { return c.getReg(in.reg, in.osz, in.legacy()) }

// writeG writes the G operand at the operand size.
func (c *CPU) writeG(in *Inst, v uint64) { c.setReg(in.reg, in.osz, in.legacy(), v) }

// rmw is a read-modify-write access to the E operand: it resolves the address
// once and checks writability before the operation's result is stored.
type rmw struct {
	addr uint64
	reg  bool
}

// beginRMW reads the E operand for a read-modify-write instruction.
func (c *CPU) beginRMW(in *Inst) (rmw, uint64) {
	if in.mod == 3 {
		return rmw{reg: true}, c.getReg(in.rm, in.osz, in.legacy())
	}
	a := c.ea(in)
	return rmw{addr: a}, c.readN(a, in.osz)
}

// endRMW stores the result of a read-modify-write instruction.
func (c *CPU) endRMW(in *Inst, w rmw, v uint64) {
	if w.reg {
		c.setReg(in.rm, in.osz, in.legacy(), v)
		return
	}
	c.writeN(w.addr, in.osz, v)
}

// push pushes size bytes onto the stack (SS:rSP, at the stack's size).
func (c *CPU) push(size uint8, v uint64) {
	sp := (c.R[RSP] - uint64(size)) & c.stackMask
	c.writeN(sp+c.segBase64[SS], size, v)
	c.R[RSP] = c.R[RSP]&^c.stackMask | sp
}

// pop pops size bytes off the stack.
func (c *CPU) pop(size uint8) uint64 {
	sp := c.R[RSP] & c.stackMask
	v := c.readN(sp+c.segBase64[SS], size)
	c.R[RSP] = c.R[RSP]&^c.stackMask | (sp+uint64(size))&c.stackMask
	return v
}

// stackAddr returns the linear address of the stack slot off bytes above
// SS:rSP.
func (c *CPU) stackAddr(off uint64) uint64 {
	return (c.R[RSP]+off)&c.stackMask + c.segBase64[SS]
}

// jump transfers control to target, ending the block.
func (c *CPU) jump(target uint64) {
	if !canonical(target) {
		c.raise(VecGP, 0)
	}
	c.RIP = target
	c.brk = true
}

// endBlock leaves the block after the current instruction, which completed.
// Instructions that change state the decoded block depends on (interrupt
// flag, modes, code) call it.
func (c *CPU) endBlock(in *Inst) {
	c.RIP = in.next
	c.brk = true
	c.attn = true
}
