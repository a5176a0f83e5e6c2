package cpu

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestShiftExact(t *testing.T) {
	runArCases(t, []arCase{
		// SHL/SAL, SHR, SAR.
		{asm: "shl al, 1", in: regs{RAX: 0x1181}, want: regs{RAX: 0x1102}, flags: "CO"},
		{asm: "shl eax, 4", in: regs{RAX: 0xFFFFFFFF1000000F}, want: regs{RAX: 0xF0}, flags: "CPO"},
		{asm: "sal rbx, 2", in: regs{RBX: 0x4000000000000001}, want: regs{RBX: 4}, flags: "CO"},
		{asm: "shr rax, 1", in: regs{RAX: 0x8000000000000001}, want: regs{RAX: 0x4000000000000000}, flags: "CPO"},
		{asm: "shr eax, 2", in: regs{RAX: 0x80000003}, want: regs{RAX: 0x20000000}, flags: "CP"},
		{asm: "shr rax", in: regs{RAX: 1}, want: regs{RAX: 0}, flags: "CPZ"},
		{asm: "sar rax, 63", in: regs{RAX: 1 << 63}, want: regs{RAX: ^uint64(0)}, flags: "PS"},
		{asm: "sar al, 7", in: regs{RAX: 0x80}, want: regs{RAX: 0xFF}, flags: "PS"},
		{asm: "sar al, cl", in: regs{RAX: 0x80, RCX: 20}, want: regs{RAX: 0xFF}, flags: "CPS"},
		{asm: "sar eax, 1", in: regs{RAX: 0x80000001}, flagsIn: "O", want: regs{RAX: 0xC0000000}, flags: "CPS"},
		{asm: "shl al, cl", in: regs{RAX: 0x01, RCX: 8}, want: regs{RAX: 0}, flags: "CPZO"},
		{asm: "shl al, cl", in: regs{RAX: 0xFF, RCX: 9}, want: regs{RAX: 0}, flags: "PZ"},
		{asm: "shr ax, cl", in: regs{RAX: 0x8000, RCX: 16}, want: regs{RAX: 0}, flags: "CPZ"},
		{asm: "shl rax, cl", in: regs{RAX: 5, RCX: 64}, flagsIn: "CZ", want: regs{RAX: 5}, flags: "CZ"},
		{asm: "shl eax, cl", in: regs{RAX: 0xFFFFFFFF12345678, RCX: 32}, flagsIn: "SO", want: regs{RAX: 0x12345678}, flags: "SO"},
		{asm: "shl eax, 0", in: regs{RAX: 0xFFFFFFFF12345678}, flagsIn: "A", want: regs{RAX: 0x12345678}, flags: "A"},
		{asm: "shr rax, cl", in: regs{RAX: ^uint64(0), RCX: 0x13F}, want: regs{RAX: 1}, flags: "C"},
		{asm: "shl ah, 1", in: regs{RAX: 0xC000}, want: regs{RAX: 0x8000}, flags: "CS"},
		{asm: "shr bh, cl", in: regs{RBX: 0x8000, RCX: 7}, want: regs{RBX: 0x0100}, flags: ""},
		{asm: "shl word ptr [rdi], 4", mem: regs{0: 0x1234}, wantMem: regs{0: 0x2340}, flags: "CO"},
		{asm: "sar dword ptr [rdi], 1", mem: regs{0: 0x80000001}, wantMem: regs{0: 0xC0000000}, flags: "CPS"},
		{asm: "shr byte ptr [rdi], cl", in: regs{RCX: 3}, mem: regs{0: 0xFF}, wantMem: regs{0: 0x1F}, flags: "C"},
		{asm: "shl qword ptr [rdi+8], cl", in: regs{RCX: 0}, mem: regs{1: 7}, flagsIn: "S", wantMem: regs{1: 7}, flags: "S"},
		{asm: "shl r9w, 15", in: regs{R9: 0x30003}, want: regs{R9: 0x38000}, flags: "CPS"},
		// ROL, ROR: only CF and OF change.
		{asm: "rol al, 1", in: regs{RAX: 0x80}, flagsIn: "ZP", want: regs{RAX: 0x01}, flags: "CPZO"},
		{asm: "rol eax, 8", in: regs{RAX: 0xFF12345678}, flagsIn: "CO", want: regs{RAX: 0x34567812}, flags: ""},
		{asm: "rol al, 8", in: regs{RAX: 0x81}, flagsIn: "O", want: regs{RAX: 0x81}, flags: "C"},
		{asm: "rol ax, cl", in: regs{RAX: 0x8001, RCX: 0x20}, flagsIn: "SO", want: regs{RAX: 0x8001}, flags: "SO"},
		{asm: "rol rax, cl", in: regs{RAX: 0x8000000000000001, RCX: 4}, want: regs{RAX: 0x18}, flags: ""},
		{asm: "ror rax, 1", in: regs{RAX: 1}, want: regs{RAX: 1 << 63}, flags: "CO"},
		{asm: "ror ebx, 4", in: regs{RBX: 0xF}, want: regs{RBX: 0xF0000000}, flags: "C"},
		{asm: "ror byte ptr [rdi], 3", mem: regs{0: 0x01}, flagsIn: "CZ", wantMem: regs{0: 0x20}, flags: "Z"},
		{asm: "ror dh, cl", in: regs{RDX: 0x0300, RCX: 1}, flagsIn: "A", want: regs{RDX: 0x8100}, flags: "ACO"},
		{asm: "rol ecx, 0", in: regs{RCX: 0xFFFFFFFF00000001}, flagsIn: "C", want: regs{RCX: 1}, flags: "C"},
		// RCL, RCR rotate through CF.
		{asm: "rcl al, 1", in: regs{RAX: 0x80}, flagsIn: "C", want: regs{RAX: 0x01}, flags: "CO"},
		{asm: "rcl al, 9", in: regs{RAX: 0x55}, flagsIn: "CS", want: regs{RAX: 0x55}, flags: "CS"},
		{asm: "rcl ax, cl", in: regs{RAX: 0x1234, RCX: 17}, want: regs{RAX: 0x1234}, flags: ""},
		{asm: "rcr al, 1", in: regs{RAX: 0x01}, flagsIn: "Z", want: regs{RAX: 0}, flags: "CZ"},
		{asm: "rcl rax, 1", in: regs{RAX: 1 << 63}, want: regs{RAX: 0}, flags: "CO"},
		{asm: "rcr eax, 1", in: regs{RAX: 1}, flagsIn: "C", want: regs{RAX: 0x80000000}, flags: "CO"},
		{asm: "rcl bl, 8", in: regs{RBX: 0x01}, want: regs{RBX: 0}, flags: "CO"},
		{asm: "rcr rax, cl", in: regs{RAX: 3, RCX: 64}, flagsIn: "C", want: regs{RAX: 3}, flags: "C"},
		{asm: "rcr dword ptr [rdi], 2", mem: regs{0: 3}, flagsIn: "C", wantMem: regs{0: 0xC0000000}, flags: "C"},
		{asm: "rcl rax, cl", in: regs{RAX: 1, RCX: 63}, flagsIn: "C", want: regs{RAX: 1<<63 | 1<<62}, flags: "O"},
		{asm: "rcr word ptr [rdi], cl", in: regs{RCX: 16}, mem: regs{0: 0x8001}, wantMem: regs{0: 0x0002}, flags: "C"},
		// SHLD, SHRD.
		{asm: "shld rax, rbx, 4", in: regs{RAX: 0x0123456789ABCDEF, RBX: 0xF000000000000000}, want: regs{RAX: 0x123456789ABCDEFF}, flags: "P"},
		{asm: "shrd eax, ebx, 8", in: regs{RAX: 0x12345678, RBX: 0xAB}, want: regs{RAX: 0xAB123456}, flags: "PSO"},
		{asm: "shld ax, bx, cl", in: regs{RAX: 0x1234, RBX: 0x5678, RCX: 20}, want: regs{RAX: 0x6781}, flags: "CPO"},
		{asm: "shrd ax, bx, cl", in: regs{RAX: 0x1234, RBX: 0x5678, RCX: 20}, want: regs{RAX: 0x4567}, flags: "CO"},
		{asm: "shrd word ptr [rdi], cx, 1", in: regs{RCX: 1}, mem: regs{0: 1}, wantMem: regs{0: 0x8000}, flags: "CPSO"},
		{asm: "shld eax, ebx, 0", in: regs{RAX: 0xFFFFFFFF00000001}, flagsIn: "Z", want: regs{RAX: 1}, flags: "Z"},
		{asm: "shld rax, rbx, cl", in: regs{RAX: 0x4000000000000000, RBX: 1 << 63, RCX: 65}, want: regs{RAX: 0x8000000000000001}, flags: "SO"},
		{asm: "shrd [rdi+8], rdx, cl", in: regs{RDX: 0xFF, RCX: 60}, mem: regs{1: 0xF000000000000000}, wantMem: regs{1: 0xFFF}, flags: "P"},
	})
}

// arShiftMask returns the status flags the SDM defines after op (a group 2
// mnemonic) on an operand of size bytes with raw count n.
func arShiftMask(op string, size int, n uint64) uint64 {
	c := n & 31
	if size == 8 {
		c = n & 63
	}
	if c == 0 {
		return FlagsArith
	}
	f := uint64(FlagsArith)
	if c != 1 {
		f &^= FlagOF
	}
	switch op {
	case "shl", "sal", "shr":
		f &^= FlagAF
		if c >= uint64(8*size) {
			f &^= FlagCF
		}
	case "sar", "shld", "shrd":
		f &^= FlagAF
	}
	return f
}

// arOperandSize guesses the operand size of a snippet's first operand.
func arOperandSize(dst string) int {
	switch {
	case strings.HasPrefix(dst, "qword"), strings.HasPrefix(dst, "r") && !strings.HasSuffix(dst, "d") &&
		!strings.HasSuffix(dst, "w") && !strings.HasSuffix(dst, "b"):
		return 8
	case strings.HasPrefix(dst, "dword"), strings.HasPrefix(dst, "e"), strings.HasSuffix(dst, "d"):
		return 4
	case strings.HasPrefix(dst, "word"), strings.HasSuffix(dst, "w"), len(dst) == 2 && dst[1] == 'x',
		dst == "si", dst == "di", dst == "bp":
		return 2
	}
	return 1
}

// arRandomCL puts a random shift count in CL (biased to small counts),
// below 17 modulo 32 when small16 is set.
func arRandomCL(r *rand.Rand, s *arState, small16 bool) {
	var cl uint64
	switch r.IntN(3) {
	case 0:
		cl = r.Uint64N(256)
	default:
		cl = r.Uint64N(70)
	}
	if small16 {
		cl = r.Uint64N(17) | 32*r.Uint64N(8)
	}
	s.R[RCX] = s.R[RCX]&^0xFF | cl
}

func TestShiftHost(t *testing.T) {
	t.Parallel()
	var cases []arHostCase
	dsts := []string{"rax", "eax", "ax", "al", "ah", "r10", "r11d", "r12w", "sil", "bh",
		"qword ptr [rdi]", "dword ptr [rdi+4]", "word ptr [rdi+2]", "byte ptr [rdi+1]"}
	for _, op := range []string{"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"} {
		for _, dst := range dsts {
			size := arOperandSize(dst)
			if dst == "bh" || dst == "ah" {
				size = 1
			}
			for _, cnt := range []string{"cl", "1", "0", "3", "7", "8", "9", "16", "17", "31", "33", "63"} {
				if cnt != "cl" {
					n, _ := strconv.Atoi(cnt)
					op, size := op, size
					cases = append(cases, arHostCase{asm: fmt.Sprintf("%s %s, %s", op, dst, cnt),
						mask: func(*arState) uint64 { return arShiftMask(op, size, uint64(n)) }})
					continue
				}
				op, size := op, size
				cases = append(cases, arHostCase{asm: fmt.Sprintf("%s %s, cl", op, dst),
					setup: func(r *rand.Rand, s *arState) { arRandomCL(r, s, false) },
					mask:  func(s *arState) uint64 { return arShiftMask(op, size, s.R[RCX]&0xFF) }})
			}
		}
	}
	for _, op := range []string{"shld", "shrd"} {
		for _, dst := range []string{"rax, rbx", "eax, ebx", "ax, bx", "r9, r10", "qword ptr [rdi], rcx",
			"dword ptr [rdi+4], edx", "word ptr [rdi+2], si"} {
			size := arOperandSize(strings.Split(dst, ",")[0])
			for _, cnt := range []string{"cl", "1", "0", "4", "15", "16", "31", "32", "63"} {
				op, size := op, size
				if cnt != "cl" {
					n, _ := strconv.Atoi(cnt)
					if size == 2 && n&31 > 16 {
						continue // undefined result
					}
					cases = append(cases, arHostCase{asm: fmt.Sprintf("%s %s, %s", op, dst, cnt),
						mask: func(*arState) uint64 { return arShiftMask(op, size, uint64(n)) }})
					continue
				}
				cases = append(cases, arHostCase{asm: fmt.Sprintf("%s %s, cl", op, dst),
					setup: func(r *rand.Rand, s *arState) { arRandomCL(r, s, size == 2) },
					mask:  func(s *arState) uint64 { return arShiftMask(op, size, s.R[RCX]&0xFF) }})
			}
		}
	}
	compareWithHost(t, 60, cases)
}

// TestRotateAfterHost runs a rotate after each kind of flag-setting
// instruction: the rotate sets CF and OF and must leave the others as the
// instruction before set them (setRotateFlags keeps them in the lazy
// record when it can).
func TestRotateAfterHost(t *testing.T) {
	t.Parallel()
	befores := []struct {
		asm       string
		undefined uint64 // flags the instruction leaves undefined
	}{
		{"xor eax, ebx", FlagAF}, {"and rax, rbx", FlagAF}, {"add eax, ebx", 0}, {"sub rax, rbx", 0},
		{"shl eax, 3", FlagAF}, {"shr rax, 1", FlagAF}, {"sar eax, 5", FlagAF},
		{"imul eax, ebx", FlagSF | FlagZF | FlagAF | FlagPF}, {"inc eax", 0}, {"rol eax, 7", FlagOF},
		{"ror rbx, 1", 0}, {"popfq", 0},
	}
	var cases []arHostCase
	for _, b := range befores {
		for _, rot := range []string{"rol eax, 1", "ror eax, 1", "rol eax, 13", "ror eax, 9", "rol rax, 1",
			"ror rax, 33", "rol al, 1", "ror ax, 3", "rol eax, cl", "rol dword ptr [rdi], 5"} {
			mask := FlagsArith &^ b.undefined
			if !strings.HasSuffix(rot, ", 1") {
				mask &^= FlagOF
			}
			setup := func(r *rand.Rand, s *arState) {}
			if strings.HasSuffix(rot, "cl") {
				setup = func(r *rand.Rand, s *arState) { s.R[RCX] = s.R[RCX]&^0xFF | 1 + r.Uint64N(31) }
			}
			asm := b.asm + "; " + rot
			if b.asm == "popfq" {
				// Flags from memory (rflags, no lazy record): push a random value first.
				asm = "push rbx; and qword ptr [rsp], 0x8d5; popfq; " + rot
			}
			cases = append(cases, arHostCase{asm: asm, setup: setup, mask: func(*arState) uint64 { return mask }})
		}
	}
	compareWithHost(t, 60, cases)
}
