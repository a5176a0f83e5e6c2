package cpu

import (
	"fmt"
	"testing"

	"ftvm/mmu"
)

// TestCPUID checks the fixed CPU model leaf by leaf, through the instruction
// (the upper halves of the four registers are cleared).
func TestCPUID(t *testing.T) {
	cases := []struct {
		leaf, sub          uint32
		eax, ebx, ecx, edx uint32
	}{
		{0, 0, 0x16, 0x756E6547, 0x6C65746E, 0x49656E69},
		{1, 0, 0x6F1, 0x00010800, 1 | 1<<9 | 1<<13 | 1<<19 | 1<<20 | 1<<23 | 1<<24 | 1<<30,
			1<<0 | 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<8 | 1<<9 | 1<<11 | 1<<13 | 1<<15 | 1<<16 | 1<<19 | 1<<23 | 1<<24 | 1<<25 | 1<<26},
		{2, 0, 0x76036301, 0x00F0B5FF, 0, 0x00C30000},
		{3, 0, 0, 0, 0, 0},
		{4, 0, 0x121, 0x01C0003F, 63, 0},
		{4, 1, 0x122, 0x01C0003F, 63, 0},
		{4, 2, 0x143, 0x00C0003F, 1023, 0},
		{4, 3, 0x163, 0x03C0003F, 8191, 6},
		{4, 4, 0, 0, 0, 0},
		{7, 0, 0, 1<<3 | 1<<13 | 1<<18, 0, 0},
		{7, 1, 0, 0, 0, 0},
		{8, 0, 0, 0, 0, 0},
		{0xD, 0, 0, 0, 0, 0},
		{0xB, 0, 0, 0, 0, 0},
		{0x15, 0, 1, 1, 1e9, 0},
		{0x16, 0, 1000, 1000, 1000, 0},
		{0x17, 0, 0, 0, 0, 0},
		{0x40000000, 0, 0, 0, 0, 0},
		{0x80000000, 0, 0x80000008, 0, 0, 0},
		{0x80000001, 0, 0, 0, 1 | 1<<5, 1<<11 | 1<<20 | 1<<26 | 1<<27 | 1<<29},
		{0x80000002, 0, 0x6D767466, 0x36387820, 0x2034362D, 0x65746E69},
		{0x80000003, 0, 0x65727072, 0x00726574, 0, 0},
		{0x80000004, 0, 0, 0, 0, 0},
		{0x80000005, 0, 0x0420FF08, 0x04400840, 0x20080140, 0x20080140},
		{0x80000006, 0, 0, 0, 0x01004040, 0},
		{0x80000007, 0, 0, 0, 0, 0},
		{0x80000008, 0, 0x3028, 0, 0, 0},
		{0x80000009, 0, 0, 0, 0, 0},
	}
	code := assemble(t, "cpuid")
	for _, k := range cases {
		c := newTestCPU(t)
		c.R[RAX] = 0xFFFFFFFF00000000 | uint64(k.leaf)
		c.R[RCX] = 0xFFFFFFFF00000000 | uint64(k.sub)
		c.R[RBX], c.R[RDX] = ^uint64(0), ^uint64(0)
		runCode(t, c, code)
		got := [4]uint64{c.R[RAX], c.R[RBX], c.R[RCX], c.R[RDX]}
		want := [4]uint64{uint64(k.eax), uint64(k.ebx), uint64(k.ecx), uint64(k.edx)}
		if got != want {
			t.Errorf("cpuid(%#x, %d) = %#x, want %#x", k.leaf, k.sub, got, want)
		}
	}
	// The strings, decoded.
	reg := func(v uint32) string { return string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
	r0 := cpuid(0, 0)
	if s := reg(r0.ebx) + reg(r0.edx) + reg(r0.ecx); s != "GenuineIntel" {
		t.Errorf("vendor %q", s)
	}
	brand := ""
	for l := uint32(0x80000002); l <= 0x80000004; l++ {
		r := cpuid(l, 0)
		brand += reg(r.eax) + reg(r.ebx) + reg(r.ecx) + reg(r.edx)
	}
	if want := "ftvm x86-64 interpreter" + string(make([]byte, 48-23)); brand != want {
		t.Errorf("brand %q", brand)
	}
	// Leaf 4's geometry gives the sizes the table states (SDM CPUID leaf 4:
	// ways * partitions * line size * sets).
	for i, want := range []uint32{32 << 10, 32 << 10, 256 << 10, 8 << 20} {
		r := cpuid(4, uint32(i))
		size := (r.ebx>>22 + 1) * (r.ebx>>12&0x3FF + 1) * (r.ebx&0xFFF + 1) * (r.ecx + 1)
		if size != want {
			t.Errorf("leaf 4.%d: %d bytes, want %d", i, size, want)
		}
	}
	if got := cpuid(0x80000008, 0).eax & 0xFF; got != mmu.PhysAddrBits {
		t.Errorf("physical address bits %d, want %d", got, mmu.PhysAddrBits)
	}
}

// TestRDTSC checks RDTSC and RDTSCP against the test Env (TSC = 3 *
// position), the TSC MSR offset, and TSC_AUX.
func TestRDTSC(t *testing.T) {
	c := runAsm(t, "nop; nop; rdtsc; mov rsi, rax; mov rdi, rdx; rdtscp", func(c *CPU) {
		c.R[RAX], c.R[RDX] = ^uint64(0), ^uint64(0)
		c.TSCAux = 0xABCD
	})
	if c.R[RSI] != 6 || c.R[RDI] != 0 {
		t.Errorf("rdtsc at position 2: EDX:EAX = %#x:%#x, want 0:6", c.R[RDI], c.R[RSI])
	}
	if c.R[RAX] != 15 || c.R[RDX] != 0 || c.R[RCX] != 0xABCD {
		t.Errorf("rdtscp at position 5: RAX %#x RDX %#x RCX %#x", c.R[RAX], c.R[RDX], c.R[RCX])
	}
	// Writing the TSC MSR: RDTSC continues from the value written (3 per
	// instruction in the test Env).
	c = runAsm(t, "mov ecx, 0x10; mov eax, 0x100; mov edx, 0x12; wrmsr; nop; rdtsc; mov rsi, rax; mov rdi, rdx; rdmsr", nil)
	if c.R[RDI] != 0x12 || c.R[RSI] != 0x106 {
		t.Errorf("rdtsc two instructions after writing 0x12_00000100: %#x:%#x", c.R[RDI], c.R[RSI])
	}
	if c.R[RDX] != 0x12 || c.R[RAX] != 0x10F {
		t.Errorf("rdmsr TSC five instructions after: %#x:%#x", c.R[RDX], c.R[RAX])
	}
	// CR4.TSD does not restrict CPL 0.
	c = runAsm(t, "rdtsc", func(c *CPU) { c.CR4 |= CR4TSD })
	if c.R[RAX] != 0 {
		t.Errorf("rdtsc at CPL 0 with TSD: %#x", c.R[RAX])
	}
}

// noRandom is an Env whose random source is exhausted.
type noRandom struct{ fixedEnv }

func (noRandom) Random(pos uint64, seed bool) (uint64, bool) { return 0x1234, false }

// seedEnv records whether RDSEED or RDRAND asked.
type seedEnv struct {
	fixedEnv
	seeds *[]bool
}

func (e seedEnv) Random(pos uint64, seed bool) (uint64, bool) {
	*e.seeds = append(*e.seeds, seed)
	return 0xFEDCBA9876543210 + pos, true
}

func TestRDRAND(t *testing.T) {
	all := uint64(FlagsArith | 2)
	cases := []struct {
		src       string
		env       Env
		reg       int
		want      uint64
		wantFlags uint64
	}{
		{"rdrand rax", nil, RAX, 1, FlagCF | 2}, // position 0: 0*K + 1
		{"nop; rdrand rbx", nil, RBX, 0x9E3779B97F4A7C15 + 1, FlagCF | 2},
		{"nop; rdrand ebx", nil, RBX, (0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFF, FlagCF | 2},
		{"nop; rdrand bx", nil, RBX, 0x5555555555550000 | (0x9E3779B97F4A7C15+1)&0xFFFF, FlagCF | 2},
		{"rdseed r9", nil, R9, 1, FlagCF | 2},
		{"rdrand rax", noRandom{}, RAX, 0, 2},
		{"rdseed r9d", noRandom{}, R9, 0, 2},
		{"rdrand cx", noRandom{}, RCX, 0x5555555555550000, 2},
	}
	for _, k := range cases {
		c := runAsm(t, k.src, func(c *CPU) {
			for i := range c.R[:16] {
				c.R[i] = 0x5555555555555555
			}
			c.R[RSP] = stackTop
			c.SetRFLAGS(all)
			if k.env != nil {
				c.env = k.env
			}
		})
		if c.R[k.reg] != k.want || c.RFLAGS() != k.wantFlags {
			t.Errorf("%s: reg %#x flags %#x, want %#x flags %#x", k.src, c.R[k.reg], c.RFLAGS(), k.want, k.wantFlags)
		}
	}
	var seeds []bool
	runAsm(t, "rdrand rax; rdseed rax", func(c *CPU) { c.env = seedEnv{seeds: &seeds} })
	if fmt.Sprint(seeds) != "[false true]" {
		t.Errorf("seed arguments %v, want [false true]", seeds)
	}
	// The memory form is #UD.
	in, err := Decode([]byte{0x0F, 0xC7, 0x30}, 0)
	if err != nil || in.Op() != OpInvalid && bindRDRAND(&in) != nil {
		t.Errorf("rdrand with a memory operand decodes as %v, not #UD", in.Op())
	}
}

// testPorts is a port device that logs accesses and reads back a fixed
// pattern.
type testPorts struct{ log []string }

func (p *testPorts) ReadPort(port uint16, size int) uint32 {
	p.log = append(p.log, fmt.Sprintf("in %#x/%d", port, size))
	return 0x87654321 & uint32(1<<(8*size)-1)
}

func (p *testPorts) WritePort(port uint16, size int, v uint32) {
	p.log = append(p.log, fmt.Sprintf("out %#x/%d=%#x", port, size, v))
}

func TestINOUT(t *testing.T) {
	src := `
		out 0x80, al
		out dx, al
		out dx, ax
		out dx, eax
		in al, 0x81
		mov rbx, rax
		in ax, dx
		mov rsi, rax
		in eax, 0x82
		mov rdi, rax
		.byte 0x48, 0xed
		mov r8, rax
		in al, 0x40`
	dev := &testPorts{}
	c := runAsm(t, src, func(c *CPU) {
		if err := c.mem.MapPorts(0x80, 0x3FF, dev); err != nil {
			t.Fatal(err)
		}
		c.R[RAX] = 0x1122334455667788
		c.R[RDX] = 0x3F8
	})
	want := "[out 0x80/1=0x88 out 0x3f8/1=0x88 out 0x3f8/2=0x7788 out 0x3f8/4=0x55667788 in 0x81/1 in 0x3f8/2 in 0x82/4 in 0x3f8/4]"
	if got := fmt.Sprint(dev.log); got != want {
		t.Errorf("port log\n got %s\nwant %s", got, want)
	}
	checkValues(t, []valueCheck{
		{"in al", c.R[RBX], 0x1122334455667721},
		{"in ax", c.R[RSI], 0x1122334455664321},
		{"in eax", c.R[RDI], 0x87654321},
		{"in rax (REX.W: 32-bit)", c.R[R8], 0x87654321},
		{"in al from an unmapped port", c.R[RAX], 0x876543FF},
	})

	// At CPL 3 with IOPL 3, port I/O, CLI and STI are allowed.
	dev = &testPorts{}
	c = runAsm(t, "out 0x80, al; in al, 0x80; cli; sti; pushfq; pop rbx; cli; pushfq; pop rcx; hlt", func(c *CPU) {
		userSetup(c)
		c.SetRFLAGS(FlagIOPL | 2)
		if err := c.mem.MapPorts(0x80, 0x80, dev); err != nil {
			t.Fatal(err)
		}
	})
	if c.R[R15] != VecGP || len(dev.log) != 2 {
		t.Errorf("IOPL 3 at CPL 3: vector %#x (want the final hlt's #GP), port log %v", c.R[R15], dev.log)
	}
	if c.R[RBX] != FlagIOPL|FlagIF|2 || c.R[RCX] != FlagIOPL|2 {
		t.Errorf("RFLAGS after sti %#x, after cli %#x", c.R[RBX], c.R[RCX])
	}
}

// TestMiscSimple covers UD2 (not counted as unimplemented), HLT, NOP,
// PAUSE and the fences.
func TestMiscSimple(t *testing.T) {
	c := runAsm(t, "nop; pause; lfence; mfence; sfence; clflush [rax]; ud2", func(c *CPU) {
		sysSetup(c)
		c.R[RAX] = dataBase
	})
	if c.R[R15] != VecUD || c.UD != 0 || len(c.Unimplemented) != 0 {
		t.Errorf("ud2: vector %#x, UD count %d %v", c.R[R15], c.UD, c.Unimplemented)
	}
	if c.Retired != 8 {
		t.Errorf("retired %d, want 8 (7 instructions and the stub's mov)", c.Retired)
	}
}

// MONITOR and MWAIT are not implemented and CPUID.1:ECX.MONITOR[3] is clear,
// so both raise #UD (SDM MONITOR, MWAIT: "#UD If CPUID.01H:ECX.MONITOR[bit 3]
// = 0"), counted as unimplemented, in 64-bit and in 32-bit code.
func TestMonitorMwaitUndefined(t *testing.T) {
	if cpuid(1, 0).ecx&(1<<3) != 0 {
		t.Fatal("CPUID.1:ECX.MONITOR is set")
	}
	for _, src := range []string{"monitor", "mwait"} {
		c := newTestCPU(t)
		sysSetup(c)
		load(c, assemble(t, src))
		c.Run(100)
		if c.R[R15] != VecUD || c.UD != 1 {
			t.Errorf("64-bit %s: vector %#x, UD count %d; want #UD counted once", src, c.R[R15], c.UD)
		}
		c = newTestCPU32(t)
		vec, _ := run32(t, c, src)
		if vec != VecUD || c.UD != 1 {
			t.Errorf("32-bit %s: vector %#x, UD count %d; want #UD counted once", src, vec, c.UD)
		}
	}
}
