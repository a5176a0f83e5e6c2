package cpu

// SSE integer instructions that are not lane-wise: shifts, horizontal adds
// and subtracts, multiply-adds, sums of absolute differences, PHMINPOSUW
// and PTEST.

func init() {
	for _, op := range []Op{OpPSLLW, OpPSLLD, OpPSLLQ, OpPSRLW, OpPSRLD, OpPSRLQ, OpPSRAW, OpPSRAD} {
		binders[op] = bindPShift
	}
	bindFixed(map[Op]handler{
		OpPSLLDQ: execByteShift, OpPSRLDQ: execByteShift, OpMPSADBW: execMPSADBW,
		OpPHMINPOSUW: execPHMINPOSUW, OpPTEST: execPTEST,
	})
}

func bindPShift(in *Inst) handler {
	if in.form.isMMXForm() {
		return execMMXShift
	}
	if in.form == formVWIb {
		return execShiftImm
	}
	return execShiftXmm
}

// shiftKind returns the lane width of a shift and whether it shifts left or
// arithmetically.
func shiftKind(op Op) (w int, left, arith bool) {
	switch op {
	case OpPSLLW:
		return 2, true, false
	case OpPSLLD:
		return 4, true, false
	case OpPSLLQ:
		return 8, true, false
	case OpPSRLW:
		return 2, false, false
	case OpPSRLD:
		return 4, false, false
	case OpPSRLQ:
		return 8, false, false
	case OpPSRAW:
		return 2, false, true
	}
	return 4, false, true
}

// shiftLanes shifts every lane of x by count: logical shifts past the lane
// width give zero, arithmetic ones fill with the sign.
func shiftLanes(x *XMM, op Op, count uint64) {
	w, left, arith := shiftKind(op)
	bits := uint64(8 * w)
	if count >= bits {
		if !arith {
			*x = XMM{}
			return
		}
		count = bits - 1
	}
	for i := range 16 / w {
		v := x.lane(i, w)
		switch {
		case left:
			v <<= count
		case arith:
			v = uint64(int64(signExtend(v, uint8(w))) >> count)
		default:
			v >>= count
		}
		x.setLane(i, w, v)
	}
}

// execShiftXmm: PSLL/PSRL/PSRA V by the count in W's low quadword.
func execShiftXmm(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	shiftLanes(d, in.op, s[0])
}

// execShiftImm: PSLL/PSRL/PSRA W (a register) by imm8 (66 0F 71-73).
func execShiftImm(c *CPU, in *Inst) {
	c.sseEnter()
	shiftLanes(&c.FPU.XMM[in.rm], in.op, in.imm)
}

// execByteShift: PSLLDQ/PSRLDQ shift W (a register) left or right by imm8
// bytes; 16 or more clears it.
func execByteShift(c *CPU, in *Inst) {
	c.sseEnter()
	x := &c.FPU.XMM[in.rm]
	n := int(in.imm)
	o := *x
	var r XMM
	for i := range 16 {
		k := i + n
		if in.op == OpPSLLDQ {
			k = i - n
		}
		if k >= 0 && k < 16 {
			r.setLane(i, 1, o.lane(k, 1))
		}
	}
	*x = r
}

// execHorizontal: PHADD/PHSUB W/D/SW: adjacent pairs of V, then of W, are
// added (or the second subtracted from the first) into V.
func execHorizontal(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = horizontal(*d, s, in.op)
}

// horizontal is PHADD/PHSUB (op) on 16-byte operands.
func horizontal(d, s XMM, op Op) XMM {
	w := 2
	if op == OpPHADDD || op == OpPHSUBD {
		w = 4
	}
	sub := op == OpPHSUBW || op == OpPHSUBD || op == OpPHSUBSW
	sat := op == OpPHADDSW || op == OpPHSUBSW
	n := 16 / w
	var r XMM
	for h, src := range [2]*XMM{&d, &s} {
		for i := range n / 2 {
			a := int64(signExtend(src.lane(2*i, w), uint8(w)))
			b := int64(signExtend(src.lane(2*i+1, w), uint8(w)))
			v := a + b
			if sub {
				v = a - b
			}
			if sat {
				v = int64(satI16(int(v)))
			}
			r.setLane(h*n/2+i, w, uint64(v))
		}
	}
	return r
}

// execPMADDWD: each doubleword of V = the sum of the products of the signed
// word pairs of V and W (wrapping).
func execPMADDWD(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = maddWords(*d, s)
}

// maddWords is PMADDWD on 16-byte operands.
func maddWords(d, s XMM) XMM {
	var r XMM
	for i := range 4 {
		var sum int32
		for k := 2 * i; k < 2*i+2; k++ {
			sum += int32(int16(d.lane(k, 2))) * int32(int16(s.lane(k, 2)))
		}
		r.setLane(i, 4, uint64(uint32(sum)))
	}
	return r
}

// execPMADDUBSW: each word of V = the saturated sum of the products of V's
// unsigned byte pair and W's signed byte pair.
func execPMADDUBSW(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = maddBytes(*d, s)
}

// maddBytes is PMADDUBSW on 16-byte operands.
func maddBytes(d, s XMM) XMM {
	var r XMM
	for i := range 8 {
		sum := 0
		for k := 2 * i; k < 2*i+2; k++ {
			sum += int(uint8(d.lane(k, 1))) * int(int8(s.lane(k, 1)))
		}
		r.setLane(i, 2, uint64(uint16(satI16(sum))))
	}
	return r
}

// absDiff returns |a - b| of two unsigned bytes.
func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// execPSADBW: each quadword of V = the sum of the absolute differences of
// its eight unsigned bytes and W's, in the low word.
func execPSADBW(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = XMM{sadBytes(d[0], s[0]), sadBytes(d[1], s[1])}
}

// sadBytes is the sum of the absolute differences of the bytes of a and b.
func sadBytes(a, b uint64) uint64 {
	var sum uint64
	for i := range 8 {
		sum += absDiff(a>>(8*i)&0xFF, b>>(8*i)&0xFF)
	}
	return sum
}

// execMPSADBW: word i of V = the sum of absolute differences of V's bytes
// o1+i..o1+i+3 and W's bytes o2..o2+3, where o1 = imm8[2]*4, o2 = imm8[1:0]*4.
func execMPSADBW(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	o := *d
	o1, o2 := int(in.imm>>2&1)*4, int(in.imm&3)*4
	var r XMM
	for i := range 8 {
		var sum uint64
		for j := range 4 {
			sum += absDiff(o.lane(o1+i+j, 1), s.lane(o2+j, 1))
		}
		r.setLane(i, 2, sum)
	}
	*d = r
}

// execPHMINPOSUW: V = the smallest unsigned word of W in bits 15:0 and its
// (lowest) index in bits 18:16, the rest zero.
func execPHMINPOSUW(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	best, idx := s.lane(0, 2), 0
	for i := 1; i < 8; i++ {
		if v := s.lane(i, 2); v < best {
			best, idx = v, i
		}
	}
	*d = XMM{best | uint64(idx)<<16, 0}
}

// execPTEST sets ZF if V AND W is zero, CF if (NOT V) AND W is zero, and
// clears AF, OF, PF and SF.
func execPTEST(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	var f uint64
	if d[0]&s[0]|d[1]&s[1] == 0 {
		f |= FlagZF
	}
	if ^d[0]&s[0]|^d[1]&s[1] == 0 {
		f |= FlagCF
	}
	c.setStatus(FlagsArith, f)
}
