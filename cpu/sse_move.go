package cpu

// SSE data movement: whole-register, scalar and half-register moves,
// duplicating moves, sign masks, moves between XMM and general registers,
// inserts, extracts and the packed sign and zero extensions.

// lane returns lane i of v, w bytes wide (1, 2, 4 or 8), zero-extended.
func (v *XMM) lane(i, w int) uint64 {
	bit := i * w * 8
	return v[bit>>6] >> (bit & 63) & sizeMask(uint8(w))
}

// setLane sets lane i of v, w bytes wide, to the low bits of x.
func (v *XMM) setLane(i, w int, x uint64) {
	bit := i * w * 8
	m := sizeMask(uint8(w)) << (bit & 63)
	v[bit>>6] = v[bit>>6]&^m | x<<(bit&63)&m
}

func init() {
	for _, op := range []Op{OpMOVUPS, OpMOVUPD, OpMOVDQU, OpMOVAPS, OpMOVAPD, OpMOVDQA, OpMOVNTPS,
		OpMOVNTPD, OpMOVNTDQ, OpMOVNTDQA, OpLDDQU} {
		binders[op] = bindMove128
	}
	setBinders(map[Op]func(*Inst) handler{
		OpMOVSS: bindMoveScalar, OpMOVSD_X: bindMoveScalar, OpMOVLPS: bindMoveHalf,
		OpMOVLPD: bindMoveHalf, OpMOVHPS: bindMoveHalf, OpMOVHPD: bindMoveHalf, OpMOVD: movdForms.pick,
		OpMOVQ: movqForms.pick,
	})
	bindFixed(map[Op]handler{
		OpMOVHLPS: execMOVHLPS, OpMOVLHPS: execMOVLHPS, OpMOVSLDUP: execMOVSxDUP,
		OpMOVSHDUP: execMOVSxDUP, OpMOVDDUP: execMOVDDUP, OpMOVMSKPS: execMOVMSK,
		OpMOVMSKPD: execMOVMSK, OpMASKMOVDQU: execMASKMOVDQU, OpINSERTPS: execINSERTPS,
	})
	for _, op := range []Op{OpPEXTRB, OpPEXTRD, OpEXTRACTPS} {
		binders[op] = always(execExtract)
	}
	for _, op := range []Op{OpPINSRB, OpPINSRD} {
		binders[op] = always(execInsert)
	}
	for op := OpPMOVSXBW; op <= OpPMOVZXDQ; op++ {
		binders[op] = always(execPMOVX)
	}
}

// unalignedMove reports whether a 128-bit move may use a misaligned
// memory operand.
func unalignedMove(op Op) bool {
	return op == OpMOVUPS || op == OpMOVUPD || op == OpMOVDQU || op == OpLDDQU
}

func bindMove128(in *Inst) handler {
	switch {
	case in.form == formWV && unalignedMove(in.op):
		return execStoreU
	case in.form == formWV:
		return execStoreA
	case unalignedMove(in.op):
		return execLoadU
	}
	return execLoadA
}

// execLoadA: V = W (16 aligned bytes): MOVAPS, MOVAPD, MOVDQA, MOVNTDQA.
func execLoadA(c *CPU, in *Inst) {
	c.sseEnter()
	c.loadV(in, true)
}

// execLoadU: V = W (unaligned): MOVUPS, MOVUPD, MOVDQU, LDDQU.
func execLoadU(c *CPU, in *Inst) {
	c.sseEnter()
	c.loadV(in, false)
}

// execStoreA: W = V (16 aligned bytes): MOVAPS, MOVAPD, MOVDQA, MOVNTxx.
func execStoreA(c *CPU, in *Inst) {
	c.sseEnter()
	c.writeWAt(in, true, &c.FPU.XMM[in.reg])
}

// execStoreU: W = V (unaligned): MOVUPS, MOVUPD, MOVDQU.
func execStoreU(c *CPU, in *Inst) {
	c.sseEnter()
	c.writeWAt(in, false, &c.FPU.XMM[in.reg])
}

func bindMoveScalar(in *Inst) handler {
	if in.form == formWV {
		return execMoveScalarStore
	}
	return execMoveScalarLoad
}

// scalarSize returns the element size of MOVSS (4) or MOVSD (8).
func scalarSize(op Op) int {
	if op == OpMOVSS {
		return 4
	}
	return 8
}

// execMoveScalarLoad: MOVSS/MOVSD xmm, xmm/m: from memory the upper part is
// zeroed, from a register only the low element is replaced.
func execMoveScalarLoad(c *CPU, in *Inst) {
	c.sseEnter()
	w := scalarSize(in.op)
	if in.mod != 3 {
		c.FPU.XMM[in.reg] = XMM{c.readN(c.ea(in), uint8(w)), 0}
		return
	}
	d := &c.FPU.XMM[in.reg]
	d.setLane(0, w, c.FPU.XMM[in.rm].lane(0, w))
}

// execMoveScalarStore: MOVSS/MOVSD xmm/m, xmm.
func execMoveScalarStore(c *CPU, in *Inst) {
	c.sseEnter()
	w := scalarSize(in.op)
	v := c.FPU.XMM[in.reg].lane(0, w)
	if in.mod != 3 {
		c.writeN(c.ea(in), uint8(w), v)
		return
	}
	c.FPU.XMM[in.rm].setLane(0, w, v)
}

func bindMoveHalf(in *Inst) handler {
	if in.form == formWV {
		return execMoveHalfStore
	}
	return execMoveHalfLoad
}

// halfIndex returns the quadword MOVLPx (0) or MOVHPx (1) moves.
func halfIndex(op Op) int {
	if op == OpMOVHPS || op == OpMOVHPD {
		return 1
	}
	return 0
}

// execMoveHalfLoad: MOVLPS/MOVLPD/MOVHPS/MOVHPD xmm, m64.
func execMoveHalfLoad(c *CPU, in *Inst) {
	c.sseEnter()
	c.FPU.XMM[in.reg][halfIndex(in.op)] = c.read64(c.ea(in))
}

// execMoveHalfStore: MOVLPS/MOVLPD/MOVHPS/MOVHPD m64, xmm.
func execMoveHalfStore(c *CPU, in *Inst) {
	c.sseEnter()
	c.write64(c.ea(in), c.FPU.XMM[in.reg][halfIndex(in.op)])
}

// execMOVHLPS: low quadword of V = high quadword of W.
func execMOVHLPS(c *CPU, in *Inst) {
	c.sseEnter()
	c.FPU.XMM[in.reg][0] = c.FPU.XMM[in.rm][1]
}

// execMOVLHPS: high quadword of V = low quadword of W.
func execMOVLHPS(c *CPU, in *Inst) {
	c.sseEnter()
	c.FPU.XMM[in.reg][1] = c.FPU.XMM[in.rm][0]
}

// execMOVSxDUP: MOVSLDUP duplicates the even doublewords, MOVSHDUP the odd.
func execMOVSxDUP(c *CPU, in *Inst) {
	c.sseEnter()
	s := c.readW(in)
	sh := 0
	if in.op == OpMOVSHDUP {
		sh = 32
	}
	for i := range s {
		d := s[i] >> sh & 0xFFFFFFFF
		s[i] = d | d<<32
	}
	c.FPU.XMM[in.reg] = s
}

// execMOVDDUP: both quadwords of V = the low quadword of W (or m64).
func execMOVDDUP(c *CPU, in *Inst) {
	c.sseEnter()
	q := c.readW64(in)
	c.FPU.XMM[in.reg] = XMM{q, q}
}

// execMOVMSK: G = the sign bits of W's lanes (MOVMSKPS doublewords,
// MOVMSKPD quadwords, PMOVMSKB bytes), zero-extended.
func execMOVMSK(c *CPU, in *Inst) {
	c.sseEnter()
	s := &c.FPU.XMM[in.rm]
	var m uint64
	switch in.op {
	case OpMOVMSKPS:
		m = s[0]>>31&1 | s[0]>>62&2 | s[1]>>29&4 | s[1]>>60&8
	case OpMOVMSKPD:
		m = s[0]>>63 | s[1]>>63<<1
	default:
		m = byteSigns(s[0]) | byteSigns(s[1])<<8
	}
	c.R[in.reg] = m
}

// byteSigns gathers the top bits of the eight bytes of x into bits 0-7:
// each byte's bit lands at 56+i in the product and no two partial products
// overlap, so nothing carries.
func byteSigns(x uint64) uint64 {
	return (x >> 7 & 0x0101010101010101) * 0x0102040810204080 >> 56
}

// mmxXMMForms are the handlers of MOVD or MOVQ by operand form: an MMX
// load (PQ) or store (QP), an XMM store (WV) and an XMM load (the others).
type mmxXMMForms struct{ mmxLoad, mmxStore, store, load handler }

var (
	movdForms = mmxXMMForms{execMMXMOVDLoad, execMMXMOVDStore, execMOVDStore, execMOVDLoad}
	movqForms = mmxXMMForms{execMMXMOVQLoad, execMMXStore, execMOVQStore, execMOVQLoad}
)

// pick returns the handler for in's operand form.
func (f *mmxXMMForms) pick(in *Inst) handler {
	switch in.form {
	case formPQ:
		return f.mmxLoad
	case formQP:
		return f.mmxStore
	case formWV:
		return f.store
	}
	return f.load
}

// execMOVDLoad: MOVD/MOVQ xmm, r/m32/64 (66 0F 6E): zero-extended to 128.
func execMOVDLoad(c *CPU, in *Inst) {
	c.sseEnter()
	c.FPU.XMM[in.reg] = XMM{c.readE(in), 0}
}

// execMOVDStore: MOVD/MOVQ r/m32/64, xmm (66 0F 7E).
func execMOVDStore(c *CPU, in *Inst) {
	c.sseEnter()
	c.writeE(in, c.FPU.XMM[in.reg][0]&sizeMask(in.osz))
}

// execMOVQLoad: MOVQ xmm, xmm/m64 (F3 0F 7E): the upper quadword is zeroed.
func execMOVQLoad(c *CPU, in *Inst) {
	c.sseEnter()
	c.FPU.XMM[in.reg] = XMM{c.readW64(in), 0}
}

// execMOVQStore: MOVQ xmm/m64, xmm (66 0F D6); a register destination's
// upper quadword is zeroed.
func execMOVQStore(c *CPU, in *Inst) {
	c.sseEnter()
	v := c.FPU.XMM[in.reg][0]
	if in.mod == 3 {
		c.FPU.XMM[in.rm] = XMM{v, 0}
		return
	}
	c.write64(c.ea(in), v)
}

// execMASKMOVDQU stores the bytes of V whose mask byte in W has its top bit
// set to seg:rDI.
func execMASKMOVDQU(c *CPU, in *Inst) {
	c.sseEnter()
	v, m := c.FPU.XMM[in.reg], c.FPU.XMM[in.rm]
	base := c.strReg(in, RDI) + c.segBase64[in.seg]
	for i := range 16 {
		if m.lane(i, 1)&0x80 != 0 {
			c.write8(base+uint64(i), uint8(v.lane(i, 1)))
		}
	}
}

// extractWidth returns the lane width in bytes of PEXTRB/W/D/Q and
// EXTRACTPS.
func extractWidth(in *Inst) int {
	switch in.op {
	case OpPEXTRB, OpPINSRB:
		return 1
	case OpPEXTRW, OpPINSRW:
		return 2
	case OpPEXTRD, OpPINSRD:
		return int(in.osz)
	}
	return 4
}

// execExtract: PEXTRB/W/D/Q, EXTRACTPS: W (a general register, zero-extended
// to 64 bits, or memory of the lane's size) = lane imm8 of V. 0F C5 PEXTRW
// writes G from the XMM register W instead.
func execExtract(c *CPU, in *Inst) {
	c.sseEnter()
	w := extractWidth(in)
	n := 16 / w
	if in.opcode == 0x1C5 {
		c.R[in.reg] = c.FPU.XMM[in.rm].lane(int(in.imm)&(n-1), w)
		return
	}
	v := c.FPU.XMM[in.reg].lane(int(in.imm)&(n-1), w)
	if in.mod == 3 {
		c.R[in.rm] = v
		return
	}
	c.writeN(c.ea(in), uint8(w), v)
}

// execInsert: PINSRB/W/D/Q: lane imm8 of V = the low bits of a general
// register or memory of the lane's size.
func execInsert(c *CPU, in *Inst) {
	c.sseEnter()
	w := extractWidth(in)
	var v uint64
	if in.mod == 3 {
		v = c.R[in.rm]
	} else {
		v = c.readN(c.ea(in), uint8(w))
	}
	c.FPU.XMM[in.reg].setLane(int(in.imm)&(16/w-1), w, v)
}

// execINSERTPS inserts a doubleword (from W's lane imm8[7:6], or m32) at
// lane imm8[5:4] of V, then zeroes the lanes set in imm8[3:0].
func execINSERTPS(c *CPU, in *Inst) {
	c.sseEnter()
	var v uint64
	if in.mod == 3 {
		v = c.FPU.XMM[in.rm].lane(int(in.imm>>6&3), 4)
	} else {
		v = uint64(c.read32(c.ea(in)))
	}
	d := &c.FPU.XMM[in.reg]
	d.setLane(int(in.imm>>4&3), 4, v)
	for i := range 4 {
		if in.imm>>i&1 != 0 {
			d.setLane(i, 4, 0)
		}
	}
}

// pmovxWidths gives, for PMOVSXBW..PMOVZXDQ in Op order, the source and
// destination lane widths.
var pmovxWidths = [6][2]int{{1, 2}, {1, 4}, {1, 8}, {2, 4}, {2, 8}, {4, 8}}

// execPMOVX: PMOVSX*/PMOVZX*: sign- or zero-extend the low lanes of W (a
// register, or unaligned memory of just the bytes used) into V's wider lanes.
func execPMOVX(c *CPU, in *Inst) {
	c.sseEnter()
	k := int(in.op - OpPMOVSXBW)
	signed := k < 6
	ws := pmovxWidths[k%6]
	from, to := ws[0], ws[1]
	n := 16 / to
	var s XMM
	if in.mod == 3 {
		s = c.FPU.XMM[in.rm]
	} else {
		s[0] = c.readN(c.ea(in), uint8(n*from))
	}
	var d XMM
	for i := range n {
		v := s.lane(i, from)
		if signed {
			v = signExtend(v, uint8(from))
		}
		d.setLane(i, to, v)
	}
	c.FPU.XMM[in.reg] = d
}
