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
// handlers, generated from one template by gen/alugen into alu_gen.go (see
// aluFast), and so have the 8-bit forms whose register operands are low
// bytes; everything else (16-bit operands, AH CH DH BH) goes through
// execALU. LOCK is accepted on the memory forms: with one CPU the
// read-modify-write is atomic anyway.

//go:generate go run ./gen/alugen -o alu_gen.go

func init() {
	for op := OpADD; op <= OpTEST; op++ {
		binders[op] = bindALU
	}
	setBinders(map[Op]func(*Inst) handler{
		OpINC: bindUnary, OpDEC: bindUnary, OpNOT: bindUnary, OpNEG: bindUnary,
	})
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
	eg8, ge8, ri8, gm8, mg8, mi8       handler
}

// bindALU picks the handler of a two-operand ALU instruction.
func bindALU(in *Inst) handler {
	if in.op == OpTEST && in.form != formEG && in.form != formEI && in.form != formAI {
		return nil
	}
	if in.osz == 8 || in.osz == 4 || in.osz == 1 && lowByteRegs(in) {
		s := &aluFast[in.op-OpADD]
		pick := func(h64, h32, h8 handler) handler {
			switch in.osz {
			case 8:
				return h64
			case 4:
				return h32
			}
			return h8
		}
		switch in.form {
		case formEG:
			if in.isReg() {
				return pick(s.eg64, s.eg32, s.eg8)
			}
			return pick(s.mg64, s.mg32, s.mg8)
		case formGE:
			if in.isReg() {
				return pick(s.ge64, s.ge32, s.ge8)
			}
			return pick(s.gm64, s.gm32, s.gm8)
		case formEI, formEIb:
			if in.isReg() {
				return pick(s.ri64, s.ri32, s.ri8)
			}
			return pick(s.mi64, s.mi32, s.mi8)
		case formAI:
			// No ModRM: in.rm is 0, which is rAX.
			return pick(s.ri64, s.ri32, s.ri8)
		}
		return nil
	}
	switch in.form {
	case formEG, formGE, formEI, formEIb, formAI:
		return execALU
	}
	return nil
}

// lowByteRegs reports whether the 8-bit register operands of a two-operand
// ALU instruction are all low bytes of their registers: none is AH, CH, DH
// or BH.
func lowByteRegs(in *Inst) bool {
	high := func(r uint8) bool { return in.legacy() && r >= 4 && r < 8 }
	switch in.form {
	case formEG, formGE:
		return !high(in.reg) && !(in.isReg() && high(in.rm))
	case formEI, formEIb:
		return !(in.isReg() && high(in.rm))
	}
	return true // formAI: AL
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
//
//go:noinline
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
