package fp80

import "testing"

// Known values, worked out by hand from the SDM's definitions (the host
// differential tests cover the rest on amd64 hosts).

var (
	third   = F80{0xAAAAAAAAAAAAAAAB, 0x3FFD} // 1/3 rounded to nearest
	two     = F80{intBit, 0x4000}
	maxNorm = F80{^uint64(0), 0x7FFE}
	tiny64  = F80{intBit, 0x3FFF - 64} // 2^-64, half an ulp of 1
	qnan    = F80{0xC000000000000001, 0x7FFF}
)

func f(m uint64, se uint16) F80 { return F80{m, se} }

func TestKnownArithmetic(t *testing.T) {
	cases := []struct {
		name  string
		rc    uint8
		prec  uint8
		op    func(e *Env) F80
		want  F80
		flags uint8
		c1    bool
	}{
		{"1/3 nearest", RoundNearest, 64, func(e *Env) F80 { return e.Div(One, f(intBit|1<<62, 0x4000)) }, third, FlagPE, true},
		{"1/3 toward zero", RoundZero, 64, func(e *Env) F80 { return e.Div(One, f(intBit|1<<62, 0x4000)) }, f(0xAAAAAAAAAAAAAAAA, 0x3FFD), FlagPE, false},
		{"1/3 to 24 bits", RoundNearest, 24, func(e *Env) F80 { return e.Div(One, f(intBit|1<<62, 0x4000)) }, f(0xAAAAAB0000000000, 0x3FFD), FlagPE, true},
		{"1/3 to 53 bits", RoundNearest, 53, func(e *Env) F80 { return e.Div(One, f(intBit|1<<62, 0x4000)) }, f(0xAAAAAAAAAAAAA800, 0x3FFD), FlagPE, false},
		{"sqrt 2 nearest", RoundNearest, 64, func(e *Env) F80 { return e.Sqrt(two) }, f(0xB504F333F9DE6484, 0x3FFF), FlagPE, false},
		{"sqrt 2 up", RoundUp, 64, func(e *Env) F80 { return e.Sqrt(two) }, f(0xB504F333F9DE6485, 0x3FFF), FlagPE, true},
		{"1 + half ulp ties to even", RoundNearest, 64, func(e *Env) F80 { return e.Add(One, tiny64) }, One, FlagPE, false},
		{"1 + half ulp up", RoundUp, 64, func(e *Env) F80 { return e.Add(One, tiny64) }, f(intBit|1, 0x3FFF), FlagPE, true},
		{"overflow nearest", RoundNearest, 64, func(e *Env) F80 { return e.Mul(maxNorm, two) }, Inf(false), FlagOE | FlagPE, true},
		{"overflow toward zero", RoundZero, 64, func(e *Env) F80 { return e.Mul(maxNorm, two) }, maxNorm, FlagOE | FlagPE, false},
		{"x - x rounding down is -0", RoundDown, 64, func(e *Env) F80 { return e.Sub(two, two) }, Zero.Neg(), 0, false},
		{"0 / 0", RoundNearest, 64, func(e *Env) F80 { return e.Div(Zero, Zero) }, Indefinite, FlagIE, false},
		{"1 / -0", RoundNearest, 64, func(e *Env) F80 { return e.Div(One, Zero.Neg()) }, Inf(true), FlagZE, false},
		{"inf - inf", RoundNearest, 64, func(e *Env) F80 { return e.Sub(Inf(false), Inf(false)) }, Indefinite, FlagIE, false},
		{"QNaN + 1", RoundNearest, 64, func(e *Env) F80 { return e.Add(qnan, One) }, qnan, 0, false},
		{"SNaN + 1 quiets", RoundNearest, 64, func(e *Env) F80 { return e.Add(f(intBit|1, 0x7FFF), One) }, f(intBit|1<<62|1, 0x7FFF), FlagIE, false},
		{"unnormal operand", RoundNearest, 64, func(e *Env) F80 { return e.Mul(f(1<<62, 0x3FFF), One) }, Indefinite, FlagIE, false},
		{"denormal operand", RoundNearest, 64, func(e *Env) F80 { return e.Mul(f(1, 0), One) }, f(1, 0), FlagDE, false},
		{"pseudo-denormal is 2^-16382", RoundNearest, 64, func(e *Env) F80 { return e.Mul(f(intBit, 0), One) }, f(intBit, 1), FlagDE, false},
		{"underflow to a denormal, tie to even", RoundNearest, 64, func(e *Env) F80 { return e.Div(f(intBit|1, 1), two) }, f(intBit>>1, 0), FlagUE | FlagPE, false},
		{"underflow to a denormal, up", RoundUp, 64, func(e *Env) F80 { return e.Div(f(intBit|1, 1), two) }, f(intBit>>1|1, 0), FlagUE | FlagPE, true},
		{"FLDPI nearest", RoundNearest, 64, func(e *Env) F80 { return Const(ConstPi, e.RC) }, f(0xC90FDAA22168C235, 0x4000), 0, false},
		{"FLDPI down", RoundDown, 64, func(e *Env) F80 { return Const(ConstPi, e.RC) }, f(0xC90FDAA22168C234, 0x4000), 0, false},
		{"frndint 2.5 nearest", RoundNearest, 64, func(e *Env) F80 { return e.RoundInt(f(0xA000000000000000, 0x4000)) }, two, FlagPE, false},
		{"fscale 1 by 2^-16445", RoundNearest, 64, func(e *Env) F80 { return e.Scale(One, FromInt64(-16445)) }, f(1, 0), 0, false},
		// FLDPI's value exceeds the 66-bit pi the x87 reduces with by 2^-64
		// exactly (pi66 = C90FDAA22168C234 and binary 11), so FSIN gives
		// -2^-64, not -(FLDPI - pi) = -0.ECE675D1FC8F8CBB...p-64.
		{"sin(FLDPI) with the x87's pi", RoundNearest, 64, func(e *Env) F80 {
			s, _, _ := e.SinCos(f(0xC90FDAA22168C235, 0x4000), true, false)
			return s
		}, f(intBit, 0xBFBF), FlagPE, true},
	}
	for _, c := range cases {
		e := Env{RC: c.rc, Prec: c.prec, Mask: 0x3F}
		got := c.op(&e)
		if got != c.want || e.Flags != c.flags || c.flags&FlagPE != 0 && e.C1 != c.c1 {
			t.Errorf("%s: %04x:%016x flags %02x C1 %v, want %04x:%016x flags %02x C1 %v", c.name,
				got.SignExp, got.Mant, e.Flags, e.C1, c.want.SignExp, c.want.Mant, c.flags, c.c1)
		}
	}
}

func TestKnownConversions(t *testing.T) {
	twoHalf := f(0xA000000000000000, 0x4000)
	for _, c := range []struct {
		name  string
		a     F80
		n     uint
		rc    uint8
		want  uint64
		flags uint8
	}{
		{"2.5 nearest", twoHalf, 32, RoundNearest, 2, FlagPE},
		{"2.5 up", twoHalf, 32, RoundUp, 3, FlagPE},
		{"-2.5 down", twoHalf.Neg(), 32, RoundDown, 0xFFFFFFFD, FlagPE},
		{"-2.5 toward zero", twoHalf.Neg(), 16, RoundZero, 0xFFFE, FlagPE},
		{"2^31 in 32 bits", FromInt64(1 << 31), 32, RoundNearest, 0x80000000, FlagIE},
		{"-2^31 in 32 bits", FromInt64(-1 << 31), 32, RoundNearest, 0x80000000, 0},
		{"-2^63 in 64 bits", FromInt64(-1 << 63), 64, RoundNearest, 1 << 63, 0},
		{"NaN", qnan, 16, RoundNearest, 0x8000, FlagIE},
	} {
		e := Env{Mask: 0x3F}
		got, _ := e.ToInt(c.a, c.n, c.rc)
		if got != c.want || e.Flags != c.flags {
			t.Errorf("%s: %#x flags %02x, want %#x flags %02x", c.name, got, e.Flags, c.want, c.flags)
		}
	}
	e := Env{Mask: 0x3F}
	if got := e.ToF64(third); got != 0x3FD5555555555555 || e.Flags != FlagPE {
		t.Errorf("1/3 to double: %#x flags %02x", got, e.Flags)
	}
	e = Env{Mask: 0x3F}
	if got := e.ToF32(F80{intBit, 0x3FFF - 149}); got != 1 || e.Flags != 0 {
		t.Errorf("2^-149 to single: %#x flags %02x, want the smallest denormal, exact", got, e.Flags)
	}
	e = Env{Mask: 0x3F}
	if got := e.WidenF32(0x7F800001); got != f(intBit|1<<40, 0x7FFF) || e.Flags != 0 {
		t.Errorf("single SNaN widened: %v flags %02x (stays signaling for the operation)", got, e.Flags)
	}
	e = Env{Mask: 0x3F, RC: RoundNearest}
	b, ok := e.ToBCD(f(0x9A50000000000000, 0x4009).Neg()) // -1234.5
	if want := (BCD{0x34, 0x12, 9: 0x80}); !ok || b != want {
		t.Errorf("FBSTP -1234.5: % x, want % x (ties to even)", b, want)
	}
	if got := FromBCD(BCD{0x78, 0x56, 0x34, 0x12, 9: 0x80}); got != FromInt64(-12345678) {
		t.Errorf("FBLD -12345678: %v", got)
	}
	e = Env{Mask: 0x3F}
	if r := e.Compare(qnan, One, true); r != Unordered || e.Flags != 0 {
		t.Errorf("FUCOM QNaN: %v flags %02x", r, e.Flags)
	}
	if r := e.Compare(qnan, One, false); r != Unordered || e.Flags != FlagIE {
		t.Errorf("FCOM QNaN: %v flags %02x", r, e.Flags)
	}
}

// FuzzOperations runs every operation on arbitrary encodings in any control
// word: none may panic, and a result's exponent field must match its class
// (the operations never produce an unsupported encoding from supported ones).
func FuzzOperations(f *testing.F) {
	f.Add(uint64(intBit), uint16(0x3FFF), uint64(1), uint16(0), uint16(0x037F))
	f.Fuzz(func(t *testing.T, am uint64, ae uint16, bm uint64, be uint16, cw uint16) {
		a, b := F80{am, ae}, F80{bm, be}
		e := Env{RC: uint8(cw >> 10 & 3), Prec: [4]uint8{24, 64, 53, 64}[cw>>8&3], Mask: uint8(cw & 0x3F)}
		supported := a.Classify() != ClassUnsupported && b.Classify() != ClassUnsupported
		check := func(name string, r F80) {
			if supported && e.Unmasked() == 0 && r.Classify() == ClassUnsupported {
				t.Errorf("%s(%v, %v) = %v: an unsupported encoding", name, a, b, r)
			}
		}
		check("add", e.Add(a, b))
		check("sub", e.Sub(a, b))
		check("mul", e.Mul(a, b))
		check("div", e.Div(a, b))
		check("sqrt", e.Sqrt(a))
		check("frndint", e.RoundInt(a))
		check("fscale", e.Scale(a, b))
		x, s := e.Extract(a)
		check("fxtract exponent", x)
		check("fxtract significand", s)
		r, _, _ := e.Rem(a, b, false)
		check("fprem", r)
		r, _, _ = e.Rem(a, b, true)
		check("fprem1", r)
		check("f2xm1", e.TwoXM1(a))
		check("fyl2x", e.YL2X(a, b, false))
		check("fyl2xp1", e.YL2X(a, b, true))
		check("fpatan", e.Atan(a, b))
		sn, cs, _ := e.SinCos(a, true, true)
		check("fsin", sn)
		check("fcos", cs)
		tn, _ := e.Tan(a)
		check("fptan", tn)
		e.Compare(a, b, false)
		for _, n := range []uint{16, 32, 64} {
			e.ToInt(a, n, e.RC)
		}
		e.ToF32(a)
		e.ToF64(a)
		e.ToBCD(a)
	})
}
