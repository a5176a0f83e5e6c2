package softfp

import (
	"math"
	"testing"
)

func d(v float64) uint64 { return math.Float64bits(v) }
func s(v float32) uint64 { return uint64(math.Float32bits(v)) }

const (
	mxcsr    = 0x1F80 // all masked, round to nearest
	minNorm  = 0x0010000000000000
	maxFin   = 0x7FEFFFFFFFFFFFFF
	snan64   = 0x7FF0000000000001
	qnan64   = 0x7FF8000000000002
	indef64  = 0xFFF8000000000000
	indef32  = 0xFFC00000
	posInf64 = 0x7FF0000000000000
)

func rc(mode uint32) uint32 { return mxcsr | mode<<RCShift }

// hardCase is one operation with its expected result and flags.
type hardCase struct {
	name   string
	op     string // add sub mul div sqrt min max cvt2si32 cvtt2si32 cvtsi64 round
	w      Format
	a, b   uint64
	csr    uint32
	want   uint64
	wantFl uint32
}

// hardCases are the corner cases the SDM and IEEE 754 pin down; each was
// also checked against a host CPU (TestOracleHardCases).
var hardCases = []hardCase{
	{"tie to even stays", "add", F64, d(1), d(0x1p-53), mxcsr, d(1), FlagPE},
	{"tie to even rounds up", "add", F64, d(1 + 0x1p-52), d(0x1p-53), mxcsr, d(1 + 0x1p-51), FlagPE},
	{"tie round up", "add", F64, d(1), d(0x1p-53), rc(RoundUp), d(1 + 0x1p-52), FlagPE},
	{"tie round down negative", "add", F64, d(-1), d(-0x1p-53), rc(RoundDown), d(-1 - 0x1p-52), FlagPE},
	{"exact", "add", F64, d(1.5), d(2.25), mxcsr, d(3.75), 0},
	{"exact cancel RN", "sub", F64, d(3), d(3), mxcsr, 0, 0},
	{"exact cancel RD", "sub", F64, d(3), d(3), rc(RoundDown), 1 << 63, 0},
	{"overflow RN", "mul", F64, maxFin, d(2), mxcsr, posInf64, FlagOE | FlagPE},
	{"overflow RZ", "mul", F64, maxFin, d(2), rc(RoundZero), maxFin, FlagOE | FlagPE},
	{"overflow RD", "mul", F64, maxFin, d(2), rc(RoundDown), maxFin, FlagOE | FlagPE},
	{"overflow RU", "mul", F64, maxFin, d(2), rc(RoundUp), posInf64, FlagOE | FlagPE},
	{"negative overflow RU", "mul", F64, maxFin | 1<<63, d(2), rc(RoundUp), maxFin | 1<<63, FlagOE | FlagPE},
	{"negative overflow RD", "mul", F64, maxFin | 1<<63, d(2), rc(RoundDown), posInf64 | 1<<63, FlagOE | FlagPE},
	{"largest finite not overflow", "add", F64, maxFin, d(0x1p969), mxcsr, maxFin, FlagPE},
	{"overflow by rounding", "add", F64, maxFin, d(0x1p971), mxcsr, posInf64, FlagOE | FlagPE},
	{"exact denormal result", "div", F64, minNorm, d(2), mxcsr, 0x0008000000000000, 0},
	{"exact denormal result FTZ", "div", F64, minNorm, d(2), mxcsr | FTZ, 0, FlagUE | FlagPE},
	{"inexact denormal", "mul", F64, minNorm | 1, d(0.5), mxcsr, 0x0008000000000000, FlagUE | FlagPE},
	{"rounds up to min normal: not tiny", "mul", F64, d((1 - 0x1p-27) * 0x1p-511), d((1 + 0x1p-27) * 0x1p-511), mxcsr, minNorm, FlagPE},
	{"rounds up to min normal: not tiny, FTZ", "mul", F64, d((1 - 0x1p-27) * 0x1p-511), d((1 + 0x1p-27) * 0x1p-511), mxcsr | FTZ, minNorm, FlagPE},
	{"just below min normal RZ", "mul", F64, d((1 - 0x1p-27) * 0x1p-511), d((1 + 0x1p-27) * 0x1p-511), rc(RoundZero), minNorm - 1, FlagUE | FlagPE},
	{"underflow to zero", "mul", F64, d(0x1p-600), d(0x1p-600), mxcsr, 0, FlagUE | FlagPE},
	{"underflow RU to smallest denormal", "mul", F64, d(0x1p-600), d(0x1p-600), rc(RoundUp), 1, FlagUE | FlagPE},
	{"denormal operand", "add", F64, 1, 0, mxcsr, 1, FlagDE},
	{"denormal operand DAZ", "add", F64, 1, 0, mxcsr | DAZ, 0, 0},
	{"denormal operand DAZ keeps sign", "add", F64, 1<<63 | 1, 1 << 63, mxcsr | DAZ, 1 << 63, 0},
	{"denormal over zero: ZE, no DE", "div", F64, 1, 0, mxcsr, posInf64, FlagZE},
	{"denormal over zero DAZ: invalid", "div", F64, 1, 0, mxcsr | DAZ, indef64, FlagIE},
	{"first NaN wins, SNaN quieted", "add", F64, snan64, qnan64, mxcsr, snan64 | 1<<51, FlagIE},
	{"first QNaN wins over SNaN", "mul", F64, qnan64, snan64, mxcsr, qnan64, FlagIE},
	{"QNaN and denormal: no DE", "add", F64, 1, qnan64, mxcsr, qnan64, 0},
	{"inf-inf indefinite", "sub", F64, posInf64, posInf64, mxcsr, indef64, FlagIE},
	{"0*inf indefinite", "mul", F64, 0, posInf64 | 1<<63, mxcsr, indef64, FlagIE},
	{"sqrt -1 indefinite", "sqrt", F64, 0, d(-1), mxcsr, indef64, FlagIE},
	{"sqrt -0", "sqrt", F64, 0, 1 << 63, mxcsr, 1 << 63, 0},
	{"sqrt 2 RN", "sqrt", F64, 0, d(2), mxcsr, d(math.Sqrt2), FlagPE},
	{"sqrt 2 RD", "sqrt", F64, 0, d(2), rc(RoundDown), d(math.Sqrt2) - 1, FlagPE},
	{"sqrt denormal", "sqrt", F64, 0, 4, mxcsr, d(0x1p-536), FlagDE},
	{"single tie", "add", F32, s(1), s(0x1p-24), mxcsr, s(1), FlagPE},
	{"single overflow RZ", "mul", F32, s(math.MaxFloat32), s(2), rc(RoundZero), s(math.MaxFloat32), FlagOE | FlagPE},
	{"single indefinite", "div", F32, 0, 0, mxcsr, indef32, FlagIE},
	{"min returns second on zeros", "min", F64, 0, 1 << 63, mxcsr, 1 << 63, 0},
	{"max returns second on zeros", "max", F64, 1 << 63, 0, mxcsr, 0, 0},
	{"min returns second on QNaN", "min", F64, qnan64, d(1), mxcsr, d(1), FlagIE},
	{"max returns SNaN unquieted", "max", F64, d(1), snan64, mxcsr, snan64, FlagIE},
	{"cvt tie to even overflows", "cvt2si32", F64, 0, d(2147483647.5), mxcsr, 0x80000000, FlagIE},
	{"cvtt in range", "cvtt2si32", F64, 0, d(2147483647.9), mxcsr, 0x7FFFFFFF, FlagPE},
	{"cvt INT_MIN", "cvt2si32", F64, 0, d(-2147483648.4), mxcsr, 0x80000000, FlagPE},
	{"cvt NaN", "cvt2si32", F64, 0, qnan64, mxcsr, 0x80000000, FlagIE},
	{"cvt denormal: no DE", "cvt2si32", F64, 0, 1, mxcsr, 0, FlagPE},
	{"cvt -0.5 RD", "cvt2si32", F64, 0, d(-0.5), rc(RoundDown), 0xFFFFFFFF, FlagPE},
	{"cvtsi64 to single RN", "cvtsi64", F32, 0, 1<<63 - 1, mxcsr, s(0x1p63), FlagPE},
	{"cvtsi64 to single RZ", "cvtsi64", F32, 0, 1<<63 - 1, rc(RoundZero), s(0x1p63) - 1, FlagPE},
	{"cvtsi64 INT64_MIN exact", "cvtsi64", F64, 0, 1 << 63, mxcsr, d(-0x1p63), 0},
	{"round 2.5 to even", "round0", F64, 0, d(2.5), mxcsr, d(2), FlagPE},
	{"round 2.5 suppressed PE", "round8", F64, 0, d(2.5), mxcsr, d(2), 0},
	{"round -0.5 up to -0", "round2", F64, 0, d(-0.5), mxcsr, 1 << 63, FlagPE},
	{"round by MXCSR (RU)", "round4", F64, 0, d(2.25), rc(RoundUp), d(3), FlagPE},
	{"round SNaN", "round0", F64, 0, snan64, mxcsr, snan64 | 1<<51, FlagIE},
}

// run evaluates a hard case with this package.
func (c hardCase) run() (uint64, uint32) {
	switch c.op {
	case "add":
		return Add(c.w, c.a, c.b, c.csr)
	case "sub":
		return Sub(c.w, c.a, c.b, c.csr)
	case "mul":
		return Mul(c.w, c.a, c.b, c.csr)
	case "div":
		return Div(c.w, c.a, c.b, c.csr)
	case "sqrt":
		return Sqrt(c.w, c.b, c.csr)
	case "min":
		return Min(c.w, c.a, c.b, c.csr)
	case "max":
		return Max(c.w, c.a, c.b, c.csr)
	case "cvt2si32":
		return ToInt(c.w, c.b, 32, false, c.csr)
	case "cvtt2si32":
		return ToInt(c.w, c.b, 32, true, c.csr)
	case "cvtsi64":
		return FromInt(c.w, int64(c.b), c.csr)
	case "round0", "round2", "round4", "round8":
		return RoundInt(c.w, c.b, c.op[5]-'0', c.csr)
	}
	panic("unknown op " + c.op)
}

func TestHardCases(t *testing.T) {
	for _, c := range hardCases {
		got, fl := c.run()
		if got != c.want || fl != c.wantFl {
			t.Errorf("%s: %s(%#x, %#x) csr %#x = %#x flags %#x, want %#x flags %#x",
				c.name, c.op, c.a, c.b, c.csr, got, fl, c.want, c.wantFl)
		}
	}
}

// TestUnmasked: with overflow or underflow unmasked, the flags are those of
// the rounding with unbounded exponent (checked on a host CPU with a SIGFPE
// handler): an exact tiny or huge result raises UE or OE alone.
func TestUnmasked(t *testing.T) {
	um := uint32(mxcsr &^ (FlagUE << MaskShift))
	om := uint32(mxcsr &^ (FlagOE << MaskShift))
	for _, c := range []struct {
		name string
		a, b uint64
		csr  uint32
		want uint32
	}{
		{"exact tiny", d(0x1p-1000), d(0x1p-30), um, FlagUE},
		{"exact tiny, FTZ ignored", d(0x1p-1000), d(0x1p-30), um | FTZ, FlagUE},
		{"inexact tiny", d(0x1.0000000000001p-1000), d(0x1.8p-30), um, FlagUE | FlagPE},
		{"below the denormals, exact unbounded", d(0x1p-1000), d(0x1p-100), um, FlagUE},
		{"exact overflow", d(0x1p1000), d(0x1p100), om, FlagOE},
		{"inexact overflow", d(0x1.0000000000001p1000), d(0x1.8p100), om, FlagOE | FlagPE},
	} {
		if _, fl := Mul(F64, c.a, c.b, c.csr); fl != c.want {
			t.Errorf("%s: flags %#x, want %#x", c.name, fl, c.want)
		}
	}
}

func TestApproxBound(t *testing.T) {
	for _, v := range []float32{1, 3, 0.7, 1e30, 1e-30, 123456.7, 0x1.fffffep0} {
		r := float64(math.Float32frombits(uint32(Rcp(s(v)))))
		if e := 1 / float64(v); math.Abs(r-e) > 0x1.8p-12*e {
			t.Errorf("rcp(%g) = %g, exact %g", v, r, e)
		}
		q := float64(math.Float32frombits(uint32(Rsqrt(s(v)))))
		if e := 1 / math.Sqrt(float64(v)); math.Abs(q-e) > 0x1.8p-12*e {
			t.Errorf("rsqrt(%g) = %g, exact %g", v, q, e)
		}
	}
	if Rcp(1) != s(float32(math.Inf(1))) || Rsqrt(s(-2)) != indef32 || Rcp(s(float32(math.Inf(-1)))) != 1<<31 {
		t.Error("special cases")
	}
}

func BenchmarkAddFast(b *testing.B) {
	x, y := d(1.25), d(3.1)
	for i := 0; i < b.N; i++ {
		x, _ = Add(F64, x, y, mxcsr|FlagPE)
	}
}

func BenchmarkMulExactFlags(b *testing.B) {
	x, y := d(1.0000001), d(0.9999999)
	for i := 0; i < b.N; i++ {
		x, _ = Mul(F64, x, y, mxcsr)
	}
}

func BenchmarkAddSlow(b *testing.B) {
	x, y := d(1.25), d(3.1)
	for i := 0; i < b.N; i++ {
		_, _ = Add(F64, x, y, rc(RoundUp))
	}
}

// TestNoAllocation: the slow paths (directed rounding of binary32,
// denormals, underflow, square roots of denormals) allocate nothing, as the
// interpreter's hot path must not.
func TestNoAllocation(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		Add(F32, s(1), s(0x1p-30), rc(RoundUp))
		Mul(F64, d(0x1p-600), d(0x1p-500), mxcsr|FTZ)
		Div(F64, 3, d(7), rc(RoundZero))
		Sub(F64, 5, 3, mxcsr)
		Sqrt(F64, 5, mxcsr)
		Sqrt(F32, s(2), rc(RoundDown))
		Convert(F64, F32, d(1e-40), mxcsr)
		ToInt(F64, d(-2.5), 64, false, mxcsr)
		RoundInt(F32, s(-2.5), 0, mxcsr)
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
