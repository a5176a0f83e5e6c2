package cpu

import (
	"math/rand/v2"
	"testing"
)

func TestMulDivExact(t *testing.T) {
	const m1 = ^uint64(0)
	runArCases(t, []arCase{
		// MUL: CF=OF=high half non-zero; SF/ZF/PF from the low half (Intel), AF=0.
		{asm: "mul bl", in: regs{RAX: 0x80, RBX: 2}, want: regs{RAX: 0x100}, flags: "CPZO"},
		{asm: "mul bl", in: regs{RAX: 0x120F, RBX: 0x0F}, flagsIn: "A", want: regs{RAX: 0xE1}, flags: "PS"},
		{asm: "mul ah", in: regs{RAX: 0x0310}, want: regs{RAX: 0x30}, flags: "P"},
		{asm: "mul cx", in: regs{RAX: 0x11110000FFFF, RCX: 0xFFFF, RDX: 0x222200000000}, want: regs{RAX: 0x111100000001, RDX: 0x22220000FFFE}, flags: "CO"},
		{asm: "mul ecx", in: regs{RAX: 0x80000000, RCX: 2, RDX: m1}, want: regs{RAX: 0, RDX: 1}, flags: "CPZO"},
		{asm: "mul rcx", in: regs{RAX: m1, RCX: m1}, want: regs{RAX: 1, RDX: m1 - 1}, flags: "CO"},
		{asm: "mul qword ptr [rdi]", in: regs{RAX: 3, RDX: 9}, mem: regs{0: 5}, want: regs{RAX: 15, RDX: 0}, flags: "P"},
		{asm: "mul dword ptr [rdi+4]", in: regs{RAX: 0xFFFFFFFF00000003}, mem: regs{0: 0x500000000}, want: regs{RAX: 15, RDX: 0}, flags: "P"},
		// One-operand IMUL.
		{asm: "imul bl", in: regs{RAX: 0x80, RBX: 0xFF}, want: regs{RAX: 0x80}, flags: "CSO"},
		{asm: "imul cl", in: regs{RAX: 0xFE, RCX: 3}, want: regs{RAX: 0xFFFA}, flags: "PS"},
		{asm: "imul ah", in: regs{RAX: 0x03FE}, want: regs{RAX: 0xFFFA}, flags: "PS"},
		{asm: "imul cx", in: regs{RAX: 0x8000, RCX: 0x8000}, want: regs{RAX: 0, RDX: 0x4000}, flags: "CPZO"},
		{asm: "imul ecx", in: regs{RAX: 0xFFFFFFFF, RCX: 5, RDX: 7}, want: regs{RAX: 0xFFFFFFFB, RDX: 0xFFFFFFFF}, flags: "S"},
		{asm: "imul rcx", in: regs{RAX: 1 << 62, RCX: 2}, want: regs{RAX: 1 << 63, RDX: 0}, flags: "CPSO"},
		{asm: "imul rcx", in: regs{RAX: m1, RCX: m1, RDX: 3}, want: regs{RAX: 1, RDX: 0}, flags: ""},
		{asm: "imul rcx", in: regs{RAX: 1 << 63, RCX: m1}, want: regs{RAX: 1 << 63, RDX: 0}, flags: "CPSO"},
		{asm: "imul qword ptr [rdi]", in: regs{RAX: m1}, mem: regs{0: 2}, want: regs{RAX: m1 - 1, RDX: m1}, flags: "S"},
		// Two- and three-operand IMUL: truncated result.
		{asm: "imul rax, rbx", in: regs{RAX: 1 << 32, RBX: 1 << 32}, want: regs{RAX: 0}, flags: "CPZO"},
		{asm: "imul rax, rbx", in: regs{RAX: m1, RBX: 1 << 63}, want: regs{RAX: 1 << 63}, flags: "CPSO"},
		{asm: "imul rax, rbx", in: regs{RAX: m1 - 2, RBX: 7}, want: regs{RAX: m1 - 20}, flags: "PS"},
		{asm: "imul eax, ebx, 10", in: regs{RAX: 0x1234, RBX: 0xFFFFFFFB}, want: regs{RAX: 0xFFFFFFCE}, flags: "S"},
		{asm: "imul ax, bx, -1", in: regs{RBX: 0x8000}, want: regs{RAX: 0x8000}, flags: "CPSO"},
		{asm: "imul ecx, [rdi]", in: regs{RCX: 0x10000}, mem: regs{0: 0x10000}, want: regs{RCX: 0}, flags: "CPZO"},
		{asm: "imul r8, [rdi+8], 3", mem: regs{1: 0x5555555555555556}, want: regs{R8: 2}, flags: "CO"},
		{asm: "imul r9d, r10d", in: regs{R9: 0xFFFFFFFF00000003, R10: 0x40000000}, want: regs{R9: 0xC0000000}, flags: "CPSO"},
		{asm: "imul bx, [rdi], 0x100", in: regs{RBX: 0x5555000000000000}, mem: regs{0: 0x7F}, want: regs{RBX: 0x5555000000007F00}, flags: "P"},
		{asm: "imul r11, r12, -0x80000000", in: regs{R12: 2}, want: regs{R11: 0xFFFFFFFF00000000}, flags: "PS"},
		// DIV: flags unchanged; #DE on zero divisor or oversized quotient.
		{asm: "div bl", in: regs{RAX: 0x0100, RBX: 2}, flagsIn: "CZ", want: regs{RAX: 0x80}, flags: "CZ"},
		{asm: "div bh", in: regs{RAX: 0x0107, RBX: 0x0200}, flagsIn: "SO", want: regs{RAX: 0x0183}, flags: "SO"},
		{asm: "div bl", in: regs{RAX: 0x0200, RBX: 2}, fault: VecDE + 1},
		{asm: "div cl", in: regs{RAX: 5}, fault: VecDE + 1},
		{asm: "div cx", in: regs{RDX: 1, RCX: 2}, want: regs{RAX: 0x8000, RDX: 0}, flags: ""},
		{asm: "div cx", in: regs{RDX: 2, RCX: 2}, fault: VecDE + 1},
		{asm: "div ecx", in: regs{RDX: 0xFFFFFFFF00000001, RAX: 0xFFFFFFFF00000001, RCX: 0x10}, want: regs{RAX: 0x10000000, RDX: 1}},
		{asm: "div rcx", in: regs{RDX: 1, RCX: 2}, want: regs{RAX: 1 << 63, RDX: 0}},
		{asm: "div rcx", in: regs{RDX: 5, RCX: 5}, fault: VecDE + 1},
		{asm: "div rcx", in: regs{RDX: 4, RAX: 7, RCX: 5}, want: regs{RAX: 0xCCCCCCCCCCCCCCCE, RDX: 1}},
		{asm: "div qword ptr [rdi]", in: regs{RAX: 5}, fault: VecDE + 1},
		{asm: "div dword ptr [rdi]", in: regs{RAX: 100, RDX: 0}, mem: regs{0: 0xFFFFFFFF00000007}, want: regs{RAX: 14, RDX: 2}},
		// IDIV: quotient toward zero, remainder with the dividend's sign.
		{asm: "idiv bl", in: regs{RAX: 0xFFF9, RBX: 2}, want: regs{RAX: 0xFFFD}},
		{asm: "idiv bl", in: regs{RAX: 0x8000, RBX: 0xFF}, fault: VecDE + 1},
		{asm: "idiv bl", in: regs{RAX: 0xFF80, RBX: 1}, want: regs{RAX: 0x0080}},
		{asm: "idiv bl", in: regs{RAX: 0x0080, RBX: 1}, fault: VecDE + 1},
		{asm: "idiv cx", in: regs{RDX: 0xFFFF, RCX: 2}, want: regs{RAX: 0x8000, RDX: 0}},
		{asm: "idiv cx", in: regs{RDX: 0, RAX: 0x8000, RCX: 0xFFFF}, want: regs{RAX: 0x8000, RDX: 0}},
		{asm: "idiv cx", in: regs{RDX: 0x8000, RAX: 0, RCX: 0xFFFF}, fault: VecDE + 1},
		{asm: "idiv ecx", in: regs{RDX: 0x80000000, RAX: 0, RCX: 0xFFFFFFFF}, fault: VecDE + 1},
		{asm: "idiv ecx", in: regs{RDX: 0xFFFFFFFF, RAX: 0xFFFFFFF9, RCX: 2}, want: regs{RAX: 0xFFFFFFFD, RDX: 0xFFFFFFFF}},
		{asm: "idiv ecx", in: regs{RDX: 0, RAX: 7, RCX: 0xFFFFFFFE}, want: regs{RAX: 0xFFFFFFFD, RDX: 1}},
		{asm: "idiv rcx", in: regs{RDX: m1, RAX: 1 << 63, RCX: m1}, fault: VecDE + 1},
		{asm: "idiv rcx", in: regs{RDX: m1, RAX: 1 << 63, RCX: 1}, want: regs{RAX: 1 << 63, RDX: 0}},
		{asm: "idiv rcx", in: regs{RDX: m1, RAX: 0, RCX: 2}, want: regs{RAX: 1 << 63, RDX: 0}},
		{asm: "idiv rcx", in: regs{RDX: 0, RAX: 1 << 63, RCX: 1}, fault: VecDE + 1},
		{asm: "idiv rcx", in: regs{RDX: 0, RAX: 1 << 63, RCX: m1}, want: regs{RAX: 1 << 63, RDX: 0}},
		{asm: "idiv rcx", in: regs{RDX: m1, RAX: m1 - 6, RCX: 2}, want: regs{RAX: m1 - 2, RDX: m1}},
		{asm: "idiv rcx", in: regs{RDX: 0, RAX: 7, RCX: m1 - 1}, want: regs{RAX: m1 - 2, RDX: 1}},
		{asm: "idiv rcx", in: regs{RDX: m1, RAX: 0, RCX: 0}, fault: VecDE + 1},
		{asm: "idiv qword ptr [rdi]", in: regs{RAX: 5}, fault: VecDE + 1},
	})
}

func TestMulDivHost(t *testing.T) {
	t.Parallel()
	cf := func(*arState) uint64 { return FlagCF | FlagOF }
	none := func(*arState) uint64 { return 0 }
	// A dividend whose high half is often small enough for the quotient to fit.
	divSetup := func(r *rand.Rand, s *arState) {
		switch r.IntN(4) {
		case 0:
			s.R[RDX] = 0
		case 1:
			s.R[RDX] = uint64(int64(s.R[RAX]) >> 63)
		case 2:
			s.R[RDX] = r.Uint64N(8)
		}
		if r.IntN(2) == 0 {
			s.R[RAX] = s.R[RAX]&^0xFFFF | uint64(r.IntN(0x800))
		}
	}
	var cases []arHostCase
	for _, src := range []string{"bl", "ah", "cx", "ecx", "rbx", "r9b", "r10w", "r11d", "r12",
		"byte ptr [rdi]", "word ptr [rdi+2]", "dword ptr [rdi+4]", "qword ptr [rdi+8]"} {
		cases = append(cases,
			arHostCase{asm: "mul " + src, mask: cf},
			arHostCase{asm: "imul " + src, mask: cf},
			arHostCase{asm: "div " + src, mask: none, setup: divSetup},
			arHostCase{asm: "idiv " + src, mask: none, setup: divSetup})
	}
	for _, src := range []string{"imul rax, rbx", "imul ecx, edx", "imul si, bp", "imul r8, [rdi]",
		"imul r9d, [rdi+4]", "imul r10w, [rdi+6]", "imul rax, rbx, 0x12345", "imul eax, ebx, -7",
		"imul ax, bx, 300", "imul rcx, rdx, -2", "imul ecx, edx, 0x7fffffff", "imul cx, dx, -1",
		"imul r11, qword ptr [rdi+8], -3", "imul r12d, dword ptr [rdi], 100", "imul bp, word ptr [rdi], 5"} {
		cases = append(cases, arHostCase{asm: src, mask: cf})
	}
	compareWithHost(t, 500, cases)
}
