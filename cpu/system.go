package cpu

import "ftvm/mmu"

// System instructions: descriptor-table registers, task and LDT registers,
// control and debug registers, TLB invalidation, SWAPGS, SYSCALL/SYSRET and
// IRET.
//
// Simplifications (documented, deliberate):
//   - Debug registers are storage only: DR0-DR3, DR6 and DR7 keep what the
//     guest writes (DR6/DR7 with their fixed bits), but no breakpoint or
//     general-detect (DR7.GD) #DB is ever raised. DR4/DR5 alias DR6/DR7
//     unless CR4.DE is set, when they are #UD.
//   - CR8 (the task-priority register) is stored; it is not connected to the
//     local APIC's TPR.
//   - CR4 accepts only TSD, DE, PSE, PAE, MCE, PGE, OSFXSR and OSXMMEXCPT;
//     any other bit is #GP.
//   - The interpreter decodes only 64-bit code: SYSRET without REX.W and an
//     IRET to a 32-bit code segment perform the architectural state change
//     to compatibility mode, but the code there runs as 64-bit code.

func init() {
	bindFixed(map[Op]handler{
		OpLGDT: execLGDT, OpLIDT: execLIDT, OpSGDT: execSGDT, OpSIDT: execSIDT, OpLTR: execLTR,
		OpSTR: execSTR, OpLLDT: execLLDT, OpSLDT: execSLDT, OpVERR: execVERR, OpVERW: execVERW,
		OpLMSW: execLMSW, OpSMSW: execSMSW, OpINVLPG: execINVLPG, OpCLTS: execCLTS,
		OpWBINVD: execWBINVD, OpSWAPGS: execSWAPGS, OpSYSCALL: execSYSCALL,
		OpSYSENTER: execSYSENTER, OpSYSEXIT: execSYSEXIT, OpSYSRET: execSYSRET, OpIRET: execIRET,
	})
	setBinders(map[Op]func(*Inst) handler{
		OpMOVToCR: bindMOVToCR, OpMOVFromCR: bindMOVFromCR, OpMOVToDR: bindMOVDR,
		OpMOVFromDR: bindMOVDR,
	})
}

// privileged raises #GP(0) unless the CPU runs at CPL 0.
func (c *CPU) privileged() {
	if c.CPL != 0 {
		c.raise(VecGP, 0)
	}
}

// Flat segments loaded by SYSCALL and SYSRET.
const (
	attrCode64 = 0x9B | SegAttrL | 0x8000 // code, execute/read, accessed, L, G; DPL in bits 5-6
	attrCode32 = 0x9B | SegAttrD | 0x8000
	attrData   = 0x93 | SegAttrD | 0x8000 // data, read/write, accessed, B, G
	attrDPL3   = 3 << 5
)

// loadDTR implements LGDT and LIDT: a 16-bit limit and a 64-bit base (in
// 64-bit mode), a 32-bit one (24 bits with a 16-bit operand size) outside it.
func (c *CPU) loadDTR(in *Inst) DTR {
	c.privileged()
	a := c.ea(in)
	limit := c.read16(a)
	var base uint64
	switch in.osz {
	case 8:
		base = c.read64(a + 2)
	case 4:
		base = uint64(c.read32(a + 2))
	default:
		base = uint64(c.read32(a+2)) & 0xFFFFFF
	}
	if !canonical(base) {
		c.raise(VecGP, 0)
	}
	return DTR{Base: base, Limit: limit}
}

func execLGDT(c *CPU, in *Inst) {
	c.GDTR = c.loadDTR(in)
	c.endBlock(in)
}

func execLIDT(c *CPU, in *Inst) {
	c.IDTR = c.loadDTR(in)
	c.endBlock(in)
}

// storeDTR implements SGDT and SIDT: 10 bytes in 64-bit mode.
func (c *CPU) storeDTR(in *Inst, d DTR) {
	a := c.ea(in)
	c.probeWrite(a, 10)
	c.write16(a, d.Limit)
	c.write64(a+2, d.Base)
}

func execSGDT(c *CPU, in *Inst) { c.storeDTR(in, c.GDTR) }
func execSIDT(c *CPU, in *Inst) { c.storeDTR(in, c.IDTR) }

// storeSel stores a 16-bit value (a selector or the MSW) to the E operand:
// memory takes 16 bits, a register is written at the operand size (32-bit
// zero-extends).
func (c *CPU) storeSel(in *Inst, v uint64) {
	if in.isReg() {
		c.setReg(in.rm, in.osz, false, v&sizeMask(in.osz))
		return
	}
	c.write16(c.ea(in), uint16(v))
}

func execSTR(c *CPU, in *Inst)  { c.storeSel(in, uint64(c.TR.Selector)) }
func execSLDT(c *CPU, in *Inst) { c.storeSel(in, uint64(c.LDTR.Selector)) }

// execVERR sets ZF if the segment its selector names is readable at the
// current privilege level and the selector's RPL, and clears it otherwise.
func execVERR(c *CPU, in *Inst) { c.verifySegment(in, false) }

// execVERW sets ZF if the segment its selector names is a writable data
// segment at the current privilege level and the selector's RPL (Linux runs
// it on every return to user mode to clear CPU buffers).
func execVERW(c *CPU, in *Inst) { c.verifySegment(in, true) }

// verifySegment is VERR (write false) and VERW (SDM Vol. 2B): a null
// selector, one beyond its table's limit, a system descriptor, or a DPL
// below CPL or RPL (conforming code aside) clears ZF and faults on nothing;
// the other flags are unchanged.
func (c *CPU) verifySegment(in *Inst, write bool) {
	sel := uint16(c.readESize(in, 2))
	ok := false
	if sel&^3 != 0 {
		if d, err := c.loadDescriptor(sel); err == nil && d.Attr&0x10 != 0 {
			code := d.Attr&0x8 != 0
			conforming := code && d.Attr&0x4 != 0
			if dpl := d.Attr >> 5 & 3; conforming && !write || dpl >= uint16(c.CPL) && dpl >= sel&3 {
				if write {
					ok = !code && d.Attr&0x2 != 0
				} else {
					ok = !code || d.Attr&0x2 != 0
				}
			}
		}
	}
	c.setStatus(FlagZF, b2f(ok, FlagZF))
}

// execSMSW stores CR0: its low 16 bits to memory, or as much of it as the
// register operand holds.
func execSMSW(c *CPU, in *Inst) { c.storeSel(in, c.CR0) }

// loadSystemSeg reads the GDT system descriptor sel names for LTR and LLDT,
// checking its type (wantType) and presence.
func (c *CPU) loadSystemSeg(sel uint16, wantType uint16) (Segment, uint64) {
	code := uint32(sel &^ 3)
	if sel&4 != 0 {
		c.raise(VecGP, code)
	}
	d, err := c.loadDescriptor(sel)
	if err != nil || d.Attr&0x1F != wantType {
		c.raise(VecGP, code)
	}
	if d.Attr&SegAttrP == 0 {
		c.raise(VecNP, code)
	}
	if !canonical(d.Base) {
		c.raise(VecGP, code)
	}
	return d, c.GDTR.Base + uint64(sel&^7)
}

// execLTR loads the task register from an available 64-bit TSS descriptor
// (type 9) and marks it busy (type 11) in the GDT.
func execLTR(c *CPU, in *Inst) {
	c.privileged()
	sel := uint16(c.readESize(in, 2))
	if sel&^3 == 0 {
		c.raise(VecGP, 0)
	}
	d, addr := c.loadSystemSeg(sel, 0x9)
	c.writeSystem(addr+5, 1, c.readSystem(addr+5, 1)|0x2)
	d.Attr |= 0x2
	c.TR = d
	c.endBlock(in)
}

// execLLDT loads the LDT register from an LDT descriptor (type 2), or makes
// it null.
func execLLDT(c *CPU, in *Inst) {
	c.privileged()
	sel := uint16(c.readESize(in, 2))
	if sel&^3 == 0 {
		c.LDTR = Segment{Selector: sel}
		c.endBlock(in)
		return
	}
	d, _ := c.loadSystemSeg(sel, 0x2)
	c.LDTR = d
	c.endBlock(in)
}

// execLMSW loads CR0 bits 0-3 (PE, MP, EM, TS); it can set PE but not clear it.
func execLMSW(c *CPU, in *Inst) {
	c.privileged()
	v := c.readESize(in, 2)
	c.CR0 = c.CR0&^0xE | v&0xF
	c.endBlock(in)
}

func execINVLPG(c *CPU, in *Inst) {
	c.privileged()
	a := c.eaPlain(in)
	c.mmu.flushPage(a)
	c.code.invalidatePage(a)
	c.endBlock(in)
}

func execCLTS(c *CPU, in *Inst) {
	c.privileged()
	c.CR0 &^= CR0TS
}

// execWBINVD implements WBINVD and INVD: there are no caches to write back.
func execWBINVD(c *CPU, in *Inst) { c.privileged() }

// udImplemented raises #UD for an encoding that is implemented and invalid
// (not counted as unimplemented).
func udImplemented(c *CPU, in *Inst) { c.raise(VecUD, 0) }

func bindMOVToCR(in *Inst) handler {
	switch in.reg {
	case 0, 2, 3, 4, 8:
		return execMOVToCR
	}
	return udImplemented
}

func bindMOVFromCR(in *Inst) handler {
	switch in.reg {
	case 0, 2, 3, 4, 8:
		return execMOVFromCR
	}
	return udImplemented
}

func execMOVFromCR(c *CPU, in *Inst) {
	c.privileged()
	var v uint64
	switch in.reg {
	case 0:
		v = c.CR0
	case 2:
		v = c.CR2
	case 3:
		v = c.CR3
	case 4:
		v = c.CR4
	case 8:
		v = c.CR8
	}
	c.R[in.rm] = v
}

// Control-register bits the guest may write.
const (
	cr0Writable = CR0PE | CR0MP | CR0EM | CR0TS | CR0ET | CR0NE | CR0WP | CR0AM | CR0NW | CR0CD | CR0PG
	cr4Writable = CR4TSD | CR4DE | CR4PSE | CR4PAE | CR4MCE | CR4PGE | CR4OSFXSR | CR4OSXMMEXCPT
	// cr3Reserved are the CR3 bits above the physical address width (bit
	// 63 too: there is no PCID support).
	cr3Reserved = ^uint64(1<<mmu.PhysAddrBits - 1)
)

func execMOVToCR(c *CPU, in *Inst) {
	c.privileged()
	v := c.R[in.rm] & sizeMask(in.osz)
	switch in.reg {
	case 0:
		c.writeCR0(v)
	case 2:
		c.CR2 = v
	case 3:
		if v&cr3Reserved != 0 {
			c.raise(VecGP, 0)
		}
		c.CR3 = v
		c.updateMode()
		c.mmu.flush()
		c.code.newAddressSpace()
	case 4:
		c.writeCR4(v)
	case 8:
		if v>>4 != 0 {
			c.raise(VecGP, 0)
		}
		c.CR8 = v
	}
	c.endBlock(in)
}

// writeCR0 checks and writes CR0. Reserved bits 31:0 are ignored (they
// keep reading as zero); bits 63:32 are #GP. Setting PG with EFER.LME
// activates long mode (CR4.PAE is required); clearing PG deactivates it,
// which 64-bit code may not do.
func (c *CPU) writeCR0(v uint64) {
	if v>>32 != 0 {
		c.raise(VecGP, 0)
	}
	v = v&cr0Writable | CR0ET
	if v&CR0PG != 0 && v&CR0PE == 0 || v&CR0NW != 0 && v&CR0CD == 0 {
		c.raise(VecGP, 0)
	}
	efer := c.EFER
	switch {
	case v&CR0PG != 0 && c.CR0&CR0PG == 0:
		if efer&EFERLME != 0 {
			if c.CR4&CR4PAE == 0 {
				c.raise(VecGP, 0)
			}
			efer |= EFERLMA
		}
	case v&CR0PG == 0 && c.CR0&CR0PG != 0:
		if efer&EFERLMA != 0 {
			if c.longMode64() {
				c.raise(VecGP, 0)
			}
			efer &^= EFERLMA
		}
	}
	changed := c.CR0 ^ v
	c.CR0, c.EFER = v, efer
	c.updateMode()
	if changed&(CR0PG|CR0WP|CR0PE) != 0 {
		c.mmu.flush()
		c.code.newGeneration()
	}
}

// writeCR4 checks and writes CR4: unsupported bits are #GP, and PAE may not
// be cleared in long mode.
func (c *CPU) writeCR4(v uint64) {
	if v&^uint64(cr4Writable) != 0 {
		c.raise(VecGP, 0)
	}
	if v&CR4PAE == 0 && c.EFER&EFERLMA != 0 {
		c.raise(VecGP, 0)
	}
	changed := c.CR4 ^ v
	c.CR4 = v
	c.updateMode()
	if changed&(CR4PSE|CR4PAE|CR4PGE) != 0 {
		c.mmu.flush()
		c.code.newGeneration()
	}
}

// DR6 and DR7 fixed bits.
const (
	dr6Writable = 0xE00F     // B0-B3, BD, BS, BT
	dr6Ones     = 0xFFFF0FF0 // bits that read as 1
	dr7Writable = 0xFFFF23FF // L0-G3, LE, GE, GD, R/W and LEN fields
	dr7Ones     = 0x400
)

// bindMOVDR rejects debug registers that do not exist (8-15).
func bindMOVDR(in *Inst) handler {
	if in.reg >= 8 {
		return udImplemented
	}
	if in.op == OpMOVToDR {
		return execMOVToDR
	}
	return execMOVFromDR
}

// drIndex returns the debug register an instruction names, with DR4/DR5
// aliased to DR6/DR7 (#UD when CR4.DE is set).
func (c *CPU) drIndex(in *Inst) uint8 {
	r := in.reg
	if r == 4 || r == 5 {
		if c.CR4&CR4DE != 0 {
			c.raise(VecUD, 0)
		}
		r += 2
	}
	return r
}

func execMOVFromDR(c *CPU, in *Inst) {
	c.privileged()
	var v uint64
	switch r := c.drIndex(in); r {
	case 6:
		v = c.DR6&dr6Writable | dr6Ones
	case 7:
		v = c.DR7&dr7Writable | dr7Ones
	default:
		v = c.DR[r]
	}
	c.R[in.rm] = v
}

func execMOVToDR(c *CPU, in *Inst) {
	c.privileged()
	v := c.R[in.rm]
	switch r := c.drIndex(in); r {
	case 6, 7:
		if v>>32 != 0 {
			c.raise(VecGP, 0)
		}
		if r == 6 {
			c.DR6 = v & dr6Writable
		} else {
			c.DR7 = v & dr7Writable
		}
	default:
		c.DR[r] = v
	}
}

// execSWAPGS exchanges the GS base with IA32_KERNEL_GS_BASE.
func execSWAPGS(c *CPU, in *Inst) {
	c.privileged()
	c.Seg[GS].Base, c.KernelGS = c.KernelGS, c.Seg[GS].Base
	c.updateMode()
	c.endBlock(in)
}

// execSYSCALL enters the kernel: RCX = return address, R11 = RFLAGS,
// RFLAGS &^= FMASK (and RF), flat CS/SS from STAR[47:32], CPL 0, RIP = LSTAR.
func execSYSCALL(c *CPU, in *Inst) {
	if c.EFER&EFERSCE == 0 || c.EFER&EFERLMA == 0 {
		c.raise(VecUD, 0)
	}
	target := c.LSTAR
	flags := c.flags()
	c.R[RCX] = in.next
	c.R[R11] = flags
	c.rflags = flags&^(c.FMASK|FlagRF|FlagVM) | flagsFixed
	sel := uint16(c.STAR >> 32)
	c.fastSwitch(sel&^3, attrCode64, sel+8, attrData, target)
}

// fastSwitch ends a fast system call or return (SYSCALL, SYSRET, SYSENTER,
// SYSEXIT): flat CS and SS with the given selectors and attributes, the
// CPL they imply, execution at rip.
func (c *CPU) fastSwitch(cs, csAttr, ss, ssAttr uint16, rip uint64) {
	c.Seg[CS] = Segment{Selector: cs, Limit: 0xFFFFFFFF, Attr: csAttr}
	c.Seg[SS] = Segment{Selector: ss, Limit: 0xFFFFFFFF, Attr: ssAttr}
	c.privilegeChanged()
	c.RIP = rip
	c.brk = true
}

// execSYSENTER enters CPL 0 at IA32_SYSENTER_EIP with the stack at
// IA32_SYSENTER_ESP (the whole MSRs in IA-32e mode, their low halves
// outside it): CS = SYSENTER_CS (flat, 64-bit code in IA-32e mode, else
// 32-bit), SS = SYSENTER_CS+8; IF, VM and RF are cleared. #GP(0) while
// SYSENTER_CS is null. As on Intel CPUs, it works in every protected mode,
// compatibility mode included.
func execSYSENTER(c *CPU, in *Inst) {
	sel := uint16(c.SysenterCS) &^ 3
	if sel == 0 || c.CR0&CR0PE == 0 {
		c.raise(VecGP, 0)
	}
	rip, rsp := c.SysenterEIP, c.SysenterESP
	cs := uint16(attrCode64)
	if c.EFER&EFERLMA == 0 {
		rip, rsp, cs = rip&0xFFFFFFFF, rsp&0xFFFFFFFF, attrCode32
	}
	c.rflags = c.flags()&^(FlagIF|FlagVM|FlagRF) | flagsFixed
	c.lazy.op = flagsNone
	c.R[RSP] = rsp
	c.fastSwitch(sel, cs, sel+8, attrData, rip)
}

// execSYSEXIT returns to CPL 3 at RDX with the stack at RCX: with REX.W to
// 64-bit code (CS = SYSENTER_CS+32, SS = +40; #GP(0) for a non-canonical
// RDX), else to 32-bit code (CS = SYSENTER_CS+16, SS = +24) at EDX, ESP =
// ECX. #GP(0) at CPL > 0 or while SYSENTER_CS is null.
func execSYSEXIT(c *CPU, in *Inst) {
	sel := uint16(c.SysenterCS) &^ 3
	if sel == 0 || c.CR0&CR0PE == 0 {
		c.raise(VecGP, 0)
	}
	c.privileged()
	rip, rsp := c.R[RDX], c.R[RCX]
	cs, csAttr := sel+16, uint16(attrCode32)
	if in.osz == 8 {
		if !canonical(rip) {
			c.raise(VecGP, 0)
		}
		cs, csAttr = sel+32, attrCode64
	} else {
		rip, rsp = rip&0xFFFFFFFF, rsp&0xFFFFFFFF
	}
	c.R[RSP] = rsp
	c.fastSwitch(cs|3, csAttr|attrDPL3, (cs+8)|3, attrData|attrDPL3, rip)
}

// execSYSRET returns to CPL 3: with REX.W to 64-bit code at RCX (#GP(0) if
// it is not canonical), without it to compatibility mode at ECX. RFLAGS =
// R11 with RF and VM cleared; CS and SS come from STAR[63:48].
func execSYSRET(c *CPU, in *Inst) {
	if c.EFER&EFERSCE == 0 || c.EFER&EFERLMA == 0 {
		c.raise(VecUD, 0)
	}
	c.privileged()
	sel := uint16(c.STAR >> 48)
	target, cs, csAttr := c.R[RCX]&0xFFFFFFFF, sel, uint16(attrCode32)
	if in.prefix&pfxRexW != 0 {
		target = c.R[RCX]
		if !canonical(target) {
			c.raise(VecGP, 0)
		}
		cs, csAttr = sel+16, attrCode64
	}
	c.lazy.op = flagsNone
	c.rflags = c.R[R11]&0x3C7FD7 | flagsFixed
	c.fastSwitch(cs|3, csAttr|attrDPL3, (sel+8)|3, attrData|attrDPL3, target)
}

// execIRET implements IRETQ (REX.W), IRETD and IRETW: it pops RIP, CS and
// RFLAGS, and RSP and SS in IA-32e mode (always, as 64-bit mode does) or
// in protected mode on a return to an outer privilege level. Task returns
// (NT=1) and returns to virtual-8086 mode are #GP(0).
func execIRET(c *CPU, in *Inst) {
	sz := uint64(in.osz)
	legacy := c.EFER&EFERLMA == 0
	if c.rflags&FlagNT != 0 {
		if legacy { // a return to the previous task: task switches are not modelled
			c.countUnimplemented(unimplTaskSwitch)
		}
		c.raise(VecGP, 0)
	}
	rip := c.readN(c.stackAddr(0), in.osz)
	csSel := uint16(c.readN(c.stackAddr(sz), in.osz))
	fl := c.readN(c.stackAddr(2*sz), in.osz)
	if legacy && fl&FlagVM != 0 && c.CPL == 0 && sz == 4 {
		c.raise(VecGP, 0)
	}
	outer := !legacy || uint8(csSel&3) > c.CPL
	rsp, ssSel := (c.R[RSP]+3*sz)&c.stackMask, c.Seg[SS].Selector
	if outer {
		rsp = c.readN(c.stackAddr(3*sz), in.osz)
		ssSel = uint16(c.readN(c.stackAddr(4*sz), in.osz))
	}
	cur := c.flags()
	if sz == 2 {
		fl = cur&^0xFFFF | fl
	}

	// The code segment: RPL >= CPL, a present code segment whose DPL
	// matches (non-conforming) or does not exceed (conforming) the RPL.
	rpl := uint8(csSel & 3)
	csCode := uint32(csSel &^ 3)
	if csSel&^3 == 0 {
		c.raise(VecGP, 0)
	}
	if rpl < c.CPL {
		c.raise(VecGP, csCode)
	}
	cs, err := c.loadDescriptor(csSel)
	if err != nil || cs.Attr&0x18 != 0x18 {
		c.raise(VecGP, csCode)
	}
	dpl := uint8(cs.Attr >> 5 & 3)
	if cs.Attr&0x4 != 0 && dpl > rpl || cs.Attr&0x4 == 0 && dpl != rpl {
		c.raise(VecGP, csCode)
	}
	if cs.Attr&SegAttrP == 0 {
		c.raise(VecNP, csCode)
	}
	long := cs.Attr&SegAttrL != 0 && !legacy
	if long {
		if !canonical(rip) {
			c.raise(VecGP, 0)
		}
	} else {
		rip &= 0xFFFFFFFF
		if rip > uint64(cs.Limit) {
			c.raise(VecGP, 0)
		}
	}

	// The stack segment: null only when returning to 64-bit code at CPL <
	// 3, else a present writable data segment with RPL = DPL = new CPL.
	ss := c.Seg[SS]
	ssCode := uint32(ssSel &^ 3)
	if !outer {
		// Same level in protected mode: SS:ESP stay.
	} else if ssSel&^3 == 0 {
		if !long || rpl == 3 || uint8(ssSel&3) != rpl {
			c.raise(VecGP, 0)
		}
		ss = Segment{Selector: ssSel, Attr: c.Seg[SS].Attr &^ SegAttrP}
	} else {
		if uint8(ssSel&3) != rpl {
			c.raise(VecGP, ssCode)
		}
		d, err := c.loadDescriptor(ssSel)
		if err != nil || d.Attr&0x1A != 0x12 || uint8(d.Attr>>5&3) != rpl {
			c.raise(VecGP, ssCode)
		}
		if d.Attr&SegAttrP == 0 {
			c.raise(VecSS, ssCode)
		}
		ss = d
	}

	// RFLAGS: IOPL changes only at CPL 0, IF only at CPL <= IOPL; VM, VIF
	// and VIP are not set in IA-32e mode.
	mask := uint64(flagsWritable)
	if c.CPL != 0 {
		mask &^= FlagIOPL
	}
	if c.CPL > c.iopl() {
		mask &^= FlagIF
	}

	// Commit.
	c.rflags = cur&^mask | fl&mask | flagsFixed
	cs.Selector = csSel
	c.Seg[CS] = cs
	ss.Selector = ssSel
	c.Seg[SS] = ss
	if !long {
		rsp &= 0xFFFFFFFF
	}
	if legacy && ss.Attr&SegAttrD == 0 {
		rsp = c.R[RSP]&^0xFFFF | rsp&0xFFFF
	}
	c.R[RSP] = rsp
	if rpl > c.CPL {
		c.nullOuterDataSegments(rpl)
	}
	c.privilegeChanged()
	c.RIP = rip
	c.brk = true
}
