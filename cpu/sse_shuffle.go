package cpu

// SSE shuffles, unpacks, packs, blends and byte alignment.

func init() {
	bindFixed(map[Op]handler{
		OpSHUFPS: execSHUFPS, OpSHUFPD: execSHUFPD, OpPSHUFD: execPSHUF, OpPSHUFHW: execPSHUF,
		OpPSHUFLW: execPSHUF, OpPACKUSDW: execPack,
	})
	for _, op := range []Op{OpUNPCKLPS, OpUNPCKHPS, OpUNPCKLPD, OpUNPCKHPD, OpPUNPCKLQDQ, OpPUNPCKHQDQ} {
		binders[op] = always(execUnpack)
	}
	for _, op := range []Op{OpBLENDPS, OpBLENDPD, OpPBLENDW, OpBLENDVPS, OpBLENDVPD, OpPBLENDVB} {
		binders[op] = always(execBlend)
	}
}

// execSHUFPS: doublewords 0-1 of V picked from V, 2-3 from W, by imm8.
func execSHUFPS(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	o := *d
	var r XMM
	r.setLane(0, 4, o.lane(int(in.imm)&3, 4))
	r.setLane(1, 4, o.lane(int(in.imm>>2)&3, 4))
	r.setLane(2, 4, s.lane(int(in.imm>>4)&3, 4))
	r.setLane(3, 4, s.lane(int(in.imm>>6)&3, 4))
	*d = r
}

// execSHUFPD: quadword 0 of V picked from V, quadword 1 from W, by imm8.
func execSHUFPD(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = XMM{d[in.imm&1], s[in.imm>>1&1]}
}

// execPSHUF: PSHUFD shuffles W's doublewords into V by imm8; PSHUFLW and
// PSHUFHW shuffle the low or high four words and copy the other quadword.
func execPSHUF(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	imm := in.imm
	switch in.op {
	case OpPSHUFD:
		dw := func(k uint64) uint64 { return s[k>>1&1] >> (k & 1 * 32) & 0xFFFFFFFF }
		*d = XMM{dw(imm) | dw(imm>>2)<<32, dw(imm>>4) | dw(imm>>6)<<32}
	case OpPSHUFLW:
		*d = XMM{shuffleWords(s[0], imm), s[1]}
	default:
		*d = XMM{s[0], shuffleWords(s[1], imm)}
	}
}

// shuffleWords returns the four words of q picked by the 2-bit fields of imm.
func shuffleWords(q, imm uint64) uint64 {
	w := func(k uint64) uint64 { return q >> (k & 3 * 16) & 0xFFFF }
	return w(imm) | w(imm>>2)<<16 | w(imm>>4)<<32 | w(imm>>6)<<48
}

// execPSHUFB: byte i of V = byte W[i]&15 of V, or zero if W[i] has bit 7 set.
func execPSHUFB(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = shuffleBytes(*d, s)
}

// shuffleBytes is PSHUFB on 16 bytes.
func shuffleBytes(d, s XMM) XMM {
	var r XMM
	for i := range 16 {
		if sel := s.lane(i, 1); sel&0x80 == 0 {
			r.setLane(i, 1, d.lane(int(sel&15), 1))
		}
	}
	return r
}

// execPALIGNR: V = the 32-byte concatenation V:W shifted right by imm8 bytes,
// low 16 bytes.
func execPALIGNR(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = alignBytes(*d, s, in.imm)
}

// alignBytes returns the low 16 bytes of d:s shifted right by n bytes.
func alignBytes(d, s XMM, n uint64) XMM {
	cat := [4]uint64{s[0], s[1], d[0], d[1]}
	var r XMM
	for i := range 16 {
		k := int(n) + i
		if k < 32 {
			r.setLane(i, 1, cat[k>>3]>>(k&7*8)&0xFF)
		}
	}
	return r
}

// unpackWidth returns the lane width of an unpack and whether it takes the
// high halves.
func unpackWidth(op Op) (w int, high bool) {
	switch op {
	case OpUNPCKLPS:
		return 4, false
	case OpUNPCKHPS:
		return 4, true
	case OpUNPCKLPD:
		return 8, false
	case OpUNPCKHPD:
		return 8, true
	}
	k := int(op - OpPUNPCKLBW)
	return 1 << (k & 3), k >= 4
}

// execUnpack interleaves the low (or high) lanes of V and W: V's lane i
// goes to lane 2i, W's to lane 2i+1.
func execUnpack(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	w, high := unpackWidth(in.op)
	*d = unpackLanes(*d, s, w, high)
}

// unpackLanes interleaves the low (or high) w-byte lanes of d and s.
func unpackLanes(d, s XMM, w int, high bool) XMM {
	n := 16 / w
	base := 0
	if high {
		base = n / 2
	}
	var r XMM
	for i := range n / 2 {
		r.setLane(2*i, w, d.lane(base+i, w))
		r.setLane(2*i+1, w, s.lane(base+i, w))
	}
	return r
}

// execPack narrows V's then W's signed lanes to half width with signed or
// unsigned saturation into V.
func execPack(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	*d = packLanes(*d, s, in.op)
}

// packLanes narrows d's then s's signed lanes with saturation (op names the
// widths and the saturation).
func packLanes(d, s XMM, op Op) XMM {
	w := 2
	if op == OpPACKSSDW || op == OpPACKUSDW {
		w = 4
	}
	n := 16 / w
	var r XMM
	for i, src := range [2]*XMM{&d, &s} {
		for j := range n {
			v := int(int64(signExtend(src.lane(j, w), uint8(w))))
			var x uint64
			switch op {
			case OpPACKSSWB:
				x = uint64(uint8(satI8(v)))
			case OpPACKSSDW:
				x = uint64(uint16(satI16(v)))
			case OpPACKUSWB:
				x = uint64(satU8(v))
			default:
				x = uint64(satU16(v))
			}
			r.setLane(i*n+j, w/2, x)
		}
	}
	return r
}

// execBlend: each lane of V is replaced by W's where the selector says:
// imm8 bit i (BLENDPS, BLENDPD, PBLENDW) or the top bit of XMM0's lane
// (BLENDVPS, BLENDVPD, PBLENDVB).
func execBlend(c *CPU, in *Inst) {
	d, s := c.xmmBinary(in)
	var w int
	switch in.op {
	case OpBLENDPS, OpBLENDVPS:
		w = 4
	case OpBLENDPD, OpBLENDVPD:
		w = 8
	case OpPBLENDW:
		w = 2
	default:
		w = 1
	}
	imm := in.op == OpBLENDPS || in.op == OpBLENDPD || in.op == OpPBLENDW
	mask := c.FPU.XMM[0]
	for i := range 16 / w {
		var take bool
		if imm {
			take = in.imm>>i&1 != 0
		} else {
			take = mask.lane(i, w)>>(8*w-1) != 0
		}
		if take {
			d.setLane(i, w, s.lane(i, w))
		}
	}
}
