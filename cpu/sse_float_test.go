package cpu

import (
	"math"
	"testing"
)

// Tests of the SSE floating-point handlers' plumbing: lanes, scalar merges,
// memory forms, flags, RFLAGS, integer registers and unmasked exceptions.
// The arithmetic itself is checked by package softfp against the host CPU
// and by the ssefp guest (testdata/guests/ssefp_body.c).

func f32x4(a, b, c, d float32) XMM {
	return XMM{uint64(math.Float32bits(a)) | uint64(math.Float32bits(b))<<32,
		uint64(math.Float32bits(c)) | uint64(math.Float32bits(d))<<32}
}

func f64x2(a, b float64) XMM { return XMM{math.Float64bits(a), math.Float64bits(b)} }

func TestSSEFloat(t *testing.T) {
	data := uint64(dataBase)
	one, two := f64x2(1, 2), f64x2(3, 0.5)
	unmaskZE := func(c *CPU) { c.FPU.MXCSR = MXCSRReset &^ (MXCSRZE << MXCSRMaskShift) }
	unmaskPE := func(c *CPU) { c.FPU.MXCSR = MXCSRReset &^ (MXCSRPE << MXCSRMaskShift) }
	cases := []sseCase{
		{name: "addpd", src: "addpd xmm0, xmm1", x0: one, x1: two, want0: f64x2(4, 2.5), wantMXCSR: MXCSRReset},
		{name: "addps", src: "addps xmm0, xmm1", x0: f32x4(1, 2, 3, 4), x1: f32x4(0.5, 0.25, -3, 1e30),
			want0: f32x4(1.5, 2.25, 0, 1e30), wantMXCSR: MXCSRReset | MXCSRPE},
		{name: "subsd keeps the high lane", src: "subsd xmm0, xmm1", x0: one, x1: two, want0: f64x2(-2, 2)},
		{name: "mulss memory", src: "mulss xmm0, [rax+1]", rax: data, x0: f32x4(3, 5, 6, 7),
			setup: func(c *CPU) { put64(c, data+1, uint64(math.Float32bits(2))) }, want0: f32x4(6, 5, 6, 7)},
		{name: "divpd misaligned", src: "divpd xmm0, [rax+8]", rax: data, x0: one, want0: one, fault: VecGP},
		{name: "divsd by zero masked", src: "divsd xmm0, xmm1", x0: one, x1: XMM{0, 7},
			want0: XMM{math.Float64bits(math.Inf(1)), one[1]}, wantMXCSR: MXCSRReset | MXCSRZE},
		{name: "divsd by zero unmasked: #XM, unchanged", src: "divsd xmm0, xmm1", x0: one, x1: XMM{0, 7},
			setup: unmaskZE, want0: one, fault: VecXM, wantMXCSR: MXCSRReset&^(MXCSRZE<<MXCSRMaskShift) | MXCSRZE},
		{name: "unmasked without OSXMMEXCPT: #UD", src: "divsd xmm0, xmm1", x0: one, x1: XMM{0, 7},
			setup: func(c *CPU) { unmaskZE(c); c.CR4 &^= CR4OSXMMEXCPT }, want0: one, fault: VecUD},
		{name: "unmasked PE in one lane of two", src: "divpd xmm0, xmm1", x0: f64x2(1, 1), x1: f64x2(3, 1),
			setup: unmaskPE, want0: f64x2(1, 1), fault: VecXM},
		{name: "unmasked ZE in one lane hides the other's PE", src: "divpd xmm0, xmm1", x0: f64x2(1, 1),
			x1: f64x2(0, 3), setup: unmaskZE, want0: f64x2(1, 1), fault: VecXM,
			wantMXCSR: MXCSRReset&^(MXCSRZE<<MXCSRMaskShift) | MXCSRZE},
		{name: "masked ZE and unmasked PE: both flags", src: "divpd xmm0, xmm1", x0: f64x2(1, 1),
			x1: f64x2(0, 3), setup: unmaskPE, want0: f64x2(1, 1), fault: VecXM,
			wantMXCSR: MXCSRReset&^(MXCSRPE<<MXCSRMaskShift) | MXCSRZE | MXCSRPE},
		{name: "unmasked UE on an exact tiny result", src: "mulsd xmm0, xmm1", x0: f64x2(0x1p-1000, 1),
			x1: f64x2(0x1p-30, 0), setup: func(c *CPU) { c.FPU.MXCSR = MXCSRReset &^ (MXCSRUE << MXCSRMaskShift) },
			want0: f64x2(0x1p-1000, 1), fault: VecXM, wantMXCSR: MXCSRReset&^(MXCSRUE<<MXCSRMaskShift) | MXCSRUE},
		{name: "FTZ", src: "mulsd xmm0, xmm1", x0: f64x2(0x1p-1000, 1), x1: f64x2(0x1p-30, 0),
			setup: func(c *CPU) { c.FPU.MXCSR = MXCSRReset | MXCSRFZ }, want0: f64x2(0, 1),
			wantMXCSR: MXCSRReset | MXCSRFZ | MXCSRUE | MXCSRPE},
		{name: "round up", src: "addss xmm0, xmm1", x0: f32x4(1, 2, 3, 4), x1: f32x4(0x1p-30, 0, 0, 0),
			setup: func(c *CPU) { c.FPU.MXCSR = MXCSRReset | 2<<MXCSRRCShift }, want0: f32x4(1+0x1p-23, 2, 3, 4)},
		{name: "sqrtps", src: "sqrtps xmm0, xmm1", x1: f32x4(4, 9, -1, 0), want0: XMM{f32x4(2, 3, 0, 0)[0], 0xFFC00000},
			wantMXCSR: MXCSRReset | MXCSRIE},
		{name: "maxsd second on NaN", src: "maxsd xmm0, xmm1", x0: f64x2(math.NaN(), 5), x1: f64x2(1, 6),
			want0: f64x2(1, 5), wantMXCSR: MXCSRReset | MXCSRIE},
		{name: "cmpltpd", src: "cmpltpd xmm0, xmm1", x0: one, x1: two, want0: XMM{m1, 0}},
		{name: "cmpneqss", src: "cmpneqss xmm0, xmm1", x0: f32x4(1, 2, 3, 4), x1: f32x4(1, 0, 0, 0),
			want0: XMM{f32x4(0, 2, 3, 4)[0] & 0xFFFFFFFF00000000, f32x4(1, 2, 3, 4)[1]}},
		{name: "comisd less", src: "comisd xmm0, xmm1; pushfq; pop rbx; and ebx, 0x8d5", x0: one, x1: two, want0: one,
			wantRBX: FlagCF},
		{name: "ucomisd unordered", src: "ucomisd xmm0, xmm1; pushfq; pop rbx; and ebx, 0x8d5",
			x0: f64x2(math.NaN(), 0), x1: two, want0: f64x2(math.NaN(), 0), wantRBX: FlagZF | FlagPF | FlagCF,
			wantMXCSR: MXCSRReset},
		{name: "cvtsd2si rounds to even", src: "cvtsd2si rbx, xmm0", x0: f64x2(2.5, 0), want0: f64x2(2.5, 0), wantRBX: 2},
		{name: "cvttss2si indefinite", src: "cvttss2si ebx, xmm0", x0: f32x4(3e9, 0, 0, 0), want0: f32x4(3e9, 0, 0, 0),
			wantRBX: 0x80000000, wantMXCSR: MXCSRReset | MXCSRIE},
		{name: "cvtsi2sd", src: "cvtsi2sd xmm0, rax", rax: 1<<63 + 1, x0: one, want0: f64x2(-0x1p63, 2),
			wantMXCSR: MXCSRReset | MXCSRPE},
		{name: "cvtsi2ss 32-bit", src: "cvtsi2ss xmm0, eax", rax: 0xFFFFFFFF_FFFFFFFD, x0: f32x4(1, 2, 3, 4),
			want0: f32x4(-3, 2, 3, 4)},
		{name: "cvtps2pd", src: "cvtps2pd xmm0, xmm1", x1: f32x4(1.5, -2, 9, 9), want0: f64x2(1.5, -2)},
		{name: "cvtpd2ps zeroes the high half", src: "cvtpd2ps xmm0, xmm1", x0: XMM{m1, m1}, x1: f64x2(1.5, -2),
			want0: XMM{f32x4(1.5, -2, 0, 0)[0], 0}},
		{name: "cvtdq2pd", src: "cvtdq2pd xmm0, xmm1", x1: XMM{0x80000000_00000007, 5}, want0: f64x2(7, -0x1p31)},
		{name: "cvttpd2dq", src: "cvttpd2dq xmm0, xmm1", x0: XMM{m1, m1}, x1: f64x2(-1.9, 1e10),
			want0: XMM{0x80000000_FFFFFFFF, 0}, wantMXCSR: MXCSRReset | MXCSRIE | MXCSRPE},
		{name: "cvtss2sd keeps the high lane", src: "cvtss2sd xmm0, xmm1", x0: one, x1: f32x4(0.25, 0, 0, 0),
			want0: f64x2(0.25, 2)},
		{name: "haddps", src: "haddps xmm0, xmm1", x0: f32x4(1, 2, 3, 4), x1: f32x4(10, 20, 30, 40),
			want0: f32x4(3, 7, 30, 70)},
		{name: "hsubpd", src: "hsubpd xmm0, xmm1", x0: one, x1: two, want0: f64x2(-1, 2.5)},
		{name: "addsubps", src: "addsubps xmm0, xmm1", x0: f32x4(1, 1, 1, 1), x1: f32x4(1, 2, 3, 4),
			want0: f32x4(0, 3, -2, 5)},
		{name: "roundsd floor", src: "roundsd xmm0, xmm1, 1", x0: one, x1: f64x2(-2.5, 7), want0: f64x2(-3, 2),
			wantMXCSR: MXCSRReset | MXCSRPE},
		{name: "roundpd suppress PE", src: "roundpd xmm0, xmm1, 8", x1: f64x2(2.5, 3.5), want0: f64x2(2, 4),
			wantMXCSR: MXCSRReset},
		{name: "dpps", src: "dpps xmm0, xmm1, 0x75", x0: f32x4(1, 2, 3, 4), x1: f32x4(5, 6, 7, 8),
			want0: f32x4(38, 0, 38, 0)},
		{name: "dppd", src: "dppd xmm0, xmm1, 0x32", x0: one, x1: two, want0: f64x2(0, 4)},
		{name: "rcpss", src: "rcpss xmm0, xmm1", x0: f32x4(9, 8, 7, 6), x1: f32x4(0, 0, 0, 0),
			want0: f32x4(float32(math.Inf(1)), 8, 7, 6), wantMXCSR: MXCSRReset},
	}
	runSSECases(t, cases)
}
