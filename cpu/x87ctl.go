package cpu

import "ftvm/cpu/fp80"

// x87 comparisons, register-stack and control instructions, the
// non-transcendental one-operand instructions, and the environment and state
// saves (FNSTENV, FLDENV, FNSAVE, FRSTOR, FXSAVE, FXRSTOR).

// execFCompare implements FUCOM, FUCOMP, FUCOMPP, FCOMPP, FCOMI, FCOMIP,
// FUCOMI, FUCOMIP and FTST.
func execFCompare(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	env := c.x87Env()
	a, okA := c.x87Operand(0)
	var b Float80
	okB := true
	pops := 0
	switch in.op {
	case OpFTST:
	case OpFUCOMPP, OpFCOMPP:
		b, okB = c.x87Operand(1)
		pops = 2
	default:
		b, okB = c.x87Operand(int(in.rm & 7))
		if in.op == OpFUCOMP || in.opcode&7 == 7 {
			pops = 1 // FUCOMP, FUCOMIP, FCOMIP
		}
	}
	rel := fp80.Unordered
	if okA && okB {
		quiet := in.op == OpFUCOM || in.op == OpFUCOMP || in.op == OpFUCOMPP || in.op == OpFUCOMI
		rel = env.Compare(a, b, quiet)
		if !c.x87Done(&env) {
			pops = 0
		}
	} else if !c.x87StackFault(false) {
		pops = 0
	}
	cc := ccOf(rel)
	if in.op == OpFCOMI || in.op == OpFUCOMI {
		var fl uint64
		if cc&fswC0 != 0 {
			fl |= FlagCF
		}
		if cc&fswC2 != 0 {
			fl |= FlagPF
		}
		if cc&fswC3 != 0 {
			fl |= FlagZF
		}
		c.setStatus(FlagsArith, fl)
	} else {
		f.setCC(fswC0|fswC2|fswC3, cc)
	}
	for range pops {
		f.pop()
	}
}

// execFXCH exchanges ST(0) and ST(i); an empty one reads as the QNaN
// indefinite when IE is masked.
func execFXCH(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	i := int(in.rm & 7)
	a, okA := c.x87Operand(0)
	b, okB := c.x87Operand(i)
	if (!okA || !okB) && !c.x87StackFault(false) {
		return
	}
	f.setCC(fswC1, 0)
	f.setST(0, b)
	f.setST(i, a)
}

func execFNOP(c *CPU, in *Inst) { c.x87Begin(in, true, false) }

// execFSign implements FCHS and FABS.
func execFSign(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	v, ok := c.x87Operand(0)
	if !ok {
		if c.x87StackFault(false) {
			f.setST(0, v)
		}
		return
	}
	f.setCC(fswC1, 0)
	if in.op == OpFCHS {
		f.setST(0, v.Neg())
	} else {
		f.setST(0, v.Abs())
	}
}

// execFXAM classifies ST(0) in C3, C2, C0 and puts its sign in C1.
func execFXAM(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	v := f.st(0)
	var cc uint16
	switch {
	case f.empty(0):
		cc = fswC3 | fswC0
	default:
		switch v.Classify() {
		case fp80.ClassUnsupported:
			cc = 0
		case fp80.ClassQNaN, fp80.ClassSNaN:
			cc = fswC0
		case fp80.ClassNormal:
			cc = fswC2
		case fp80.ClassInf:
			cc = fswC2 | fswC0
		case fp80.ClassZero:
			cc = fswC3
		case fp80.ClassDenormal:
			cc = fswC3 | fswC2
		}
	}
	if v.Sign() {
		cc |= fswC1
	}
	f.setCC(fswCC, cc)
}

// x87Consts maps D9 E8+i to the constant FLD1, FLDL2T, ... FLDZ load.
var x87Consts = [7]func(rc uint8) Float80{
	func(uint8) Float80 { return fp80.One },
	func(rc uint8) Float80 { return fp80.Const(fp80.ConstL2T, rc) },
	func(rc uint8) Float80 { return fp80.Const(fp80.ConstL2E, rc) },
	func(rc uint8) Float80 { return fp80.Const(fp80.ConstPi, rc) },
	func(rc uint8) Float80 { return fp80.Const(fp80.ConstLG2, rc) },
	func(rc uint8) Float80 { return fp80.Const(fp80.ConstLN2, rc) },
	func(uint8) Float80 { return fp80.Zero },
}

// execFLDConst implements FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2 and
// FLDZ; the irrational constants are rounded in the current rounding mode.
func execFLDConst(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	c.FPU.setCC(fswC1, 0)
	c.x87Push(x87Consts[in.rm&7](uint8(c.FPU.FCW >> 10 & 3)))
}

// execFStackPtr implements FDECSTP and FINCSTP.
func execFStackPtr(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	if in.op == OpFDECSTP {
		f.setTop(f.top() - 1)
	} else {
		f.setTop(f.top() + 1)
	}
	f.setCC(fswC1, 0)
}

// execFFREE implements FFREE and FFREEP (DF C0+i).
func execFFREE(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	f.setTag(f.phys(int(in.rm&7)), tagEmpty)
	if in.opcode&7 == 7 {
		f.pop()
	}
}

// fcmovConds maps (escape DA/DB, ModRM.reg) to the EFLAGS condition code.
var fcmovConds = [2][4]uint8{{0x2, 0x4, 0x6, 0xA}, {0x3, 0x5, 0x7, 0xB}}

// execFCMOV implements FCMOVcc.
func execFCMOV(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	_, okA := c.x87Operand(0)
	b, okB := c.x87Operand(int(in.rm & 7))
	if !okA || !okB {
		if c.x87StackFault(false) {
			f.setST(0, fp80.Indefinite)
		}
		return
	}
	f.setCC(fswC1, 0)
	if c.cond(fcmovConds[in.opcode&1][in.reg&3]) {
		f.setST(0, b)
	}
}

// execFNCLEX clears the exception flags, SF, ES and B.
func execFNCLEX(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	c.FPU.FSW &^= fswExc | fswSF | fswES | fswB
}

// execFNINIT puts the x87 in its initial state (SDM Vol. 1, Table 8-... : FCW
// 037F, FSW 0, all tags empty, pointers 0); XMM and MXCSR are untouched.
func execFNINIT(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	c.x87Init()
}

func (c *CPU) x87Init() {
	f := &c.FPU
	f.FCW, f.FSW, f.FTW = FCWReset, 0, FTWEmpty
	f.FOP, f.FIP, f.FDP, f.FCS, f.FDS = 0, 0, 0, 0, 0
}

// fcwValid keeps the control word's defined bits; bit 6 reads as 1.
func fcwValid(v uint16) uint16 { return v&0x1F3F | 0x40 }

// execFLDCW loads the control word; unmasking a flagged exception makes it
// pending (ES).
func execFLDCW(c *CPU, in *Inst) {
	c.x87Begin(in, true, true)
	v := c.read16(c.ea(in))
	c.FPU.FCW = fcwValid(v)
	c.FPU.summarize()
}

func execFNSTCW(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	c.write16(c.ea(in), c.FPU.FCW)
}

// execFNSTSW stores the status word to memory or AX (DF E0).
func execFNSTSW(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	if in.mod == 3 {
		c.R[RAX] = c.R[RAX]&^0xFFFF | uint64(c.FPU.FSW)
		return
	}
	c.write16(c.ea(in), c.FPU.FSW)
}

// execFWAIT checks for pending unmasked x87 exceptions; #NM only when both
// CR0.MP and CR0.TS are set.
func execFWAIT(c *CPU, in *Inst) {
	if c.CR0&(CR0MP|CR0TS) == CR0MP|CR0TS {
		c.raise(VecNM, 0)
	}
	c.x87Wait()
}

// x87Operands returns ST(0) and, if binary, ST(1) (else zero) for an
// instruction that pushes if pushes. ok is false where an operand is empty
// or the push would overflow the stack; okA says whether ST(0) was there
// (x87StackFault tells an underflow from an overflow by it).
func (c *CPU) x87Operands(binary, pushes bool) (a, b Float80, okA, ok bool) {
	a, okA = c.x87Operand(0)
	b, okB := fp80.Zero, true
	if binary {
		b, okB = c.x87Operand(1)
	}
	if pushes && !c.FPU.empty(7) {
		okB = false // the push would overflow
	}
	return a, b, okA, okA && okB
}

// execFUnary implements FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM and FPREM1.
func execFUnary(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	env := c.x87Env()
	a, b, okA, ok := c.x87Operands(in.op == OpFSCALE || in.op == OpFPREM || in.op == OpFPREM1, in.op == OpFXTRACT)
	if !ok {
		if !c.x87StackFault(okA) {
			return
		}
		f.setST(0, fp80.Indefinite)
		if in.op == OpFXTRACT {
			f.pushST(fp80.Indefinite)
		}
		return
	}
	var r Float80
	var cc uint16
	switch in.op {
	case OpFSQRT:
		r = env.Sqrt(a)
	case OpFRNDINT:
		r = env.RoundInt(a)
	case OpFSCALE:
		r = env.Scale(a, b)
	case OpFXTRACT:
		exp, sig := env.Extract(a)
		if !c.x87Done(&env) {
			return
		}
		f.setST(0, exp)
		f.pushST(sig)
		return
	case OpFPREM, OpFPREM1:
		var q uint64
		var partial bool
		r, q, partial = env.Rem(a, b, in.op == OpFPREM1)
		env.C1 = false
		if partial {
			cc = fswC2
		} else {
			cc = uint16(q>>2&1)<<8 | uint16(q>>1&1)<<14 | uint16(q&1)<<9
		}
	}
	if !c.x87Done(&env) {
		return
	}
	if in.op == OpFPREM || in.op == OpFPREM1 {
		f.setCC(fswC0|fswC1|fswC2|fswC3, cc)
	}
	f.setST(0, r)
}

// execFTrans implements F2XM1, FYL2X, FYL2XP1, FPATAN (ST(1) = f(ST(0),
// ST(1)), then pop), FSIN, FCOS, FPTAN (then push 1) and FSINCOS (ST(0) =
// sin, then push cos). C2 reports an FSIN/FCOS/FPTAN/FSINCOS operand out of
// range (|x| >= 2^63), which is left unchanged.
func execFTrans(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	env := c.x87Env()
	binary := in.op == OpFYL2X || in.op == OpFYL2XP1 || in.op == OpFPATAN
	pushes := in.op == OpFPTAN || in.op == OpFSINCOS
	a, b, okA, ok := c.x87Operands(binary, pushes)
	if !ok {
		if !c.x87StackFault(okA) {
			return
		}
		switch {
		case binary:
			f.setST(1, fp80.Indefinite)
			f.pop()
		case pushes:
			f.setST(0, fp80.Indefinite)
			f.pushST(fp80.Indefinite)
		default:
			f.setST(0, fp80.Indefinite)
		}
		return
	}
	var r, r2 Float80
	oor := false
	switch in.op {
	case OpF2XM1:
		r = env.TwoXM1(a)
	case OpFYL2X:
		r = env.YL2X(a, b, false)
	case OpFYL2XP1:
		r = env.YL2X(a, b, true)
	case OpFPATAN:
		r = env.Atan(a, b)
	case OpFSIN:
		r, _, oor = env.SinCos(a, true, false)
	case OpFCOS:
		_, r, oor = env.SinCos(a, false, true)
	case OpFSINCOS:
		r, r2, oor = env.SinCos(a, true, true)
	case OpFPTAN:
		r, oor = env.Tan(a)
		r2 = fp80.One
	}
	if !c.x87Done(&env) {
		return
	}
	switch {
	case oor:
		f.setCC(fswC2, fswC2)
	case binary:
		f.setST(1, r)
		f.pop()
	case pushes && !r.IsNaN():
		f.setCC(fswC2, 0)
		f.setST(0, r)
		f.pushST(r2)
	case pushes: // a NaN operand: both results are the NaN
		f.setCC(fswC2, 0)
		f.setST(0, r)
		f.pushST(r)
	default:
		f.setCC(fswC2, 0)
		f.setST(0, r)
	}
}
