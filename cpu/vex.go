package cpu

// VEX-encoded instructions. The VEX prefix (C4 three-byte, C5 two-byte)
// carries REX.RXBW inverted, the opcode map, a second source register (vvvv),
// the vector length L and an implied 66/F3/F2 prefix (pp). Only the BMI1
// general-purpose group is implemented; every other VEX encoding decodes as
// invalid (#UD).

// vexEntry is a VEX opcode-table entry of map 0F38 with pp = none.
type vexEntry struct {
	op   Op
	form form // formGE: G = op(vvvv, E); formE: vvvv = op(E), ModRM.reg selects (group 17)
}

// vex0F38 is the VEX map 0F38 for pp = none (BMI1).
var vex0F38 = map[byte]vexEntry{
	0xF2: {OpANDN, formGE},
	0xF3: {OpBLSGroup, formE},
	0xF7: {OpBEXTR, formGE},
}

// decodeVEX decodes the rest of a VEX instruction whose first byte, at
// code[i-1], is C4 or C5, in code of size mode. Legacy 66/F2/F3/LOCK or REX
// prefixes before VEX make it invalid. Outside 64-bit mode VEX.R and VEX.X
// are 1 (what makes it VEX), VEX.B, VEX.W (for the BMI1 group) and the top
// bit of VEX.vvvv are ignored.
func decodeVEX(in *Inst, code []byte, i int, first byte, rip uint64, mode CodeSize) error {
	need := func(n int) error {
		if i+n > maxInstLen {
			return errTooLong
		}
		if i+n > len(code) {
			return errNeedMore
		}
		return nil
	}
	var rex byte
	var mmmmm, pp, vvvv byte
	var l bool
	if first == 0xC5 {
		if err := need(1); err != nil {
			return err
		}
		b1 := code[i]
		i++
		rex = ^b1 >> 5 & 4 // R
		mmmmm = 1
		vvvv = ^b1 >> 3 & 0xF
		l = b1&4 != 0
		pp = b1 & 3
	} else {
		if err := need(2); err != nil {
			return err
		}
		b1, b2 := code[i], code[i+1]
		i += 2
		rex = ^b1 >> 5 & 7 // R X B, in REX bit order
		rex |= b2 >> 4 & 8 // W
		mmmmm = b1 & 0x1F
		vvvv = ^b2 >> 3 & 0xF
		l = b2&4 != 0
		pp = b2 & 3
	}
	if mode != Code64 {
		rex, vvvv = 0, vvvv&7
	}
	if err := need(1); err != nil {
		return err
	}
	op := code[i]
	i++
	in.opcode = 0x200 | uint16(op)
	if mmmmm == 1 && op == 0x77 {
		// VZEROUPPER/VZEROALL, the one VEX opcode without ModRM: not implemented.
		in.len, in.next = uint8(i), rip+uint64(i)
		in.op = OpInvalid
		in.prefix |= pfxEndsBlock
		return nil
	}
	if err := need(1); err != nil {
		return err
	}
	in.modrm = true
	m := code[i]
	i++
	in.mod = m >> 6
	in.reg = m>>3&7 | rex<<1&8
	in.rm = m & 7
	if in.mod == 3 {
		in.rm |= rex << 3 & 8
	} else if err := decodeMem(in, code, &i, rex, mode); err != nil {
		return err
	}
	in.vreg = vvvv
	in.osz = 4
	if rex&8 != 0 {
		in.osz = 8
		in.prefix |= pfxRexW
	}
	in.len = uint8(i)
	in.next = rip + uint64(i)
	in.fixRIPRelative()

	ent, ok := vex0F38[op]
	switch {
	case in.prefix&(pfxOpsize|pfxRep|pfxRepne|pfxLock|pfxRex) != 0, mmmmm != 2, pp != 0, l, !ok:
		in.op = OpInvalid
		in.prefix |= pfxEndsBlock
		return nil
	}
	in.op, in.form = ent.op, ent.form
	if ent.op == OpBLSGroup {
		switch m >> 3 & 7 {
		case 1:
			in.op = OpBLSR
		case 2:
			in.op = OpBLSMSK
		case 3:
			in.op = OpBLSI
		default:
			in.op = OpInvalid
			in.prefix |= pfxEndsBlock
		}
	}
	return nil
}

// fixRIPRelative turns a RIP-relative memory operand into an absolute one,
// once the instruction's length is known.
func (in *Inst) fixRIPRelative() {
	if in.base == regRIP {
		in.base = regZero
		in.disp += in.next
		if in.asz == 4 {
			in.disp &= 0xFFFFFFFF
		}
	}
}

func init() {
	bindFixed(map[Op]handler{
		OpANDN: execANDN, OpBEXTR: execBEXTR, OpBLSR: execBLS, OpBLSMSK: execBLS, OpBLSI: execBLS,
	})
}

// setBMIFlags sets the flags of the BMI1 logic instructions: SF and ZF from
// the result, CF as given, OF cleared; AF and PF are undefined (cleared, as
// Intel CPUs do).
func (c *CPU) setBMIFlags(in *Inst, r uint64, cf bool) {
	var f uint64
	if r == 0 {
		f |= FlagZF
	}
	if r>>(8*uint64(in.osz)-1)&1 != 0 {
		f |= FlagSF
	}
	if cf {
		f |= FlagCF
	}
	c.setStatus(FlagsArith, f)
}

// execANDN: G = ~vvvv & E.
func execANDN(c *CPU, in *Inst) {
	r := ^c.getReg(in.vreg, in.osz, false) & c.readE(in) & sizeMask(in.osz)
	c.setBMIFlags(in, r, false)
	c.setReg(in.reg, in.osz, false, r)
}

// execBEXTR: G = bit field of E starting at vvvv[7:0], vvvv[15:8] bits long.
func execBEXTR(c *CPU, in *Inst) {
	ctl := c.getReg(in.vreg, in.osz, false)
	src := c.readE(in)
	width := uint64(in.osz) * 8
	start, n := ctl&0xFF, ctl>>8&0xFF
	var r uint64
	if start < width {
		r = src >> start
		if n < 64 {
			r &= 1<<n - 1
		}
	}
	r &= sizeMask(in.osz)
	c.setBMIFlags(in, r, false)
	c.setStatus(FlagSF, 0)
	c.setReg(in.reg, in.osz, false, r)
}

// execBLS implements BLSR (x & (x-1)), BLSMSK (x ^ (x-1)) and BLSI (x & -x),
// writing vvvv.
func execBLS(c *CPU, in *Inst) {
	src := c.readE(in)
	mask := sizeMask(in.osz)
	var r uint64
	var cf bool
	switch in.op {
	case OpBLSR:
		r, cf = src&(src-1)&mask, src == 0
	case OpBLSMSK:
		r, cf = (src^(src-1))&mask, src == 0
	default:
		r, cf = src&-src&mask, src != 0
	}
	c.setBMIFlags(in, r, cf)
	c.setReg(in.vreg, in.osz, false, r)
}
