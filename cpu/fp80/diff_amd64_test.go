package fp80

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"ftvm/cpu/fp80/internal/hostx87"
)

// Differential tests against the host FPU: every operation, on special and
// random operands, in every rounding mode and precision, with all exceptions
// masked. Results, exception flags and the defined condition codes must
// match bit for bit (these are architecturally defined: no host-model
// dependence).

func bytesOf(f F80) (b [10]byte) {
	binary.LittleEndian.PutUint64(b[:], f.Mant)
	binary.LittleEndian.PutUint16(b[8:], f.SignExp)
	return
}

func f80Of(b [10]byte) F80 {
	return F80{Mant: binary.LittleEndian.Uint64(b[:]), SignExp: binary.LittleEndian.Uint16(b[8:])}
}

// specials are operands of every class.
var specials = []F80{
	{0, 0}, {0, 0x8000}, // zeros
	{intBit, 0x3FFF}, {intBit, 0xBFFF}, // ±1
	{intBit, 0x7FFF}, {intBit, 0xFFFF}, // infinities
	{0xC000000000000000, 0x7FFF}, {0xC000000000000001, 0xFFFF}, // QNaNs
	{0x8000000000000001, 0x7FFF}, {0xA000000000000000, 0xFFFF}, // SNaNs
	{1, 0}, {0x7FFFFFFFFFFFFFFF, 0x8000}, {0x0000000100000000, 0}, // denormals
	{0x8000000000000000, 0}, {0xC000000000000001, 0x8000}, // pseudo-denormals
	{0x4000000000000000, 0x3FFF}, {0, 0x4000}, // unnormals
	{0x4000000000000000, 0x7FFF}, {0, 0xFFFF}, // pseudo-NaN, pseudo-infinity
	{^uint64(0), 0x7FFE}, {intBit, 0x0001}, {^uint64(0), 0x0001}, // extremes
	{0xFFFFFF8000000000, 0x3FFF}, {0xFFFFFFFFFFFFF800, 0x3FFE}, // rounding boundaries
	{0xC90FDAA22168C235, 0x4000}, // pi
}

// randOperand returns a special, a value near the exponent extremes, or a
// random normal value of moderate exponent, with random low bits patterns.
func randOperand(r *rand.Rand) F80 {
	switch r.IntN(10) {
	case 0:
		return specials[r.IntN(len(specials))]
	case 1:
		return F80{Mant: r.Uint64() | intBit, SignExp: uint16(r.IntN(80)) | uint16(r.IntN(2))<<15}
	case 2:
		return F80{Mant: r.Uint64() | intBit, SignExp: uint16(0x7FFE-r.IntN(80)) | uint16(r.IntN(2))<<15}
	case 3:
		return F80{Mant: r.Uint64() >> r.IntN(64), SignExp: uint16(r.IntN(2)) << 15}
	case 4:
		// few significant bits, so exact and tie cases occur
		m := (r.Uint64() | intBit) &^ (1<<uint(r.IntN(64)) - 1)
		return F80{Mant: m | intBit, SignExp: uint16(0x3FFF-40+r.IntN(80)) | uint16(r.IntN(2))<<15}
	}
	return F80{Mant: r.Uint64() | intBit, SignExp: uint16(0x3FFF-70+r.IntN(140)) | uint16(r.IntN(2))<<15}
}

// near returns b close to a, for cancellation and equality cases.
func near(r *rand.Rand, a F80) F80 {
	b := a
	switch r.IntN(4) {
	case 0:
		b.Mant += uint64(r.IntN(5)) - 2
	case 1:
		b.SignExp ^= 0x8000
	case 2:
		b.SignExp += uint16(r.IntN(3)) - 1
	}
	return b
}

// controlWords are all rounding and precision combinations, exceptions masked.
func controlWords() []uint16 {
	var cws []uint16
	for rc := uint16(0); rc < 4; rc++ {
		for _, pc := range []uint16{0, 2, 3} {
			cws = append(cws, 0x7F|pc<<8|rc<<10)
		}
	}
	return cws
}

func envFor(cw uint16) Env {
	return Env{RC: uint8(cw >> 10 & 3), Prec: [4]uint8{24, 64, 53, 64}[cw>>8&3], Mask: uint8(cw & 0x3F)}
}

// swOf returns the status word bits an operation defines: the exception
// flags and the condition codes in cc (which always include C1).
func swOf(env *Env, cc uint16) uint16 {
	sw := uint16(env.Flags)
	if env.C1 && env.Flags&FlagPE != 0 {
		sw |= 1 << 9
	}
	return sw | cc
}

type diffCase struct {
	name   string
	run    func(*hostx87.Frame)
	ccMask uint16 // condition codes compared besides C1 and the flags
	// emu computes the frame's outputs: returns ST(0), ST(1) after (or the
	// memory image) and condition codes besides C1.
	emu func(env *Env, a, b F80, f *hostx87.Frame) uint16
}

const ccC0, ccC1, ccC2, ccC3 = 1 << 8, 1 << 9, 1 << 10, 1 << 14

func ccRel(r Relation) uint16 {
	return [...]uint16{Less: ccC0, Equal: ccC3, Greater: 0, Unordered: ccC0 | ccC2 | ccC3}[r]
}

func binop(op func(*Env, F80, F80) F80) func(*Env, F80, F80, *hostx87.Frame) uint16 {
	return func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		f.Out0, f.Out1 = bytesOf(op(env, a, b)), bytesOf(b)
		return 0
	}
}

func unop(op func(*Env, F80) F80) func(*Env, F80, F80, *hostx87.Frame) uint16 {
	return func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		f.Out0, f.Out1 = bytesOf(op(env, a)), bytesOf(b)
		return 0
	}
}

func store(n int, conv func(*Env, F80) []byte) func(*Env, F80, F80, *hostx87.Frame) uint16 {
	return func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		copy(f.Mem[:n], conv(env, a))
		f.Out0, f.Out1 = bytesOf(b), bytesOf(Indefinite)
		return 0
	}
}

func le(v uint64, n int) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return b[:n]
}

var diffCases = []diffCase{
	{"add", hostx87.Add, 0, binop((*Env).Add)},
	{"sub", hostx87.Sub, 0, binop((*Env).Sub)},
	{"mul", hostx87.Mul, 0, binop((*Env).Mul)},
	{"div", hostx87.Div, 0, binop((*Env).Div)},
	{"sqrt", hostx87.Sqrt, 0, unop((*Env).Sqrt)},
	{"frndint", hostx87.RndInt, 0, unop((*Env).RoundInt)},
	{"fscale", hostx87.Scale, 0, binop((*Env).Scale)},
	{"fprem", hostx87.Prem, ccC0 | ccC2 | ccC3, remOp(false)},
	{"fprem1", hostx87.Prem1, ccC0 | ccC2 | ccC3, remOp(true)},
	{"fxtract", hostx87.Xtract, 0, func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		e, s := env.Extract(a)
		f.Out0, f.Out1, f.Out2 = bytesOf(s), bytesOf(e), bytesOf(b)
		return 0
	}},
	{"fcom", hostx87.Com, ccC0 | ccC2 | ccC3, cmpOp(false)},
	{"fucom", hostx87.Ucom, ccC0 | ccC2 | ccC3, cmpOp(true)},
	{"fst m32", hostx87.StF32, 0, store(4, func(e *Env, a F80) []byte { return le(uint64(e.ToF32(a)), 4) })},
	{"fst m64", hostx87.StF64, 0, store(8, func(e *Env, a F80) []byte { return le(e.ToF64(a), 8) })},
	{"fist m16", hostx87.StI16, 0, store(2, intStore(16, false))},
	{"fist m32", hostx87.StI32, 0, store(4, intStore(32, false))},
	{"fist m64", hostx87.StI64, 0, store(8, intStore(64, false))},
	{"fisttp m64", hostx87.SttI64, 0, store(8, intStore(64, true))},
	{"fbstp", hostx87.StBCD, 0, store(10, func(e *Env, a F80) []byte { b, _ := e.ToBCD(a); return b[:] })},
}

func remOp(nearest bool) func(*Env, F80, F80, *hostx87.Frame) uint16 {
	return func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		r, q, partial := env.Rem(a, b, nearest)
		env.C1 = false
		f.Out0, f.Out1 = bytesOf(r), bytesOf(b)
		if partial {
			return ccC2
		}
		return uint16(q>>2&1)<<8 | uint16(q>>1&1)<<14 | uint16(q&1)<<9
	}
}

func cmpOp(quiet bool) func(*Env, F80, F80, *hostx87.Frame) uint16 {
	return func(env *Env, a, b F80, f *hostx87.Frame) uint16 {
		r := env.Compare(a, b, quiet)
		f.Out0, f.Out1 = bytesOf(a), bytesOf(b)
		return ccRel(r)
	}
}

func intStore(n uint, trunc bool) func(*Env, F80) []byte {
	return func(e *Env, a F80) []byte {
		rc := e.RC
		if trunc {
			rc = RoundZero
		}
		v, _ := e.ToInt(a, n, rc)
		return le(v, int(n/8))
	}
}

// diffOne runs one case on the host and in fp80 and describes a mismatch
// ("" if none).
func diffOne(dc diffCase, cw uint16, a, b F80) string {
	var hf, ef hostx87.Frame
	hf.CW, hf.A, hf.B = cw, bytesOf(a), bytesOf(b)
	dc.run(&hf)
	env := envFor(cw)
	ef.Out2 = hf.Out2
	cc := dc.emu(&env, a, b, &ef)
	hsw := hf.SW & (0x3F | ccC1 | dc.ccMask)
	esw := swOf(&env, cc) & (0x3F | ccC1 | dc.ccMask)
	if dc.name != "fprem" && dc.name != "fprem1" && hsw&FlagPE == 0 {
		hsw &^= ccC1 // C1 means "rounded up" only when PE is set
	}
	if hsw&(FlagIE|FlagZE) != 0 {
		// Whether a denormal operand also flags DE when the operation is
		// invalid or divides by zero: the AMD hosts this was written on
		// say no; the SDM's priority list (DE before ZE) leaves room for
		// Intel parts to say yes. Not compared.
		hsw, esw = hsw&^FlagDE, esw&^FlagDE
	}
	if hf.Out0 == ef.Out0 && hf.Out1 == ef.Out1 && hf.Out2 == ef.Out2 && hf.Mem == ef.Mem && hsw == esw {
		return ""
	}
	return fmt.Sprintf("%s cw=%04x a=%s b=%s:\n host %s %s %s mem=%x sw=%04x\n  emu %s %s %s mem=%x sw=%04x",
		dc.name, cw, hexOf(a), hexOf(b), hexOf(f80Of(hf.Out0)), hexOf(f80Of(hf.Out1)), hexOf(f80Of(hf.Out2)), hf.Mem, hsw,
		hexOf(f80Of(ef.Out0)), hexOf(f80Of(ef.Out1)), hexOf(f80Of(ef.Out2)), ef.Mem, esw)
}

func TestHostDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for _, dc := range diffCases {
		fails := 0
		for _, cw := range controlWords() {
			for i := 0; i < n && fails < 5; i++ {
				a := randOperand(r)
				b := randOperand(r)
				if i%3 == 0 {
					b = near(r, a)
				}
				if msg := diffOne(dc, cw, a, b); msg != "" {
					fails++
					t.Error(msg)
				}
			}
		}
	}
}

// FuzzHost compares any operation of diffCases on any operands, in any
// rounding mode and precision, with the host FPU.
func FuzzHost(f *testing.F) {
	f.Add(uint8(3), uint64(intBit), uint16(0x3FFF), uint64(intBit|1<<62), uint16(0x4000), uint16(0))
	f.Add(uint8(0), uint64(1), uint16(0), uint64(intBit), uint16(1), uint16(0x0C00))
	f.Fuzz(func(t *testing.T, op uint8, am uint64, ae uint16, bm uint64, be uint16, ctl uint16) {
		cw := 0x7F | ctl&0x0F00
		if cw>>8&3 == 1 {
			cw |= 0x200 // precision control 01 is reserved
		}
		if msg := diffOne(diffCases[int(op)%len(diffCases)], cw, F80{am, ae}, F80{bm, be}); msg != "" {
			t.Error(msg)
		}
	})
}

func hexOf(f F80) string { return fmt.Sprintf("%04x:%016x", f.SignExp, f.Mant) }

// TestHostRemainderLoop reduces operands whose exponents differ by up to
// 2000 with FPREM and FPREM1 repeated until C2 is clear, as software does,
// and compares the final remainders with the host's. How far one partial
// step goes is implementation-dependent (SDM FPREM: "between 32 and 63"),
// the final remainder is not.
func TestHostRemainderLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1000; i++ {
		a := F80{Mant: r.Uint64() | intBit, SignExp: uint16(0x3FFF + r.IntN(2000))}
		b := F80{Mant: r.Uint64() | intBit, SignExp: uint16(0x3FFF-r.IntN(100)) | uint16(r.IntN(2))<<15}
		for _, nearest := range []bool{false, true} {
			host, emu := a, a
			for range 100 {
				var hf hostx87.Frame
				hf.CW, hf.A, hf.B = 0x37F, bytesOf(host), bytesOf(b)
				if nearest {
					hostx87.Prem1(&hf)
				} else {
					hostx87.Prem(&hf)
				}
				host = f80Of(hf.Out0)
				if hf.SW&ccC2 == 0 {
					break
				}
			}
			for range 100 {
				env := envFor(0x37F)
				var partial bool
				emu, _, partial = env.Rem(emu, b, nearest)
				if !partial {
					break
				}
			}
			if host != emu {
				t.Fatalf("nearest=%v a=%s b=%s: host %s, emu %s", nearest, hexOf(a), hexOf(b), hexOf(host), hexOf(emu))
			}
		}
	}
}
