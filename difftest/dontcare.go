package difftest

import (
	"strings"

	"ftvm/cpu"
)

// dontCare is one documented difference between two correct x86-64
// processors (the interpreter is one, the host CPU behind KVM the other).
type dontCare struct {
	mnemonics []string
	// defines are the status flags the instruction sets to defined values;
	// undefined are those the SDM leaves undefined.
	defines, undefined uint64
	// regs are registers whose value comes from the host (RDTSC).
	regs []int
	// dest: the destination register comes from the host (RDRAND).
	dest bool
	// pageBits are bits of paging-structure entries in RAM that are not
	// compared (a row without mnemonics).
	pageBits uint64
	ref      string
}

const (
	fCF, fPF, fAF, fZF, fSF, fOF = cpu.FlagCF, cpu.FlagPF, cpu.FlagAF, cpu.FlagZF, cpu.FlagSF, cpu.FlagOF
	fAll                         = cpu.FlagsArith
)

// dontCares is THE table of documented don't-cares (Intel SDM Vol. 2, the
// "Flags Affected" section of each instruction). In stepped comparisons it
// is applied to every instruction the interpreter executes, single-stepped
// or inside a native stretch the reference ran whole: the status flags an
// instruction leaves undefined, and registers loaded from host inputs,
// become don't-cares, followed where they are copied (taint.go), and take
// the reference's values at the end of the step. A row with only `defines`
// lists an instruction that makes those flags comparable again. The
// end-of-run comparison (without a step) has no instructions to apply it
// to and compares every status flag.
var dontCares = []dontCare{
	{mnemonics: []string{"add", "adc", "sub", "sbb", "cmp", "neg", "xadd", "cmpxchg", "cmpsb", "cmpsw", "cmpsd", "cmpsq",
		"scasb", "scasw", "scasd", "scasq", "popcnt", "popfq", "popf", "iretq", "iret"}, defines: fAll,
		ref: "ADD/SUB/CMP...: all six defined; POPCNT clears OF SF AF CF PF; POPF/IRET load them"},
	{mnemonics: []string{"inc", "dec"}, defines: fAll &^ fCF, ref: "INC/DEC: CF unaffected"},
	{mnemonics: []string{"sahf"}, defines: fSF | fZF | fAF | fPF | fCF, ref: "SAHF"},
	{mnemonics: []string{"clc", "stc", "cmc"}, defines: fCF, ref: "CLC/STC/CMC"},
	{mnemonics: []string{"and", "or", "xor", "test", "andn", "blsi", "blsmsk", "blsr", "bextr"}, defines: fAll &^ fAF, undefined: fAF,
		ref: "AND/OR/XOR/TEST: OF=CF=0, SF ZF PF defined, AF undefined (BMI1: AF and PF undefined)"},
	{mnemonics: []string{"mul", "imul"}, defines: fCF | fOF, undefined: fSF | fZF | fAF | fPF,
		ref: "MUL/IMUL: CF OF defined; SF ZF AF PF undefined"},
	{mnemonics: []string{"div", "idiv"}, undefined: fAll, ref: "DIV/IDIV: CF OF SF ZF AF PF undefined"},
	{mnemonics: []string{"bt", "bts", "btr", "btc"}, defines: fCF, undefined: fOF | fSF | fAF | fPF,
		ref: "BT*: CF = the bit; ZF unaffected; OF SF AF PF undefined"},
	{mnemonics: []string{"bsf", "bsr"}, defines: fZF, undefined: fCF | fOF | fSF | fAF | fPF,
		ref: "BSF/BSR: ZF defined; CF OF SF AF PF undefined (destination undefined for a zero source)"},
	{mnemonics: []string{"tzcnt", "lzcnt"}, defines: fCF | fZF, undefined: fOF | fSF | fAF | fPF,
		ref: "TZCNT/LZCNT: CF ZF defined; OF SF AF PF undefined"},
	{mnemonics: []string{"shl", "sal", "shr", "sar"}, defines: fCF | fSF | fZF | fPF, undefined: fOF | fAF,
		ref: "SHL/SHR/SAR: AF undefined; OF defined only for a count of 1 (CF undefined for counts >= the width)"},
	{mnemonics: []string{"rol", "ror", "rcl", "rcr"}, defines: fCF, undefined: fOF,
		ref: "ROL/ROR/RCL/RCR: OF defined only for a count of 1"},
	{mnemonics: []string{"shld", "shrd"}, defines: fCF | fSF | fZF | fPF, undefined: fOF | fAF,
		ref: "SHLD/SHRD: AF undefined; OF defined only for a count of 1"},
	{mnemonics: []string{"rdtsc"}, regs: []int{cpu.RAX, cpu.RDX}, ref: "RDTSC: the host's time-stamp counter"},
	{mnemonics: []string{"rdtscp"}, regs: []int{cpu.RAX, cpu.RDX}, ref: "RDTSCP: the host's time-stamp counter"},
	{mnemonics: []string{"rdrand", "rdseed"}, dest: true, defines: fAll &^ fCF, undefined: fCF,
		ref: "RDRAND/RDSEED: a random value; CF says whether one was available"},
	{pageBits: 1<<5 | 1<<6, ref: "accessed and dirty bits of paging-structure entries: SDM Vol. 3A §4.8 lets a processor " +
		"set them for accesses it makes speculatively or implicitly (this host's CPU marks the page of the new stack top " +
		"after ENTER with a large frame even though nothing is stored there)"},
}

// pageBitsDontCare is the paging-entry mask of the table.
var pageBitsDontCare = func() (m uint64) {
	for _, d := range dontCares {
		m |= d.pageBits
	}
	return
}()

var dontCareByMnemonic = func() map[string]*dontCare {
	m := map[string]*dontCare{}
	for i := range dontCares {
		for _, mn := range dontCares[i].mnemonics {
			m[mn] = &dontCares[i]
		}
	}
	return m
}()

func regIndex(name string) (int, bool) {
	for i, n := range cpu.RegNames {
		if n == name {
			return i, true
		}
	}
	// 32-bit destination names of RDRAND/RDSEED.
	for i, n := range []string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"} {
		if n == name {
			return i, true
		}
	}
	if strings.HasPrefix(name, "r") && (strings.HasSuffix(name, "d") || strings.HasSuffix(name, "w")) {
		return regIndex(name[:len(name)-1])
	}
	return 0, false
}
