package cpu

import (
	"encoding/binary"
	"testing"
)

// Exception and interrupt delivery tests, and the guest-side environment the
// system tests share: an IDT whose every vector v runs a stub "mov r15, v;
// hlt", a 64-bit TSS with RSP0 and IST1, a TSS descriptor at GDT selector
// 0x28, and helpers to run code at CPL 3.

const (
	sysIDT   = 0x20000 // 256 gates
	sysTSS   = 0x22000
	sysLDT   = 0x23000
	sysStubs = 0x30000 // stub for vector v at sysStubs + 16*v
	sysIST1  = 0x50000
	sysRSP0  = 0x60000
	sysUSP   = 0x70000 // a user stack for code that enters CPL 3 itself

	sysNoFault = 0xFFFF // R15 before any exception

	selTSS      = 0x28
	selLDT      = 0x38
	selUserData = 0x18 | 3
	selUserCode = 0x20 | 3
)

func put64(c *CPU, a, v uint64) { binary.LittleEndian.PutUint64(c.ram[a:], v) }
func get64(c *CPU, a uint64) uint64 {
	return binary.LittleEndian.Uint64(c.ram[a:])
}

// setGate writes IDT gate vec: target, code selector sel, IST index, type
// (0xE interrupt gate, 0xF trap gate), DPL and the present bit.
func setGate(c *CPU, vec int, target uint64, ist, typ, dpl int, present bool) {
	lo := target&0xFFFF | 0x08<<16 | uint64(ist)<<32 | uint64(typ)<<40 | uint64(dpl)<<45 | (target>>16&0xFFFF)<<48
	if present {
		lo |= 1 << 47
	}
	a := uint64(sysIDT + vec*16)
	put64(c, a, lo)
	put64(c, a+8, target>>32)
}

// sysSetup installs the stub IDT (interrupt gates, DPL 0 except vectors 3,
// 4, 0x80 and 0x81 which are DPL 3; vector 0x41 is not present), a TSS
// (RSP0 = sysRSP0, IST1 = sysIST1) with its descriptor at selector 0x28
// (not loaded: code runs LTR, or sysLoadTR sets TR), an LDT descriptor at
// 0x38, and R15 = sysNoFault.
func sysSetup(c *CPU) {
	for v := 0; v < 256; v++ {
		stub := uint64(sysStubs + v*16)
		// mov r15, imm32; hlt
		copy(c.ram[stub:], []byte{0x49, 0xC7, 0xC7, byte(v), 0, 0, 0, 0xF4})
		dpl := 0
		switch v {
		case 3, 4, 0x80, 0x81:
			dpl = 3
		}
		setGate(c, v, stub, 0, 0xE, dpl, v != 0x41)
	}
	c.IDTR = DTR{Base: sysIDT, Limit: 256*16 - 1}
	put64(c, sysTSS+4, sysRSP0)
	put64(c, sysTSS+36, sysIST1)
	// Available 64-bit TSS (type 9), limit 0x67, and an LDT (type 2).
	put64(c, testGDT+selTSS, 0x67|sysTSS&0xFFFFFF<<16|uint64(0x89)<<40|sysTSS>>24&0xFF<<56)
	put64(c, testGDT+selTSS+8, sysTSS>>32)
	put64(c, testGDT+selLDT, 0xFFF|sysLDT&0xFFFFFF<<16|uint64(0x82)<<40)
	put64(c, testGDT+selLDT+8, 0)
	c.GDTR.Limit = 0x47
	c.R[R15] = sysNoFault
}

// sysLoadTR loads TR as LTR would (without marking the descriptor busy).
func sysLoadTR(c *CPU) {
	c.TR = Segment{Selector: selTSS, Base: sysTSS, Limit: 0x67, Attr: 0x8B}
}

// userPages sets the U bit in the harness's identity map, so CPL 3 may use
// the first 1 GiB.
func userPages(c *CPU) {
	put64(c, testPML4, get64(c, testPML4)|4)
	put64(c, testPDPT, get64(c, testPDPT)|4)
	for i := uint64(0); i < 512; i++ {
		put64(c, testPD+i*8, get64(c, testPD+i*8)|4)
	}
	c.StateChanged()
}

// userSetup is sysSetup plus a loaded TR, user pages, and CPL 3 (flat user
// code 0x23 and data 0x1B): the snippet starts in user mode. Its final HLT
// raises #GP, which the stub reports as R15 = 13.
func userSetup(c *CPU) {
	sysSetup(c)
	sysLoadTR(c)
	userPages(c)
	c.Seg[CS] = Segment{Selector: selUserCode, Limit: 0xFFFFFFFF, Attr: attrCode64 | attrDPL3}
	for _, s := range []int{DS, ES, SS, FS, GS} {
		c.Seg[s] = Segment{Selector: selUserData, Limit: 0xFFFFFFFF, Attr: attrData | attrDPL3}
	}
	c.StateChanged()
}

// instLen returns the length of the instruction at codeBase.
func instLen(t *testing.T, c *CPU, addr uint64) uint64 {
	t.Helper()
	in, err := Decode(c.ram[addr:addr+16], addr)
	if err != nil {
		t.Fatalf("decode at %#x: %v", addr, err)
	}
	return uint64(in.len)
}

// wantFrame is an interrupt stack frame as the handler sees it.
type wantFrame struct {
	code          int64 // -1: no error code
	rip, cs       uint64
	rflags        uint64
	rsp, ss       uint64
	handlerRSPTop uint64 // the stack the frame was pushed on (before alignment)
}

// checkFrame checks that exception vec was delivered with frame w.
func checkFrame(t *testing.T, c *CPU, vec uint64, w wantFrame) {
	t.Helper()
	if c.R[R15] != vec {
		t.Fatalf("exception vector: R15 = %#x, want %#x", c.R[R15], vec)
	}
	if c.CPL != 0 || c.Seg[CS].Selector != 0x08 {
		t.Errorf("handler runs at CPL %d CS %#x, want CPL 0 CS 0x08", c.CPL, c.Seg[CS].Selector)
	}
	sp := c.R[RSP]
	n := uint64(5)
	if w.code >= 0 {
		n = 6
		if got := get64(c, sp); got != uint64(w.code) {
			t.Errorf("error code %#x, want %#x", got, w.code)
		}
		sp += 8
	}
	if want := w.handlerRSPTop&^0xF - 8*n; c.R[RSP] != want {
		t.Errorf("handler RSP %#x, want %#x", c.R[RSP], want)
	}
	got := [5]uint64{get64(c, sp), get64(c, sp+8), get64(c, sp+16), get64(c, sp+24), get64(c, sp+32)}
	want := [5]uint64{w.rip, w.cs, w.rflags, w.rsp, w.ss}
	if got != want {
		t.Errorf("frame RIP CS RFLAGS RSP SS = %#x, want %#x", got, want)
	}
}

func TestExceptionDelivery(t *testing.T) {
	const none = -1
	type tc struct {
		name  string
		src   string // the first instruction faults
		user  bool   // run at CPL 3
		setup func(c *CPU)
		vec   uint64
		code  int64
		next  bool   // the frame's RIP is the next instruction (traps, INT n)
		rip   uint64 // the frame's RIP if neither codeBase nor the next instruction
		cr2   uint64 // for #PF
	}
	gpUser := func(name, src string) tc { return tc{name: name, src: src, user: true, vec: VecGP, code: 0} }
	cases := []tc{
		{name: "ud2", src: "ud2", vec: VecUD, code: none},
		{name: "pf read", src: "mov rax, qword ptr [0x40000000]", vec: VecPF, code: 0, cr2: 0x40000000},
		{name: "pf write", src: "mov qword ptr [rbx], rax", setup: func(c *CPU) { c.R[RBX] = 0x40000010 },
			vec: VecPF, code: 2, cr2: 0x40000010},
		{name: "pf user read supervisor page", src: "mov rax, qword ptr [rbx]", user: true,
			setup: func(c *CPU) { put64(c, testPD+8, get64(c, testPD+8)&^4); c.StateChanged(); c.R[RBX] = 0x200000 },
			vec:   VecPF, code: 5, cr2: 0x200000},
		{name: "pf fetch user from supervisor page", src: "jmp rbx", user: true,
			setup: func(c *CPU) { put64(c, testPD+8, get64(c, testPD+8)&^4); c.StateChanged(); c.R[RBX] = 0x200000 },
			vec:   VecPF, code: 0x15, cr2: 0x200000, rip: 0x200000},
		{name: "int3", src: "int3", vec: VecBP, code: none, next: true},
		{name: "int 0x40", src: "int 0x40", vec: 0x40, code: none, next: true},
		{name: "int1", src: ".byte 0xf1", vec: VecDB, code: none, next: true},
		{name: "int not-present gate", src: "int 0x41", vec: VecNP, code: 0x41<<3 | 2},
		{name: "int beyond IDT limit", src: "int 0x40", setup: func(c *CPU) { c.IDTR.Limit = 0x40*16 - 1 },
			vec: VecGP, code: 0x40<<3 | 2},
		{name: "int to non-gate", src: "int 0x40", setup: func(c *CPU) { put64(c, sysIDT+0x40*16, get64(c, sysIDT+0x40*16)&^(0xF<<40)|0xC<<40) },
			vec: VecGP, code: 0x40<<3 | 2},
		{name: "int3 user to dpl3 gate", src: "int3", user: true, vec: VecBP, code: none, next: true},
		{name: "int user to dpl0 gate", src: "int 0x40", user: true, vec: VecGP, code: 0x40<<3 | 2},
		{name: "int3 user to dpl0 gate", src: "int3", user: true,
			setup: func(c *CPU) { setGate(c, 3, sysStubs+3*16, 0, 0xE, 0, true) }, vec: VecGP, code: 3<<3 | 2},
		{name: "int1 ignores gate dpl", src: ".byte 0xf1", user: true, vec: VecDB, code: none, next: true},
		{name: "int user to dpl3 gate", src: "int 0x80", user: true, vec: 0x80, code: none, next: true},
		{name: "user hlt", src: "hlt", user: true, vec: VecGP, code: 0},
		gpUser("user rdmsr", "rdmsr"),
		gpUser("user wrmsr", "wrmsr"),
		gpUser("user cli", "cli"),
		gpUser("user sti", "sti"),
		gpUser("user in", "in al, 0x60"),
		gpUser("user out", "out dx, eax"),
		gpUser("user mov from cr0", "mov rax, cr0"),
		gpUser("user mov to cr3", "mov cr3, rax"),
		gpUser("user mov from dr7", "mov rax, dr7"),
		gpUser("user lgdt", "lgdt [rax]"),
		gpUser("user lidt", "lidt [rax]"),
		gpUser("user ltr", "ltr ax"),
		gpUser("user lldt", "lldt ax"),
		gpUser("user lmsw", "lmsw ax"),
		gpUser("user invlpg", "invlpg [rax]"),
		gpUser("user clts", "clts"),
		gpUser("user wbinvd", "wbinvd"),
		gpUser("user swapgs", "swapgs"),
		gpUser("user sysret", ".byte 0x48, 0x0f, 0x07"),
		{name: "user rdtsc with TSD", src: "rdtsc", user: true, setup: func(c *CPU) { c.CR4 |= CR4TSD },
			vec: VecGP, code: 0},
		{name: "user rdtscp with TSD", src: "rdtscp", user: true, setup: func(c *CPU) { c.CR4 |= CR4TSD },
			vec: VecGP, code: 0},
		{name: "rdmsr unknown", src: "rdmsr", setup: func(c *CPU) { c.R[RCX] = 0x12345 }, vec: VecGP, code: 0},
		{name: "syscall without SCE", src: "syscall", setup: func(c *CPU) { c.EFER &^= EFERSCE }, vec: VecUD, code: none},
		{name: "sysret without SCE", src: ".byte 0x0f, 0x07", setup: func(c *CPU) { c.EFER &^= EFERSCE }, vec: VecUD, code: none},
		{name: "sysret non-canonical rcx", src: ".byte 0x48, 0x0f, 0x07",
			setup: func(c *CPU) { c.R[RCX] = 0x0000800000000000 }, vec: VecGP, code: 0},
		{name: "iretq null cs", src: "iretq", setup: func(c *CPU) { sysIretFrame(c, 0x1000, 0, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0},
		{name: "iretq data cs", src: "iretq", setup: func(c *CPU) { sysIretFrame(c, 0x1000, 0x10, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0x10},
		{name: "iretq rpl mismatch", src: "iretq", setup: func(c *CPU) { sysIretFrame(c, 0x1000, 0x09, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0x08},
		{name: "iretq cs beyond gdt", src: "iretq", setup: func(c *CPU) { sysIretFrame(c, 0x1000, 0x80, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0x80},
		{name: "iretq to user with null ss", src: "iretq", setup: func(c *CPU) { userPages(c); sysIretFrame(c, 0x1000, selUserCode, 0x2, stackTop, 0) },
			vec: VecGP, code: 0},
		{name: "iretq to user with kernel ss", src: "iretq", setup: func(c *CPU) { userPages(c); sysIretFrame(c, 0x1000, selUserCode, 0x2, stackTop, 0x13) },
			vec: VecGP, code: 0x10},
		{name: "iretq non-canonical rip", src: "iretq", setup: func(c *CPU) { sysIretFrame(c, 1<<47, 0x08, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0},
		{name: "iretq with NT", src: "iretq", setup: func(c *CPU) { c.SetRFLAGS(FlagNT | 2); sysIretFrame(c, 0x1000, 0x08, 0x2, stackTop, 0x10) },
			vec: VecGP, code: 0},
		{name: "x87 with an unmasked exception pending", src: "fadd st(0), st(0)", setup: x87Pending, vec: VecMF, code: none},
		{name: "fwait with an unmasked exception pending", src: "fwait", setup: x87Pending, vec: VecMF, code: none},
		{name: "x87 with CR0.TS", src: "fld1", setup: func(c *CPU) { c.CR0 |= CR0TS }, vec: VecNM, code: none},
		{name: "x87 with CR0.EM", src: "fldz", setup: func(c *CPU) { c.CR0 |= CR0EM }, vec: VecNM, code: none},
		{name: "fnstsw with CR0.TS", src: "fnstsw ax", setup: func(c *CPU) { c.CR0 |= CR0TS }, vec: VecNM, code: none},
		{name: "fwait with CR0.TS and MP", src: "fwait", setup: func(c *CPU) { c.CR0 |= CR0TS }, vec: VecNM, code: none},
		{name: "fxsave with CR0.TS", src: "fxsave [rbx]", setup: func(c *CPU) { c.CR0 |= CR0TS; c.R[RBX] = dataBase },
			vec: VecNM, code: none},
		{name: "fxsave misaligned", src: "fxsave [rbx]", setup: func(c *CPU) { c.R[RBX] = dataBase + 8 }, vec: VecGP, code: 0},
		{name: "fxrstor reserved MXCSR bit", src: "fxrstor [rbx]",
			setup: func(c *CPU) { c.R[RBX] = dataBase; put64(c, dataBase+24, 0x10000|MXCSRWritable<<32) }, vec: VecGP, code: 0},
		{name: "iretq from user to kernel", src: "iretq", user: true,
			setup: func(c *CPU) { sysIretFrame(c, 0x1000, 0x08, 0x2, stackTop, 0x10) }, vec: VecGP, code: 0x08},
	}
	codes := assembleEach(t, cases, func(k tc) string { return k.src }) // one assembler run (helper in alu_test.go)
	for i, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			c := newTestCPU(t)
			if k.user {
				userSetup(c)
			} else {
				sysSetup(c)
				sysLoadTR(c)
			}
			if k.setup != nil {
				k.setup(c)
			}
			rsp0, rflags0 := c.R[RSP], c.RFLAGS()
			cs0, ss0 := c.Seg[CS].Selector, c.Seg[SS].Selector
			top := rsp0
			if k.user {
				top = sysRSP0
			}
			runCode(t, c, codes[i])
			rip := uint64(codeBase)
			if k.next {
				rip += instLen(t, c, codeBase)
			}
			if k.rip != 0 {
				rip = k.rip
			}
			checkFrame(t, c, k.vec, wantFrame{code: k.code, rip: rip, cs: uint64(cs0), rflags: rflags0,
				rsp: rsp0, ss: uint64(ss0), handlerRSPTop: top})
			if k.vec == VecPF && c.CR2 != k.cr2 {
				t.Errorf("CR2 = %#x, want %#x", c.CR2, k.cr2)
			}
			if k.user && c.Seg[SS].Selector != 0 {
				t.Errorf("SS after a CPL 3 -> 0 interrupt = %#x, want the null selector", c.Seg[SS].Selector)
			}
			if c.UD != 0 {
				t.Errorf("%d #UD counted as unimplemented", c.UD)
			}
		})
	}
}

// sysIretFrame pushes an IRETQ frame on the current stack.
func sysIretFrame(c *CPU, rip, cs, rflags, rsp, ss uint64) {
	sp := c.R[RSP] - 40
	for i, v := range []uint64{rip, cs, rflags, rsp, ss} {
		put64(c, sp+uint64(i)*8, v)
	}
	c.R[RSP] = sp
}

// TestInterruptGateFlags checks IF handling: an interrupt gate clears IF, a
// trap gate keeps it, and TF, NT and RF are cleared either way.
func TestInterruptGateFlags(t *testing.T) {
	for _, typ := range []int{0xE, 0xF} {
		c := newTestCPU(t)
		sysSetup(c)
		setGate(c, 0x40, sysStubs+0x40*16, 0, typ, 0, true)
		c.SetRFLAGS(FlagNT | FlagRF | 2)
		load(c, assemble(t, "int 0x40"))
		// The stub's HLT with IF=1 stops as idle, with IF=0 as halt.
		r := c.Run(100)
		if c.R[R15] != 0x40 {
			t.Fatalf("type %#x: R15 = %#x", typ, c.R[R15])
		}
		want := uint64(2)
		if r != StopHalt {
			t.Errorf("type %#x: stop %v, want halt", typ, r)
		}
		if got := c.RFLAGS(); got != want {
			t.Errorf("type %#x: handler RFLAGS %#x, want %#x", typ, got, want)
		}
		if got := get64(c, c.R[RSP]+16); got != FlagNT|FlagRF|2 {
			t.Errorf("type %#x: saved RFLAGS %#x", typ, got)
		}
	}
	// A trap gate keeps IF.
	c := newTestCPU(t)
	sysSetup(c)
	setGate(c, 0x40, sysStubs+0x40*16, 0, 0xF, 0, true)
	c.SetRFLAGS(FlagIF | 2)
	load(c, assemble(t, "int 0x40"))
	if r := c.Run(100); r != StopHaltIdle || c.RFLAGS()&FlagIF == 0 {
		t.Errorf("trap gate: stop %v RFLAGS %#x, want idle halt with IF", r, c.RFLAGS())
	}
}

// TestIST checks that a gate with an IST index switches to that stack (here
// #UD, and a double fault caused by a #PF while pushing the #PF frame on an
// unmapped stack), with the TSS loaded by LTR.
func TestIST(t *testing.T) {
	ltr := "mov ax, 0x28; ltr ax"
	pre := uint64(len(assemble(t, ltr)))
	t.Run("ud", func(t *testing.T) {
		c := newTestCPU(t)
		sysSetup(c)
		setGate(c, VecUD, sysStubs+VecUD*16, 1, 0xE, 0, true)
		runCode(t, c, assemble(t, ltr+"; ud2"))
		checkFrame(t, c, VecUD, wantFrame{code: -1, rip: codeBase + pre, cs: 0x08, rflags: 2, rsp: stackTop,
			ss: 0x10, handlerRSPTop: sysIST1})
	})
	t.Run("double fault", func(t *testing.T) {
		c := newTestCPU(t)
		sysSetup(c)
		setGate(c, VecDF, sysStubs+VecDF*16, 1, 0xE, 0, true)
		code := assemble(t, ltr+"; mov rsp, 0x40001000; push rax")
		runCode(t, c, code)
		push := codeBase + uint64(len(code)) - 1
		checkFrame(t, c, VecDF, wantFrame{code: 0, rip: push, cs: 0x08, rflags: 2, rsp: 0x40001000,
			ss: 0x10, handlerRSPTop: sysIST1})
		if c.CR2 != 0x40000FF8 {
			t.Errorf("CR2 = %#x, want 0x40000ff8", c.CR2)
		}
	})
}

// TestTripleFault checks that an exception that cannot be delivered even as
// a double fault stops Run with StopTripleFault.
func TestTripleFault(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		setup func(c *CPU)
		rip   uint64 // offset of the faulting instruction
	}{
		{"stack overflow without IST", "mov rsp, 0x40001000; push rax", nil, 7},
		{"IDT not mapped", "nop; ud2", func(c *CPU) { c.IDTR.Base = 0x40000000 }, 1},
		{"empty IDT", "ud2", func(c *CPU) { c.IDTR = DTR{} }, 0},
		{"double-fault gate not present", "int 0x41", func(c *CPU) { setGate(c, VecNP, 0, 0, 0xE, 0, false); setGate(c, VecDF, 0, 0, 0xE, 0, false) }, 0},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			c := newTestCPU(t)
			sysSetup(c)
			sysLoadTR(c)
			if k.setup != nil {
				k.setup(c)
			}
			load(c, assemble(t, k.src))
			if r := c.Run(1000); r != StopTripleFault {
				t.Fatalf("stop %v (R15 %#x), want triple fault", r, c.R[R15])
			}
			if tf := c.LastTripleFault(); tf.RIP != codeBase+k.rip {
				t.Errorf("triple fault at %#x, want %#x", tf.RIP, codeBase+k.rip)
			}
		})
	}
}

// TestSyscallSysret enters CPL 3 with SYSRETQ and comes back with SYSCALL.
func TestSyscallSysret(t *testing.T) {
	src := `
		mov ecx, 0xC0000081
		xor eax, eax
		mov edx, 0x00100008
		wrmsr
		mov ecx, 0xC0000082
		lea rax, [rip + kentry]
		mov rdx, rax
		shr rdx, 32
		wrmsr
		mov ecx, 0xC0000084
		mov eax, 0x600
		xor edx, edx
		wrmsr
		lea r12, [rip + back]
		lea rcx, [rip + user]
		mov r11, 0x10ed7
		.byte 0x48, 0x0f, 0x07
	user:
		mov r13, cs
		mov r14, ss
		mov rbx, 0x1234
		syscall
	back:
		hlt
	kentry:
		mov r8, cs
		mov r9, ss
		hlt`
	c := runAsm(t, src, func(c *CPU) { sysSetup(c); userPages(c) })
	if c.R[R15] != sysNoFault {
		t.Fatalf("exception %#x", c.R[R15])
	}
	checkValues(t, []valueCheck{
		{"user CS", c.R[R13], selUserCode},
		{"user SS", c.R[R14], selUserData},
		{"user code ran", c.R[RBX], 0x1234},
		{"RCX (return address)", c.R[RCX], c.R[R12]},
		// SYSRET loaded RFLAGS = R11 & 0x3C7FD7 | 2: RF (bit 16) dropped.
		{"R11 (user RFLAGS)", c.R[R11], 0xed7},
		{"kernel CS", c.R[R8], 0x08},
		{"kernel SS", c.R[R9], 0x10},
		{"CPL", uint64(c.CPL), 0},
		{"RFLAGS &^ FMASK", c.RFLAGS(), 0xed7 &^ 0x600},
	})
}

// TestIretToUserAndBack enters CPL 3 with IRETQ, takes INT 0x80 (a DPL 3
// gate) to a handler on the TSS's RSP0 stack, returns with IRETQ and ends
// with INT 0x81.
func TestIretToUserAndBack(t *testing.T) {
	src := `
		mov ax, 0x28
		ltr ax
		lea rax, [rip + user]
		push 0x1b
		push 0x70000
		push 0x3002
		push 0x23
		push rax
		iretq
	user:
		mov r13, cs
		mov r10, rsp
		pushfq
		pop rdi
		int 0x80
	ret1:
		lea rdx, [rip + ret1]
		mov r14, 0x77
		int 0x81
	ret2:
		.org 0x400
	kh:
		mov r12, cs
		mov rbx, [rsp + 32]
		mov rbp, [rsp + 24]
		mov rsi, rsp
		mov r9, [rsp]
		mov r8, ss
		iretq`
	c := newTestCPU(t)
	sysSetup(c)
	userPages(c)
	setGate(c, 0x80, codeBase+0x400, 0, 0xE, 3, true)
	runCode(t, c, assemble(t, src))
	checkValues(t, []valueCheck{
		{"user CS", c.R[R13], selUserCode},
		{"user RSP", c.R[R10], sysUSP},
		{"user RFLAGS (IOPL 3)", c.R[RDI], 0x3002},
		{"handler CS", c.R[R12], 0x08},
		{"handler SS (null)", c.R[R8], 0},
		{"saved SS", c.R[RBX], selUserData},
		{"saved RSP", c.R[RBP], sysUSP},
		{"handler RSP", c.R[RSI], sysRSP0 - 40},
		{"saved RIP", c.R[R9], c.R[RDX]},
		{"back in user mode", c.R[R14], 0x77},
		{"final vector", c.R[R15], 0x81},
		{"TR busy in GDT", get64(c, testGDT+selTSS) >> 40 & 0xF, 0xB},
	})
	// The final INT 0x81 frame: from CPL 3 at ret2.
	if got := get64(c, c.R[RSP]+8); got != selUserCode {
		t.Errorf("final frame CS %#x", got)
	}
	if got := get64(c, c.R[RSP]); got != c.R[RDX]+uint64(len(assemble(t, "lea rdx, [rip + 0]; mov r14, 0x77; int 0x81"))) {
		t.Errorf("final frame RIP %#x", got)
	}
	// Returning to CPL 3 nulled DS/ES/FS/GS (DPL 0 data).
	for _, s := range []int{DS, ES, FS, GS} {
		if c.Seg[s].Selector != 0 {
			t.Errorf("segment %d selector %#x after IRET to CPL 3, want 0", s, c.Seg[s].Selector)
		}
	}
}

// TestIretSameLevel returns from an interrupt at CPL 0 with IRETQ; the
// popped RFLAGS is restored (IF too, at CPL 0).
func TestIretSameLevel(t *testing.T) {
	src := `
		int 0x80
		mov rbx, 5
		hlt
		.org 0x100
		mov rcx, rsp
		or qword ptr [rsp + 16], 0xad5
		iretq`
	c := newTestCPU(t)
	sysSetup(c)
	setGate(c, 0x80, codeBase+0x100, 0, 0xE, 0, true)
	load(c, assemble(t, src))
	if r := c.Run(100); r != StopHaltIdle {
		t.Fatalf("stop %v, want idle halt (IF restored by IRETQ)", r)
	}
	if c.R[RBX] != 5 || c.R[RSP] != stackTop || c.R[RCX] != stackTop-40 {
		t.Errorf("RBX %#x RSP %#x RCX %#x", c.R[RBX], c.R[RSP], c.R[RCX])
	}
	if got := c.RFLAGS(); got != 0xad7 {
		t.Errorf("RFLAGS %#x, want 0xad7", got)
	}
	if c.Seg[SS].Selector != 0x10 || c.Seg[CS].Selector != 0x08 {
		t.Errorf("CS %#x SS %#x", c.Seg[CS].Selector, c.Seg[SS].Selector)
	}
}

// TestIretFlagsAtCPL3 checks that IRET at CPL 3 cannot change IOPL, nor IF
// when CPL > IOPL.
func TestIretFlagsAtCPL3(t *testing.T) {
	src := "lea rax, [rip + next]; push 0x1b; push 0x70000; push 0x3202; push 0x23; push rax; iretq; next: pushfq; pop rbx; hlt"
	c := runAsm(t, src, userSetup)
	if c.R[R15] != VecGP {
		t.Fatalf("R15 = %#x, want the final hlt's #GP", c.R[R15])
	}
	if c.R[RBX] != 2 {
		t.Errorf("RFLAGS after IRET at CPL 3 with IOPL 0: %#x, want 0x2", c.R[RBX])
	}
}

// testIntr is an interrupt source with a queue of vectors.
type testIntr struct{ pending []uint8 }

func (s *testIntr) Pending() bool { return len(s.pending) > 0 }
func (s *testIntr) Acknowledge() uint8 {
	v := s.pending[0]
	s.pending = s.pending[1:]
	return v
}

// TestExternalInterrupt checks that IF=0 blocks a pending interrupt (HLT
// then stops), and that after STI it is delivered once the instruction in
// the STI shadow has run, with that next RIP in the frame.
func TestExternalInterrupt(t *testing.T) {
	c := newTestCPU(t)
	sysSetup(c)
	src := &testIntr{pending: []uint8{0x50}}
	c.SetInterruptSource(src)
	code := assemble(t, "mov rbx, 5; hlt")
	load(c, code)
	if r := c.Run(100); r != StopHalt || c.R[R15] != sysNoFault {
		t.Fatalf("IF=0: stop %v R15 %#x, want halt with nothing delivered", r, c.R[R15])
	}

	c = newTestCPU(t)
	sysSetup(c)
	c.SetInterruptSource(src)
	// The interrupt is taken right after the instruction in the STI shadow.
	shadow := uint64(len(assemble(t, "sti; mov rbx, 5")))
	runCode(t, c, assemble(t, "sti; mov rbx, 5; hlt"))
	checkFrame(t, c, 0x50, wantFrame{code: -1, rip: codeBase + shadow, cs: 0x08, rflags: FlagIF | 2,
		rsp: stackTop, ss: 0x10, handlerRSPTop: stackTop})
	if c.R[RBX] != 5 || c.Halted() != true {
		t.Errorf("RBX %#x halted %v", c.R[RBX], c.Halted())
	}
}
