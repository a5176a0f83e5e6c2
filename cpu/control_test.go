package cpu

import (
	"encoding/binary"
	"testing"
)

// Tests of the control-flow family (control.go).

// TestJcc runs every condition, short and near, on every combination of C,
// P, Z, S and O in RFLAGS.
func TestJcc(t *testing.T) {
	var cases []arCase
	for cc := uint8(0); cc < 16; cc++ {
		n := dmCCNames[cc]
		short := "j" + n + " 1f; mov eax, 1; jmp 2f; 1: mov eax, 2; 2:"
		near := "j" + n + " 1f; mov eax, 1; jmp 2f; .skip 200, 0x90; 1: mov eax, 2; 2:"
		back := "jmp 3f; 1: mov eax, 2; jmp 2f; .skip 200, 0x90; 3: j" + n + " 1b; mov eax, 1; 2:"
		for _, fs := range dmFlagSets() {
			want := uint64(1)
			if dmCond(cc, arFlags(fs)) {
				want = 2
			}
			for _, src := range []string{short, near, back} {
				cases = append(cases, arCase{asm: src, flagsIn: fs, flags: fs, want: regs{RAX: want}})
			}
		}
	}
	runArCases(t, cases)
}

// TestJccLazy evaluates every condition from lazy flags (the state an
// arithmetic instruction leaves), including the specialized JZ/JNZ paths.
func TestJccLazy(t *testing.T) {
	ops := []lazyOp{
		{flagsSub, 5, 5, 8}, {flagsSub, 4, 5, 8}, {flagsSub, 5, 4, 8}, {flagsSub, 0x80, 1, 1},
		{flagsSub, 0x7FFFFFFF, 0xFFFFFFFF, 4}, {flagsSub, 0, 0x8000, 2}, {flagsSub, 3, 0x80000000_00000000, 8},
		{flagsSub, 0x80, 0x7F, 1}, {flagsSub, 0x7F, 0x80, 1}, {flagsSub, 0xFF, 0xFF, 1}, {flagsSub, 0x8000, 0x7FFF, 2},
		{flagsSub, 0x80000000, 0x7FFFFFFF, 4}, {flagsSub, 0xFFFFFFFF, 0, 4}, {flagsSub, 0, 0xFFFFFFFF, 4},
		{flagsSub, 0x8000000000000000, 1, 8}, {flagsSub, 1, 0x8000000000000000, 8}, {flagsSub, m1, 0, 8}, {flagsSub, 0, m1, 8},
		{flagsAdd, 0xFFFFFFFF, 1, 4}, {flagsAdd, 0x7F, 1, 1},
	}
	code := condCode(t, "j%s 1f; mov byte ptr [rdi+%d], 1; 1:")
	for _, o := range ops {
		c, wantF := runAfterLazy(t, code, o)
		f := arFlags(wantF)
		for cc := uint8(0); cc < 16; cc++ {
			exp := uint8(1) // the MOV runs when the branch is not taken
			if dmCond(cc, f) {
				exp = 0
			}
			if got := c.ram[dataBase+uint64(cc)]; got != exp {
				t.Errorf("j%s after op %d %#x,%#x (size %d): not-taken marker %d, want %d", dmCCNames[cc], o.kind, o.a, o.b, o.size, got, exp)
			}
		}
		if got := c.RFLAGS() & FlagsArith; got != f {
			t.Errorf("flags after Jcc run %s, want %s", arFlagString(got), wantF)
		}
	}
}

func TestJMPCALLRET(t *testing.T) {
	const nc = 0x8000000000000000 // non-canonical
	runArCases(t, []arCase{
		{asm: "jmp 1f; mov eax, 1; 1:", want: regs{RAX: 0}},
		{asm: "jmp 1f; mov eax, 1; .skip 300, 0x90; 1:", want: regs{RAX: 0}},
		{asm: "jmp 3f; 1: mov ebx, 2; jmp 2f; 3: jmp 1b; mov ebx, 1; 2:", want: regs{RBX: 2}},
		// Direct call and return; the return address is the next instruction.
		{asm: "call 1f; mov rbx, rax; mov r8, rsp; mov r9, [rsp-8]; jmp 2f; 1: mov eax, 7; ret; 2:",
			want: regs{RAX: 7, RBX: 7, R8: stackTop, R9: codeBase + 5}},
		{asm: "call 1f; jmp 2f; 1: mov r8, rsp; mov r9, [rsp]; ret; 2:", want: regs{R8: stackTop - 8, R9: codeBase + 5}},
		// RET imm16 releases the arguments.
		{asm: "push 1; push 2; call 1f; mov r8, rsp; jmp 2f; 1: ret 16; 2:", want: regs{R8: stackTop}},
		// Indirect forms.
		{asm: "lea rax, [rip+1f]; call rax; mov r8, rsp; jmp 2f; 1: mov ebx, 5; ret; 2:", want: regs{RBX: 5, R8: stackTop}},
		{asm: "lea rax, [rip+1f]; mov [rdi+8], rax; call qword ptr [rdi+8]; mov r8, rsp; jmp 2f; 1: mov ebx, 6; ret; 2:",
			want: regs{RBX: 6, R8: stackTop}},
		{asm: "lea r15, [rip+1f]; call r15; mov r8, rsp; jmp 2f; 1: mov ebx, 5; ret; 2:", want: regs{RBX: 5, R8: stackTop}},
		{asm: "lea rax, [rip+1f]; jmp rax; mov ebx, 1; 1:", want: regs{RBX: 0}},
		{asm: "lea rax, [rip+1f]; mov [rdi], rax; jmp qword ptr [rdi]; mov ebx, 1; 1:", want: regs{RBX: 0}},
		{asm: "lea rax, [rip+1f]; mov [rdi], rax; jmp qword ptr [rdi+rcx*8]; mov ebx, 1; 1:", want: regs{RBX: 0}},
		// Non-canonical targets fault at the branch with nothing changed.
		{asm: "jmp rax", in: regs{RAX: nc}, fault: VecGP + 1},
		{asm: "call rax", in: regs{RAX: nc}, fault: VecGP + 1},
		{asm: "call qword ptr [rdi]", mem: regs{0: nc}, fault: VecGP + 1},
		{asm: "jmp qword ptr [rdi]", mem: regs{0: nc}, fault: VecGP + 1},
	})
}

// TestCALLFaultKeepsRSP checks that a faulting CALL, RET or push of a return
// address leaves RSP and memory unchanged.
func TestCALLFaultKeepsRSP(t *testing.T) {
	const nc = 0x8000000000000000
	for _, tc := range []struct {
		asm   string
		setup func(c *CPU)
	}{
		{"call rax", func(c *CPU) { c.R[RAX] = nc }},
		{"ret", func(c *CPU) { binary.LittleEndian.PutUint64(c.ram[stackTop:], nc) }},
		{"ret 8", func(c *CPU) { binary.LittleEndian.PutUint64(c.ram[stackTop:], nc) }},
		{"call 1f; 1:", func(c *CPU) { c.R[RSP] = nc + 8 }}, // push to a non-canonical stack
	} {
		c := newTestCPU(t)
		tc.setup(c)
		sp := c.R[RSP]
		load(c, assemble(t, tc.asm))
		c.Run(1) // the fault is delivered (no IDT: it ends in a triple fault)
		if c.R[RSP] != sp {
			t.Errorf("%s: RSP %#x after fault, want %#x", tc.asm, c.R[RSP], sp)
		}
		if c.Retired != 0 {
			t.Errorf("%s: retired %d, want 0", tc.asm, c.Retired)
		}
	}
}

func TestLOOP(t *testing.T) {
	const hi = 0xFFFFFFFF_00000000
	body := "1: lea eax, [rax+1]; "
	runArCases(t, []arCase{
		{asm: body + "loop 1b", in: regs{RCX: 5}, want: regs{RAX: 5, RCX: 0}},
		{asm: body + "loop 1b", in: regs{RCX: 1}, want: regs{RAX: 1, RCX: 0}},
		{asm: body + "loop 1b", in: regs{RCX: 3}, flagsIn: "CZSO", flags: "CZSO", want: regs{RAX: 3, RCX: 0}},
		{asm: body + "loope 1b", in: regs{RCX: 5}, flagsIn: "Z", flags: "Z", want: regs{RAX: 5, RCX: 0}},
		{asm: body + "loope 1b", in: regs{RCX: 5}, want: regs{RAX: 1, RCX: 4}},
		{asm: body + "loopne 1b", in: regs{RCX: 5}, want: regs{RAX: 5, RCX: 0}},
		{asm: body + "loopne 1b", in: regs{RCX: 5}, flagsIn: "Z", flags: "Z", want: regs{RAX: 1, RCX: 4}},
		// 32-bit address size: ECX counts, and RCX is written as ECX.
		{asm: body + "addr32 loop 1b", in: regs{RCX: hi | 3}, want: regs{RAX: 3, RCX: 0}},
		{asm: body + "addr32 loope 1b", in: regs{RCX: hi | 3}, want: regs{RAX: 1, RCX: 2}},
		{asm: body + "addr32 loopne 1b", in: regs{RCX: hi | 1}, want: regs{RAX: 1, RCX: 0}},
		// JRCXZ and JECXZ.
		{asm: "jrcxz 1f; mov eax, 1; 1:", in: regs{RCX: 0}, want: regs{RAX: 0}},
		{asm: "jrcxz 1f; mov eax, 1; 1:", in: regs{RCX: 0x1_00000000}, want: regs{RAX: 1}},
		{asm: "jecxz 1f; mov eax, 1; 1:", in: regs{RCX: 0x1_00000000}, want: regs{RAX: 0}},
		{asm: "jecxz 1f; mov eax, 1; 1:", in: regs{RCX: 0x1_00000001}, want: regs{RAX: 1}},
	})
}

// TestLOOPNotTakenKeepsBlock checks a LOOP whose last iteration falls into
// following code, within a longer run.
func TestLOOPCountsInstructions(t *testing.T) {
	c := runAsm(t, "mov ecx, 10; 1: loop 1b", nil)
	if c.Retired != 1+10+1 {
		t.Errorf("retired %d, want %d", c.Retired, 12)
	}
}

func TestFarTransfers(t *testing.T) {
	runArCases(t, []arCase{
		// RETF with REX.W pops 8-byte RIP and CS.
		{asm: "push 0x08; lea rax, [rip+1f]; push rax; rex.w retf; mov ebx, 1; 1: mov r8, rsp", want: regs{RBX: 0, R8: stackTop}},
		// RETF defaults to 32-bit operands in 64-bit mode.
		{asm: "lea rax, [rip+1f]; lea rsp, [rsp-8]; mov [rsp], eax; mov dword ptr [rsp+4], 0x08; retf; mov ebx, 1; 1: mov r8, rsp",
			want: regs{RBX: 0, R8: stackTop}},
		// RETF imm16.
		{asm: "push 1; push 2; push 0x08; lea rax, [rip+1f]; push rax; rex.w retf 16; mov ebx, 1; 1: mov r8, rsp", want: regs{RBX: 0, R8: stackTop}},
		// Far JMP through m16:32 and m16:64.
		{asm: "lea rax, [rip+1f]; mov [rdi], eax; mov word ptr [rdi+4], 0x08; jmp fword ptr [rdi]; mov ebx, 1; 1: mov ecx, 2",
			want: regs{RBX: 0, RCX: 2}},
		{asm: "lea rax, [rip+1f]; mov [rdi], rax; mov word ptr [rdi+8], 0x08; .byte 0x48, 0xff, 0x2f; mov ebx, 1; 1: mov ecx, 2",
			want: regs{RBX: 0, RCX: 2}},
		{asm: "jmp fword ptr [rdi]", mem: regs{0: 0x10_00100000}, fault: VecGP + 1},
		{asm: "jmp fword ptr [rdi]", mem: regs{0: 0x00_00100000}, fault: VecGP + 1},
		{asm: "call fword ptr [rdi]", mem: regs{0: 0x10_00100000}, fault: VecGP + 1},
		// Far CALL pushes CS and the return offset; RETF comes back.
		{asm: "lea rax, [rip+1f]; mov [rdi], eax; mov word ptr [rdi+4], 0x08; call fword ptr [rdi]; mov r9, rsp; jmp 2f; 1: mov r8, [rsp]; mov r10, rsp; retf; 2:",
			want: regs{R8: 0x08_00000000 | (codeBase + 17), R9: stackTop, R10: stackTop - 8}},
		{asm: "lea rax, [rip+1f]; mov [rdi], rax; mov word ptr [rdi+8], 0x08; .byte 0x48, 0xff, 0x1f; mov r9, rsp; jmp 2f; 1: mov r8, [rsp+8]; mov r11, [rsp]; mov r10, rsp; rex.w retf; 2:",
			want: regs{R8: 0x08, R11: codeBase + 19, R9: stackTop, R10: stackTop - 16}},
	})
}

// TestFarFaults checks the faults of RETF and far JMP with their error
// codes, and that nothing changed.
func TestFarFaults(t *testing.T) {
	for _, tc := range []struct {
		asm       string
		rip, cs   uint64
		vec, code uint64
	}{
		{"rex.w retf", codeBase, 0x10, VecGP, 0x10}, // data segment
		{"rex.w retf", codeBase, 0x00, VecGP, 0},    // null
		{"rex.w retf", codeBase, 0x38, VecGP, 0x38}, // not in the GDT (limit 0x27)
		{"rex.w retf", 1 << 63, 0x08, VecGP, 0},     // non-canonical
		{"retf", codeBase, 0x10008, VecGP, 0},       // 32-bit: CS is the low 16 bits of the slot... (0x0008)
		{"jmp fword ptr [rsp]", codeBase, 0x38, VecGP, 0x38},
	} {
		c := newArRunner(t).c
		sp := c.R[RSP]
		if tc.asm == "retf" || tc.asm == "jmp fword ptr [rsp]" {
			binary.LittleEndian.PutUint32(c.ram[sp:], uint32(tc.rip))
			binary.LittleEndian.PutUint32(c.ram[sp+4:], uint32(tc.cs))
		} else {
			binary.LittleEndian.PutUint64(c.ram[sp:], tc.rip)
			binary.LittleEndian.PutUint64(c.ram[sp+8:], tc.cs)
		}
		load(c, assemble(t, tc.asm))
		c.Run(1) // the faulting instruction does not retire: the stub's HLT runs
		if tc.asm == "retf" {
			// CS 0x0008 from a 32-bit slot is valid: the return succeeds.
			if c.RIP != codeBase || c.R[RSP] != sp+8 {
				t.Errorf("retf: RIP %#x RSP %#x", c.RIP, c.R[RSP])
			}
			continue
		}
		if c.RIP != arStubs+tc.vec+1 {
			t.Errorf("%s cs %#x: RIP %#x, want the vector %d stub", tc.asm, tc.cs, c.RIP, tc.vec)
			continue
		}
		frame := c.R[RSP]
		if code := binary.LittleEndian.Uint64(c.ram[frame:]); code != tc.code {
			t.Errorf("%s cs %#x: error code %#x, want %#x", tc.asm, tc.cs, code, tc.code)
		}
		if rip := binary.LittleEndian.Uint64(c.ram[frame+8:]); rip != codeBase {
			t.Errorf("%s cs %#x: fault RIP %#x", tc.asm, tc.cs, rip)
		}
		if rsp := binary.LittleEndian.Uint64(c.ram[frame+32:]); rsp != sp {
			t.Errorf("%s cs %#x: RSP at fault %#x, want %#x", tc.asm, tc.cs, rsp, sp)
		}
	}
}

// TestRETFOuter returns from CPL 0 to CPL 3: RSP and SS are popped, CPL
// changes, and data segments with DPL < 3 are nulled.
func TestRETFOuter(t *testing.T) {
	c := newTestCPU(t)
	dmGDT(c)
	load(c, assemble(t, "rex.w retf 16"))
	sp := c.R[RSP]
	put := func(i int, v uint64) { binary.LittleEndian.PutUint64(c.ram[sp+uint64(i)*8:], v) }
	put(0, 0x401000)       // RIP
	put(1, 0x23)           // CS: user code, RPL 3
	put(4, 0x7000)         // RSP (after the 16 bytes released)
	put(5, 0x1B)           // SS: user data, RPL 3
	c.Seg[ES].Selector = 0 // a null selector stays null
	c.Seg[FS] = Segment{Selector: 0x43, Attr: 0xF3, Base: 0x5000}
	c.StateChanged()
	c.Run(1)
	if c.CPL != 3 || c.Seg[CS].Selector != 0x23 || c.Seg[SS].Selector != 0x1B {
		t.Fatalf("CPL %d CS %#x SS %#x, want 3, 0x23, 0x1b", c.CPL, c.Seg[CS].Selector, c.Seg[SS].Selector)
	}
	if c.RIP != 0x401000 || c.R[RSP] != 0x7000+16 {
		t.Errorf("RIP %#x RSP %#x, want 0x401000, 0x7010", c.RIP, c.R[RSP])
	}
	if c.Seg[DS].Selector != 0 || c.Seg[GS].Selector != 0 {
		t.Errorf("DS %#x GS %#x: DPL 0 data segments not nulled", c.Seg[DS].Selector, c.Seg[GS].Selector)
	}
	if c.Seg[FS].Selector != 0x43 || c.segBase64[FS] != 0x5000 {
		t.Errorf("FS %#x base %#x: a DPL 3 segment must be kept", c.Seg[FS].Selector, c.segBase64[FS])
	}
	if c.Retired != 1 {
		t.Errorf("retired %d", c.Retired)
	}
}
