package cpu

import "testing"

// BMI1 (VEX-encoded) results and flags; AF and PF are undefined and masked.
func TestBMI1(t *testing.T) {
	const m = FlagCF | FlagZF | FlagSF | FlagOF
	cases := []arCase{
		{asm: "andn rax, rbx, rcx", in: regs{RBX: 0xF0, RCX: 0xFF}, want: regs{RAX: 0x0F, RBX: 0xF0, RCX: 0xFF}, flagsIn: "CO", flags: "", mask: m},
		{asm: "andn eax, ebx, ecx", in: regs{RAX: 1 << 40, RBX: 0xFFFFFFFF, RCX: 0xFFFFFFFF}, want: regs{RAX: 0, RBX: 0xFFFFFFFF, RCX: 0xFFFFFFFF}, flags: "Z", mask: m},
		{asm: "andn r8, r9, qword ptr [rdi]", in: regs{R9: 0}, mem: regs{0: 1 << 63}, want: regs{R8: 1 << 63}, flags: "S", mask: m},
		{asm: "bextr rax, rbx, rcx", in: regs{RBX: 0xABCD00, RCX: 8 | 8<<8}, want: regs{RAX: 0xCD, RBX: 0xABCD00, RCX: 8 | 8<<8}, flagsIn: "C", flags: "", mask: m},
		{asm: "bextr eax, ebx, ecx", in: regs{RBX: 0xFFFFFFFF, RCX: 40 | 8<<8}, want: regs{RAX: 0, RBX: 0xFFFFFFFF, RCX: 40 | 8<<8}, flags: "Z", mask: m},
		{asm: "bextr rax, rbx, rcx", in: regs{RBX: 1 << 63, RCX: 0 | 200<<8}, want: regs{RAX: 1 << 63, RBX: 1 << 63, RCX: 200 << 8}, flags: "", mask: m},
		{asm: "blsr rax, rbx", in: regs{RBX: 0b1100}, want: regs{RAX: 0b1000, RBX: 0b1100}, flags: "", mask: m},
		{asm: "blsr eax, ebx", in: regs{RBX: 0}, want: regs{RAX: 0}, flags: "CZ", mask: m},
		{asm: "blsmsk rax, rbx", in: regs{RBX: 0b1100}, want: regs{RAX: 0b0111, RBX: 0b1100}, flags: "", mask: m},
		{asm: "blsmsk eax, ebx", in: regs{RBX: 0}, want: regs{RAX: 0xFFFFFFFF}, flags: "CS", mask: m},
		{asm: "blsi rax, rbx", in: regs{RBX: 0b1100}, want: regs{RAX: 0b0100, RBX: 0b1100}, flags: "C", mask: m},
		{asm: "blsi rax, rbx", in: regs{RBX: 0}, want: regs{RAX: 0}, flags: "Z", mask: m},
		{asm: "blsi r12, qword ptr [rdi]", mem: regs{0: 1 << 63}, want: regs{R12: 1 << 63}, flags: "CS", mask: m},
		// VEX.L=1 and a 66 prefix before VEX are #UD.
		{asm: ".byte 0xc4, 0xe2, 0x74, 0xf2, 0xc0", fault: VecUD + 1},
		{asm: ".byte 0x66, 0xc4, 0xe2, 0x70, 0xf2, 0xc0", fault: VecUD + 1},
	}
	runArCases(t, cases)
}
