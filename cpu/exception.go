package cpu

import "fmt"

// Exception vectors.
const (
	VecDE  = 0 // divide error
	VecDB  = 1 // debug
	VecNMI = 2
	VecBP  = 3  // breakpoint
	VecOF  = 4  // overflow
	VecBR  = 5  // bound range
	VecUD  = 6  // invalid opcode
	VecNM  = 7  // device not available
	VecDF  = 8  // double fault
	VecTS  = 10 // invalid TSS
	VecNP  = 11 // segment not present
	VecSS  = 12 // stack fault
	VecGP  = 13 // general protection
	VecPF  = 14 // page fault
	VecMF  = 16 // x87 error
	VecAC  = 17 // alignment check
	VecMC  = 18 // machine check
	VecXM  = 19 // SIMD floating-point
)

// guestFault is the panic value that carries an exception out of the
// instruction that raised it to the run loop, which delivers it.
type guestFault struct {
	vector  uint8
	code    uint32
	hasCode bool
}

func (f *guestFault) Error() string {
	return fmt.Sprintf("exception %d (error code %#x)", f.vector, f.code)
}

// hasErrorCode reports whether exception vector pushes an error code.
func hasErrorCode(vector uint8) bool {
	switch vector {
	case VecDF, VecTS, VecNP, VecSS, VecGP, VecPF, VecAC:
		return true
	}
	return false
}

// raise aborts the current instruction with exception vector. It does not
// return.
func (c *CPU) raise(vector uint8, code uint32) {
	c.fault = guestFault{vector: vector, code: code, hasCode: hasErrorCode(vector)}
	panic(&c.fault)
}

// class of an exception for the double-fault rules (SDM Vol. 3 Table 6-5).
func faultClass(v uint8) int {
	switch v {
	case VecDE, VecTS, VecNP, VecSS, VecGP:
		return 1 // contributory
	case VecPF:
		return 2
	}
	return 0 // benign
}

// TripleFault describes the exception that could not be delivered.
type TripleFault struct {
	// Vector is the last exception raised, at RIP.
	Vector uint8
	RIP    uint64
}

// LastTripleFault is set when Run returns StopTripleFault.
func (c *CPU) LastTripleFault() TripleFault { return c.triple }

// deliverFault delivers an exception raised by the instruction at c.RIP,
// applying the double- and triple-fault rules when delivery itself faults.
func (c *CPU) deliverFault(f guestFault) {
	first := f
	for tries := 0; ; tries++ {
		nf, ok := c.tryDeliver(f.vector, f.code, f.hasCode, c.RIP, false)
		if ok {
			return
		}
		switch {
		case f.vector == VecDF || tries >= 2:
			c.triple = TripleFault{Vector: nf.vector, RIP: c.RIP}
			c.stop = StopTripleFault
			return
		case faultClass(first.vector) == 1 && faultClass(nf.vector) == 1,
			faultClass(first.vector) == 2 && faultClass(nf.vector) != 0:
			f = guestFault{vector: VecDF, code: 0, hasCode: true}
		default:
			f = nf
		}
		first = f
	}
}

// tryDeliver runs interrupt delivery and catches a fault raised during it.
func (c *CPU) tryDeliver(vector uint8, code uint32, hasCode bool, ret uint64, soft bool) (nf guestFault, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			gf, isFault := r.(*guestFault)
			if !isFault {
				panic(r)
			}
			nf, ok = *gf, false
		}
	}()
	c.interrupt(vector, code, hasCode, ret, soft)
	return guestFault{}, true
}

// softInterrupt delivers INT n, INT3 or INT1 from the instruction in; ret is
// the address after it. Delivery faults are handled like exceptions of the
// instruction.
func (c *CPU) softInterrupt(in *Inst, vector uint8) {
	// INT n and INT3 are subject to the gate's DPL check; INT1 (ICEBP) is
	// not, and is delivered like an external event (EXT set in error codes).
	c.interrupt(vector, 0, false, in.next, in.op != OpINT1)
	c.brk = true
}

// interrupt delivers vector through the IDT: long mode's 16-byte gates, or
// the 8-byte 32- and 16-bit interrupt and trap gates of protected mode (a
// 16-bit gate pushes a frame of 16-bit words and enters at a 16-bit offset).
// Task gates (task switches) are not modelled: #GP, counted as
// unimplemented. ret is the RIP saved in the frame.
// soft marks INT n and INT3, whose gate DPL must allow the CPL.
func (c *CPU) interrupt(vector uint8, code uint32, hasCode bool, ret uint64, soft bool) {
	legacy := c.EFER&EFERLMA == 0
	if c.CR0&CR0PE == 0 {
		// Real mode is not modelled: nothing can be delivered.
		c.raise(VecDF, 0)
	}
	ext := uint32(1)
	if soft {
		ext = 0
	}
	idtCode := uint32(vector)<<3 | 2 | ext
	gsz := uint64(16)
	if legacy {
		gsz = 8
	}
	if uint64(vector)*gsz+gsz-1 > uint64(c.IDTR.Limit) {
		c.raise(VecGP, idtCode)
	}
	ga := c.IDTR.Base + uint64(vector)*gsz
	lo := c.readSystem(ga, 8)
	var hi uint64
	if !legacy {
		hi = c.readSystem(ga+8, 8)
	}
	typ := lo >> 40 & 0x1F
	dpl := uint8(lo >> 45 & 3)
	gate16 := legacy && (typ == 0x6 || typ == 0x7)
	if typ == 0x5 && legacy {
		c.countUnimplemented(unimplTaskSwitch | uint32(typ))
	}
	if typ != 0xE && typ != 0xF && !gate16 {
		c.raise(VecGP, idtCode)
	}
	if soft && dpl < c.CPL {
		c.raise(VecGP, idtCode)
	}
	if lo>>47&1 == 0 {
		c.raise(VecNP, idtCode)
	}
	target := lo&0xFFFF | lo>>32&0xFFFF0000 | hi<<32
	sel := uint16(lo >> 16)
	ist := lo >> 32 & 7
	if legacy {
		ist = 0
		target &= 0xFFFFFFFF
	}
	if gate16 {
		target &= 0xFFFF
	}
	desc, err := c.loadDescriptor(sel)
	if err != nil || sel&^3 == 0 {
		c.raise(VecGP, uint32(sel&^3)|ext)
	}
	if desc.Attr&0x18 != 0x18 || desc.Attr&SegAttrL == 0 && !legacy {
		c.raise(VecGP, uint32(sel&^3)|ext)
	}
	if desc.Attr&SegAttrP == 0 {
		c.raise(VecNP, uint32(sel&^3)|ext)
	}
	newCPL := uint8(desc.Attr >> 5 & 3)
	if desc.Attr&0x4 != 0 { // conforming: keep CPL
		newCPL = c.CPL
	}
	if newCPL > c.CPL {
		c.raise(VecGP, uint32(sel&^3)|ext)
	}
	if !canonical(target) || legacy && target > uint64(desc.Limit) {
		c.raise(VecGP, 0)
	}
	oldSS, oldRSP := c.Seg[SS], c.R[RSP]
	rsp := c.R[RSP]
	// The new stack: in long mode SS is null at the new CPL, the frame's
	// words are 8 bytes and RSP is aligned to 16; a 32-bit gate pushes
	// 4-byte words at SS:ESP, SS:ESP from the TSS on a privilege change.
	ss := Segment{Selector: uint16(newCPL), Attr: 0}
	wsz, mask, sbase := uint8(8), ^uint64(0), uint64(0)
	switch {
	case legacy:
		ss, wsz, mask = c.Seg[SS], 4, c.stackMask
		if gate16 {
			wsz = 2
		}
		if newCPL < c.CPL {
			ss, rsp = c.tssStack32(newCPL)
			mask = stackMaskOf(&ss)
		}
	case ist != 0:
		rsp = c.readTSS(36 + (ist-1)*8)
	case newCPL < c.CPL:
		rsp = c.readTSS(4 + uint64(newCPL)*8)
	}
	if legacy {
		sbase = ss.Base & 0xFFFFFFFF
	} else {
		rsp &^= 0xF
	}
	flags := c.flags()
	cs := c.Seg[CS].Selector
	frame := [6]uint64{uint64(oldSS.Selector), oldRSP, flags, uint64(cs), ret, uint64(code)}
	n := 5
	if hasCode {
		n = 6
	}
	f := frame[:n]
	if legacy && newCPL == c.CPL {
		f = frame[2:n] // no stack switch: SS:ESP are not pushed
	}
	if legacy {
		code := ext
		if newCPL != c.CPL {
			code |= uint32(ss.Selector &^ 3)
		}
		c.checkStackRoom(&ss, rsp, uint64(len(f))*uint64(wsz), mask, code)
	}
	// Write the frame with the new privilege, top down.
	c.asCPL(newCPL, func() {
		for _, v := range f {
			rsp = (rsp - uint64(wsz)) & mask
			c.writeN(sbase+rsp, wsz, v)
		}
	})
	if newCPL != c.CPL {
		c.Seg[SS] = ss
	}
	c.R[RSP] = c.R[RSP]&^mask | rsp
	c.Seg[CS] = desc
	c.Seg[CS].Selector = sel&^3 | uint16(newCPL)
	c.rflags = flags &^ (FlagTF | FlagNT | FlagRF | FlagVM)
	if typ&1 == 0 { // an interrupt gate, not a trap gate
		c.rflags &^= FlagIF
	}
	c.RIP = target
	c.halted = false
	c.privilegeChanged()
}

// readTSS reads a 64-bit field of the task-state segment at offset off.
func (c *CPU) readTSS(off uint64) uint64 { return c.readTSSN(off, 8) }

// readTSSN reads a field of size bytes of the task-state segment at offset
// off.
func (c *CPU) readTSSN(off uint64, size uint8) uint64 {
	if uint64(c.TR.Limit) < off+uint64(size)-1 || c.TR.Selector&^3 == 0 {
		c.raise(VecTS, uint32(c.TR.Selector&^3))
	}
	return c.readSystem(c.TR.Base+off, size)
}

// tssStack32 reads the stack for privilege level cpl from a 32-bit TSS:
// the stack segment (see tssStack) and ESP.
func (c *CPU) tssStack32(cpl uint8) (Segment, uint64) {
	sp := c.readTSSN(4+uint64(cpl)*8, 4)
	return c.tssStack(uint16(c.readTSSN(8+uint64(cpl)*8, 2)), cpl), sp
}

// stackMaskOf returns the mask of stack offsets outside 64-bit mode that
// stack segment ss gives: 32 bits with its B bit, else 16.
func stackMaskOf(ss *Segment) uint64 {
	if ss.Attr&SegAttrD != 0 {
		return 0xFFFFFFFF
	}
	return 0xFFFF
}

// tssStack loads the stack segment sel a 32-bit TSS names for privilege
// level cpl: a present writable data segment with RPL = DPL = cpl, else
// #TS or #SS.
func (c *CPU) tssStack(sel uint16, cpl uint8) Segment {
	code := uint32(sel &^ 3)
	d, err := c.loadDescriptor(sel)
	if err != nil || sel&^3 == 0 || d.Attr&0x1A != 0x12 || uint8(sel&3) != cpl || uint8(d.Attr>>5&3) != cpl {
		c.raise(VecTS, code)
	}
	if d.Attr&SegAttrP == 0 {
		c.raise(VecSS, code)
	}
	d.Selector = sel
	return d
}

// privilegeChanged updates what depends on CPL and the code segment.
func (c *CPU) privilegeChanged() {
	c.attn = true
	c.updateMode()
}

// rawDescriptor reads the 8 bytes (16 for a system descriptor in long mode:
// hi) of the descriptor sel names, and whether it lies within its table.
func (c *CPU) rawDescriptor(sel uint16) (lo, hi uint64, ok bool) {
	table, limit := c.GDTR.Base, uint64(c.GDTR.Limit)
	if sel&4 != 0 {
		table, limit = c.LDTR.Base, uint64(c.LDTR.Limit)
	}
	off := uint64(sel &^ 7)
	if off+7 > limit {
		return 0, 0, false
	}
	lo = c.readSystem(table+off, 8)
	if lo>>44&1 == 0 && c.EFER&EFERLMA != 0 {
		if off+15 > limit {
			return 0, 0, false
		}
		hi = c.readSystem(table+off+8, 8)
	}
	return lo, hi, true
}

// loadDescriptor reads the segment descriptor that selector sel names from
// the GDT or LDT.
func (c *CPU) loadDescriptor(sel uint16) (Segment, error) {
	lo, hi, ok := c.rawDescriptor(sel)
	if !ok {
		return Segment{}, fmt.Errorf("descriptor %#x beyond table limit", sel)
	}
	return decodeDescriptor(sel, lo, hi), nil
}

// decodeDescriptor decodes the descriptor words lo and hi that
// rawDescriptor read for selector sel: hi, zero unless the descriptor is a
// system descriptor in long mode, gives bits 32-63 of the base.
func decodeDescriptor(sel uint16, lo, hi uint64) Segment {
	s := Segment{
		Selector: sel,
		Base:     lo>>16&0xFFFFFF | lo>>32&0xFF000000 | hi<<32,
		Limit:    uint32(lo&0xFFFF | lo>>32&0xF0000),
		Attr:     uint16(lo>>40&0xFF | lo>>40&0xF000),
	}
	if s.Attr&0x8000 != 0 { // G: limit in 4 KiB units
		s.Limit = s.Limit<<12 | 0xFFF
	}
	return s
}
