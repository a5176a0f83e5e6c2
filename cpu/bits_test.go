package cpu

import (
	"math/rand/v2"
	"testing"
)

func TestBitsExact(t *testing.T) {
	const m1 = ^uint64(0)
	cases := []arCase{
		// BT*: CF = the bit; the other flags are unchanged.
		{asm: "bt rax, rcx", in: regs{RAX: 1 << 63, RCX: 127}, flagsIn: "ZSO", want: regs{RAX: 1 << 63}, flags: "CZSO"},
		{asm: "bt eax, ecx", in: regs{RAX: 0xFFFFFFFF00000001, RCX: 32}, flagsIn: "P", want: regs{RAX: 0xFFFFFFFF00000001}, flags: "CP"},
		{asm: "bt ax, cx", in: regs{RAX: 0x8000, RCX: 0xFFFF}, flagsIn: "C", flags: "C"},
		{asm: "bt rax, rcx", in: regs{RAX: 1, RCX: 1}, flagsIn: "CA", flags: "A"},
		{asm: "bts rax, 5", want: regs{RAX: 0x20}, flags: ""},
		{asm: "btr ebx, 31", in: regs{RBX: m1}, flagsIn: "Z", want: regs{RBX: 0x7FFFFFFF}, flags: "CZ"},
		{asm: "btc cx, 15", in: regs{RCX: 0x1230000}, want: regs{RCX: 0x1238000}, flags: ""},
		{asm: "btc rdx, 64", in: regs{RDX: 3}, want: regs{RDX: 2}, flags: "C"},
		{asm: "bts r9, r10", in: regs{R9: 0, R10: 200}, want: regs{R9: 1 << 8}, flags: ""},
		{asm: "bt dword ptr [rdi], 35", mem: regs{0: 8}, flags: "C"},
		{asm: "bt qword ptr [rdi], 63", mem: regs{0: 1 << 63}, flags: "C"},
		{asm: "bt [rdi], rcx", in: regs{RCX: 65}, mem: regs{1: 2}, flags: "C"},
		{asm: "bts [rdi+8], rcx", in: regs{RCX: m1}, wantMem: regs{0: 1 << 63}, flags: ""},
		{asm: "btr [rdi], ecx", in: regs{RCX: 40}, mem: regs{0: 0x0000010000000000}, wantMem: regs{0: 0}, flags: "C"},
		{asm: "btr [rdi], ecx", in: regs{RCX: 0xFFFFFFFF00000028}, mem: regs{0: 0x0000010000000000}, wantMem: regs{0: 0}, flags: "C"},
		{asm: "btc [rdi+16], cx", in: regs{RCX: 0xFFF0}, wantMem: regs{1: 1 << 48}, flags: ""},
		{asm: "btc [rdi+16], ecx", in: regs{RCX: 0xFFFFFFFF}, mem: regs{1: 1 << 63}, wantMem: regs{1: 0}, flags: "C"},
		{asm: "lock bts qword ptr [rdi], 0", mem: regs{0: 1}, flagsIn: "S", wantMem: regs{0: 1}, flags: "CS"},
		{asm: "lock btr [rdi+8], rax", in: regs{RAX: 63}, mem: regs{1: m1}, wantMem: regs{1: m1 >> 1}, flags: "C"},
		{asm: "bt word ptr [rdi], 17", mem: regs{0: 0x2}, flags: "C"},
		// BSF, BSR.
		{asm: "bsf rax, rbx", in: regs{RBX: 0x100}, flagsIn: "CZSO", want: regs{RAX: 8}, flags: ""},
		{asm: "bsf eax, ebx", in: regs{RAX: 0xFFFFFFFF12345678}, flagsIn: "C", want: regs{RAX: 0x12345678}, flags: "CZ"},
		{asm: "bsf rax, rbx", in: regs{RAX: 0x1234}, flagsIn: "S", want: regs{RAX: 0x1234}, flags: "ZS"},
		{asm: "bsf ax, bx", in: regs{RAX: 0xFFFFFFFF12345678}, want: regs{RAX: 0xFFFFFFFF12345678}, flags: "Z"},
		{asm: "bsr rcx, rdx", in: regs{RDX: 1 << 63}, want: regs{RCX: 63}, flags: "P"},
		{asm: "bsr ax, word ptr [rdi]", in: regs{RAX: 0x5555000000000000}, mem: regs{0: 3}, want: regs{RAX: 0x5555000000000001}, flags: ""},
		{asm: "bsf cx, dx", in: regs{RDX: 0x8000}, want: regs{RCX: 15}, flags: "P"},
		{asm: "bsr r8d, [rdi+8]", in: regs{R8: m1}, mem: regs{1: 0x100000001}, want: regs{R8: 0}, flags: "P"},
		// LZCNT, POPCNT.
		{asm: "lzcnt rax, rbx", flagsIn: "ZSO", want: regs{RAX: 64}, flags: "C"},
		{asm: "lzcnt eax, ebx", in: regs{RAX: m1, RBX: 1}, want: regs{RAX: 31}, flags: ""},
		{asm: "lzcnt ax, bx", in: regs{RAX: 0x10000, RBX: 0x8000}, want: regs{RAX: 0x10000}, flags: "Z"},
		{asm: "lzcnt r9w, word ptr [rdi]", mem: regs{0: 0x10000}, want: regs{R9: 16}, flags: "C"},
		{asm: "popcnt rax, rbx", in: regs{RBX: 0xFF}, flagsIn: "CPASO", want: regs{RAX: 8}, flags: ""},
		{asm: "popcnt rax, rbx", in: regs{RAX: 5}, flagsIn: "CPASO", want: regs{RAX: 0}, flags: "Z"},
		{asm: "popcnt ecx, dword ptr [rdi]", in: regs{RCX: m1}, mem: regs{0: m1}, want: regs{RCX: 32}, flags: ""},
		{asm: "popcnt ax, bx", in: regs{RAX: 0xFFFF0000, RBX: 0xFFFFF}, want: regs{RAX: 0xFFFF0010}, flags: ""},
		// BSWAP.
		{asm: "bswap eax", in: regs{RAX: 0xFFFFFFFF12345678}, flagsIn: "C", want: regs{RAX: 0x78563412}, flags: "C"},
		{asm: "bswap rax", in: regs{RAX: 0x0102030405060708}, want: regs{RAX: 0x0807060504030201}},
		{asm: "bswap r9d", in: regs{R9: 0xAABBCCDD}, want: regs{R9: 0xDDCCBBAA}},
		{asm: "bswap r15", in: regs{R15: 0xFF}, want: regs{R15: 0xFF00000000000000}},
	}
	// TZCNT is BSF unless the CPUID model advertises BMI1.
	if haveTZCNT {
		cases = append(cases,
			arCase{asm: "tzcnt rax, rbx", in: regs{RAX: 7}, want: regs{RAX: 64}, flags: "C"},
			arCase{asm: "tzcnt eax, ebx", in: regs{RBX: 1}, flagsIn: "C", want: regs{RAX: 0}, flags: "Z"})
	} else {
		cases = append(cases,
			arCase{asm: "tzcnt rax, rbx", in: regs{RAX: 7}, want: regs{RAX: 7}, flags: "Z"},
			arCase{asm: "tzcnt eax, ebx", in: regs{RBX: 1}, flagsIn: "C", want: regs{RAX: 0}, flags: "P"})
	}
	runArCases(t, cases)
}

func TestBitsHost(t *testing.T) {
	t.Parallel()
	cz := func(*arState) uint64 { return FlagCF | FlagZF }
	zf := func(*arState) uint64 { return FlagZF }
	// A memory operand at dataBase+32 with a bit offset that stays inside
	// the 64 bytes the comparison covers.
	memOff := func(reg int) func(r *rand.Rand, s *arState) {
		return func(r *rand.Rand, s *arState) {
			s.R[RDI] = dataBase + 32
			s.R[reg] = uint64(r.Int64N(512) - 256)
		}
	}
	memOff16 := func(reg int) func(r *rand.Rand, s *arState) {
		return func(r *rand.Rand, s *arState) {
			s.R[RDI] = dataBase + 32
			s.R[reg] = s.R[reg]&^0xFFFF | uint64(r.Int64N(512)-256)&0xFFFF
		}
	}
	memOff32 := func(reg int) func(r *rand.Rand, s *arState) {
		return func(r *rand.Rand, s *arState) {
			s.R[RDI] = dataBase + 32
			s.R[reg] = s.R[reg]&^0xFFFFFFFF | uint64(r.Int64N(512)-256)&0xFFFFFFFF
		}
	}
	// The 32-bit BSF/BSR with a zero source clears the upper half here (as
	// on Intel), not on the AMD host: keep the source non-zero there.
	nonZero := func(reg int) func(r *rand.Rand, s *arState) {
		return func(r *rand.Rand, s *arState) {
			if uint32(s.R[reg]) == 0 {
				s.R[reg] |= 1 << r.IntN(32)
			}
		}
	}
	var cases []arHostCase
	for _, op := range []string{"bt", "bts", "btr", "btc"} {
		cases = append(cases,
			arHostCase{asm: op + " rax, rcx", mask: cz},
			arHostCase{asm: op + " eax, ecx", mask: cz},
			arHostCase{asm: op + " ax, cx", mask: cz},
			arHostCase{asm: op + " r10, 37", mask: cz},
			arHostCase{asm: op + " r11d, 77", mask: cz},
			arHostCase{asm: op + " si, 250", mask: cz},
			arHostCase{asm: op + " qword ptr [rdi], 67", mask: cz},
			arHostCase{asm: op + " dword ptr [rdi+4], 3", mask: cz},
			arHostCase{asm: op + " word ptr [rdi+6], 31", mask: cz},
			arHostCase{asm: op + " [rdi], rcx", mask: cz, setup: memOff(RCX)},
			arHostCase{asm: op + " [rdi], edx", mask: cz, setup: memOff32(RDX)},
			arHostCase{asm: op + " [rdi], bx", mask: cz, setup: memOff16(RBX)},
		)
	}
	for _, src := range []string{"bsf rax, rbx", "bsr rax, rbx", "bsf cx, dx", "bsr cx, dx",
		"bsf r8, [rdi]", "bsr r9, [rdi+8]", "bsf si, [rdi+2]"} {
		cases = append(cases, arHostCase{asm: src, mask: zf})
	}
	cases = append(cases,
		arHostCase{asm: "bsf eax, ebx", mask: zf, setup: nonZero(RBX)},
		arHostCase{asm: "bsr eax, ebx", mask: zf, setup: nonZero(RBX)})
	for _, src := range []string{"lzcnt rax, rbx", "lzcnt eax, ebx", "lzcnt ax, bx", "lzcnt r8, [rdi]",
		"lzcnt r9d, [rdi+4]", "lzcnt r10w, [rdi+6]"} {
		cases = append(cases, arHostCase{asm: src, mask: cz})
	}
	for _, src := range []string{"popcnt rax, rbx", "popcnt eax, ebx", "popcnt ax, bx", "popcnt r8, [rdi]",
		"popcnt r9d, [rdi+4]", "popcnt r10w, [rdi+6]", "bswap eax", "bswap rbx", "bswap r12d", "bswap r13"} {
		cases = append(cases, arHostCase{asm: src})
	}
	compareWithHost(t, 400, cases)
}
