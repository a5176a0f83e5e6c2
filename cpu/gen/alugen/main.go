// Command alugen writes cpu/alu_gen.go: the specialized handlers of the
// two-operand ALU instructions (ADD OR ADC SBB AND SUB XOR CMP TEST) for
// 64-, 32- and 8-bit operands in the register, immediate and memory forms,
// and the aluFast table that bindALU picks them from. The 8-bit register
// operands are the low bytes of the registers (bindALU does not pick these
// handlers for AH, CH, DH and BH).
//
// Each handler follows one template: load a and b from the form's operands,
// compute r, store r (except CMP and TEST), record the lazy flags.
package main

import (
	"fmt"
	"strings"

	"ftvm/cpu/gen/genfile"
)

// op is one ALU operation.
type op struct {
	name   string // handler prefix, and Op constant after "Op" upper-cased
	expr   string // result from a, b (and cf when carry)
	flags  string // lazy-flag kind
	carry  bool   // reads CF as cf (ADC, SBB)
	writes bool   // stores the result (false for CMP, TEST)
}

var ops = []op{
	{"add", "a + b", "flagsAdd", false, true},
	{"or", "a | b", "flagsLogic", false, true},
	{"adc", "a + b + cf", "flagsAdd+flagOp(cf)", true, true},
	{"sbb", "a - b - cf", "flagsSub+flagOp(cf)", true, true},
	{"and", "a & b", "flagsLogic", false, true},
	{"sub", "a - b", "flagsSub", false, true},
	{"xor", "a ^ b", "flagsLogic", false, true},
	{"cmp", "a - b", "flagsSub", false, false},
	{"test", "a & b", "flagsLogic", false, false},
}

// operand kinds of a form.
const (
	rm  = iota // the ModRM.rm register
	reg        // the ModRM.reg register
	imm        // the immediate
	mem        // memory at the effective address
)

// form is one operand form: a is the destination (and first source), b the
// second source.
type form struct {
	name string
	desc string
	a, b int
}

var forms = []form{
	{"EG", "r/m register, register", rm, reg},
	{"GE", "register, r/m register", reg, rm},
	{"RI", "register, immediate", rm, imm},
	{"GM", "register, memory", reg, mem},
	{"MG", "memory, register", mem, reg},
	{"MI", "memory, immediate", mem, imm},
}

var widths = []int{64, 32, 8}

func main() {
	genfile.Main("alugen", "cpu", func(f *genfile.File) {
		for _, o := range ops {
			for _, bits := range widths {
				for _, fm := range forms {
					handler(f, o, bits, fm)
				}
			}
		}
		f.P("// aluFast holds the handlers above by operation (index op-OpADD).")
		f.P("var aluFast = [OpTEST - OpADD + 1]aluSet{")
		for _, o := range ops {
			f.P("Op%s - OpADD: {", strings.ToUpper(o.name))
			for _, bits := range widths {
				var line []string
				for _, fm := range forms {
					line = append(line, fmt.Sprintf("%s%d: %s", strings.ToLower(fm.name), bits, name(o, bits, fm)))
				}
				f.P("%s,", strings.Join(line, ", "))
			}
			f.P("},")
		}
		f.P("}")
	})
}

func name(o op, bits int, fm form) string { return fmt.Sprintf("%s%d%s", o.name, bits, fm.name) }

// load returns the expression reading operand kind k at width bits; addr
// names the effective address when it was computed first.
func load(k, bits int, addr string) string {
	var s string
	switch k {
	case rm:
		s = "c.R[in.rm]"
	case reg:
		s = "c.R[in.reg]"
	case imm:
		s = "in.imm"
	case mem:
		return fmt.Sprintf("c.read%d(%s)", bits, addr)
	}
	if bits < 64 {
		s = fmt.Sprintf("uint%d(%s)", bits, s)
	}
	return s
}

// store returns the statement writing r to register field f (in.rm or
// in.reg) at width bits: a 32-bit write zeroes the upper half, an 8-bit one
// keeps the other bytes.
func store(f string, bits int) string {
	switch bits {
	case 32:
		return fmt.Sprintf("c.R[%s] = uint64(r)", f)
	case 8:
		return fmt.Sprintf("c.R[%s] = c.R[%s]&^0xff | uint64(r)", f, f)
	}
	return fmt.Sprintf("c.R[%s] = r", f)
}

func handler(f *genfile.File, o op, bits int, fm form) {
	size, widen := bits/8, func(s string) string { return s }
	if bits < 64 {
		widen = func(s string) string { return "uint64(" + s + ")" }
	}
	fn := name(o, bits, fm)
	f.P("// %s is %s %s with %d-bit operands.", fn, strings.ToUpper(o.name), fm.desc, bits)
	if fm.a == mem || fm.b == mem {
		// The run loop calls the memory forms it dispatches by kind
		// directly; inlined there they would slow it (see cpu/dispatch.go).
		f.P("//")
		f.P("//go:noinline")
	}
	f.P("func %s(c *CPU, in *Inst) {", fn)
	addr := "c.ea(in)"
	if fm.a == mem {
		f.P("addr := c.ea(in)")
		addr = "addr"
	}
	f.P("a, b := %s, %s", load(fm.a, bits, addr), load(fm.b, bits, addr))
	expr := o.expr
	if o.carry {
		f.P("cf := c.carry()")
		if bits < 64 {
			expr = strings.Replace(expr, "cf", fmt.Sprintf("uint%d(cf)", bits), 1)
		}
	}
	f.P("r := %s", expr)
	if o.writes {
		switch fm.a {
		case mem:
			f.P("c.write%d(addr, r)", bits)
		case rm:
			f.P("%s", store("in.rm", bits))
		case reg:
			f.P("%s", store("in.reg", bits))
		}
	}
	f.P("c.setFlags(%s, %d, %s, %s, %s)", o.flags, size, widen("a"), widen("b"), widen("r"))
	f.P("}")
	f.P("")
}
