package cpu

import (
	"hash/crc32"
	"math/bits"
)

// SSE4.2 string comparisons (PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM,
// SDM Vol. 2 §4.1) and CRC32.

func init() {
	for _, op := range []Op{OpPCMPESTRI, OpPCMPESTRM, OpPCMPISTRI, OpPCMPISTRM} {
		binders[op] = always(execPCMPSTR)
	}
	binders[OpCRC32] = always(execCRC32)
}

// strElem returns element i of x in the imm8[1:0] format: unsigned or signed
// bytes or words, as an int.
func strElem(x *XMM, i int, imm uint64) int {
	w := 1 + int(imm&1)
	v := x.lane(i, w)
	if imm&2 != 0 {
		return int(int64(signExtend(v, uint8(w))))
	}
	return int(v)
}

// implicitLen returns the index of x's first zero element (n if none).
func implicitLen(x *XMM, n int, imm uint64) int {
	w := 1 + int(imm&1)
	for i := range n {
		if x.lane(i, w) == 0 {
			return i
		}
	}
	return n
}

// explicitLen returns |r| (r read at operand size osz) saturated to n.
func explicitLen(r uint64, osz uint8, n int) int {
	v := int64(signExtend(r, osz))
	if v < 0 {
		if v < -int64(n) {
			return n
		}
		return int(-v)
	}
	return int(min(v, int64(n)))
}

// pcmpstr computes IntRes2 of a string comparison of a (length la) with b
// (length lb), n elements each.
func pcmpstr(a, b *XMM, la, lb, n int, imm uint64) uint32 {
	var res uint32
	switch imm >> 2 & 3 {
	case 0: // equal any
		for j := range lb {
			bj := strElem(b, j, imm)
			for i := range la {
				if strElem(a, i, imm) == bj {
					res |= 1 << j
					break
				}
			}
		}
	case 1: // ranges
		for j := range lb {
			bj := strElem(b, j, imm)
			for i := 0; i+1 < la; i += 2 {
				if strElem(a, i, imm) <= bj && bj <= strElem(a, i+1, imm) {
					res |= 1 << j
					break
				}
			}
		}
	case 2: // equal each
		for i := range n {
			switch {
			case i >= la && i >= lb:
				res |= 1 << i
			case i < la && i < lb && strElem(a, i, imm) == strElem(b, i, imm):
				res |= 1 << i
			}
		}
	case 3: // equal ordered
		for j := range n {
			match := true
			for k := 0; k < n-j && k < la; k++ {
				if j+k >= lb || strElem(a, k, imm) != strElem(b, j+k, imm) {
					match = false
					break
				}
			}
			if match {
				res |= 1 << j
			}
		}
	}
	all := uint32(1)<<n - 1
	switch imm >> 4 & 3 {
	case 1:
		res ^= all
	case 3:
		res ^= uint32(1)<<lb - 1
	}
	return res & all
}

// execPCMPSTR implements the four string comparisons: V is the first
// operand, W (unaligned memory allowed) the second; explicit lengths come
// from rAX and rDX. The I forms write the index to ECX, the M forms the
// mask to XMM0; all set CF, ZF, SF and OF and clear AF and PF.
func execPCMPSTR(c *CPU, in *Inst) {
	c.sseEnter()
	b := c.readWU(in)
	a := c.FPU.XMM[in.reg]
	imm := in.imm
	n := 16
	if imm&1 != 0 {
		n = 8
	}
	var la, lb int
	if in.op == OpPCMPESTRI || in.op == OpPCMPESTRM {
		la, lb = explicitLen(c.R[RAX], in.osz, n), explicitLen(c.R[RDX], in.osz, n)
	} else {
		la, lb = implicitLen(&a, n, imm), implicitLen(&b, n, imm)
	}
	res := pcmpstr(&a, &b, la, lb, n, imm)
	if in.op == OpPCMPESTRI || in.op == OpPCMPISTRI {
		idx := n
		if res != 0 {
			if imm&0x40 != 0 {
				idx = 31 - bits.LeadingZeros32(res)
			} else {
				idx = bits.TrailingZeros32(res)
			}
		}
		c.R[RCX] = uint64(idx)
	} else {
		var m XMM
		if imm&0x40 == 0 {
			m[0] = uint64(res)
		} else {
			w := 16 / n
			for i := range n {
				if res>>i&1 != 0 {
					m.setLane(i, w, ^uint64(0))
				}
			}
		}
		c.FPU.XMM[0] = m
	}
	var f uint64
	if res != 0 {
		f |= FlagCF
	}
	if lb < n {
		f |= FlagZF
	}
	if la < n {
		f |= FlagSF
	}
	if res&1 != 0 {
		f |= FlagOF
	}
	c.setStatus(FlagsArith, f)
}

// crc32cTables are the slicing-by-8 tables of the CRC-32C (Castagnoli)
// polynomial CRC32 uses: [0] is the byte-at-a-time table, [k][i] the CRC of
// byte i followed by k zero bytes.
var crc32cTables = func() (t [8][256]uint32) {
	t[0] = *crc32.MakeTable(crc32.Castagnoli)
	for k := 1; k < 8; k++ {
		for i := range 256 {
			p := t[k-1][i]
			t[k][i] = p>>8 ^ t[0][byte(p)]
		}
	}
	return
}()

// execCRC32 accumulates the CRC-32C of the source (8 to 64 bits) into the
// low 32 bits of G, without pre- or post-inversion; the 32-bit result is
// zero-extended.
func execCRC32(c *CPU, in *Inst) {
	v := c.readE(in)
	crc := uint32(c.R[in.reg])
	t := &crc32cTables
	if in.osz == 8 {
		lo, hi := crc^uint32(v), uint32(v>>32)
		crc = t[7][byte(lo)] ^ t[6][byte(lo>>8)] ^ t[5][byte(lo>>16)] ^ t[4][lo>>24] ^
			t[3][byte(hi)] ^ t[2][byte(hi>>8)] ^ t[1][byte(hi>>16)] ^ t[0][hi>>24]
	} else {
		for i := range in.osz {
			crc = t[0][byte(crc)^byte(v>>(8*i))] ^ crc>>8
		}
	}
	c.R[in.reg] = uint64(crc)
}
