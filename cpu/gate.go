package cpu

// Far CALL and JMP through call gates (SDM Vol. 3, 5.8.3-5.8.6; Vol. 2
// CALL and JMP, protected-mode operation). A far transfer whose selector
// names a call gate continues at the gate's code segment and offset, never
// the instruction's offset. CALL to a more privileged non-conforming
// segment switches to the stack the TSS gives for the new CPL and, through
// a legacy gate, copies the gate's parameter count of words from the
// caller's stack. In IA-32e mode the gates are 16-byte 64-bit gates without
// parameters. Task gates and TSS descriptors (task switches) are not
// modelled: #GP(selector), counted as unimplemented.

// callGate is a decoded call-gate descriptor.
type callGate struct {
	code   uint16 // the target code segment's selector
	off    uint64 // the target offset
	params uint64 // parameter count (legacy gates)
	size   uint8  // word size of the frame: 2 (16-bit gate), 4 (32-bit), 8 (64-bit)
}

// farGate looks at the descriptor a far JMP or CALL names: a call gate the
// CPL and the selector's RPL may use is returned with true; otherwise the
// code segment farCodeDescriptor checks, with false. Other system
// descriptors raise #GP(selector), task gates and TSSs (task switches)
// counted as unimplemented; a gate not present #NP(selector).
func (c *CPU) farGate(sel uint16) (callGate, Segment, bool) {
	if sel&^3 == 0 {
		c.raise(VecGP, 0)
	}
	lo, hi, ok := c.rawDescriptor(sel)
	if !ok || lo>>44&1 != 0 || c.CR0&CR0PE == 0 {
		return callGate{}, c.farCodeDescriptor(sel, lo, hi, ok), false
	}
	code := uint32(sel &^ 3)
	long := c.EFER&EFERLMA != 0
	typ := lo >> 40 & 0xF
	switch {
	case typ == 0xC || typ == 0x4 && !long:
	case typ == 0x5 || typ&^2 == 0x9 || typ&^2 == 0x1 && !long:
		c.countUnimplemented(unimplTaskSwitch | uint32(typ))
		c.raise(VecGP, code)
	default:
		c.raise(VecGP, code)
	}
	g := callGate{code: uint16(lo >> 16), off: lo&0xFFFF | lo>>32&0xFFFF0000, params: lo >> 32 & 0x1F, size: 4}
	switch {
	case long:
		if hi>>40&0x1F != 0 {
			c.raise(VecGP, code)
		}
		g.off |= hi << 32
		g.params, g.size = 0, 8
	case typ == 0x4:
		g.off &= 0xFFFF
		g.size = 2
	}
	if dpl := uint8(lo >> 45 & 3); dpl < c.CPL || uint8(sel&3) > dpl {
		c.raise(VecGP, code)
	}
	if lo>>47&1 == 0 {
		c.raise(VecNP, code)
	}
	return g, Segment{}, true
}

// gateCode loads the code segment of gate g: a present code segment with
// DPL <= CPL (64-bit code in IA-32e mode), at offset g.off within it.
func (c *CPU) gateCode(g *callGate) Segment {
	d := c.loadCodeDescriptor(g.code)
	code := uint32(g.code &^ 3)
	if uint8(d.Attr>>5&3) > c.CPL || c.EFER&EFERLMA != 0 && (d.Attr&SegAttrL == 0 || d.Attr&SegAttrD != 0) {
		c.raise(VecGP, code)
	}
	if d.Attr&SegAttrP == 0 {
		c.raise(VecNP, code)
	}
	c.farTarget(&d, g.off)
	return d
}

// jumpGate is JMP through call gate g: no privilege change, so the code
// segment must be conforming or of the CPL's privilege.
func (c *CPU) jumpGate(g callGate) {
	d := c.gateCode(&g)
	if d.Attr&0x4 == 0 && uint8(d.Attr>>5&3) != c.CPL {
		c.raise(VecGP, uint32(g.code&^3))
	}
	d.Selector = g.code&^3 | uint16(c.CPL)
	c.farJump(d, g.off)
}

// callGateTo is CALL through call gate g; ret is the return offset.
func (c *CPU) callGateTo(g callGate, ret uint64) {
	d := c.gateCode(&g)
	dpl := uint8(d.Attr >> 5 & 3)
	if d.Attr&0x4 != 0 || dpl == c.CPL {
		c.pushFar(g.size, ret)
		d.Selector = g.code&^3 | uint16(c.CPL)
		c.farJump(d, g.off)
		return
	}
	c.callInner(g, d, dpl, ret)
}

// pushFar pushes CS and the return offset ret as two words of size bytes,
// checking both slots before writing either.
func (c *CPU) pushFar(size uint8, ret uint64) {
	sp := (c.R[RSP] - 2*uint64(size)) & c.stackMask
	a := c.stackLinear(sp)
	c.probeWrite(a, 2*int(size))
	c.writeN(a+uint64(size), size, uint64(c.Seg[CS].Selector))
	c.writeN(a, size, ret)
	c.R[RSP] = c.R[RSP]&^c.stackMask | sp
}

// callInner is CALL through gate g to the more privileged non-conforming
// segment d (DPL dpl): the stack for dpl from the TSS receives the caller's
// SS and rSP, the parameters (legacy gates) and the return CS:rIP.
func (c *CPU) callInner(g callGate, d Segment, dpl uint8, ret uint64) {
	w := uint64(g.size)
	var ss Segment
	var sp uint64
	switch {
	case g.size == 8:
		sp = c.readTSS(4 + uint64(dpl)*8)
		ss = Segment{Selector: uint16(dpl)}
	case c.TR.Attr&0xF == 0x1 || c.TR.Attr&0xF == 0x3: // 16-bit TSS
		sp = c.readTSSN(2+uint64(dpl)*4, 2)
		ss = c.tssStack(uint16(c.readTSSN(4+uint64(dpl)*4, 2)), dpl)
	default:
		ss, sp = c.tssStack32(dpl)
	}
	mask := ^uint64(0)
	if g.size != 8 {
		mask = stackMaskOf(&ss)
	}
	// The frame, top down; parameters are read before anything is written.
	var frame [2 + 31 + 2]uint64
	frame[0], frame[1] = uint64(c.Seg[SS].Selector), c.R[RSP]
	n := 2
	for i := g.params; i > 0; i-- {
		frame[n] = c.readN(c.stackAddr((i-1)*w), g.size)
		n++
	}
	frame[n], frame[n+1] = uint64(c.Seg[CS].Selector), ret
	n += 2
	newSP := (sp - uint64(n)*w) & mask
	if g.size != 8 {
		c.checkStackRoom(&ss, sp, uint64(n)*w, mask, uint32(ss.Selector&^3))
	}
	base := ss.Base & 0xFFFFFFFF
	if g.size == 8 {
		base = 0
	}
	c.asCPL(dpl, func() {
		c.probeWrite(base+newSP, n*int(w))
		for i, v := range frame[:n] {
			c.writeN(base+(sp-uint64(i+1)*w)&mask, g.size, v)
		}
	})
	c.Seg[SS] = ss
	c.R[RSP] = c.R[RSP]&^mask | newSP
	d.Selector = g.code&^3 | uint16(dpl)
	c.farJump(d, g.off)
}

// checkStackRoom raises #SS(code) unless the n bytes below stack offset sp
// (at the stack's size mask) lie within stack segment ss, as a frame pushed
// there must.
func (c *CPU) checkStackRoom(ss *Segment, sp, n, mask uint64, code uint32) {
	lo, hi := segBounds(ss)
	low := (sp - n) & mask
	if low < lo || low+n-1 > hi {
		c.raise(VecSS, code)
	}
}

// asCPL runs f with the CPL (and the TLB's privilege) set to cpl, as
// writes to a new privilege level's stack are made, restoring both
// afterwards even when f faults.
func (c *CPU) asCPL(cpl uint8, f func()) {
	savedCPL, savedUser := c.CPL, c.mmu.user()
	defer func() {
		c.CPL = savedCPL
		c.mmu.setUser(savedUser)
	}()
	c.CPL = cpl
	c.mmu.setUser(0)
	if cpl == 3 {
		c.mmu.setUser(1)
	}
	f()
}
