package cpu

import (
	"encoding/binary"
	"testing"
)

// sysFault is the R15 value a case expects: sysNoFault or a vector.
func checkVector(t *testing.T, name string, c *CPU, want uint64) bool {
	t.Helper()
	if c.R[R15] != want {
		t.Errorf("%s: vector %#x, want %#x", name, c.R[R15], want)
		return false
	}
	return true
}

func TestMSRs(t *testing.T) {
	const gp = VecGP
	efer := uint64(EFERLME | EFERLMA | EFERNXE | EFERSCE)
	cases := []struct {
		name  string
		msr   uint32
		write uint64
		read  uint64 // expected read-back (if no fault)
		fault uint64 // sysNoFault or VecGP
		check func(c *CPU) bool
	}{
		{"STAR", msrSTAR, 0x0023001000080000, 0x0023001000080000, sysNoFault, nil},
		{"LSTAR", msrLSTAR, 0xFFFFFFFF81000000, 0xFFFFFFFF81000000, sysNoFault, nil},
		{"LSTAR non-canonical", msrLSTAR, 0x0000800000000000, 0, gp, nil},
		{"CSTAR", msrCSTAR, 0x12345678, 0x12345678, sysNoFault, nil},
		{"FMASK", msrFMASK, 0xFFFFFFFF00047700, 0x47700, sysNoFault, nil},
		{"FS_BASE", msrFSBase, 0x7FFF12345000, 0x7FFF12345000, sysNoFault,
			func(c *CPU) bool { return c.Seg[FS].Base == 0x7FFF12345000 && c.segBase64[FS] == 0x7FFF12345000 }},
		{"GS_BASE", msrGSBase, 0xFFFF800000000000, 0xFFFF800000000000, sysNoFault,
			func(c *CPU) bool { return c.segBase64[GS] == 0xFFFF800000000000 }},
		{"GS_BASE non-canonical", msrGSBase, 0x8000000000000000, 0, gp, nil},
		{"FS_BASE non-canonical", msrFSBase, 0x0000800000000000, 0, gp, nil},
		{"KERNEL_GS_BASE", msrKernelGSBase, 0xFFFF888000000000, 0xFFFF888000000000, sysNoFault,
			func(c *CPU) bool { return c.KernelGS == 0xFFFF888000000000 }},
		{"KERNEL_GS_BASE non-canonical", msrKernelGSBase, 1 << 63, 0, gp, nil},
		{"TSC_AUX", msrTSCAux, 0x12345678, 0x12345678, sysNoFault, nil},
		{"TSC_AUX reserved", msrTSCAux, 1 << 32, 0, gp, nil},
		{"APIC_BASE (BSP is read-only)", msrAPICBase, 0xFEE00800, 0xFEE00900, sysNoFault, nil},
		{"APIC_BASE moved and disabled", msrAPICBase, 0xFEC00000, 0xFEC00100, sysNoFault, nil},
		{"APIC_BASE x2APIC", msrAPICBase, 0xFEE00C00, 0, gp, nil},
		{"APIC_BASE beyond physical width", msrAPICBase, 1<<40 | 0xFEE00800, 0, gp, nil},
		{"MISC_ENABLE", msrMiscEnable, 0x850089, 0x850089, sysNoFault, nil},
		{"PAT", msrPAT, 0x0007010600070106, 0x0007010600070106, sysNoFault, nil},
		{"PAT invalid type 2", msrPAT, 0x0007040600070206, 0, gp, nil},
		{"PAT invalid type 8", msrPAT, 0x0807040600070406, 0, gp, nil},
		{"SYSENTER_CS", msrSysenterCS, 0x10, 0x10, sysNoFault, nil},
		{"SYSENTER_ESP", msrSysenterESP, 0xFFFF800000001000, 0xFFFF800000001000, sysNoFault, nil},
		{"SYSENTER_EIP non-canonical", msrSysenterEIP, 0x0000800000000000, 0, gp, nil},
		{"MTRRcap read-only", msrMTRRCap, 0, 0, gp, nil},
		{"PLATFORM_ID read-only", msrPlatformID, 0, 0, gp, nil},
		{"MTRRdefType", msrMTRRDefType, 0xC06, 0xC06, sysNoFault, nil},
		{"MTRRdefType reserved", msrMTRRDefType, 0x1006, 0, gp, nil},
		{"MTRRdefType type 7", msrMTRRDefType, 0xC07, 0, gp, nil},
		{"FEATURE_CONTROL read-only", msrFeatureControl, 1, 0, gp, nil},
		{"BIOS_SIGN_ID", msrBIOSSignID, 0, 0, sysNoFault, nil},
		{"EFER clear SCE", msrEFER, efer &^ EFERSCE, efer &^ EFERSCE, sysNoFault, nil},
		{"EFER LMA is read-only", msrEFER, efer &^ EFERLMA, efer, sysNoFault, nil},
		{"EFER clear NXE", msrEFER, efer &^ EFERNXE, efer &^ EFERNXE, sysNoFault,
			func(c *CPU) bool { return !c.paging.NXE }},
		{"EFER reserved bit", msrEFER, efer | 2, 0, gp, nil},
		{"EFER LME with paging on", msrEFER, efer &^ EFERLME, 0, gp, nil},
		{"unknown MSR", 0x12345, 0, 0, gp, nil},
		{"unknown MSR high", 0xC0000200, 0, 0, gp, nil},
	}
	code := assemble(t, "wrmsr; rdmsr")
	for _, k := range cases {
		c := newTestCPU(t)
		sysSetup(c)
		c.R[RCX] = uint64(k.msr) | 0xFFFFFFFF00000000
		c.R[RAX] = k.write&0xFFFFFFFF | 0xAAAAAAAA00000000
		c.R[RDX] = k.write>>32 | 0xBBBBBBBB00000000
		runCode(t, c, code)
		if !checkVector(t, k.name, c, k.fault) || k.fault != sysNoFault {
			continue
		}
		if got := c.R[RDX]<<32 | c.R[RAX]; got != k.read || c.R[RDX]>>32 != 0 || c.R[RAX]>>32 != 0 {
			t.Errorf("%s: read back RDX %#x RAX %#x, want %#x", k.name, c.R[RDX], c.R[RAX], k.read)
		}
		if k.check != nil && !k.check(c) {
			t.Errorf("%s: state check failed", k.name)
		}
	}
	// RDMSR of an unknown MSR.
	c := runAsm(t, "rdmsr", func(c *CPU) { sysSetup(c); c.R[RCX] = 0x12345 })
	checkVector(t, "rdmsr unknown", c, VecGP)
	// Reset values of the registers read without writing.
	for _, k := range []struct {
		msr  uint32
		want uint64
	}{
		{msrAPICBase, 0xFEE00900}, {msrPAT, 0x0007040600070406}, {msrMTRRCap, 0}, {msrPlatformID, 0},
		{msrFeatureControl, 1}, {msrEFER, efer},
	} {
		c := runAsm(t, "rdmsr", func(c *CPU) { sysSetup(c); c.R[RCX] = uint64(k.msr) })
		if got := c.R[RDX]<<32 | c.R[RAX]; got != k.want || c.R[R15] != sysNoFault {
			t.Errorf("rdmsr %#x = %#x (vector %#x), want %#x", k.msr, got, c.R[R15], k.want)
		}
	}
}

// TestSegmentBases checks that FS/GS base MSR writes and SWAPGS take effect
// for FS:/GS: operands at once.
func TestSegmentBases(t *testing.T) {
	src := `
		mov ecx, 0xC0000100
		mov eax, 0x200000
		xor edx, edx
		wrmsr
		mov r8, fs:[8]
		mov ecx, 0xC0000101
		mov eax, 0x200100
		wrmsr
		mov ecx, 0xC0000102
		mov eax, 0x200200
		wrmsr
		mov r9, gs:[8]
		swapgs
		mov r10, gs:[8]
		mov ecx, 0xC0000101
		rdmsr
		mov r11, rax
		mov ecx, 0xC0000102
		rdmsr`
	c := runAsm(t, src, func(c *CPU) {
		sysSetup(c)
		for i := uint64(0); i < 3; i++ {
			put64(c, dataBase+i*0x100+8, 0x1111*(i+1))
		}
	})
	checkVector(t, "segment bases", c, sysNoFault)
	if c.R[R8] != 0x1111 || c.R[R9] != 0x2222 || c.R[R10] != 0x3333 {
		t.Errorf("fs:[8] %#x gs:[8] %#x after swapgs %#x", c.R[R8], c.R[R9], c.R[R10])
	}
	if c.R[R11] != 0x200200 || c.R[RAX] != 0x200100 {
		t.Errorf("after swapgs GS_BASE %#x KERNEL_GS_BASE %#x", c.R[R11], c.R[RAX])
	}
}

func TestControlRegisters(t *testing.T) {
	cr0 := uint64(CR0PE | CR0MP | CR0ET | CR0NE | CR0WP | CR0PG)
	cr4 := uint64(CR4PAE | CR4OSFXSR | CR4OSXMMEXCPT)
	type crCase struct {
		name  string
		src   string // moves RAX to the register and reads it back into RBX
		rax   uint64
		want  uint64
		fault uint64
	}
	cases := []crCase{
		{"cr0 TS EM AM", "mov cr0, rax; mov rbx, cr0", cr0 | CR0TS | CR0EM | CR0AM, cr0 | CR0TS | CR0EM | CR0AM, sysNoFault},
		{"cr0 reserved low bits ignored, ET forced", "mov cr0, rax; mov rbx, cr0", cr0&^CR0ET | 1<<7 | 1<<20, cr0, sysNoFault},
		{"cr0 CD NW", "mov cr0, rax; mov rbx, cr0", cr0 | CR0CD | CR0NW, cr0 | CR0CD | CR0NW, sysNoFault},
		{"cr0 clear WP", "mov cr0, rax; mov rbx, cr0", cr0 &^ CR0WP, cr0 &^ CR0WP, sysNoFault},
		{"cr0 bit 32", "mov cr0, rax", cr0 | 1<<32, 0, VecGP},
		{"cr0 clear PG in 64-bit mode", "mov cr0, rax", cr0 &^ CR0PG, 0, VecGP},
		{"cr0 PG without PE", "mov cr0, rax", cr0 &^ CR0PE, 0, VecGP},
		{"cr0 NW without CD", "mov cr0, rax", cr0 | CR0NW, 0, VecGP},
		{"cr2", "mov cr2, rax; mov rbx, cr2", 0xFFFF800012345678, 0xFFFF800012345678, sysNoFault},
		{"cr3 PWT PCD", "mov cr3, rax; mov rbx, cr3", testPML4 | 0x18, testPML4 | 0x18, sysNoFault},
		{"cr3 bit 63", "mov cr3, rax", testPML4 | 1<<63, 0, VecGP},
		{"cr3 beyond physical width", "mov cr3, rax", testPML4 | 1<<40, 0, VecGP},
		{"cr4 PGE PSE TSD DE MCE", "mov cr4, rax; mov rbx, cr4", cr4 | CR4PGE | CR4PSE | CR4TSD | CR4DE | CR4MCE,
			cr4 | CR4PGE | CR4PSE | CR4TSD | CR4DE | CR4MCE, sysNoFault},
		{"cr4 VME", "mov cr4, rax", cr4 | CR4VME, 0, VecGP},
		{"cr4 PCE", "mov cr4, rax", cr4 | CR4PCE, 0, VecGP},
		{"cr4 VMXE", "mov cr4, rax", cr4 | 1<<13, 0, VecGP},
		{"cr4 FSGSBASE", "mov cr4, rax", cr4 | 1<<16, 0, VecGP},
		{"cr4 PCIDE", "mov cr4, rax", cr4 | 1<<17, 0, VecGP},
		{"cr4 OSXSAVE", "mov cr4, rax", cr4 | 1<<18, 0, VecGP},
		{"cr4 SMEP", "mov cr4, rax", cr4 | 1<<20, 0, VecGP},
		{"cr4 clear PAE in long mode", "mov cr4, rax", cr4 &^ CR4PAE, 0, VecGP},
		{"cr8", "mov cr8, rax; mov rbx, cr8", 0xF, 0xF, sysNoFault},
		{"cr8 reserved", "mov cr8, rax", 0x10, 0, VecGP},
		{"cr1", ".byte 0x0f, 0x22, 0xc8", 0, 0, VecUD},
		{"cr5 read", ".byte 0x0f, 0x20, 0xe8", 0, 0, VecUD},
		{"cr9", ".byte 0x44, 0x0f, 0x22, 0xc8", 0, 0, VecUD},
		{"dr0", "mov dr0, rax; mov rbx, dr0", 0xFFFF800000001234, 0xFFFF800000001234, sysNoFault},
		{"dr3", "mov dr3, rax; mov rbx, dr3", 0x5678, 0x5678, sysNoFault},
		{"dr6 fixed bits", "mov dr6, rax; mov rbx, dr6", 0, 0xFFFF0FF0, sysNoFault},
		{"dr6 status bits", "mov dr6, rax; mov rbx, dr6", 0x400F, 0xFFFF4FFF, sysNoFault},
		{"dr7 fixed bits", "mov dr7, rax; mov rbx, dr7", 0x1, 0x401, sysNoFault},
		{"dr7 upper bits", "mov dr7, rax", 1 << 32, 0, VecGP},
		{"dr4 aliases dr6", ".byte 0x0f, 0x23, 0xe0; .byte 0x0f, 0x21, 0xf3", 0x1, 0xFFFF0FF1, sysNoFault},
		{"dr8", ".byte 0x44, 0x0f, 0x23, 0xc0", 0, 0, VecUD},
	}
	codes := assembleEach(t, cases, func(k crCase) string { return k.src })
	for i, k := range cases {
		c := newTestCPU(t)
		sysSetup(c)
		c.R[RAX] = k.rax
		runCode(t, c, codes[i])
		if !checkVector(t, k.name, c, k.fault) {
			continue
		}
		if k.fault == sysNoFault && c.R[RBX] != k.want {
			t.Errorf("%s: read back %#x, want %#x", k.name, c.R[RBX], k.want)
		}
		if c.UD != 0 {
			t.Errorf("%s: #UD counted as unimplemented", k.name)
		}
	}
	// DR4 is #UD when CR4.DE is set.
	c := runAsm(t, ".byte 0x0f, 0x21, 0xe0", func(c *CPU) { sysSetup(c); c.CR4 |= CR4DE })
	checkVector(t, "dr4 with CR4.DE", c, VecUD)
}

// TestPagingControl checks that translation changes take effect: INVLPG and
// a CR3 reload after a page-table write, and CR0.WP.
func TestPagingControl(t *testing.T) {
	const pd1 = testPD + 8 // maps 0x200000-0x3FFFFF
	remap := "mov rax, [0x200000]; mov qword ptr [0x3008], 0x400083; "
	cases := []struct {
		name  string
		src   string
		setup func(c *CPU)
		want  uint64 // RBX
		fault uint64
		code  uint64
	}{
		{"invlpg", remap + "invlpg [0x200000]; mov rbx, [0x200000]", nil, 0xBBBB, sysNoFault, 0},
		{"cr3 reload", remap + "mov rcx, cr3; mov cr3, rcx; mov rbx, [0x200000]", nil, 0xBBBB, sysNoFault, 0},
		{"wp set: supervisor write to read-only page", "mov rax, [0x200000]; mov qword ptr [0x200000], 1",
			func(c *CPU) { put64(c, pd1, 0x200081) }, 0, VecPF, 3},
		{"wp clear: supervisor write to read-only page", "mov rax, [0x200000]; mov rcx, cr0; and rcx, -65537; mov cr0, rcx; mov qword ptr [0x200000], 7; mov rbx, [0x200000]",
			func(c *CPU) { put64(c, pd1, 0x200081) }, 7, sysNoFault, 0},
	}
	for _, k := range cases {
		c := runAsm(t, k.src, func(c *CPU) {
			sysSetup(c)
			put64(c, 0x200000, 0xAAAA)
			put64(c, 0x400000, 0xBBBB)
			if k.setup != nil {
				k.setup(c)
				c.StateChanged()
			}
		})
		if !checkVector(t, k.name, c, k.fault) {
			continue
		}
		if k.fault == sysNoFault && c.R[RBX] != k.want {
			t.Errorf("%s: RBX %#x, want %#x", k.name, c.R[RBX], k.want)
		}
		if k.fault == VecPF && get64(c, c.R[RSP]) != k.code {
			t.Errorf("%s: error code %#x, want %#x", k.name, get64(c, c.R[RSP]), k.code)
		}
	}
}

// TestUserCannotRunCachedKernelCode runs code on a supervisor page at CPL 0
// (so its block is cached), then jumps to it from CPL 3: the fetch faults.
func TestUserCannotRunCachedKernelCode(t *testing.T) {
	src := `
		mov rax, 0x200000
		call rax
		lea rcx, [rip + user]
		mov r11, 2
		.byte 0x48, 0x0f, 0x07
	user:
		mov rax, 0x200000
		jmp rax`
	c := runAsm(t, src, func(c *CPU) {
		sysSetup(c)
		sysLoadTR(c)
		userPages(c)
		put64(c, testPD+8, 0x200083) // supervisor only
		c.ram[0x200000] = 0xC3       // ret
		c.STAR = 0x0010000800000000
		c.StateChanged()
	})
	checkVector(t, "user jump to kernel page", c, VecPF)
	if code := get64(c, c.R[RSP]); code != 0x15 || c.CR2 != 0x200000 {
		t.Errorf("error code %#x CR2 %#x, want 0x15 and 0x200000", code, c.CR2)
	}
}

func TestDescriptorTables(t *testing.T) {
	src := `
		sgdt [rax]
		sidt [rax + 16]
		lgdt [rbx]
		lidt [rbx + 16]
		sgdt [rax + 32]
		sidt [rax + 48]`
	c := runAsm(t, src, func(c *CPU) {
		sysSetup(c)
		c.R[RAX] = dataBase
		c.R[RBX] = dataBase + 0x100
		// A copy of the GDT elsewhere, and an IDT descriptor.
		copy(c.ram[0x9000:0x9048], c.ram[testGDT:testGDT+0x48])
		binary.LittleEndian.PutUint16(c.ram[dataBase+0x100:], 0x47)
		put64(c, dataBase+0x102, 0x9000)
		binary.LittleEndian.PutUint16(c.ram[dataBase+0x110:], 0x123)
		put64(c, dataBase+0x112, 0xFFFF800000001000)
		for i := uint64(0); i < 64; i++ {
			c.ram[dataBase+i] = 0xEE
		}
	})
	checkVector(t, "descriptor tables", c, sysNoFault)
	wantMem := []struct {
		off   uint64
		limit uint16
		base  uint64
	}{{0, 0x47, testGDT}, {16, 0xFFF, sysIDT}, {32, 0x47, 0x9000}, {48, 0x123, 0xFFFF800000001000}}
	for _, w := range wantMem {
		a := dataBase + w.off
		if l, b := binary.LittleEndian.Uint16(c.ram[a:]), get64(c, a+2); l != w.limit || b != w.base {
			t.Errorf("stored at +%d: limit %#x base %#x, want %#x %#x", w.off, l, b, w.limit, w.base)
		}
		if c.ram[a+10] != 0xEE {
			t.Errorf("stored at +%d: wrote more than 10 bytes", w.off)
		}
	}
	if c.GDTR != (DTR{Base: 0x9000, Limit: 0x47}) || c.IDTR != (DTR{Base: 0xFFFF800000001000, Limit: 0x123}) {
		t.Errorf("GDTR %+v IDTR %+v", c.GDTR, c.IDTR)
	}

	// SGDT is allowed at CPL 3; LIDT of a non-canonical base is #GP.
	c = runAsm(t, "sgdt [rax]; hlt", func(c *CPU) { userSetup(c); c.R[RAX] = dataBase })
	if checkVector(t, "user sgdt", c, VecGP) && get64(c, dataBase+2) != testGDT {
		t.Errorf("user sgdt stored base %#x", get64(c, dataBase+2))
	}
	c = runAsm(t, "lidt [rax]", func(c *CPU) {
		sysSetup(c)
		c.R[RAX] = dataBase
		put64(c, dataBase+2, 0x0000800000000000)
	})
	if checkVector(t, "lidt non-canonical", c, VecGP) && c.IDTR.Base != sysIDT {
		t.Errorf("IDTR changed by a faulting LIDT: %+v", c.IDTR)
	}
}

func TestTaskAndLDTRegisters(t *testing.T) {
	src := `
		mov ax, 0x28
		ltr ax
		str ebx
		mov rcx, -1
		str cx
		str word ptr [0x200000]
		mov ax, 0x38
		lldt ax
		sldt esi
		xor eax, eax
		lldt ax
		mov rdi, -1
		sldt edi`
	c := runAsm(t, src, sysSetup)
	checkVector(t, "ltr/lldt", c, sysNoFault)
	if c.R[RBX] != selTSS || c.R[RCX] != 0xFFFFFFFFFFFF0000|selTSS || c.ram[dataBase] != selTSS {
		t.Errorf("str: ebx %#x cx %#x mem %#x", c.R[RBX], c.R[RCX], c.ram[dataBase])
	}
	if c.TR != (Segment{Selector: selTSS, Base: sysTSS, Limit: 0x67, Attr: 0x8B}) {
		t.Errorf("TR %+v", c.TR)
	}
	if typ := c.ram[testGDT+selTSS+5]; typ != 0x8B {
		t.Errorf("TSS descriptor type byte %#x, want 0x8b (busy)", typ)
	}
	if c.R[RSI] != selLDT || c.R[RDI] != 0 || c.LDTR.Selector != 0 {
		t.Errorf("sldt %#x then %#x, LDTR %+v", c.R[RSI], c.R[RDI], c.LDTR)
	}

	faults := []struct {
		name  string
		src   string
		setup func(c *CPU)
		vec   uint64
		code  uint64
	}{
		{"ltr null", "xor eax, eax; ltr ax", nil, VecGP, 0},
		{"ltr data segment", "mov ax, 0x10; ltr ax", nil, VecGP, 0x10},
		{"ltr busy TSS", "mov ax, 0x28; ltr ax; ltr ax", nil, VecGP, 0x28},
		{"ltr LDT selector", "mov ax, 0x2c; ltr ax", nil, VecGP, 0x2c},
		{"ltr beyond GDT limit", "mov ax, 0x48; ltr ax", nil, VecGP, 0x48},
		{"ltr not present", "mov ax, 0x28; ltr ax", func(c *CPU) { c.ram[testGDT+selTSS+5] = 0x09 }, VecNP, 0x28},
		{"lldt TSS", "mov ax, 0x28; lldt ax", nil, VecGP, 0x28},
		{"lldt not present", "mov ax, 0x38; lldt ax", func(c *CPU) { c.ram[testGDT+selLDT+5] = 0x02 }, VecNP, 0x38},
	}
	for _, k := range faults {
		c := runAsm(t, k.src, func(c *CPU) {
			sysSetup(c)
			if k.setup != nil {
				k.setup(c)
			}
		})
		if checkVector(t, k.name, c, k.vec) && get64(c, c.R[RSP]) != k.code {
			t.Errorf("%s: error code %#x, want %#x", k.name, get64(c, c.R[RSP]), k.code)
		}
	}
}

func TestMachineStatusWord(t *testing.T) {
	src := `
		smsw eax
		mov rbx, -1
		smsw bx
		smsw word ptr [0x200000]
		mov ecx, 0x9
		lmsw cx
		mov rdx, cr0
		clts
		mov rsi, cr0
		xor ecx, ecx
		lmsw cx
		mov rdi, cr0
		wbinvd
		invd`
	cr0 := uint64(CR0PE | CR0MP | CR0ET | CR0NE | CR0WP | CR0PG)
	c := runAsm(t, src, sysSetup)
	checkVector(t, "msw", c, sysNoFault)
	checkValues(t, []valueCheck{
		{"smsw eax", c.R[RAX], cr0},
		{"smsw bx", c.R[RBX], 0xFFFFFFFFFFFF0000 | cr0&0xFFFF},
		{"smsw m16", uint64(binary.LittleEndian.Uint32(c.ram[dataBase:])), cr0 & 0xFFFF},
		{"lmsw 9 (PE TS, MP cleared)", c.R[RDX], cr0&^CR0MP | CR0TS},
		{"clts", c.R[RSI], cr0 &^ CR0MP},
		{"lmsw 0 keeps PE", c.R[RDI], cr0 &^ CR0MP},
	})
}

// TestVERRVERW checks VERR and VERW against the harness GDT (0x08 64-bit
// code, execute/read; 0x10 data; 0x18 DPL 3 data; 0x20 DPL 3 code) and
// sysSetup's TSS, at CPL 0 and CPL 3: ZF set only for a readable or
// writable segment the privilege levels allow, no fault for any selector.
func TestVERRVERW(t *testing.T) {
	cases := []struct {
		sel        uint16
		cpl3       bool
		verr, verw bool
	}{
		{0x10, false, true, true},
		{0x08, false, true, false},  // execute/read code
		{0x00, false, false, false}, // null
		{0x03, false, false, false}, // null with RPL 3
		{selTSS, false, false, false},
		{0x1B, false, true, true},
		{0x13, false, false, false}, // RPL 3 above DPL 0
		{0x48, false, false, false}, // beyond the GDT limit
		{0x3C, false, false, false}, // LDT selector, no LDT loaded
		{0x10, true, false, false},  // CPL 3 above DPL 0
		{0x1B, true, true, true},
	}
	for _, k := range cases {
		setup := sysSetup
		if k.cpl3 {
			setup = userSetup
		}
		// ZF starts opposite to each expectation, so a skipped update shows.
		c := runAsm(t, `mov ax, 1; test ax, ax; verr bx; setz cl; cmp ax, ax; verr bx; setz ch
			test ax, ax; verw bx; setz dl; cmp ax, ax; verw bx; setz dh; hlt`, func(c *CPU) {
			setup(c)
			c.R[RBX] = 0xFFFF0000 | uint64(k.sel)
		})
		want := [4]bool{k.verr, k.verr, k.verw, k.verw}
		got := [4]bool{c.R[RCX]&0xFF != 0, c.R[RCX]>>8&0xFF != 0, c.R[RDX]&0xFF != 0, c.R[RDX]>>8&0xFF != 0}
		if got != want {
			t.Errorf("selector %#x (CPL 3 %v): verr, verr, verw, verw = %v, want %v", k.sel, k.cpl3, got, want)
		}
	}
}
