package cpu

import "ftvm/cpu/softfp"

// SSE floating-point instructions: lane-wise arithmetic, compares,
// conversions, rounding and dot products, computed by package softfp under
// MXCSR. Every handler gathers the exception flags of all lanes and reports
// them through fpDone before it writes its destination, so an unmasked
// exception (#XM or #UD) leaves the destination unchanged.

// fpLaneFn computes one lane: a is the destination's lane, b the source's.
type fpLaneFn func(w softfp.Format, a, b uint64, csr uint32) (uint64, uint32)

// fpDesc describes a lane-wise floating-point instruction.
type fpDesc struct {
	fn     fpLaneFn
	w      softfp.Format
	scalar bool // only the low lane; the source is 32 or 64 bits
}

// sqrtLane, rcpLane and rsqrtLane adapt the one-operand operations to
// fpLaneFn: the source is b.
func sqrtLane(w softfp.Format, _, b uint64, csr uint32) (uint64, uint32) {
	return softfp.Sqrt(w, b, csr)
}

func rcpLane(_ softfp.Format, _, b uint64, _ uint32) (uint64, uint32) { return softfp.Rcp(b), 0 }

func rsqrtLane(_ softfp.Format, _, b uint64, _ uint32) (uint64, uint32) { return softfp.Rsqrt(b), 0 }

// fpLanes holds the lane-wise instructions (execFPLanes), by operation.
var fpLanes [numOps]fpDesc

func init() {
	set := func(op Op, d fpDesc) {
		fpLanes[op] = d
		binders[op] = always(execFPLanes)
	}
	fam := func(fn fpLaneFn, ps, ss, pd, sd Op) {
		set(ps, fpDesc{fn, softfp.F32, false})
		set(ss, fpDesc{fn, softfp.F32, true})
		set(pd, fpDesc{fn, softfp.F64, false})
		set(sd, fpDesc{fn, softfp.F64, true})
	}
	fam(softfp.Add, OpADDPS, OpADDSS, OpADDPD, OpADDSD)
	fam(softfp.Sub, OpSUBPS, OpSUBSS, OpSUBPD, OpSUBSD)
	fam(softfp.Mul, OpMULPS, OpMULSS, OpMULPD, OpMULSD)
	fam(softfp.Div, OpDIVPS, OpDIVSS, OpDIVPD, OpDIVSD)
	fam(softfp.Min, OpMINPS, OpMINSS, OpMINPD, OpMINSD)
	fam(softfp.Max, OpMAXPS, OpMAXSS, OpMAXPD, OpMAXSD)
	fam(sqrtLane, OpSQRTPS, OpSQRTSS, OpSQRTPD, OpSQRTSD)
	set(OpRCPPS, fpDesc{rcpLane, softfp.F32, false})
	set(OpRCPSS, fpDesc{rcpLane, softfp.F32, true})
	set(OpRSQRTPS, fpDesc{rsqrtLane, softfp.F32, false})
	set(OpRSQRTSS, fpDesc{rsqrtLane, softfp.F32, true})
	for _, op := range []Op{OpADDSUBPS, OpADDSUBPD, OpHADDPS, OpHADDPD, OpHSUBPS, OpHSUBPD} {
		binders[op] = always(execFPPairs)
	}
	for _, op := range []Op{OpCMPPS, OpCMPSS, OpCMPPD, OpCMPSD_X} {
		binders[op] = always(execFPCmp)
	}
	for _, op := range []Op{OpCOMISS, OpCOMISD, OpUCOMISS, OpUCOMISD} {
		binders[op] = always(execCOMIS)
	}
	for _, op := range []Op{OpROUNDPS, OpROUNDPD, OpROUNDSS, OpROUNDSD} {
		binders[op] = always(execROUND)
	}
	bindFixed(map[Op]handler{
		OpDPPS: execDP, OpDPPD: execDP, OpCVTSI2SS: execCVTSI2F, OpCVTSI2SD: execCVTSI2F,
	})
	for _, op := range []Op{OpCVTSS2SI, OpCVTSD2SI, OpCVTTSS2SI, OpCVTTSD2SI} {
		binders[op] = always(execCVTF2SI)
	}
	for _, op := range []Op{OpCVTPS2PD, OpCVTPD2PS, OpCVTSS2SD, OpCVTSD2SS, OpCVTDQ2PS, OpCVTPS2DQ,
		OpCVTTPS2DQ, OpCVTDQ2PD, OpCVTPD2DQ, OpCVTTPD2DQ} {
		binders[op] = always(execCVTPacked)
	}
}

// fpWidth returns the lane width in bytes of w.
func fpWidth(w softfp.Format) int {
	if w == softfp.F32 {
		return 4
	}
	return 8
}

// fpSource makes the SSE checks and returns the W operand: the XMM register
// itself, or the memory operand read into buf (128 aligned bits, or for a
// scalar the low 32 or 64 bits, unaligned). A binary32 scalar in a register
// comes with the register's other bits.
//
// XMM values are moved as two quadwords here and in putXMM, never as one
// 16-byte copy of words just written one at a time: such a copy misses the
// host's store forwarding and stalls.
func (c *CPU) fpSource(in *Inst, w softfp.Format, scalar bool, buf *XMM) *XMM {
	c.sseEnter()
	if in.mod == 3 {
		return &c.FPU.XMM[in.rm]
	}
	a := c.ea(in)
	switch {
	case !scalar:
		c.checkAligned16(a)
		buf[0] = c.read64(a)
		buf[1] = c.read64(a + 8)
	case w == softfp.F32:
		buf[0] = uint64(c.read32(a))
	default:
		buf[0] = c.read64(a)
	}
	return buf
}

// getXMM returns XMM register reg, quadword by quadword (see fpSource).
func (c *CPU) getXMM(reg uint8) (r XMM) {
	d := &c.FPU.XMM[reg]
	r[0] = d[0]
	r[1] = d[1]
	return r
}

// putXMM sets XMM register reg to r, quadword by quadword (see fpSource).
func (c *CPU) putXMM(reg uint8, r *XMM) {
	d := &c.FPU.XMM[reg]
	d[0] = r[0]
	d[1] = r[1]
}

// fpDone reports an instruction's SIMD floating-point exceptions (flags of
// all lanes). An unmasked pre-computation exception (invalid, denormal,
// divide by zero) ends the instruction before the post-computation ones
// (overflow, underflow, precision) are detected (SDM Vol. 1, 11.5.1), so
// only the pre-computation flags are then recorded.
func (c *CPU) fpDone(fl uint32) {
	if fl == 0 {
		return
	}
	const pre = softfp.FlagIE | softfp.FlagDE | softfp.FlagZE
	if softfp.Unmasked(c.FPU.MXCSR, fl&pre) != 0 {
		fl &= pre
	}
	c.simdExceptions(fl)
}

// execFPLanes: V = V op W lane by lane (packed) or in the low lane
// (scalar, the other lanes kept).
func execFPLanes(c *CPU, in *Inst) {
	d := &fpLanes[in.op]
	var buf XMM
	s := c.fpSource(in, d.w, d.scalar, &buf)
	dst := &c.FPU.XMM[in.reg]
	csr := c.FPU.MXCSR
	const lo32 = 0xFFFFFFFF
	switch {
	case d.w == softfp.F64 && d.scalar:
		v, fl := d.fn(softfp.F64, dst[0], s[0], csr)
		c.fpDone(fl)
		dst[0] = v
	case d.w == softfp.F64:
		v0, f0 := d.fn(softfp.F64, dst[0], s[0], csr)
		v1, f1 := d.fn(softfp.F64, dst[1], s[1], csr)
		c.fpDone(f0 | f1)
		dst[0] = v0
		dst[1] = v1
	case d.scalar:
		v, fl := d.fn(softfp.F32, dst[0]&lo32, s[0]&lo32, csr)
		c.fpDone(fl)
		dst[0] = dst[0]&^lo32 | v
	default:
		var r XMM
		var fl uint32
		for j := range 2 {
			lo, f0 := d.fn(softfp.F32, dst[j]&lo32, s[j]&lo32, csr)
			hi, f1 := d.fn(softfp.F32, dst[j]>>32, s[j]>>32, csr)
			r[j] = hi<<32 | lo
			fl |= f0 | f1
		}
		c.fpDone(fl)
		c.putXMM(in.reg, &r)
	}
}

// execFPPairs: ADDSUBPS/PD (even lanes subtract, odd lanes add) and the
// horizontal HADDPS/PD and HSUBPS/PD (adjacent lanes of V, then of W).
func execFPPairs(c *CPU, in *Inst) {
	w := softfp.F32
	if in.op == OpADDSUBPD || in.op == OpHADDPD || in.op == OpHSUBPD {
		w = softfp.F64
	}
	var buf XMM
	s := c.fpSource(in, w, false, &buf)
	d := c.getXMM(in.reg)
	csr := c.FPU.MXCSR
	lw := fpWidth(w)
	n := 16 / lw
	var r XMM
	var fl uint32
	for i := range n {
		var v uint64
		var f uint32
		switch in.op {
		case OpADDSUBPS, OpADDSUBPD:
			op := softfp.Add
			if i&1 == 0 {
				op = softfp.Sub
			}
			v, f = op(w, d.lane(i, lw), s.lane(i, lw), csr)
		default:
			src, j := &d, 2*i
			if j >= n {
				src, j = s, j-n
			}
			op := softfp.Add
			if in.op == OpHSUBPS || in.op == OpHSUBPD {
				op = softfp.Sub
			}
			v, f = op(w, src.lane(j, lw), src.lane(j+1, lw), csr)
		}
		r.setLane(i, lw, v)
		fl |= f
	}
	c.fpDone(fl)
	c.putXMM(in.reg, &r)
}

// fpOpFormat returns the format and scalarness of a PS/SS/PD/SD operation.
func fpOpFormat(op, ps, ss, pd Op) (softfp.Format, bool) {
	switch op {
	case ps:
		return softfp.F32, false
	case ss:
		return softfp.F32, true
	case pd:
		return softfp.F64, false
	}
	return softfp.F64, true
}

// laneCount returns the width in bytes of format w's lanes and how many an
// instruction works on: all of an XMM register's, or the low one if scalar.
func laneCount(w softfp.Format, scalar bool) (lw, n int) {
	lw = fpWidth(w)
	if scalar {
		return lw, 1
	}
	return lw, 16 / lw
}

// execFPCmp: CMPPS/CMPSS/CMPPD/CMPSD: each lane all ones if predicate
// imm8[2:0] holds, else zero.
func execFPCmp(c *CPU, in *Inst) {
	w, scalar := fpOpFormat(in.op, OpCMPPS, OpCMPSS, OpCMPPD)
	var buf XMM
	s := c.fpSource(in, w, scalar, &buf)
	r := c.getXMM(in.reg)
	csr := c.FPU.MXCSR
	lw, n := laneCount(w, scalar)
	var fl uint32
	for i := range n {
		t, f := softfp.Cmp(w, r.lane(i, lw), s.lane(i, lw), int(in.imm&7), csr)
		r.setLane(i, lw, laneMask[uint64](t))
		fl |= f
	}
	c.fpDone(fl)
	c.putXMM(in.reg, &r)
}

// execCOMIS: COMISS/COMISD/UCOMISS/UCOMISD set ZF, PF and CF from the low
// lanes' order and clear OF, SF and AF.
func execCOMIS(c *CPU, in *Inst) {
	w := softfp.F32
	if in.op == OpCOMISD || in.op == OpUCOMISD {
		w = softfp.F64
	}
	var buf XMM
	lw := fpWidth(w)
	s := c.fpSource(in, w, true, &buf)
	a := c.FPU.XMM[in.reg].lane(0, lw)
	f, fl := softfp.Comi(w, a, s.lane(0, lw), in.op == OpCOMISS || in.op == OpCOMISD, c.FPU.MXCSR)
	c.fpDone(fl)
	c.setStatus(FlagsArith, f)
}

// execROUND: ROUNDPS/PD/SS/SD round to integral values under imm8.
func execROUND(c *CPU, in *Inst) {
	w, scalar := fpOpFormat(in.op, OpROUNDPS, OpROUNDSS, OpROUNDPD)
	var buf XMM
	s := c.fpSource(in, w, scalar, &buf)
	r := c.getXMM(in.reg) // every lane replaced unless scalar
	csr := c.FPU.MXCSR
	lw, n := laneCount(w, scalar)
	var fl uint32
	for i := range n {
		v, f := softfp.RoundInt(w, s.lane(i, lw), uint8(in.imm), csr)
		r.setLane(i, lw, v)
		fl |= f
	}
	c.fpDone(fl)
	c.putXMM(in.reg, &r)
}

// execDP: DPPS and DPPD. The dot product of the lanes imm8[7:4] selects
// (others count as +0.0), summed as Intel specifies, a pair at a time:
// (p0+p1)+(p2+p3) for DPPS's four binary32 lanes, p0+p1 for DPPD's two
// binary64 lanes, each operation rounded; written to the lanes imm8[3:0]
// selects, zero elsewhere. The exceptions are those of each stage in turn
// (the products, then each level of sums): an unmasked one ends the
// instruction with the flags of the stages so far (as a host CPU does; the
// SDM: "exceptions are determined separately for each add and multiply
// operation").
func execDP(c *CPU, in *Inst) {
	w, n, lw := softfp.F32, 4, 4
	if in.op == OpDPPD {
		w, n, lw = softfp.F64, 2, 8
	}
	var buf XMM
	s := c.fpSource(in, w, false, &buf)
	d := c.getXMM(in.reg)
	csr := c.FPU.MXCSR
	var p [4]uint64
	var fl, f uint32
	for i := range n {
		if in.imm>>(4+i)&1 != 0 {
			p[i], f = softfp.Mul(w, d.lane(i, lw), s.lane(i, lw), csr)
			fl |= f
		}
	}
	c.fpDone(fl)
	for k := n / 2; k > 0; k /= 2 {
		fl = 0
		for i := range k {
			p[i], f = softfp.Add(w, p[2*i], p[2*i+1], csr)
			fl |= f
		}
		c.fpDone(fl)
	}
	var r XMM
	for i := range n {
		if in.imm>>i&1 != 0 {
			r.setLane(i, lw, p[0])
		}
	}
	c.putXMM(in.reg, &r)
}

// execCVTSI2F: CVTSI2SS/CVTSI2SD convert the signed 32- or 64-bit E operand
// into V's low lane.
func execCVTSI2F(c *CPU, in *Inst) {
	c.sseEnter()
	v := int64(c.readE(in))
	if in.osz == 4 {
		v = int64(int32(v))
	}
	w := softfp.F32
	if in.op == OpCVTSI2SD {
		w = softfp.F64
	}
	r, fl := softfp.FromInt(w, v, c.FPU.MXCSR)
	c.fpDone(fl)
	c.FPU.XMM[in.reg].setLane(0, fpWidth(w), r)
}

// execCVTF2SI: CVT(T)SS2SI and CVT(T)SD2SI convert W's low lane into the
// 32- or 64-bit general register G.
func execCVTF2SI(c *CPU, in *Inst) {
	w := softfp.F32
	if in.op == OpCVTSD2SI || in.op == OpCVTTSD2SI {
		w = softfp.F64
	}
	var buf XMM
	s := c.fpSource(in, w, true, &buf)
	trunc := in.op == OpCVTTSS2SI || in.op == OpCVTTSD2SI
	r, fl := softfp.ToInt(w, s.lane(0, fpWidth(w)), int(in.osz)*8, trunc, c.FPU.MXCSR)
	c.fpDone(fl)
	c.setReg(in.reg, in.osz, false, r)
}

// cvtShape describes a packed or scalar conversion.
type cvtShape struct {
	from, to  softfp.Format // the float formats of the source and destination lanes
	fromInt   bool          // the source lanes are int32 (from unused)
	toInt     bool          // the destination lanes are int32 (to unused)
	trunc     bool          // to int32 by truncation, not MXCSR.RC
	lanes     int           // lanes converted
	srcBytes  int           // 4, 8 or 16 (16: aligned)
	keepUpper bool          // the destination's other lanes are kept (scalar), not zeroed
}

func cvtShapeOf(op Op) cvtShape {
	f32, f64 := softfp.F32, softfp.F64
	switch op {
	case OpCVTPS2PD:
		return cvtShape{from: f32, to: f64, lanes: 2, srcBytes: 8}
	case OpCVTPD2PS:
		return cvtShape{from: f64, to: f32, lanes: 2, srcBytes: 16}
	case OpCVTSS2SD:
		return cvtShape{from: f32, to: f64, lanes: 1, srcBytes: 4, keepUpper: true}
	case OpCVTSD2SS:
		return cvtShape{from: f64, to: f32, lanes: 1, srcBytes: 8, keepUpper: true}
	case OpCVTDQ2PS:
		return cvtShape{to: f32, fromInt: true, lanes: 4, srcBytes: 16}
	case OpCVTPS2DQ, OpCVTTPS2DQ:
		return cvtShape{from: f32, toInt: true, trunc: op == OpCVTTPS2DQ, lanes: 4, srcBytes: 16}
	case OpCVTDQ2PD:
		return cvtShape{to: f64, fromInt: true, lanes: 2, srcBytes: 8}
	}
	// CVTPD2DQ, CVTTPD2DQ
	return cvtShape{from: f64, toInt: true, trunc: op == OpCVTTPD2DQ, lanes: 2, srcBytes: 16}
}

// execCVTPacked: the conversions between binary32, binary64 and int32
// lanes of XMM registers (CVTPS2PD ... CVTTPD2DQ, CVTSS2SD, CVTSD2SS).
func execCVTPacked(c *CPU, in *Inst) {
	sh := cvtShapeOf(in.op)
	c.sseEnter()
	var s XMM
	switch sh.srcBytes {
	case 4:
		s[0] = uint64(c.readW32(in))
	case 8:
		s[0] = c.readW64(in)
	default:
		s = c.readW(in)
	}
	var r XMM
	if sh.keepUpper {
		r = c.getXMM(in.reg)
	}
	csr := c.FPU.MXCSR
	fromW, toW := 4, 4
	if !sh.fromInt && sh.from == softfp.F64 {
		fromW = 8
	}
	if !sh.toInt && sh.to == softfp.F64 {
		toW = 8
	}
	var fl uint32
	for i := range sh.lanes {
		x := s.lane(i, fromW)
		var v uint64
		var f uint32
		switch {
		case sh.fromInt:
			v, f = softfp.FromInt(sh.to, int64(int32(x)), csr)
		case sh.toInt:
			v, f = softfp.ToInt(sh.from, x, 32, sh.trunc, csr)
		default:
			v, f = softfp.Convert(sh.from, sh.to, x, csr)
		}
		r.setLane(i, toW, v)
		fl |= f
	}
	c.fpDone(fl)
	c.putXMM(in.reg, &r)
}
