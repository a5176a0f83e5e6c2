package cpu

// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP TEST (the
// two-operand forms EG, GE, EI, EIb, AI) and INC DEC NOT NEG (form E).
//
// Flags are lazy (flags.go). ADC and SBB record flagsAdc/flagsSbb when the
// carry in is 1, flagsAdd/flagsSub when it is 0. INC and DEC keep CF: they
// copy the current CF into rflags before recording flagsInc/flagsDec, whose
// CF is read from rflags. AF after AND, OR, XOR and TEST is undefined
// (SDM Vol. 2, "Flags Affected"); like Intel CPUs we clear it (flagsLogic).
//
// The hot forms (64- and 32-bit register/register, register/immediate,
// register/memory, memory/register and memory/immediate) have their own
// handlers, generated from one template (see aluFast); everything else (8-
// and 16-bit operands) goes through execALU. LOCK is accepted on the memory
// forms: with one CPU the read-modify-write is atomic anyway.

func init() {
	for op := OpADD; op <= OpTEST; op++ {
		binders[op] = bindALU
	}
	binders[OpINC] = bindUnary
	binders[OpDEC] = bindUnary
	binders[OpNOT] = bindUnary
	binders[OpNEG] = bindUnary
}

// The flag kinds with a carry in follow those without it.
var _ = [1]struct{}{}[flagsAdc-flagsAdd-1+flagsSbb-flagsSub-1]

// carry returns CF as 0 or 1.
func (c *CPU) carry() uint64 {
	if c.cf() {
		return 1
	}
	return 0
}

// aluSet holds the specialized handlers of one two-operand ALU operation:
// eg E,G with both registers; ge G,E with both registers; ri register,
// immediate (also rAX,imm); gm register <- memory; mg memory <- register;
// mi memory, immediate.
type aluSet struct {
	eg64, ge64, ri64, gm64, mg64, mi64 handler
	eg32, ge32, ri32, gm32, mg32, mi32 handler
}

// bindALU picks the handler of a two-operand ALU instruction.
func bindALU(in *Inst) handler {
	if in.op == OpTEST && in.form != formEG && in.form != formEI && in.form != formAI {
		return nil
	}
	if in.osz == 8 || in.osz == 4 {
		s := &aluFast[in.op-OpADD]
		w64 := in.osz == 8
		pick := func(h64, h32 handler) handler {
			if w64 {
				return h64
			}
			return h32
		}
		switch in.form {
		case formEG:
			if in.isReg() {
				return pick(s.eg64, s.eg32)
			}
			return pick(s.mg64, s.mg32)
		case formGE:
			if in.isReg() {
				return pick(s.ge64, s.ge32)
			}
			return pick(s.gm64, s.gm32)
		case formEI, formEIb:
			if in.isReg() {
				return pick(s.ri64, s.ri32)
			}
			return pick(s.mi64, s.mi32)
		case formAI:
			// No ModRM: in.rm is 0, which is rAX.
			return pick(s.ri64, s.ri32)
		}
		return nil
	}
	switch in.form {
	case formEG, formGE, formEI, formEIb, formAI:
		return execALU
	}
	return nil
}

// aluCompute returns op applied to a and b (both truncated to size bytes),
// truncated to size, and the lazy-flag kind that describes it.
func (c *CPU) aluCompute(op Op, size uint8, a, b uint64) (uint64, flagOp) {
	m := sizeMask(size)
	switch op {
	case OpADD:
		return (a + b) & m, flagsAdd
	case OpOR:
		return a | b, flagsLogic
	case OpADC:
		cf := c.carry()
		return (a + b + cf) & m, flagsAdd + flagOp(cf)
	case OpSBB:
		cf := c.carry()
		return (a - b - cf) & m, flagsSub + flagOp(cf)
	case OpAND, OpTEST:
		return a & b, flagsLogic
	case OpSUB, OpCMP:
		return (a - b) & m, flagsSub
	}
	return a ^ b, flagsLogic // OpXOR
}

// execALU is the generic two-operand ALU handler (any size, any form).
func execALU(c *CPU, in *Inst) {
	size := in.osz
	writes := in.op != OpCMP && in.op != OpTEST
	switch in.form {
	case formGE:
		a, b := c.readG(in), c.readE(in)
		r, f := c.aluCompute(in.op, size, a, b)
		if writes {
			c.writeG(in, r)
		}
		c.setFlags(f, size, a, b, r)
	case formAI:
		a, b := c.getReg(RAX, size, false), in.imm&sizeMask(size)
		r, f := c.aluCompute(in.op, size, a, b)
		if writes {
			c.setReg(RAX, size, false, r)
		}
		c.setFlags(f, size, a, b, r)
	default: // formEG, formEI, formEIb
		w, a := c.beginRMW(in)
		var b uint64
		if in.form == formEG {
			b = c.readG(in)
		} else {
			b = in.imm & sizeMask(size)
		}
		r, f := c.aluCompute(in.op, size, a, b)
		if writes {
			c.endRMW(in, w, r)
		}
		c.setFlags(f, size, a, b, r)
	}
}

// bindUnary picks the handler of INC, DEC, NOT or NEG.
func bindUnary(in *Inst) handler {
	if in.form != formE {
		return nil
	}
	if in.isReg() && (in.osz == 8 || in.osz == 4) {
		h := [...][2]handler{
			OpINC - OpINC: {inc64R, inc32R},
			OpDEC - OpINC: {dec64R, dec32R},
			OpNOT - OpINC: {not64R, not32R},
			OpNEG - OpINC: {neg64R, neg32R},
		}[in.op-OpINC]
		if in.osz == 8 {
			return h[0]
		}
		return h[1]
	}
	switch in.op {
	case OpINC, OpDEC:
		return execIncDec
	case OpNOT:
		return execNOT
	}
	return execNEG
}

// keepCF copies the current CF into rflags so that a following flagsInc or
// flagsDec record (which takes CF from rflags) preserves it.
func (c *CPU) keepCF() {
	switch c.lazy.op {
	case flagsNone, flagsInc, flagsDec:
		// rflags already holds CF.
	default:
		c.rflags = c.rflags&^FlagCF | c.carry()
	}
}

func inc64R(c *CPU, in *Inst) {
	a := c.R[in.rm]
	r := a + 1
	c.R[in.rm] = r
	c.keepCF()
	c.setFlags(flagsInc, 8, a, 1, r)
}

func inc32R(c *CPU, in *Inst) {
	a := uint32(c.R[in.rm])
	r := a + 1
	c.R[in.rm] = uint64(r)
	c.keepCF()
	c.setFlags(flagsInc, 4, uint64(a), 1, uint64(r))
}

func dec64R(c *CPU, in *Inst) {
	a := c.R[in.rm]
	r := a - 1
	c.R[in.rm] = r
	c.keepCF()
	c.setFlags(flagsDec, 8, a, 1, r)
}

func dec32R(c *CPU, in *Inst) {
	a := uint32(c.R[in.rm])
	r := a - 1
	c.R[in.rm] = uint64(r)
	c.keepCF()
	c.setFlags(flagsDec, 4, uint64(a), 1, uint64(r))
}

func not64R(c *CPU, in *Inst) { c.R[in.rm] = ^c.R[in.rm] }

func not32R(c *CPU, in *Inst) { c.R[in.rm] = uint64(^uint32(c.R[in.rm])) }

func neg64R(c *CPU, in *Inst) {
	b := c.R[in.rm]
	r := -b
	c.R[in.rm] = r
	c.setFlags(flagsSub, 8, 0, b, r)
}

func neg32R(c *CPU, in *Inst) {
	b := uint32(c.R[in.rm])
	r := -b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsSub, 4, 0, uint64(b), uint64(r))
}

// execIncDec is INC or DEC of any size and operand.
func execIncDec(c *CPU, in *Inst) {
	w, a := c.beginRMW(in)
	r, f := a+1, flagsInc
	if in.op == OpDEC {
		r, f = a-1, flagsDec
	}
	r &= sizeMask(in.osz)
	c.endRMW(in, w, r)
	c.keepCF()
	c.setFlags(f, in.osz, a, 1, r)
}

// execNOT is NOT of any size and operand; it changes no flags.
func execNOT(c *CPU, in *Inst) {
	w, a := c.beginRMW(in)
	c.endRMW(in, w, ^a&sizeMask(in.osz))
}

// execNEG is NEG of any size and operand: flags as for 0 - operand (CF is
// set unless the operand is 0).
func execNEG(c *CPU, in *Inst) {
	w, b := c.beginRMW(in)
	r := -b & sizeMask(in.osz)
	c.endRMW(in, w, r)
	c.setFlags(flagsSub, in.osz, 0, b, r)
}

// The specialized two-operand handlers below all come from one template:
// load a and b from the form's operands, compute r, store r (except CMP and
// TEST), record the flags.

func add64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a + b
	c.R[in.rm] = r
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a + b
	c.R[in.reg] = r
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a + b
	c.R[in.rm] = r
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a + b
	c.R[in.reg] = r
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a + b
	c.write64(addr, r)
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a + b
	c.write64(addr, r)
	c.setFlags(flagsAdd, 8, a, b, r)
}

func add32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a + b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func add32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a + b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func add32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a + b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func add32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a + b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func add32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a + b
	c.write32(addr, r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func add32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a + b
	c.write32(addr, r)
	c.setFlags(flagsAdd, 4, uint64(a), uint64(b), uint64(r))
}

func or64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a | b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a | b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a | b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a | b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a | b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a | b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func or32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a | b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func or32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a | b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func or32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a | b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func or32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a | b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func or32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a | b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func or32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a | b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func adc64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	cf := c.carry()
	r := a + b + uint64(cf)
	c.R[in.rm] = r
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	cf := c.carry()
	r := a + b + uint64(cf)
	c.R[in.reg] = r
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	cf := c.carry()
	r := a + b + uint64(cf)
	c.R[in.rm] = r
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	cf := c.carry()
	r := a + b + uint64(cf)
	c.R[in.reg] = r
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	cf := c.carry()
	r := a + b + uint64(cf)
	c.write64(addr, r)
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	cf := c.carry()
	r := a + b + uint64(cf)
	c.write64(addr, r)
	c.setFlags(flagsAdd+flagOp(cf), 8, a, b, r)
}

func adc32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	cf := c.carry()
	r := a + b + uint32(cf)
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func adc32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	cf := c.carry()
	r := a + b + uint32(cf)
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func adc32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	cf := c.carry()
	r := a + b + uint32(cf)
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func adc32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	cf := c.carry()
	r := a + b + uint32(cf)
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func adc32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	cf := c.carry()
	r := a + b + uint32(cf)
	c.write32(addr, r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func adc32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	cf := c.carry()
	r := a + b + uint32(cf)
	c.write32(addr, r)
	c.setFlags(flagsAdd+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	cf := c.carry()
	r := a - b - uint64(cf)
	c.R[in.rm] = r
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	cf := c.carry()
	r := a - b - uint64(cf)
	c.R[in.reg] = r
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	cf := c.carry()
	r := a - b - uint64(cf)
	c.R[in.rm] = r
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	cf := c.carry()
	r := a - b - uint64(cf)
	c.R[in.reg] = r
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	cf := c.carry()
	r := a - b - uint64(cf)
	c.write64(addr, r)
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	cf := c.carry()
	r := a - b - uint64(cf)
	c.write64(addr, r)
	c.setFlags(flagsSub+flagOp(cf), 8, a, b, r)
}

func sbb32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	cf := c.carry()
	r := a - b - uint32(cf)
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	cf := c.carry()
	r := a - b - uint32(cf)
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	cf := c.carry()
	r := a - b - uint32(cf)
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	cf := c.carry()
	r := a - b - uint32(cf)
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	cf := c.carry()
	r := a - b - uint32(cf)
	c.write32(addr, r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func sbb32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	cf := c.carry()
	r := a - b - uint32(cf)
	c.write32(addr, r)
	c.setFlags(flagsSub+flagOp(cf), 4, uint64(a), uint64(b), uint64(r))
}

func and64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a & b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a & b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a & b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a & b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a & b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a & b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func and32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a & b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func and32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a & b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func and32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a & b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func and32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a & b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func and32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a & b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func and32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a & b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func sub64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a - b
	c.R[in.rm] = r
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a - b
	c.R[in.reg] = r
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a - b
	c.R[in.rm] = r
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a - b
	c.R[in.reg] = r
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a - b
	c.write64(addr, r)
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a - b
	c.write64(addr, r)
	c.setFlags(flagsSub, 8, a, b, r)
}

func sub32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a - b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func sub32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a - b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func sub32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a - b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func sub32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a - b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func sub32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a - b
	c.write32(addr, r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func sub32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a - b
	c.write32(addr, r)
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func xor64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a ^ b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a ^ b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a ^ b
	c.R[in.rm] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a ^ b
	c.R[in.reg] = r
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a ^ b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a ^ b
	c.write64(addr, r)
	c.setFlags(flagsLogic, 8, a, b, r)
}

func xor32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a ^ b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func xor32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a ^ b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func xor32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a ^ b
	c.R[in.rm] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func xor32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a ^ b
	c.R[in.reg] = uint64(r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func xor32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a ^ b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func xor32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a ^ b
	c.write32(addr, r)
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func cmp64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a - b
	c.setFlags(flagsSub, 8, a, b, r)
}

func cmp32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func cmp32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func cmp32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func cmp32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func cmp32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func cmp32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a - b
	c.setFlags(flagsSub, 4, uint64(a), uint64(b), uint64(r))
}

func test64EG(c *CPU, in *Inst) {
	a, b := c.R[in.rm], c.R[in.reg]
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test64GE(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.R[in.rm]
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test64RI(c *CPU, in *Inst) {
	a, b := c.R[in.rm], in.imm
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test64GM(c *CPU, in *Inst) {
	a, b := c.R[in.reg], c.read64(c.ea(in))
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test64MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), c.R[in.reg]
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test64MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read64(addr), in.imm
	r := a & b
	c.setFlags(flagsLogic, 8, a, b, r)
}

func test32EG(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(c.R[in.reg])
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func test32GE(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), uint32(c.R[in.rm])
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func test32RI(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.rm]), uint32(in.imm)
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func test32GM(c *CPU, in *Inst) {
	a, b := uint32(c.R[in.reg]), c.read32(c.ea(in))
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func test32MG(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(c.R[in.reg])
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

func test32MI(c *CPU, in *Inst) {
	addr := c.ea(in)
	a, b := c.read32(addr), uint32(in.imm)
	r := a & b
	c.setFlags(flagsLogic, 4, uint64(a), uint64(b), uint64(r))
}

var aluFast = [OpTEST - OpADD + 1]aluSet{
	OpADD - OpADD: {
		eg64: add64EG, ge64: add64GE, ri64: add64RI, gm64: add64GM, mg64: add64MG, mi64: add64MI,
		eg32: add32EG, ge32: add32GE, ri32: add32RI, gm32: add32GM, mg32: add32MG, mi32: add32MI,
	},
	OpOR - OpADD: {
		eg64: or64EG, ge64: or64GE, ri64: or64RI, gm64: or64GM, mg64: or64MG, mi64: or64MI,
		eg32: or32EG, ge32: or32GE, ri32: or32RI, gm32: or32GM, mg32: or32MG, mi32: or32MI,
	},
	OpADC - OpADD: {
		eg64: adc64EG, ge64: adc64GE, ri64: adc64RI, gm64: adc64GM, mg64: adc64MG, mi64: adc64MI,
		eg32: adc32EG, ge32: adc32GE, ri32: adc32RI, gm32: adc32GM, mg32: adc32MG, mi32: adc32MI,
	},
	OpSBB - OpADD: {
		eg64: sbb64EG, ge64: sbb64GE, ri64: sbb64RI, gm64: sbb64GM, mg64: sbb64MG, mi64: sbb64MI,
		eg32: sbb32EG, ge32: sbb32GE, ri32: sbb32RI, gm32: sbb32GM, mg32: sbb32MG, mi32: sbb32MI,
	},
	OpAND - OpADD: {
		eg64: and64EG, ge64: and64GE, ri64: and64RI, gm64: and64GM, mg64: and64MG, mi64: and64MI,
		eg32: and32EG, ge32: and32GE, ri32: and32RI, gm32: and32GM, mg32: and32MG, mi32: and32MI,
	},
	OpSUB - OpADD: {
		eg64: sub64EG, ge64: sub64GE, ri64: sub64RI, gm64: sub64GM, mg64: sub64MG, mi64: sub64MI,
		eg32: sub32EG, ge32: sub32GE, ri32: sub32RI, gm32: sub32GM, mg32: sub32MG, mi32: sub32MI,
	},
	OpXOR - OpADD: {
		eg64: xor64EG, ge64: xor64GE, ri64: xor64RI, gm64: xor64GM, mg64: xor64MG, mi64: xor64MI,
		eg32: xor32EG, ge32: xor32GE, ri32: xor32RI, gm32: xor32GM, mg32: xor32MG, mi32: xor32MI,
	},
	OpCMP - OpADD: {
		eg64: cmp64EG, ge64: cmp64GE, ri64: cmp64RI, gm64: cmp64GM, mg64: cmp64MG, mi64: cmp64MI,
		eg32: cmp32EG, ge32: cmp32GE, ri32: cmp32RI, gm32: cmp32GM, mg32: cmp32MG, mi32: cmp32MI,
	},
	OpTEST - OpADD: {
		eg64: test64EG, ge64: test64GE, ri64: test64RI, gm64: test64GM, mg64: test64MG, mi64: test64MI,
		eg32: test32EG, ge32: test32GE, ri32: test32RI, gm32: test32GM, mg32: test32MG, mi32: test32MI,
	},
}
