package cpu

import (
	"encoding/binary"
	"testing"
)

// Tests of the stack family (stack.go).

func TestPUSHPOP(t *testing.T) {
	const x = 0x1122334455667788
	runArCases(t, []arCase{
		{asm: "push rax; pop rbx; mov r8, rsp", in: regs{RAX: x}, want: regs{RBX: x, R8: stackTop}},
		{asm: "push rax; mov r8, rsp; mov r9, [rsp]", in: regs{RAX: x}, want: regs{R8: stackTop - 8, R9: x}},
		{asm: "push r12; pop r13", in: regs{R12: x}, want: regs{R13: x}},
		// 16-bit pushes and pops (66).
		{asm: "push ax; mov r8, rsp; movzx r9d, word ptr [rsp]; pop bx", in: regs{RAX: x, RBX: m1},
			want: regs{R8: stackTop - 2, R9: 0x7788, RBX: 0xFFFFFFFFFFFF7788}},
		{asm: "pushw 5; mov r8, rsp; pop ax", in: regs{RAX: m1}, want: regs{R8: stackTop - 2, RAX: 0xFFFFFFFFFFFF0005}},
		{asm: "pushw -2; pop r9w", in: regs{R9: 0}, want: regs{R9: 0xFFFE}},
		// Immediates are sign-extended to 64 bits.
		{asm: "push 5; pop rax", want: regs{RAX: 5}},
		{asm: "push -1; pop rax", want: regs{RAX: m1}},
		{asm: "push 0x12345678; pop rax", want: regs{RAX: 0x12345678}},
		{asm: "push -0x12345678; pop rax", want: regs{RAX: 0xFFFFFFFFEDCBA988}},
		// Memory operands.
		{asm: "push qword ptr [rdi+8]; pop rax", mem: regs{1: x}, want: regs{RAX: x}},
		{asm: "push word ptr [rdi+8]; pop bx", in: regs{RBX: 0}, mem: regs{1: x}, want: regs{RBX: 0x7788}},
		{asm: "push rax; pop qword ptr [rdi+8]", in: regs{RAX: x}, wantMem: regs{1: x}},
		{asm: "push rax; pop word ptr [rdi+8]; mov r8, rsp", in: regs{RAX: x}, mem: regs{1: m1}, wantMem: regs{1: 0xFFFFFFFFFFFF7788}, want: regs{R8: stackTop - 6}},
		{asm: "push rax; .byte 0x8f, 0xc3; mov r8, rsp", in: regs{RAX: x}, want: regs{RBX: x, R8: stackTop}},                                     // pop rbx via 8F /0
		{asm: "push rax; .byte 0x66, 0x8f, 0xc3; mov r8, rsp", in: regs{RAX: x, RBX: m1}, want: regs{RBX: 0xFFFFFFFFFFFF7788, R8: stackTop - 6}}, // pop bx via 8F /0
		// PUSH RSP pushes the old value; POP RSP loads the popped value.
		{asm: "push rsp; pop rax", want: regs{RAX: stackTop}},
		{asm: "push rax; pop rsp; mov r8, rsp", in: regs{RAX: 0x70000}, want: regs{R8: 0x70000}},
		{asm: "push ax; pop sp; mov r8, rsp", in: regs{RAX: 0x1234}, want: regs{R8: stackTop&^0xFFFF | 0x1234}},
		// POP into memory addressed by RSP uses RSP after the pop.
		{asm: "push rax; pop qword ptr [rsp]; mov r8, rsp; mov r9, [rsp]", in: regs{RAX: x}, want: regs{R8: stackTop, R9: x}},
		{asm: "push rax; push rbx; pop qword ptr [rsp+8]; mov r8, rsp; mov r9, [rsp+8]", in: regs{RAX: 1, RBX: 2}, want: regs{R8: stackTop - 8, R9: 2}},
		{asm: "push rax; pop qword ptr [rsp-8]; mov r9, [rsp-8]", in: regs{RAX: x}, want: regs{R9: x}},
		{asm: "push rax; pop word ptr [rsp+2]; mov r8, rsp; movzx r9d, word ptr [rsp+2]", in: regs{RAX: x}, want: regs{R8: stackTop - 6, R9: 0x7788}},
		// Faults.
		{asm: "pop qword ptr [rax]", in: regs{RAX: 1 << 63}, fault: VecGP + 1},
		{asm: "push qword ptr [rax]", in: regs{RAX: 1 << 63}, fault: VecGP + 1},
	})
}

// dmFrame returns the error code, RIP and RSP saved by an exception
// delivered to one of the arRunner stubs (the frame holds an error code).
func dmFrame(c *CPU) (code, rip, rsp uint64) {
	f := c.ram[c.R[RSP]:]
	return binary.LittleEndian.Uint64(f), binary.LittleEndian.Uint64(f[8:]), binary.LittleEndian.Uint64(f[32:])
}

// TestPOPFaultKeepsRSP checks that a POP whose store faults, or a PUSH
// whose stack is not writable, leaves RSP as it was.
func TestPOPFaultKeepsRSP(t *testing.T) {
	for _, src := range []string{"pop qword ptr [rax]", "pop word ptr [rax]", "push qword ptr [rax]"} {
		c := newArRunner(t).c
		c.R[RAX] = 1 << 63
		load(c, assemble(t, src))
		c.Run(2)
		if code, rip, rsp := dmFrame(c); c.RIP != arStubs+VecGP+1 || code != 0 || rip != codeBase || rsp != stackTop {
			t.Errorf("%s: RIP %#x, frame code %#x rip %#x rsp %#x", src, c.RIP, code, rip, rsp)
		}
	}
}

func TestPUSHFPOPF(t *testing.T) {
	const all = FlagsArith | FlagDF | FlagIF | FlagIOPL | FlagNT | FlagAC | FlagID
	runArCases(t, []arCase{
		{asm: "pushfq; pop rax", flagsIn: "CZ", flags: "CZ", want: regs{RAX: 0x2 | FlagCF | FlagZF}},
		{asm: "pushfq; pop rax", flagsIn: "DSOPA", flags: "SOPA", want: regs{RAX: 0x2 | FlagDF | FlagSF | FlagOF | FlagPF | FlagAF}},
		{asm: "pushfw; pop ax", in: regs{RAX: m1}, flagsIn: "C", flags: "C", want: regs{RAX: 0xFFFFFFFFFFFF0003}},
		// POPF at CPL 0 loads everything writable; RF, VM, VIF, VIP stay 0.
		{asm: "push rax; popfq; pushfq; pop rbx; cli",
			in:    regs{RAX: 0xFFFFFFFF_00000000 | all | FlagRF | FlagVM | FlagVIF | FlagVIP},
			flags: "CPAZSO", want: regs{RBX: 0x2 | all}},
		{asm: "push rax; popfq; pushfq; pop rbx", in: regs{RAX: 0}, flagsIn: "CPAZSO", flags: "", want: regs{RBX: 0x2}},
		// POPF with 66 loads only the low 16 bits.
		{asm: "pushfq; pop rcx; or rcx, 0x40000; push rcx; popfq; push ax; popfw; pushfq; pop rbx",
			in: regs{RAX: 0x0801}, flagsIn: "ZS", flags: "CO", want: regs{RBX: 0x2 | FlagAC | FlagCF | FlagOF}},
	})
}

// dmUserMode switches the test CPU to CPL 3 with user-accessible pages.
func dmUserMode(c *CPU) {
	for _, a := range []uint64{testPML4, testPDPT} {
		binary.LittleEndian.PutUint64(c.ram[a:], binary.LittleEndian.Uint64(c.ram[a:])|4)
	}
	for i := uint64(0); i < 512; i++ {
		a := testPD + i*8
		binary.LittleEndian.PutUint64(c.ram[a:], binary.LittleEndian.Uint64(c.ram[a:])|4)
	}
	c.Seg[CS] = Segment{Selector: 0x23, Limit: 0xFFFFFFFF, Attr: 0xFB | SegAttrL | 0x8000}
	c.Seg[SS] = Segment{Selector: 0x1B, Limit: 0xFFFFFFFF, Attr: 0xF3 | SegAttrD | 0x8000}
	// A TSS whose RSP0 is the test stack, for exceptions taken at CPL 3.
	c.TR = Segment{Selector: 0x30, Base: 0x5000, Limit: 0x67, Attr: 0x8B}
	binary.LittleEndian.PutUint64(c.ram[0x5004:], stackTop)
	c.StateChanged()
}

// TestPOPFUser checks POPF at CPL 3: IOPL never changes; IF changes only if
// IOPL is 3.
func TestPOPFUser(t *testing.T) {
	code := assemble(t, "push rax; popfq; pushfq; pop rbx")
	for _, tc := range []struct {
		start, pop, want uint64
	}{
		{FlagIF, FlagIOPL | FlagCF | FlagAC, FlagIF | FlagCF | FlagAC},               // IF kept, IOPL kept
		{FlagIF | FlagIOPL, FlagZF, FlagIOPL | FlagZF},                               // IOPL 3: IF cleared
		{FlagIOPL, FlagIF | FlagDF, FlagIOPL | FlagIF | FlagDF},                      // IOPL 3: IF set
		{1 << 12, FlagIF | FlagNT, 1<<12 | FlagNT},                                   // IOPL 1: IF stays clear
		{FlagIF | 2<<12, FlagSF | FlagID | FlagRF, FlagIF | 2<<12 | FlagSF | FlagID}, // RF never set by POPF
	} {
		c := newTestCPU(t)
		dmUserMode(c)
		c.SetRFLAGS(tc.start | 2)
		c.R[RAX] = tc.pop
		load(c, code)
		c.Run(4)
		if c.Retired != 4 || c.CPL != 3 {
			t.Fatalf("retired %d CPL %d", c.Retired, c.CPL)
		}
		if c.R[RBX] != tc.want|2 {
			t.Errorf("start %#x popf %#x: flags %#x, want %#x", tc.start, tc.pop, c.R[RBX], tc.want|2)
		}
	}
}

func TestENTERLEAVE(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "enter 16, 0; mov r8, rsp; mov r9, rbp; mov r12, [rsp+16]; leave; mov r10, rsp; mov r11, rbp", in: regs{RBP: 0x1234},
			want: regs{R8: stackTop - 24, R9: stackTop - 8, R10: stackTop, R11: 0x1234, R12: 0x1234}},
		{asm: "enter 8, 1; mov r8, rsp; mov r9, rbp; mov r10, [rsp+8]; mov r11, [rsp+16]", in: regs{RBP: 0x1234},
			want: regs{R8: stackTop - 24, R9: stackTop - 8, R10: stackTop - 8, R11: 0x1234}},
		{asm: "enter 0, 3; mov r8, [rsp]; mov r9, [rsp+8]; mov r10, [rsp+16]; mov r11, [rsp+24]; mov r12, rsp; mov r13, rbp",
			in: regs{RBP: dataBase + 0x20}, mem: regs{3: 0xAAAA, 2: 0xBBBB},
			want: regs{R8: stackTop - 8, R9: 0xBBBB, R10: 0xAAAA, R11: dataBase + 0x20, R12: stackTop - 32, R13: stackTop - 8}},
		{asm: "enter 0, 33; mov r12, rsp; mov r13, rbp", in: regs{RBP: 0x40}, // level is taken mod 32
			want: regs{R12: stackTop - 16, R13: stackTop - 8}},
		// 16-bit ENTER/LEAVE (66).
		{asm: ".byte 0x66, 0xc8, 0x10, 0x00, 0x00; mov r8, rsp; mov r9, rbp; .byte 0x66, 0xc9; mov r10, rsp; mov r11, rbp",
			in:   regs{RBP: 0x7_1234},
			want: regs{R8: stackTop - 18, R9: stackTop - 2, R10: stackTop, R11: 0x7_1234}},
		{asm: "leave; mov r8, rsp", in: regs{RBP: dataBase}, mem: regs{0: 0x5555}, want: regs{RBP: 0x5555, R8: dataBase + 8}},
		{asm: "leave", in: regs{RBP: 1 << 63}, fault: VecGP + 1},
	})
}

func TestPUSHPOPSeg(t *testing.T) {
	runArCases(t, []arCase{
		{asm: "push fs; pop rax; push gs; mov r8, rsp; pop rbx", in: regs{RAX: m1}, want: regs{RAX: 0x10, RBX: 0x10, R8: stackTop - 8}},
		{asm: "push rax; push rax; push rax; push rax; push fs; pop rax", in: regs{RAX: m1}, want: regs{RAX: 0x10}}, // zero-extended
		{asm: ".byte 0x66, 0x0f, 0xa0; mov r8, rsp; pop ax", in: regs{RAX: m1}, want: regs{RAX: 0xFFFFFFFFFFFF0010, R8: stackTop - 2}},
		{asm: "push 0; pop fs; mov ax, fs; push 0x10; pop gs; mov bx, gs; mov r8, rsp", in: regs{RAX: m1, RBX: m1},
			want: regs{RAX: 0xFFFFFFFFFFFF0000, RBX: 0xFFFFFFFFFFFF0010, R8: stackTop}},
	})
	// POP FS/GS sets the base from the descriptor; a bad selector faults
	// with RSP unchanged.
	c := newArRunner(t).c
	dmGDT(c)
	load(c, assemble(t, "push 0x28; pop gs; push 0x30; pop fs"))
	c.Run(10)
	if c.Seg[GS].Selector != 0x28 || c.segBase64[GS] != 0x12345000 {
		t.Errorf("GS %#x base %#x", c.Seg[GS].Selector, c.segBase64[GS])
	}
	if code, rip, rsp := dmFrame(c); c.RIP != arStubs+VecNP+1 || code != 0x30 || rip != codeBase+6 || rsp != stackTop-8 {
		t.Errorf("pop fs (not present): RIP %#x code %#x rip %#x rsp %#x", c.RIP, code, rip, rsp)
	}
}
