package cpu

import "testing"

// Tests of the SSE infrastructure: mandatory-prefix decoding, the checks
// before execution (CR0.EM, CR0.TS, CR4.OSFXSR), alignment, MXCSR access
// and the SIMD exception helper. Instruction results are checked against
// the host CPU by the sse guest (testdata/guests/sse.c).

// sseCase runs src with XMM0/XMM1 and RAX preset and checks XMM0, RBX and the
// vector taken (0 for none: #DE is never expected).
type sseCase struct {
	name    string
	src     string
	x0, x1  XMM
	rax     uint64
	setup   func(c *CPU)
	want0   XMM
	wantRBX uint64
	fault   uint64
	// wantMXCSR, if not zero, is MXCSR afterwards.
	wantMXCSR uint32
}

func TestSSEBasics(t *testing.T) {
	a := XMM{0x8081828384858687, 0x08090A0B0C0D0E0F}
	b := XMM{0x0101010101010101, 0xFFFFFFFFFFFFFFFF}
	data := uint64(dataBase)
	cases := []sseCase{
		{name: "paddb", src: "paddb xmm0, xmm1", x0: a, x1: b, want0: XMM{0x8182838485868788, 0x0708090A0B0C0D0E}},
		{name: "paddusb", src: "paddusb xmm0, xmm1", x0: XMM{0xFFFE, 0}, x1: XMM{0x0102, 0}, want0: XMM{0xFFFF, 0}},
		{name: "paddsw", src: "paddsw xmm0, xmm1", x0: XMM{0x7FFF8000, 0}, x1: XMM{0x0001FFFF, 0},
			want0: XMM{0x7FFF8000, 0}},
		{name: "pcmpeqb", src: "pcmpeqb xmm0, xmm1", x0: a, x1: a, want0: XMM{m1, m1}},
		{name: "pxor self", src: "pxor xmm0, xmm0", x0: a, want0: XMM{}},
		{name: "pandn", src: "pandn xmm0, xmm1", x0: a, x1: b, want0: XMM{^a[0] & b[0], ^a[1] & b[1]}},
		{name: "movdqa load", src: "movdqa xmm0, [rax]", rax: data, setup: func(c *CPU) { put64(c, data, 5); put64(c, data+8, 6) },
			want0: XMM{5, 6}},
		{name: "movdqa misaligned", src: "movdqa xmm0, [rax]", rax: data + 8, fault: VecGP, x0: a, want0: a},
		{name: "movdqu misaligned", src: "movdqu xmm0, [rax]", rax: data + 8,
			setup: func(c *CPU) { put64(c, data+8, 5); put64(c, data+16, 6) }, want0: XMM{5, 6}},
		{name: "paddb misaligned", src: "paddb xmm0, [rax]", rax: data + 1, fault: VecGP, x0: a, want0: a},
		{name: "movdqa store", src: "movdqa [rax], xmm0; mov rbx, [rax+8]", rax: data, x0: a, want0: a, wantRBX: a[1]},
		{name: "movd load", src: "movd xmm0, eax", rax: 0x1122334455667788, x0: a, want0: XMM{0x55667788, 0}},
		{name: "movq load", src: "movq xmm0, rax", rax: 0x1122334455667788, x0: a, want0: XMM{0x1122334455667788, 0}},
		{name: "movd store", src: "movd ebx, xmm0", x0: a, want0: a, wantRBX: 0x84858687},
		{name: "movss reg merges", src: "movss xmm0, xmm1", x0: a, x1: b, want0: XMM{0x8081828301010101, a[1]}},
		{name: "movss load zeroes", src: "movss xmm0, [rax]", rax: data, setup: func(c *CPU) { put64(c, data, m1) },
			x0: a, want0: XMM{0xFFFFFFFF, 0}},
		{name: "pmovmskb", src: "pmovmskb ebx, xmm0", x0: a, want0: a, wantRBX: 0x00FF},
		{name: "pextrw", src: "pextrw ebx, xmm0, 5", x0: a, want0: a, wantRBX: 0x0C0D},
		{name: "pinsrd", src: "pinsrd xmm0, eax, 3", x0: a, rax: 0x12345678, want0: XMM{a[0], 0x123456780C0D0E0F}},
		{name: "pmovsxbw", src: "pmovsxbw xmm0, xmm1", x1: XMM{0x80017F, 0}, want0: XMM{0xFF800001007F, 0}},
		{name: "OSFXSR clear", src: "pxor xmm0, xmm1", x0: a, x1: b, want0: a, fault: VecUD,
			setup: func(c *CPU) { c.CR4 &^= CR4OSFXSR }},
		{name: "CR0.EM", src: "movaps xmm0, xmm1", x0: a, x1: b, want0: a, fault: VecUD,
			setup: func(c *CPU) { c.CR0 |= CR0EM }},
		{name: "CR0.TS", src: "movaps xmm0, xmm1", x0: a, x1: b, want0: a, fault: VecNM,
			setup: func(c *CPU) { c.CR0 |= CR0TS }},
		{name: "ldmxcsr", src: "ldmxcsr [rax]; stmxcsr [rax+4]; mov ebx, [rax+4]", rax: data,
			setup: func(c *CPU) { put64(c, data, 0xFFFF) }, wantRBX: 0xFFFF},
		{name: "ldmxcsr reserved", src: "ldmxcsr [rax]", rax: data, setup: func(c *CPU) { put64(c, data, 0x10000) },
			fault: VecGP},
		{name: "lock on SSE", src: ".byte 0xf0, 0x66, 0x0f, 0xef, 0x00", fault: VecUD},
		{name: "MMX with CR0.EM", src: "pxor mm0, mm1", fault: VecUD, setup: func(c *CPU) { c.CR0 |= CR0EM }},
		{name: "MMX with CR0.TS", src: "pxor mm0, mm1", fault: VecNM, setup: func(c *CPU) { c.CR0 |= CR0TS }},
		{name: "MMX needs no OSFXSR", src: "pxor mm0, mm0; movq rbx, mm0", wantRBX: 0,
			setup: func(c *CPU) { c.CR4 &^= CR4OSFXSR; c.FPU.ST[0].Mant = 5 }},
	}
	runSSECases(t, cases)
}

// runSSECases assembles and runs each case on a fresh CPU.
func runSSECases(t *testing.T, cases []sseCase) {
	codes := assembleEach(t, cases, func(k sseCase) string { return k.src })
	for i, k := range cases {
		c := newTestCPU(t)
		sysSetup(c)
		c.FPU.XMM[0], c.FPU.XMM[1] = k.x0, k.x1
		c.R[RAX] = k.rax
		if k.setup != nil {
			k.setup(c)
		}
		runCode(t, c, codes[i])
		want := k.fault
		if want == 0 {
			want = sysNoFault
		}
		if !checkVector(t, k.name, c, want) {
			continue
		}
		if c.FPU.XMM[0] != k.want0 {
			t.Errorf("%s: xmm0 = %#x, want %#x", k.name, c.FPU.XMM[0], k.want0)
		}
		if c.R[RBX] != k.wantRBX {
			t.Errorf("%s: rbx = %#x, want %#x", k.name, c.R[RBX], k.wantRBX)
		}
		if k.wantMXCSR != 0 && c.FPU.MXCSR != k.wantMXCSR {
			t.Errorf("%s: mxcsr = %#x, want %#x", k.name, c.FPU.MXCSR, k.wantMXCSR)
		}
	}
}

func TestSIMDExceptions(t *testing.T) {
	for _, k := range []struct {
		name  string
		mxcsr uint32
		cr4   uint64
		flags uint32
		vec   uint64
		want  uint32
	}{
		{"masked", MXCSRReset, CR4OSXMMEXCPT, MXCSRPE | MXCSROE, sysNoFault, MXCSRReset | MXCSRPE | MXCSROE},
		{"unmasked #XM", MXCSRReset &^ (MXCSRZE << MXCSRMaskShift), CR4OSXMMEXCPT, MXCSRZE, VecXM,
			MXCSRReset&^(MXCSRZE<<MXCSRMaskShift) | MXCSRZE},
		{"unmasked #UD without OSXMMEXCPT", MXCSRReset &^ (MXCSRIE << MXCSRMaskShift), 0, MXCSRIE, VecUD,
			MXCSRReset&^(MXCSRIE<<MXCSRMaskShift) | MXCSRIE},
	} {
		c := newTestCPU(t)
		c.FPU.MXCSR = k.mxcsr
		c.CR4 = c.CR4&^CR4OSXMMEXCPT | k.cr4
		got := uint64(sysNoFault)
		func() {
			defer func() {
				if f, ok := recover().(*guestFault); ok {
					got = uint64(f.vector)
				}
			}()
			c.simdExceptions(k.flags)
		}()
		if got != k.vec || c.FPU.MXCSR != k.want {
			t.Errorf("%s: vector %#x MXCSR %#x, want %#x %#x", k.name, got, c.FPU.MXCSR, k.vec, k.want)
		}
	}
}

// TestSSEStoreFaultAtomic checks that a 16-byte store that crosses into an
// unmapped page raises #PF before writing either part, and that a load there
// faults with CR2 in the unmapped page and leaves its destination alone.
func TestSSEStoreFaultAtomic(t *testing.T) {
	const edge = 0x400000 // made not present below
	for _, src := range []string{"movdqu [rax], xmm0", "movups [rax], xmm0", "movdqu xmm1, [rax]"} {
		c := runAsm(t, src, func(c *CPU) {
			sysSetup(c)
			put64(c, testPD+edge>>21*8, 0) // the 2 MiB page at edge is not present
			c.StateChanged()
			c.R[RAX] = edge - 8
			put64(c, edge-8, 0x1111)
			c.FPU.XMM[0] = XMM{0xAAAA, 0xBBBB}
			c.FPU.XMM[1] = XMM{5, 6}
		})
		checkVector(t, src, c, VecPF)
		if c.CR2 < edge || c.CR2 >= edge+8 {
			t.Errorf("%s: CR2 %#x, want an address of the operand in the page at %#x", src, c.CR2, uint64(edge))
		}
		if got := get64(c, edge-8); got != 0x1111 {
			t.Errorf("%s: first half written (%#x) although the instruction faulted", src, got)
		}
		if c.FPU.XMM[1] != (XMM{5, 6}) {
			t.Errorf("%s: xmm1 = %#x, changed by a faulting load", src, c.FPU.XMM[1])
		}
	}
}

// TestMMXState checks the x87 side of MMX (SDM Vol. 1 §9.5): an MMX
// instruction sets TOP to 0 and every tag valid, a written register gets
// ones in bits 79:64, and EMMS empties the tag word.
func TestMMXState(t *testing.T) {
	c := runAsm(t, "movq mm3, rax; paddb mm3, mm3; movq rbx, mm3", func(c *CPU) {
		c.R[RAX] = 0x0102030405060708
		c.FPU.FSW = 5 << 11
	})
	if c.R[RBX] != 0x020406080A0C0E10 {
		t.Errorf("rbx = %#x", c.R[RBX])
	}
	if c.FPU.FTW != 0 || c.FPU.FSW>>11&7 != 0 {
		t.Errorf("FTW %#x TOP %d, want 0 and 0", c.FPU.FTW, c.FPU.FSW>>11&7)
	}
	if c.FPU.ST[3].SignExp != 0xFFFF || c.FPU.ST[3].Mant != 0x020406080A0C0E10 {
		t.Errorf("R3 = %#x:%#x", c.FPU.ST[3].SignExp, c.FPU.ST[3].Mant)
	}
	c = runAsm(t, "movq mm0, rax; emms", nil)
	if c.FPU.FTW != FTWEmpty {
		t.Errorf("FTW after EMMS %#x, want %#x", c.FPU.FTW, FTWEmpty)
	}
}
