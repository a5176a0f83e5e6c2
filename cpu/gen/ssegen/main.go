// Command ssegen generates the lane-wise SSE integer and logic handlers of
// package cpu (sse_gen.go): one handler per instruction that applies
// an expression to each lane of the destination and source XMM operands,
// unrolled over the lanes (the lane function is small enough to inline).
//
//	go generate ./cpu/
package main

import (
	"fmt"
	"regexp"
	"strings"

	"ftvm/cpu/gen/genfile"
)

// laneOp is one lane-wise instruction. Its expression is written over a (the
// destination's lane) and b (the source's lane), both of the lane type, and
// yields a value converted to the unsigned lane type.
type laneOp struct {
	name   string // instruction mnemonic, upper case; the Op is "Op"+name
	bits   int    // lane width: 8, 16, 32 or 64
	signed bool   // a and b are signed
	expr   string
	doc    string
}

// ops is the instruction list (SDM Vol. 2 for each mnemonic).
var ops = []laneOp{
	{"PADDB", 8, false, "a + b", "add packed bytes"},
	{"PADDW", 16, false, "a + b", "add packed words"},
	{"PADDD", 32, false, "a + b", "add packed doublewords"},
	{"PADDQ", 64, false, "a + b", "add packed quadwords"},
	{"PSUBB", 8, false, "a - b", "subtract packed bytes"},
	{"PSUBW", 16, false, "a - b", "subtract packed words"},
	{"PSUBD", 32, false, "a - b", "subtract packed doublewords"},
	{"PSUBQ", 64, false, "a - b", "subtract packed quadwords"},
	{"PADDSB", 8, true, "satI8(int(a) + int(b))", "add packed signed bytes with signed saturation"},
	{"PADDSW", 16, true, "satI16(int(a) + int(b))", "add packed signed words with signed saturation"},
	{"PADDUSB", 8, false, "satU8(int(a) + int(b))", "add packed unsigned bytes with unsigned saturation"},
	{"PADDUSW", 16, false, "satU16(int(a) + int(b))", "add packed unsigned words with unsigned saturation"},
	{"PSUBSB", 8, true, "satI8(int(a) - int(b))", "subtract packed signed bytes with signed saturation"},
	{"PSUBSW", 16, true, "satI16(int(a) - int(b))", "subtract packed signed words with signed saturation"},
	{"PSUBUSB", 8, false, "satU8(int(a) - int(b))", "subtract packed unsigned bytes with unsigned saturation"},
	{"PSUBUSW", 16, false, "satU16(int(a) - int(b))", "subtract packed unsigned words with unsigned saturation"},
	{"PMULLW", 16, false, "a * b", "low 16 bits of packed word products"},
	{"PMULLD", 32, false, "a * b", "low 32 bits of packed doubleword products"},
	{"PMULHW", 16, true, "(int32(a) * int32(b)) >> 16", "high 16 bits of packed signed word products"},
	{"PMULHUW", 16, false, "(uint32(a) * uint32(b)) >> 16", "high 16 bits of packed unsigned word products"},
	{"PMULHRSW", 16, true, "(int32(a)*int32(b) + 0x4000) >> 15",
		"packed signed word products, rounded and scaled to bits 30:15"},
	{"PMULUDQ", 64, false, "uint64(uint32(a)) * uint64(uint32(b))",
		"unsigned products of the even doublewords as quadwords"},
	{"PMULDQ", 64, true, "int64(int32(a)) * int64(int32(b))",
		"signed products of the even doublewords as quadwords"},
	{"PAVGB", 8, false, "(uint(a) + uint(b) + 1) >> 1", "rounded average of packed unsigned bytes"},
	{"PAVGW", 16, false, "(uint(a) + uint(b) + 1) >> 1", "rounded average of packed unsigned words"},
	{"PMINUB", 8, false, "min(a, b)", "minimum of packed unsigned bytes"},
	{"PMINSB", 8, true, "min(a, b)", "minimum of packed signed bytes"},
	{"PMINUW", 16, false, "min(a, b)", "minimum of packed unsigned words"},
	{"PMINSW", 16, true, "min(a, b)", "minimum of packed signed words"},
	{"PMINUD", 32, false, "min(a, b)", "minimum of packed unsigned doublewords"},
	{"PMINSD", 32, true, "min(a, b)", "minimum of packed signed doublewords"},
	{"PMAXUB", 8, false, "max(a, b)", "maximum of packed unsigned bytes"},
	{"PMAXSB", 8, true, "max(a, b)", "maximum of packed signed bytes"},
	{"PMAXUW", 16, false, "max(a, b)", "maximum of packed unsigned words"},
	{"PMAXSW", 16, true, "max(a, b)", "maximum of packed signed words"},
	{"PMAXUD", 32, false, "max(a, b)", "maximum of packed unsigned doublewords"},
	{"PMAXSD", 32, true, "max(a, b)", "maximum of packed signed doublewords"},
	{"PCMPEQB", 8, false, "laneMask[uint8](a == b)", "compare packed bytes for equality"},
	{"PCMPEQW", 16, false, "laneMask[uint16](a == b)", "compare packed words for equality"},
	{"PCMPEQD", 32, false, "laneMask[uint32](a == b)", "compare packed doublewords for equality"},
	{"PCMPEQQ", 64, false, "laneMask[uint64](a == b)", "compare packed quadwords for equality"},
	{"PCMPGTB", 8, true, "laneMask[uint8](a > b)", "compare packed signed bytes for greater than"},
	{"PCMPGTW", 16, true, "laneMask[uint16](a > b)", "compare packed signed words for greater than"},
	{"PCMPGTD", 32, true, "laneMask[uint32](a > b)", "compare packed signed doublewords for greater than"},
	{"PCMPGTQ", 64, true, "laneMask[uint64](a > b)", "compare packed signed quadwords for greater than"},
	{"PSIGNB", 8, true, "signLane(a, b)", "negate, zero or keep packed bytes by the source's sign"},
	{"PSIGNW", 16, true, "signLane(a, b)", "negate, zero or keep packed words by the source's sign"},
	{"PSIGND", 32, true, "signLane(a, b)", "negate, zero or keep packed doublewords by the source's sign"},
	{"PABSB", 8, true, "absLane(b)", "absolute value of packed signed bytes"},
	{"PABSW", 16, true, "absLane(b)", "absolute value of packed signed words"},
	{"PABSD", 32, true, "absLane(b)", "absolute value of packed signed doublewords"},
	{"PAND", 64, false, "a & b", "bitwise AND"},
	{"PANDN", 64, false, "^a & b", "bitwise AND NOT of the destination"},
	{"POR", 64, false, "a | b", "bitwise OR"},
	{"PXOR", 64, false, "a ^ b", "bitwise XOR"},
	{"ANDPS", 64, false, "a & b", "bitwise AND of packed single-precision values"},
	{"ANDPD", 64, false, "a & b", "bitwise AND of packed double-precision values"},
	{"ANDNPS", 64, false, "^a & b", "bitwise AND NOT of packed single-precision values"},
	{"ANDNPD", 64, false, "^a & b", "bitwise AND NOT of packed double-precision values"},
	{"ORPS", 64, false, "a | b", "bitwise OR of packed single-precision values"},
	{"ORPD", 64, false, "a | b", "bitwise OR of packed double-precision values"},
	{"XORPS", 64, false, "a ^ b", "bitwise XOR of packed single-precision values"},
	{"XORPD", 64, false, "a ^ b", "bitwise XOR of packed double-precision values"},
}

// mmxOps are the instructions that also have an MMX form (no prefix, MMX
// registers): one quadword of the same lanes.
var mmxOps = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`PADDB PADDW PADDD PADDQ PSUBB PSUBW PSUBD PSUBQ PADDSB PADDSW PADDUSB
		PADDUSW PSUBSB PSUBSW PSUBUSB PSUBUSW PMULLW PMULHW PMULHUW PMULHRSW PMULUDQ PAVGB PAVGW PMINUB
		PMINSW PMAXUB PMAXSW PCMPEQB PCMPEQW PCMPEQD PCMPGTB PCMPGTW PCMPGTD PSIGNB PSIGNW PSIGND PABSB
		PABSW PABSD PAND PANDN POR PXOR`) {
		mmxOps[n] = true
	}
}

// usesA matches an expression that reads the destination lane.
var usesA = regexp.MustCompile(`\ba\b`)

func laneType(bits int, signed bool) string {
	if signed {
		return fmt.Sprintf("int%d", bits)
	}
	return fmt.Sprintf("uint%d", bits)
}

func main() {
	genfile.Main("ssegen (cpu/gen/ssegen)", "cpu", func(f *genfile.File) {
		f.P("func init() {")
		for _, o := range ops {
			if mmxOps[o.name] {
				f.P("\tbinders[Op%s] = sseOrMMX(exec%s, execMMX%s)", o.name, o.name, o.name)
			} else {
				f.P("\tbinders[Op%s] = always(exec%s)", o.name, o.name)
			}
		}
		f.P("}")
		for _, o := range ops {
			t, u := laneType(o.bits, o.signed), laneType(o.bits, false)
			unary := !usesA.MatchString(o.expr)
			lane := "lane" + o.name
			f.P("")
			f.P("// %s is %s on one lane.", lane, o.name)
			if unary {
				f.P("func %s(b %s) %s { return %s(%s) }", lane, t, u, u, o.expr)
			} else {
				f.P("func %s(a, b %s) %s { return %s(%s) }", lane, t, u, u, o.expr)
			}
			f.P("")
			f.P("// exec%s implements %s: %s.", o.name, o.name, o.doc)
			f.P("func exec%s(c *CPU, in *Inst) {", o.name)
			f.P("\td, s := c.xmmLanes(in)")
			for q := 0; q < 2; q++ {
				f.P("\td[%d] = %s", q, quadword(o, lane, fmt.Sprintf("d[%d]", q), fmt.Sprintf("s[%d]", q)))
			}
			f.P("}")
			if mmxOps[o.name] {
				f.P("")
				f.P("// execMMX%s implements %s on MMX registers.", o.name, o.name)
				f.P("func execMMX%s(c *CPU, in *Inst) {", o.name)
				if unary {
					f.P("\t_, s := c.mmxBinary(in)")
				} else {
					f.P("\td, s := c.mmxBinary(in)")
				}
				f.P("\tc.setMM(in.reg, %s)", quadword(o, lane, "d", "s"))
				f.P("}")
			}
		}
	})
}

// quadword returns the expression applying lane to every lane of the
// quadwords x (destination) and y (source).
func quadword(o laneOp, lane, x, y string) string {
	t := laneType(o.bits, o.signed)
	unary := !usesA.MatchString(o.expr)
	var terms []string
	for sh := 0; sh < 64; sh += o.bits {
		a, b := x, y
		if sh > 0 {
			a, b = fmt.Sprintf("%s>>%d", x, sh), fmt.Sprintf("%s>>%d", y, sh)
		}
		call := fmt.Sprintf("%s(%s(%s), %s(%s))", lane, t, a, t, b)
		if unary {
			call = fmt.Sprintf("%s(%s(%s))", lane, t, b)
		}
		term := fmt.Sprintf("uint64(%s)", call)
		if sh > 0 {
			term += fmt.Sprintf("<<%d", sh)
		}
		terms = append(terms, term)
	}
	return strings.Join(terms, " |\n\t\t")
}
