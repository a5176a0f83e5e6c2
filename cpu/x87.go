package cpu

import "ftvm/cpu/fp80"

// The x87 FPU (SDM Vol. 1, chapter 8): the register stack and its tag word,
// the status and control words, exceptions with their masked responses and
// #MF, and the load, store, arithmetic, comparison and control
// instructions. The arithmetic itself is package fp80.

// FSW bits besides the exception flags (which are fp80.Flag*).
const (
	fswSF       = 1 << 6 // stack fault
	fswES       = 1 << 7 // error summary
	fswC0       = 1 << 8
	fswC1       = 1 << 9
	fswC2       = 1 << 10
	fswC3       = 1 << 14
	fswB        = 1 << 15 // busy: mirrors ES
	fswTopShift = 11
	fswCC       = fswC0 | fswC1 | fswC2 | fswC3
	fswExc      = 0x3F
)

// Tag values of the full tag word.
const (
	tagValid   = 0
	tagZero    = 1
	tagSpecial = 2
	tagEmpty   = 3
)

func (f *FPUState) top() int         { return int(f.FSW >> fswTopShift & 7) }
func (f *FPUState) setTop(t int)     { f.FSW = f.FSW&^(7<<fswTopShift) | uint16(t&7)<<fswTopShift }
func (f *FPUState) phys(i int) int   { return (f.top() + i) & 7 }
func (f *FPUState) tag(p int) int    { return int(f.FTW >> (2 * p) & 3) }
func (f *FPUState) empty(i int) bool { return f.tag(f.phys(i)) == tagEmpty }
func (f *FPUState) st(i int) Float80 { return f.ST[f.phys(i)] }

func (f *FPUState) setTag(p, t int) { f.FTW = f.FTW&^(3<<(2*p)) | uint16(t)<<(2*p) }

// tagOf returns the tag a register holding v has.
func tagOf(v Float80) int {
	switch v.Classify() {
	case fp80.ClassZero:
		return tagZero
	case fp80.ClassNormal:
		return tagValid
	}
	return tagSpecial
}

// setST writes ST(i) and its tag.
func (f *FPUState) setST(i int, v Float80) {
	p := f.phys(i)
	f.ST[p] = v
	f.setTag(p, tagOf(v))
}

// pushST decrements TOP and writes the new ST(0).
func (f *FPUState) pushST(v Float80) {
	f.setTop(f.top() - 1)
	f.setST(0, v)
}

// pop marks ST(0) empty and increments TOP.
func (f *FPUState) pop() {
	f.setTag(f.top(), tagEmpty)
	f.setTop(f.top() + 1)
}

// setCC sets the condition codes in mask to the bits of v.
func (f *FPUState) setCC(mask, v uint16) { f.FSW = f.FSW&^mask | v&mask }

// summarize sets ES and B when an exception flagged in FSW is unmasked in
// FCW, and clears them otherwise.
func (f *FPUState) summarize() {
	if f.FSW&^f.FCW&fswExc != 0 {
		f.FSW |= fswES | fswB
	} else {
		f.FSW &^= fswES | fswB
	}
}

// precisions maps FCW.PC to significand bits (01 is reserved: full precision).
var precisions = [4]uint8{24, 64, 53, 64}

// x87Env returns an fp80 environment for the control word.
func (c *CPU) x87Env() fp80.Env {
	w := c.FPU.FCW
	return fp80.Env{RC: uint8(w >> 10 & 3), Prec: precisions[w>>8&3], Mask: uint8(w & fswExc)}
}

// x87Begin starts an x87 instruction: #NM when CR0.EM or CR0.TS is set, #MF
// for a pending unmasked exception when the instruction waits and CR0.NE is
// set (with NE clear the external FERR# path is not modelled and the
// instruction proceeds), and the last-instruction pointers for non-control
// instructions.
func (c *CPU) x87Begin(in *Inst, wait, control bool) {
	if c.CR0&(CR0EM|CR0TS) != 0 {
		c.raise(VecNM, 0)
	}
	if wait {
		c.x87Wait()
	}
	if !control {
		f := &c.FPU
		f.FOP = uint16(in.opcode&7)<<8 | uint16(in.mod)<<6 | uint16(in.reg&7)<<3 | uint16(in.rm&7)
		f.FIP = in.rip
		if in.mod != 3 {
			f.FDP = c.eaPlain(in)
		}
	}
}

// x87Wait raises #MF for a pending unmasked x87 exception.
func (c *CPU) x87Wait() {
	if c.FPU.FSW&fswES != 0 && c.CR0&CR0NE != 0 {
		c.raise(VecMF, 0)
	}
}

// x87Done merges an operation's exceptions into FSW, sets C1 from its
// rounding, and reports whether the result may be delivered: not when an
// unmasked IE, DE or ZE stopped it.
func (c *CPU) x87Done(env *fp80.Env) bool {
	f := &c.FPU
	f.FSW |= uint16(env.Flags)
	c1 := uint16(0)
	if env.C1 && env.Flags&fp80.FlagPE != 0 {
		c1 = fswC1
	}
	f.setCC(fswC1, c1)
	f.summarize()
	return env.Unmasked()&(fp80.FlagIE|fp80.FlagDE|fp80.FlagZE) == 0
}

// x87StackFault records a stack overflow or underflow (IE with SF; C1 says
// which) and reports whether IE is masked, i.e. whether the instruction
// goes on with the QNaN indefinite.
func (c *CPU) x87StackFault(overflow bool) bool {
	f := &c.FPU
	f.FSW |= fp80.FlagIE | fswSF
	c1 := uint16(0)
	if overflow {
		c1 = fswC1
	}
	f.setCC(fswC1, c1)
	f.summarize()
	return f.FCW&fp80.FlagIE != 0
}

// x87Push pushes v, or handles a stack overflow when the new ST(0) is not
// empty: masked, the QNaN indefinite is pushed. It reports whether the push
// happened.
func (c *CPU) x87Push(v Float80) bool {
	f := &c.FPU
	if f.tag((f.top()-1)&7) != tagEmpty {
		if !c.x87StackFault(true) {
			return false
		}
		v = fp80.Indefinite
	}
	f.pushST(v)
	return true
}

// x87Operand returns ST(i), or on stack underflow the masked response's QNaN
// indefinite with ok reporting whether IE is masked.
func (c *CPU) x87Operand(i int) (v Float80, ok bool) {
	f := &c.FPU
	if f.empty(i) {
		return fp80.Indefinite, false
	}
	return f.st(i), true
}

// x87MemType is the memory operand type of an x87 escape's memory forms.
type x87MemType uint8

const (
	memF32 x87MemType = iota
	memF64
	memF80
	memI16
	memI32
	memI64
	memBCD
)

// arithMemType maps the arithmetic escapes D8, DA, DC, DE to operand types.
var arithMemType = [8]x87MemType{0: memF32, 2: memI32, 4: memF64, 6: memI16}

// loadMemType and storeMemType give the operand of FLD/FILD/FBLD and the
// stores by escape and ModRM.reg.
func loadStoreType(in *Inst) x87MemType {
	esc, reg := in.opcode&7, in.reg&7
	switch esc {
	case 1:
		return memF32
	case 3:
		if reg >= 5 {
			return memF80
		}
		return memI32
	case 5:
		if reg == 1 {
			return memI64 // FISTTP m64int
		}
		return memF64
	}
	switch reg { // DF
	case 4, 6:
		return memBCD
	case 5, 7:
		return memI64
	}
	return memI16
}

// x87Read reads a memory operand of type t and widens it. SNaNs stay
// signaling (the operation screens them); a denormal single or double
// raises DE.
func (c *CPU) x87Read(addr uint64, t x87MemType, env *fp80.Env) Float80 {
	switch t {
	case memF32:
		return env.WidenF32(c.read32(addr))
	case memF64:
		return env.WidenF64(c.read64(addr))
	case memF80:
		m := c.read64(addr)
		return Float80{Mant: m, SignExp: c.read16(addr + 8)}
	case memI16:
		return fp80.FromInt64(int64(int16(c.read16(addr))))
	case memI32:
		return fp80.FromInt64(int64(int32(c.read32(addr))))
	case memI64:
		return fp80.FromInt64(int64(c.read64(addr)))
	}
	var b fp80.BCD
	lo, hi := c.read64(addr), c.read16(addr+8)
	for i := range 8 {
		b[i] = byte(lo >> (8 * i))
	}
	b[8], b[9] = byte(hi), byte(hi>>8)
	return fp80.FromBCD(b)
}

func init() {
	for _, op := range []Op{OpFADD, OpFMUL, OpFCOM, OpFCOMP, OpFSUB, OpFSUBR, OpFDIV, OpFDIVR} {
		binders[op] = always(execFArith)
	}
	binders[OpFLD] = func(in *Inst) handler {
		if in.mod == 3 {
			return execFLDReg
		}
		return execFLDMem
	}
	bindFixed(map[Op]handler{
		OpFILD: execFLDMem, OpFBLD: execFLDMem, OpFXCH: execFXCH, OpFNOP: execFNOP,
		OpFCHS: execFSign, OpFABS: execFSign, OpFXAM: execFXAM, OpFLDConst: execFLDConst,
		OpFDECSTP: execFStackPtr, OpFINCSTP: execFStackPtr, OpFFREE: execFFREE, OpFCMOV: execFCMOV,
		OpFNCLEX: execFNCLEX, OpFNINIT: execFNINIT, OpFLDCW: execFLDCW, OpFNSTCW: execFNSTCW,
		OpFNSTSW: execFNSTSW, OpFWAIT: execFWAIT,
	})
	for _, op := range []Op{OpFST, OpFSTP, OpFIST, OpFISTP, OpFISTTP, OpFBSTP} {
		binders[op] = func(in *Inst) handler {
			if in.mod == 3 {
				return execFSTReg
			}
			return execFSTMem
		}
	}
	for _, op := range []Op{OpFUCOM, OpFUCOMP, OpFUCOMPP, OpFCOMPP, OpFCOMI, OpFUCOMI, OpFTST} {
		binders[op] = always(execFCompare)
	}
	for _, op := range []Op{OpFSQRT, OpFRNDINT, OpFSCALE, OpFXTRACT, OpFPREM, OpFPREM1} {
		binders[op] = always(execFUnary)
	}
	for _, op := range []Op{OpF2XM1, OpFYL2X, OpFYL2XP1, OpFPATAN, OpFSIN, OpFCOS, OpFSINCOS, OpFPTAN} {
		binders[op] = always(execFTrans)
	}
}

// execFArith implements FADD, FMUL, FCOM, FCOMP, FSUB, FSUBR, FDIV, FDIVR
// and their integer, register and pop forms: dst = dst op src, the reversed
// forms src op dst. dst is ST(0) and src ST(i) or memory, except in the DC
// and DE register forms where dst is ST(i) and src ST(0).
func execFArith(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	env := c.x87Env()
	d, pop := 0, in.op == OpFCOMP
	var src Float80
	okS := true
	// A denormal single or double raises DE only if the operation gets as
	// far as looking at its operands' values: not for NaN operands, invalid
	// operations or division by zero.
	memDE := false
	if in.mod != 3 {
		var wenv fp80.Env
		src = c.x87Read(c.ea(in), arithMemType[in.opcode&7], &wenv)
		memDE = wenv.Flags&fp80.FlagDE != 0
	} else if i := int(in.rm & 7); in.opcode&7 >= 4 {
		d, pop = i, pop || in.opcode&7 == 6
		src, okS = c.x87Operand(0)
	} else {
		src, okS = c.x87Operand(i)
	}
	dst, okD := c.x87Operand(d)
	compare := in.op == OpFCOM || in.op == OpFCOMP
	if !okD || !okS {
		if !c.x87StackFault(false) {
			return
		}
		if compare {
			f.setCC(fswC0|fswC2|fswC3, fswC0|fswC2|fswC3)
		} else {
			f.setST(d, fp80.Indefinite)
		}
		if pop {
			f.pop()
		}
		return
	}
	var r Float80
	switch in.op {
	case OpFADD:
		r = env.Add(dst, src)
	case OpFMUL:
		r = env.Mul(dst, src)
	case OpFCOM, OpFCOMP:
		a, b := dst, src // ST(0) against the other operand
		if d != 0 {
			a, b = src, dst // FCOM2, FCOMP3, FCOMP5: DC/DE forms
		}
		f.setCC(fswC0|fswC2|fswC3, ccOf(env.Compare(a, b, false)))
	case OpFSUB:
		r = env.Sub(dst, src)
	case OpFSUBR:
		r = env.Sub(src, dst)
	case OpFDIV:
		r = env.Div(dst, src)
	case OpFDIVR:
		r = env.Div(src, dst)
	}
	if memDE && !dst.IsNaN() && env.Flags&(fp80.FlagIE|fp80.FlagZE) == 0 {
		if env.Mask&fp80.FlagDE == 0 {
			env.Flags, env.C1 = 0, false // stopped before computing
		}
		env.Flags |= fp80.FlagDE
	}
	if !c.x87Done(&env) {
		return
	}
	if !compare {
		f.setST(d, r)
	}
	if pop {
		f.pop()
	}
}

// ccOf returns C3, C2, C0 for a comparison's outcome.
func ccOf(r fp80.Relation) uint16 {
	switch r {
	case fp80.Less:
		return fswC0
	case fp80.Equal:
		return fswC3
	case fp80.Unordered:
		return fswC0 | fswC2 | fswC3
	}
	return 0
}

// execFLDMem implements FLD m32fp/m64fp/m80fp, FILD and FBLD.
func execFLDMem(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	env := c.x87Env()
	v := c.x87Read(c.ea(in), loadStoreType(in), &env)
	if v.Classify() == fp80.ClassSNaN && in.op == OpFLD && loadStoreType(in) != memF80 {
		env.Flags |= fp80.FlagIE
		v = fp80.Quiet(v)
	}
	c.x87Done(&env)
	if env.Unmasked()&fp80.FlagIE != 0 {
		return // a denormal is loaded even with DE unmasked
	}
	c.x87Push(v)
}

// execFLDReg implements FLD ST(i).
func execFLDReg(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	v, ok := c.x87Operand(int(in.rm & 7))
	if !ok && !c.x87StackFault(false) {
		return
	}
	c.FPU.setCC(fswC1, 0)
	c.x87Push(v)
}

// execFSTReg implements FST ST(i) and FSTP ST(i) (and its aliases).
func execFSTReg(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	f := &c.FPU
	v, ok := c.x87Operand(0)
	if !ok && !c.x87StackFault(false) {
		return
	}
	f.setCC(fswC1, 0)
	f.setST(int(in.rm&7), v)
	if in.op == OpFSTP {
		f.pop()
	}
}

// execFSTMem implements FST/FSTP to m32fp, m64fp, m80fp, FIST/FISTP/FISTTP
// and FBSTP. With an unmasked IE, DE, OE or UE nothing is stored.
func execFSTMem(c *CPU, in *Inst) {
	c.x87Begin(in, true, false)
	env := c.x87Env()
	addr := c.ea(in)
	v, ok := c.x87Operand(0)
	if !ok && !c.x87StackFault(false) {
		return
	}
	lo, hi, size := narrow(v, loadStoreType(in), &env, in.op == OpFISTTP)
	if ok && env.Unmasked()&(fp80.FlagIE|fp80.FlagDE|fp80.FlagOE|fp80.FlagUE) != 0 {
		env.Flags &^= fp80.FlagPE // nothing was stored, so nothing was rounded
		c.x87Done(&env)
		return
	}
	if size == 10 {
		c.probeWrite(addr, 10)
		c.write64(addr, lo)
		c.write16(addr+8, hi)
	} else {
		c.writeN(addr, size, lo)
	}
	if ok {
		c.x87Done(&env)
	}
	if in.op != OpFST && in.op != OpFIST {
		c.FPU.pop()
	}
}

// intBits is the width of the integer memory types.
var intBits = [...]uint{memI16: 16, memI32: 32, memI64: 64}

// narrow converts v to memory type t: the low 8 bytes, the two above them
// (m80fp, m80bcd) and the size in bytes. trunc rounds toward zero (FISTTP).
func narrow(v Float80, t x87MemType, env *fp80.Env, trunc bool) (lo uint64, hi uint16, size uint8) {
	switch t {
	case memF32:
		return uint64(env.ToF32(v)), 0, 4
	case memF64:
		return env.ToF64(v), 0, 8
	case memF80:
		return v.Mant, v.SignExp, 10
	case memBCD:
		b, _ := env.ToBCD(v)
		for i := range 8 {
			lo |= uint64(b[i]) << (8 * i)
		}
		return lo, uint16(b[8]) | uint16(b[9])<<8, 10
	}
	rc := env.RC
	if trunc {
		rc = fp80.RoundZero
	}
	lo, _ = env.ToInt(v, intBits[t], rc)
	return lo, 0, uint8(intBits[t] / 8)
}
