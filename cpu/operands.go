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
	a := c.R[in.base] + c.R[in.index]<<(in.scale&3) + in.disp
	if in.asz != 8 {
		return c.segAddr(in, a)
	}
	return a + c.segBase64[in.seg&7]
}

// segAddr returns the linear address of offset a (before truncation to the
// address size) in the memory operand's segment.
func (c *CPU) segAddr(in *Inst, a uint64) uint64 {
	if in.asz != 8 {
		a &= sizeMask(in.asz)
		if c.csize != Code64 {
			return c.linear(in.seg, a)
		}
	}
	return a + c.segBase64[in.seg]
}

// linear returns the linear address of offset off in segment s outside
// 64-bit mode: base plus offset modulo 4 GiB. Through a segment that is not
// a flat writable data segment, it checks that the access's first byte is
// within the segment's bounds (#GP(0), or #SS(0) for SS) and marks the
// address with what the memory slow path must check once it knows the
// access's size and direction (see unmark): the rights the segment lacks,
// and, when the offset lies within maxAccess bytes of the segment's end,
// the segment itself for the exact limit check. A marked address never hits
// the TLB; accesses away from a segment's end keep the fast path.
func (c *CPU) linear(s uint8, off uint64) uint64 {
	if c.segSlow>>s&1 != 0 {
		return c.linearChecked(s, off)
	}
	return (off + c.segBase64[s]) & 0xFFFFFFFF
}

// linearChecked is linear through a segment that needs its checks.
func (c *CPU) linearChecked(s uint8, off uint64) uint64 {
	if off < c.segLo[s] || off > c.segHi[s] {
		c.segFault(s)
	}
	a := (off+c.segBase64[s])&0xFFFFFFFF | c.segMark[s]
	if off+maxAccess-1 > c.segHi[s] {
		a |= uint64(s+1) << markSegShift
	}
	return a
}

// maxAccess bounds the bytes one instruction accesses from one effective
// address (FXSAVE's 512).
const maxAccess = 512

// segFault raises the fault of an access outside segment s: #SS(0) for
// SS, else #GP(0).
func (c *CPU) segFault(s uint8) {
	if s == SS {
		c.raise(VecSS, 0)
	}
	c.raise(VecGP, 0)
}

// Markers of a linear address outside 64-bit mode (see linear): bits no
// 32-bit linear address has, and no canonical address has without bits
// 47-57, so a marked address never equals a TLB entry's tag. Bits 32-57
// are left for the carry of offsets added to a linear address.
const (
	markSegShift = 58      // bits 58-60: segment register + 1 whose limit the slow path checks
	markNoWrite  = 1 << 61 // the segment is not writable: a write is #GP(0)
	markNoRead   = 1 << 62 // the segment is execute-only code: a read is #GP(0)
)

// segRights returns the markers of a segment with attributes attr: code
// segments are never writable and readable only with their R bit; data
// segments are readable and writable with their W bit.
func segRights(attr uint16) uint64 {
	switch {
	case attr&0x18 == 0x18 && attr&0x2 == 0:
		return markNoWrite | markNoRead
	case attr&0x2 == 0 || attr&0x18 == 0x18:
		return markNoWrite
	}
	return 0
}

// unmark checks an access of size bytes to linear address addr outside
// 64-bit mode against the markers linear put there (none on any other
// address, which it returns as it is): #GP(0) for a write
// through a segment that is not writable or a read of execute-only code,
// #GP(0) (#SS(0) for SS) for bytes past the marked segment's bounds. It
// returns the 32-bit linear address.
func (c *CPU) unmark(addr uint64, size int, write bool) uint64 {
	if addr>>markSegShift == 0 || addr>>47&0x7FF != 0 {
		// Not marked: an address linear did not mark, or a canonical one
		// (compatibility mode reaches the 64-bit kernel's IDT, GDT, TSS
		// and stack at any address).
		return addr
	}
	if write && addr&markNoWrite != 0 || !write && addr&markNoRead != 0 {
		c.raise(VecGP, 0)
	}
	if m := addr >> markSegShift & 7; m != 0 {
		s := uint8(m - 1)
		off := addr&(1<<markSegShift-1) - c.segBase64[s]&0xFFFFFFFF
		if off+uint64(size)-1 > c.segHi[s] {
			c.segFault(s)
		}
	}
	return addr & 0xFFFFFFFF
}

// eaPlain returns the linear address of the memory operand for an
// instruction that records it rather than accessing it (INVLPG, the x87
// data pointer): ea without the markers.
func (c *CPU) eaPlain(in *Inst) uint64 {
	a := c.ea(in)
	if c.csize != Code64 {
		a &= 0xFFFFFFFF
	}
	return a
}

// segBounds returns the lowest and highest offset segment d allows: none
// (lo above every offset) when it is not usable (null or not present);
// above the limit and up to 64 KiB or 4 GiB by its B bit for an
// expand-down data segment; up to the limit otherwise.
func segBounds(d *Segment) (lo, hi uint64) {
	switch {
	case d.Attr&SegAttrP == 0:
		return ^uint64(0), 0
	case d.Attr&0x1C == 0x14:
		if d.Attr&SegAttrD != 0 {
			return uint64(d.Limit) + 1, 0xFFFFFFFF
		}
		return uint64(d.Limit) + 1, 0xFFFF
	}
	return 0, uint64(d.Limit)
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
	c.writeN(c.stackLinear(sp), size, v)
	c.R[RSP] = c.R[RSP]&^c.stackMask | sp
}

// pop pops size bytes off the stack.
func (c *CPU) pop(size uint8) uint64 {
	sp := c.R[RSP] & c.stackMask
	v := c.readN(c.stackLinear(sp), size)
	c.R[RSP] = c.R[RSP]&^c.stackMask | (sp+uint64(size))&c.stackMask
	return v
}

// stackAddr returns the linear address of the stack slot off bytes above
// SS:rSP (checked for a 4-byte access outside 64-bit mode).
func (c *CPU) stackAddr(off uint64) uint64 {
	return c.stackLinear((c.R[RSP] + off) & c.stackMask)
}

// stackLinear returns the linear address of stack offset sp.
func (c *CPU) stackLinear(sp uint64) uint64 {
	if c.csize != Code64 {
		return c.linear(SS, sp)
	}
	return sp
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
