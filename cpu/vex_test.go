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

// In 32-bit mode C4 and C5 are LES and LDS with a memory operand and VEX
// prefixes otherwise: BMI1 runs, every AVX encoding is #UD and counted
// (SDM Vol. 2, 2.3.5; AVX is not advertised).
func TestVEX32(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		vec   uint8
		check func(c *CPU) bool
	}{
		{"les", "les eax, [0x200000]", noFault, func(c *CPU) bool {
			return c.R[RAX] == 0x12345678 && c.Seg[ES].Selector == selROData
		}},
		{"lds 16-bit offset", "lds ax, [0x200018]", noFault, func(c *CPU) bool {
			return c.R[RAX] == 0x5555 && c.Seg[DS].Selector == selData32
		}},
		{"lds null selector", "lds eax, [0x200008]", noFault, func(c *CPU) bool {
			return c.Seg[DS].Selector == 0 && c.R[RAX] == 0x9ABC
		}},
		{"les execute-only code", "les eax, [0x200010]", VecGP, nil},
		{"andn", "mov ecx, 0xF0F0F0F0; mov ebx, 0xFFFF0000; andn eax, ecx, ebx", noFault, func(c *CPU) bool {
			return c.R[RAX] == 0x0F0F0000
		}},
		{"blsi", "mov ebx, 0x68; blsi eax, ebx", noFault, func(c *CPU) bool { return c.R[RAX] == 8 }},
		{"vaddps", "vaddps xmm0, xmm1, xmm2", VecUD, func(c *CPU) bool { return c.UD == 1 }},
		{"vzeroupper", "vzeroupper", VecUD, func(c *CPU) bool { return c.UD == 1 }},
		{"vmovdqu load", "vmovdqu xmm1, [0x200000]", VecUD, func(c *CPU) bool { return c.UD == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCPU32(t)
			put64(c, dataBase, 0x0018_12345678)    // offset 0x12345678, selector 0x18
			put64(c, dataBase+8, 0x0000_00009ABC)  // offset 0x9ABC, null selector
			put64(c, dataBase+16, 0x0020_00000000) // execute-only code
			put64(c, dataBase+24, 0x0010_5555)
			vec, _ := run32(t, c, tc.src)
			if vec != tc.vec {
				t.Fatalf("vector %#x, want %#x", vec, tc.vec)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("EAX %#x ES %#x DS %#x UD %d", c.R[RAX], c.Seg[ES].Selector, c.Seg[DS].Selector, c.UD)
			}
		})
	}
}
