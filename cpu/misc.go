package cpu

// Miscellaneous instructions: NOP, PAUSE, HLT, fences, CPUID, the time-stamp
// counter, the random-number instructions, port I/O, UD2, CLI/STI and the
// software interrupts INT n, INT3 and INT1.
//
// Port I/O permission is checked against RFLAGS.IOPL only: at CPL > IOPL,
// IN and OUT raise #GP(0). The TSS I/O permission bitmap is not modelled.
// CLI and STI likewise check only IOPL (no VME/PVI virtual interrupt flag).

func init() {
	bindFixed(map[Op]handler{
		OpNOP: execNOP, OpPAUSE: execNOP, OpFENCE: execNOP, OpHLT: execHLT, OpCPUID: execCPUID,
		OpRDTSC: execRDTSC, OpRDTSCP: execRDTSCP, OpIN: execIN, OpOUT: execOUT, OpUD2: execUD2,
		OpCLI: execCLI, OpSTI: execSTI, OpINT: execINT, OpINT3: execINT3, OpINT1: execINT1,
	})
	binders[OpRDRAND] = bindRDRAND
	binders[OpRDSEED] = bindRDRAND
}

func execNOP(c *CPU, in *Inst) {}

// execHLT stops the CPU until an interrupt arrives.
func execHLT(c *CPU, in *Inst) {
	if c.CPL != 0 {
		c.raise(VecGP, 0)
	}
	c.halted = true
	c.endBlock(in)
}

// position returns the position of the instruction being executed: the
// number of instructions retired before it.
func (c *CPU) position() uint64 {
	if c.blk == nil {
		return c.Retired
	}
	return c.Retired + uint64(c.instIndex())
}

// iopl returns RFLAGS.IOPL.
func (c *CPU) iopl() uint8 { return uint8(c.rflags >> 12 & 3) }

// execCPUID returns the fixed CPU model of cpuid.go.
func execCPUID(c *CPU, in *Inst) {
	r := cpuid(uint32(c.R[RAX]), uint32(c.R[RCX]))
	c.R[RAX] = uint64(r.eax)
	c.R[RBX] = uint64(r.ebx)
	c.R[RCX] = uint64(r.ecx)
	c.R[RDX] = uint64(r.edx)
}

// tsc returns the time-stamp counter the current instruction reads.
func (c *CPU) tsc() uint64 {
	if c.CR4&CR4TSD != 0 && c.CPL > 0 {
		c.raise(VecGP, 0)
	}
	return c.env.TSC(c.position()) + c.tscOffset
}

func execRDTSC(c *CPU, in *Inst) {
	t := c.tsc()
	c.R[RAX] = t & 0xFFFFFFFF
	c.R[RDX] = t >> 32
}

func execRDTSCP(c *CPU, in *Inst) {
	t := c.tsc()
	c.R[RAX] = t & 0xFFFFFFFF
	c.R[RDX] = t >> 32
	c.R[RCX] = c.TSCAux & 0xFFFFFFFF
}

// bindRDRAND accepts only the register form (the memory form is #UD).
func bindRDRAND(in *Inst) handler {
	if !in.isReg() {
		return nil
	}
	return execRDRAND
}

// execRDRAND implements RDRAND and RDSEED: CF says whether a value was
// available (the destination is zeroed if not); OF, SF, ZF, AF and PF are
// cleared.
func execRDRAND(c *CPU, in *Inst) {
	v, ok := c.env.Random(c.position(), in.op == OpRDSEED)
	var cf uint64
	if ok {
		cf = FlagCF
	} else {
		v = 0
	}
	c.setReg(in.rm, in.osz, false, v&sizeMask(in.osz))
	c.setStatus(FlagsArith, cf)
}

// ioSize returns the access size of IN/OUT: 1 for the byte opcodes, else 2
// or 4 (REX.W does not make it 8).
func ioSize(in *Inst) uint8 {
	if in.osz == 8 {
		return 4
	}
	return in.osz
}

// ioPort returns the port of IN/OUT: the immediate or DX.
func (c *CPU) ioPort(in *Inst) uint16 {
	if in.form == formIb {
		return uint16(in.imm)
	}
	return uint16(c.R[RDX])
}

// checkIO raises #GP(0) when the CPL may not access ports (CPL > IOPL).
func (c *CPU) checkIO() {
	if c.CPL > c.iopl() {
		c.raise(VecGP, 0)
	}
}

func execIN(c *CPU, in *Inst) {
	c.checkIO()
	size := ioSize(in)
	v := c.mem.In(c.ioPort(in), int(size))
	c.setReg(RAX, size, false, uint64(v))
	// A device may have raised an interrupt, changed a timer or asked the
	// CPU to stop.
	c.deviceAccess()
	c.endBlock(in)
}

func execOUT(c *CPU, in *Inst) {
	c.checkIO()
	size := ioSize(in)
	c.mem.Out(c.ioPort(in), int(size), uint32(c.R[RAX]&sizeMask(size)))
	c.deviceAccess()
	c.endBlock(in)
}

// execUD2 raises #UD. It is an implemented instruction, so it is not
// counted as unimplemented.
func execUD2(c *CPU, in *Inst) { c.raise(VecUD, 0) }

func execCLI(c *CPU, in *Inst) {
	if c.CPL > c.iopl() {
		c.raise(VecGP, 0)
	}
	c.rflags &^= FlagIF
}

// execSTI sets IF. When IF was clear, interrupts stay blocked until after
// the next instruction (the STI shadow).
func execSTI(c *CPU, in *Inst) {
	if c.CPL > c.iopl() {
		c.raise(VecGP, 0)
	}
	if c.rflags&FlagIF == 0 {
		c.intShadow = true
		c.rflags |= FlagIF
	}
	c.endBlock(in)
}

func execINT(c *CPU, in *Inst)  { c.softInterrupt(in, uint8(in.imm)) }
func execINT3(c *CPU, in *Inst) { c.softInterrupt(in, VecBP) }
func execINT1(c *CPU, in *Inst) { c.softInterrupt(in, VecDB) }
