package cpu

import "testing"

func TestFlagOpsExact(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "clc", flagsIn: "CPAZSO", flags: "PAZSO"},
		{asm: "stc", flagsIn: "PZ", flags: "CPZ"},
		{asm: "cmc", flagsIn: "C", flags: ""},
		{asm: "cmc", flagsIn: "S", flags: "CS"},
		{asm: "add rax, rbx; cmc", in: regs{RAX: ^uint64(0), RBX: 1}, flags: "PAZ"},
		{asm: "add rax, rbx; stc", in: regs{RAX: 1, RBX: 1}, flags: "C"},
		{asm: "sub rax, rbx; clc", in: regs{RAX: 0, RBX: 1}, flags: "PAS"},
		{asm: "std", flagsIn: "C", flags: "CD", mask: FlagsArith | FlagDF},
		{asm: "std; cld", flagsIn: "Z", flags: "Z", mask: FlagsArith | FlagDF},
		{asm: "lahf", in: regs{RAX: 0xFFFF0000}, flagsIn: "CPAZSO", want: regs{RAX: 0xFFFFD700}, flags: "CPAZSO"},
		{asm: "lahf", in: regs{RAX: 0xFFFF}, want: regs{RAX: 0x02FF}},
		{asm: "sub eax, 1; lahf", in: regs{RAX: 0}, want: regs{RAX: 0xFFFF97FF}, flags: "CPAS"},
		{asm: "sahf", in: regs{RAX: 0xFF00}, flagsIn: "O", want: regs{RAX: 0xFF00}, flags: "CPAZSO"},
		{asm: "sahf", in: regs{RAX: 0x0000}, flagsIn: "CPAZSO", flags: "O"},
		{asm: "sahf", in: regs{RAX: 0x4100}, flags: "CZ"},
		{asm: "add al, 1; sahf", in: regs{RAX: 0x807F}, want: regs{RAX: 0x8080}, flags: "SO"},
	})
}

func TestFlagOpsHost(t *testing.T) {
	t.Parallel()
	var cases []arHostCase
	for _, src := range []string{"clc", "stc", "cmc", "std", "cld", "std; cld", "lahf", "sahf",
		"add rax, rbx; lahf", "sahf; adc rcx, rdx", "cmc; sbb eax, ebx", "stc; rcl al, 1", "sahf; lahf"} {
		cases = append(cases, arHostCase{asm: src})
	}
	compareWithHost(t, 200, cases)
}
