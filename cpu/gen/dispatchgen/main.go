// Command dispatchgen writes cpu/dispatch_gen.go: the handler kinds the run
// loop dispatches by a switch, the pair kinds (two instructions in a row
// run as one), the kindHandlers and pairKinds tables, and runBlocks, the
// run loop itself, whose switch calls each kind's handler directly: inlined
// for the register-only handlers and the branches, a call for the others.
//
// The lists below are the dispatch choice, made by benchmark (see
// cpu/dispatch.go): the handlers that retire the most instructions on the
// bench guest and on the Linux boot, counted per handler, each with its
// class. A pure handler only reads and writes registers and flags: it
// cannot fault, touch a device or end the block, so the loop neither
// records its address nor looks at c.brk after it. Any other handler is
// treated as one called through Inst.fn is.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ftvm/cpu/gen/genfile"
)

// pure lists the handlers of register-only instructions, but for the ALU
// ones (alu below). The switch inlines them.
var pure = []string{
	"execNOP", "execMOVRR64", "execMOVRR32", "execMOVRR64GE", "execMOVRR32GE", "execMOVRegImm",
	"execMOVRegImmE", "execLEA64", "execLEA64Base", "inc64R", "inc32R", "dec64R", "dec32R",
	"imul64RR", "shl64RI", "shr64RI", "shl64RC", "shr64RC", "execCMOVRR64",
	"test8EG", "cmp8RI", "test8RI",
}

// called lists the handlers of memory operands and the stack, but for the
// ALU ones. The switch calls them, and they are declared //go:noinline
// (checked here): inlined, their bodies (memory accesses and their slow
// paths) made the loop slower (bench 313 MIPS with them called, 284
// inlined).
var called = []string{
	"execMOVLoad64Simple", "execMOVLoad64", "execMOVLoad32", "execMOVStore64Simple", "execMOVStore64",
	"execMOVStore32", "execMOVZXLoad8", "execMOVStoreImm8", "execMOVStoreImm32", "execMOVStoreImm64",
	"execMOVZX", "execMOVSXD", "execSETCC", "cmp8MI", "test8MI",
	"execPUSHReg64", "execPOPReg64", "execCALL", "execRET",
}

// branches lists the handlers of direct jumps, which the switch inlines,
// each with the condition it is taken on. Like called ones, they may end
// the block.
var branches = []cond{
	{"execJMP", "true"},
	{"execJB", "c.condB()"}, {"execJNB", "!c.condB()"}, {"execJZ", "c.zf()"}, {"execJNZ", "!c.zf()"},
	{"execJBE", "c.condBE()"}, {"execJA", "!c.condBE()"}, {"execJS", "c.sf()"}, {"execJNS", "!c.sf()"},
	{"execJL", "c.condL()"}, {"execJGE", "!c.condL()"}, {"execJLE", "c.condLE()"}, {"execJG", "!c.condLE()"},
}

// A cond is a branch's handler and the condition it is taken on.
type cond struct{ handler, expr string }

// The conditions of the fused pairs below are read from the lazy flags
// record through lazyFlags' methods (cpu/control.go).

var (
	// subConds are the conditions after a CMP or SUB: all twelve.
	subConds = []cond{
		{"execJB", "c.lazy.below()"}, {"execJNB", "!c.lazy.below()"},
		{"execJZ", "c.lazy.zero()"}, {"execJNZ", "!c.lazy.zero()"},
		{"execJBE", "c.lazy.belowEq()"}, {"execJA", "!c.lazy.belowEq()"},
		{"execJS", "c.lazy.sign()"}, {"execJNS", "!c.lazy.sign()"},
		{"execJL", "c.lazy.less()"}, {"execJGE", "!c.lazy.less()"},
		{"execJLE", "c.lazy.lessEq()"}, {"execJG", "!c.lazy.lessEq()"},
	}
	// resultConds are the conditions that read only the result: after any
	// flag-setting operation.
	resultConds = []cond{
		{"execJZ", "c.lazy.zero()"}, {"execJNZ", "!c.lazy.zero()"},
		{"execJS", "c.lazy.sign()"}, {"execJNS", "!c.lazy.sign()"},
	}
)

// fusions are the pairs the switch runs as one kind: a flag-setting
// register instruction and the conditional branch after it (the CMP/TEST
// plus Jcc fusion of blink and Bochs), the branch's condition read from
// the record the first just wrote. The firsts are pure handlers the
// compiler inlines without a profile, so the pair can only end the block
// at its second instruction and costs no call.
var fusions = []struct {
	firsts []string
	conds  []cond
}{
	{[]string{"cmp64EG", "cmp32EG", "cmp64RI", "cmp32RI", "sub64RI"}, subConds},
	{[]string{"test64EG", "test32EG", "test32RI", "add32RI", "add64RI"}, resultConds},
}

// superPairs are the other pairs the switch runs as one kind: a pure
// instruction and the next (of any kind the switch takes), the most
// frequent such pairs on the Linux boot and the bench guest (the first
// 4e9 instructions of the boot; bench for the last two). A pair saves the
// second instruction's dispatch. Where an instruction could begin either,
// fuse prefers the conditional branch pairs above.
var superPairs = [][2]string{
	{"execMOVRR64", "execMOVRR32"}, {"add64EG", "cmp64EG"}, {"execMOVRR32", "shr64RI"},
	{"imul64RR", "imul64RR"}, {"imul64RR", "execMOVRR64"}, {"execMOVRR64", "execMOVRR64"},
	{"execMOVRR64", "imul64RR"}, {"xor32EG", "execMOVRR32"}, {"execMOVRR64", "execCALL"},
	{"add32EG", "execMOVRR32"}, {"add64EG", "add64EG"}, {"execMOVRR64", "execPUSHReg64"},
	{"execNOP", "execPUSHReg64"}, {"cmp64EG", "execMOVRR64"}, {"execMOVRR64", "execCMOVRR64"},
	{"execMOVRR32", "add32EG"}, {"add64EG", "execMOVRR64"}, {"cmp64EG", "execSETCC"},
	{"execMOVRR64", "add64EG"}, {"shl64RI", "add64EG"}, {"shr64RI", "add64EG"},
	{"execCMOVRR64", "add64EG"}, {"execLEA64", "execMOVRR64"}, {"shr64RI", "execMOVRR64"},
	{"add32EG", "execMOVStoreImm8"}, {"shr64RC", "add32RI"},
}

// A pair is two handlers whose instructions, in a row, run as one kind:
// with expr (a condition, for a branch pair) the second is a conditional
// branch taken when expr holds; without, the second runs as its own kind
// would.
type pair struct{ first, second, expr string }

// name returns the pair's kind constant.
func (p pair) name() string { return kindName(p.first) + strings.TrimPrefix(p.second, "exec") }

// allPairs returns the branch pairs (fusions), then superPairs.
func allPairs() []pair {
	var l []pair
	for _, fu := range fusions {
		for _, a := range fu.firsts {
			for _, c := range fu.conds {
				l = append(l, pair{a, c.handler, c.expr})
			}
		}
	}
	for _, p := range superPairs {
		l = append(l, pair{p[0], p[1], ""})
	}
	return l
}

// checkPairs fails unless each pair begins with a pure handler and ends
// with one the switch takes, a branch for a branch pair.
func checkPairs(pairs []pair, pure, all, branches []string) error {
	for _, p := range pairs {
		if !slices.Contains(pure, p.first) || !slices.Contains(all, p.second) ||
			p.expr != "" && !slices.Contains(branches, p.second) {
			return fmt.Errorf("%s: a pair is a pure handler and one the switch takes, a branch if it has a condition", p.name())
		}
	}
	return nil
}

// The generated ALU handlers (alugen) the switch takes: operation, size,
// form. TEST has no GE or GM form.
var (
	aluOps      = []string{"add", "or", "and", "sub", "xor", "cmp", "test"}
	aluRegForms = []string{"EG", "GE", "RI"}
	aluMemForms = []string{"GM"}
)

// alu returns the names of the ALU handlers in forms.
func alu(forms []string) []string {
	var l []string
	for _, op := range aluOps {
		for _, size := range []string{"64", "32"} {
			for _, f := range forms {
				if op == "test" && (f == "GE" || f == "GM") {
					continue
				}
				l = append(l, op+size+f)
			}
		}
	}
	return l
}

// kindName returns the kind constant of handler h.
func kindName(h string) string {
	h = strings.TrimPrefix(h, "exec")
	return "kind" + strings.ToUpper(h[:1]) + h[1:]
}

// checkNoinline fails unless every handler in names is declared in the
// package in dir with a //go:noinline directive.
func checkNoinline(dir string, names []string) error {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	marked := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Doc == nil {
				continue
			}
			for _, cm := range fn.Doc.List {
				if cm.Text == "//go:noinline" {
					marked[fn.Name.Name] = true
				}
			}
		}
	}
	for _, h := range names {
		if !marked[h] {
			return fmt.Errorf("%s is called by the run loop's switch and must be declared //go:noinline", h)
		}
	}
	return nil
}

func main() {
	pureAll := slices.Concat(pure, alu(aluRegForms))
	calledAll := slices.Concat(alu(aluMemForms), called)
	var branchNames []string
	branchExpr := map[string]string{}
	for _, b := range branches {
		branchNames = append(branchNames, b.handler)
		branchExpr[b.handler] = b.expr
	}
	stopAll := slices.Concat(calledAll, branchNames)
	all := slices.Concat(pureAll, stopAll)
	pairs := allPairs()
	if err := checkPairs(pairs, pureAll, all, branchNames); err != nil {
		fmt.Fprintf(os.Stderr, "dispatchgen: %v\n", err)
		os.Exit(1)
	}
	if err := checkNoinline(".", calledAll); err != nil {
		fmt.Fprintf(os.Stderr, "dispatchgen: %v\n", err)
		os.Exit(1)
	}
	genfile.Main("dispatchgen", "cpu", func(f *genfile.File) {

		f.P("// Handler kinds: how runBlocks dispatches an instruction (Inst.kind).")
		f.P("const (")
		f.P("kindCall uint8 = iota // through Inst.fn")
		f.P("kindEnd // the marker after a block's last instruction")
		for _, h := range all {
			f.P("%s", kindName(h))
		}
		f.P("numKinds")
		f.P(")")
		f.P("")
		f.P("// Pair kinds: an instruction of the first kind named and the next, of")
		f.P("// the second, run together (see fuse).")
		f.P("const (")
		for i, p := range pairs {
			if i == 0 {
				f.P("%s = numKinds + iota", p.name())
			} else {
				f.P("%s", p.name())
			}
		}
		f.P(")")
		f.P("")
		f.P("// pairKinds lists the pair kinds with the kinds they fuse; branch marks")
		f.P("// those ending in a conditional branch.")
		f.P("var pairKinds = [...]struct {")
		f.P("first, second, pair uint8")
		f.P("branch bool")
		f.P("}{")
		for _, p := range pairs {
			f.P("{%s, %s, %s, %v},", kindName(p.first), kindName(p.second), p.name(), p.expr != "")
		}
		f.P("}")
		f.P("")
		f.P("// kindHandlers holds the handler of each kind but kindCall.")
		f.P("var kindHandlers = [numKinds]handler{")
		for _, h := range all {
			f.P("%s: %s,", kindName(h), h)
		}
		f.P("}")
		f.P("")
		f.P("// runBlocks runs blocks until the position reaches c.end or attend says")
		f.P("// to stop. It dispatches each instruction by its kind: the switch calls")
		f.P("// the handlers of the kinds above directly (inlining the register-only")
		f.P("// ones and the branches), and the others through Inst.fn. An")
		f.P("// instruction that faults panics out of it with c.blk and c.at naming")
		f.P("// that instruction.")
		f.P("//")
		f.P("// A block whose branch to its own start is taken runs again without")
		f.P("// a lookup while nothing needs attention: what it ran before that")
		f.P("// branch cannot have changed what the lookup would return, since an")
		f.P("// instruction that changes translation, privilege or code size ends a")
		f.P("// block, and a write to the block's code drops it (b.valid).")
		f.P("func (c *CPU) runBlocks() {")
		f.P("for c.Retired < c.end {")
		f.P("limit := uint64(maxBlockInsts)")
		f.P("if c.attn {")
		f.P("if limit = c.attend(); limit == 0 {")
		f.P("return")
		f.P("}")
		f.P("}")
		f.P("c.recent[c.nrecent%%uint(len(c.recent))] = c.RIP")
		f.P("c.nrecent++")
		f.P("b := c.tableBlock(c.RIP)")
		f.P("if b == nil {")
		f.P("b = c.blockSlow(c.RIP)")
		f.P("}")
		f.P("again:")
		f.P("c.blk = b")
		f.P("c.brk = false")
		f.P("insts := b.insts")
		f.P("if rem := min(c.end-c.Retired, limit); uint64(len(insts)) > rem {")
		f.P("c.runPart(insts[:rem])")
		f.P("c.blk = nil")
		f.P("continue")
		f.P("}")
		f.P("for in := &insts[0]; ; in = nextInst(in) {")
		f.P("switch in.kind {")
		f.P("case kindEnd:")
		f.P("c.Retired += uint64(len(insts))")
		f.P("c.RIP = insts[len(insts)-1].next")
		f.P("c.blk = nil")
		f.P("goto next")
		f.P("case kindCall:")
		f.P("c.at = instAddr(in)")
		f.P("in.fn(c, in)")
		// taken writes a branch taken on expr: it goes straight to the
		// block's end.
		taken := func(expr string) {
			if expr == "true" {
				f.P("c.RIP, c.brk = in.imm, true")
				f.P("goto taken")
				return
			}
			f.P("if %s {", expr)
			f.P("c.RIP, c.brk = in.imm, true")
			f.P("goto taken")
			f.P("}")
			f.P("continue")
		}
		// run writes what runs an instruction of handler h's kind: a pure
		// one goes on to the next, a branch to the next or the block's
		// end, another has its address recorded and falls through to the
		// c.brk check.
		run := func(h string) {
			if slices.Contains(pureAll, h) {
				f.P("%s(c, in)", h)
				f.P("continue")
			} else if expr, ok := branchExpr[h]; ok {
				taken(expr)
			} else {
				f.P("c.at = instAddr(in)")
				f.P("%s(c, in)", h)
			}
		}
		for _, h := range all {
			f.P("case %s:", kindName(h))
			run(h)
		}
		for _, p := range pairs {
			f.P("case %s:", p.name())
			f.P("%s(c, in)", p.first)
			f.P("in = nextInst(in)")
			if p.expr != "" {
				taken(p.expr)
			} else {
				run(p.second)
			}
		}
		f.P("}")
		f.P("if !c.brk {")
		f.P("continue")
		f.P("}")
		f.P("taken:")
		f.P("i := indexAt(insts, instAddr(in))")
		f.P("c.Retired += uint64(i + 1)")
		f.P("if i == b.loop && !c.attn && b.valid && c.Retired < c.end {")
		f.P("goto again")
		f.P("}")
		f.P("c.blk = nil")
		f.P("goto next")
		f.P("}")
		f.P("next:")
		f.P("}")
		f.P("}")
	})
}
