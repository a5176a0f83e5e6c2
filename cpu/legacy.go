package cpu

// Instructions that exist only outside 64-bit mode: PUSHA/POPA, the BCD
// adjustments, SALC, INTO, BOUND, ARPL, LES/LDS and the direct far JMP and
// CALL (ptr16:16/32).

func init() {
	bindFixed(map[Op]handler{
		OpPUSHA: execPUSHA, OpPOPA: execPOPA, OpDAA: execDAA, OpDAS: execDAS, OpAAA: execAAA,
		OpAAS: execAAS, OpAAM: execAAM, OpAAD: execAAD, OpSALC: execSALC, OpINTO: execINTO,
		OpBOUND: execBOUND, OpARPL: execARPL, OpLES: execLES, OpLDS: execLDS,
	})
}

// ---- PUSHA, POPA ----

// execPUSHA pushes rAX, rCX, rDX, rBX, the original rSP, rBP, rSI and rDI.
// The whole area is checked before anything is written.
func execPUSHA(c *CPU, in *Inst) {
	sz := uint64(in.osz)
	sp := c.R[RSP]
	c.probeWrite(c.stackAddr(0-8*sz), int(8*sz))
	for r := uint8(RAX); r <= RDI; r++ {
		v := c.R[r]
		if r == RSP {
			v = sp
		}
		c.push(in.osz, v)
	}
}

// execPOPA pops rDI, rSI, rBP, (skipped), rBX, rDX, rCX and rAX.
func execPOPA(c *CPU, in *Inst) {
	sz := uint64(in.osz)
	var vals [8]uint64
	for i := range vals {
		vals[i] = c.readN(c.stackAddr(uint64(i)*sz), in.osz)
	}
	for i, v := range vals {
		if r := uint8(RDI - i); r != RSP {
			c.setReg(r, in.osz, false, v)
		}
	}
	c.R[RSP] = c.R[RSP]&^c.stackMask | (c.R[RSP]+8*sz)&c.stackMask
}

// ---- BCD adjustments, SALC ----

// decimalAdjust implements DAA (sub false) and DAS (sub true) on AL. OF is
// undefined; it is cleared.
func (c *CPU) decimalAdjust(sub bool) {
	f := c.flags()
	al := uint8(c.R[RAX])
	oldAL, oldCF := al, f&FlagCF != 0
	cf, af := false, false
	if al&0xF > 9 || f&FlagAF != 0 {
		if sub {
			cf = oldCF || al < 6
			al -= 6
		} else {
			cf = oldCF || al > 0xF9
			al += 6
		}
		af = true
	}
	if oldAL > 0x99 || oldCF {
		if sub {
			al -= 0x60
		} else {
			al += 0x60
		}
		cf = true
	}
	c.setReg(RAX, 1, false, uint64(al))
	c.setAllStatus(szpFlags(uint64(al), 1) | b2f(cf, FlagCF) | b2f(af, FlagAF))
}

func execDAA(c *CPU, in *Inst) { c.decimalAdjust(false) }
func execDAS(c *CPU, in *Inst) { c.decimalAdjust(true) }

// asciiAdjust implements AAA (sub false) and AAS (sub true): AX is adjusted
// by 0x106 (or -0x106) when AL's low digit is over 9 or AF is set; CF and AF
// tell whether it was. OF, SF, ZF and PF are undefined; they are cleared.
func (c *CPU) asciiAdjust(sub bool) {
	f := c.flags()
	ax := uint16(c.R[RAX])
	adj := ax&0xF > 9 || f&FlagAF != 0
	if adj {
		if sub {
			ax = (ax-6)&0xFF | (ax&0xFF00 - 0x100)
		} else {
			ax += 0x106
		}
	}
	c.setReg(RAX, 2, false, uint64(ax&0xFF0F))
	c.setAllStatus(b2f(adj, FlagCF|FlagAF))
}

func execAAA(c *CPU, in *Inst) { c.asciiAdjust(false) }
func execAAS(c *CPU, in *Inst) { c.asciiAdjust(true) }

// execAAM divides AL by imm8: AH = quotient, AL = remainder (#DE for 0).
func execAAM(c *CPU, in *Inst) {
	base := uint8(in.imm)
	if base == 0 {
		c.raise(VecDE, 0)
	}
	al := uint8(c.R[RAX])
	r := uint64(al/base)<<8 | uint64(al%base)
	c.setReg(RAX, 2, false, r)
	c.setAllStatus(szpFlags(r&0xFF, 1))
}

// execAAD sets AL = AL + AH*imm8 and AH = 0.
func execAAD(c *CPU, in *Inst) {
	ax := uint16(c.R[RAX])
	al := uint8(ax) + uint8(ax>>8)*uint8(in.imm)
	c.setReg(RAX, 2, false, uint64(al))
	c.setAllStatus(szpFlags(uint64(al), 1))
}

// execSALC sets AL to 0xFF if CF is set, else 0.
func execSALC(c *CPU, in *Inst) {
	c.setReg(RAX, 1, false, uint64(-b2f(c.cf(), 1)&0xFF))
}

// ---- INTO, BOUND, ARPL ----

// execINTO raises the overflow trap (#OF, vector 4) when OF is set.
func execINTO(c *CPU, in *Inst) {
	if c.of() {
		c.softInterrupt(in, VecOF)
	}
}

// execBOUND raises #BR unless the signed register operand lies within the
// bounds at the memory operand (lower, then upper).
func execBOUND(c *CPU, in *Inst) {
	a := c.ea(in)
	lo := int64(signExtend(c.readN(a, in.osz), in.osz))
	hi := int64(signExtend(c.readN(a+uint64(in.osz), in.osz), in.osz))
	v := int64(signExtend(c.readG(in), in.osz))
	if v < lo || v > hi {
		c.raise(VecBR, 0)
	}
}

// execARPL raises the RPL of the selector in E to that of G's, setting ZF
// when it did.
func execARPL(c *CPU, in *Inst) {
	w, d := c.beginRMW(in)
	s := c.readG(in)
	f := c.flags() &^ FlagZF
	if d&3 < s&3 {
		d = d&^3 | s&3
		f |= FlagZF
		c.endRMW(in, w, d)
	}
	c.setAllStatus(f)
}

// ---- LES, LDS, far pointers ----

// loadFarPointer implements LES and LDS: segment register s gets the
// selector after the offset, G the offset.
func (c *CPU) loadFarPointer(in *Inst, s int) {
	off, sel := c.readFarPointer(in)
	c.segLoadData(s, sel)
	c.writeG(in, off)
	c.endBlock(in)
}

func execLES(c *CPU, in *Inst) { c.loadFarPointer(in, ES) }
func execLDS(c *CPU, in *Inst) { c.loadFarPointer(in, DS) }
