package hostx87

// Operations run on the host FPU; each takes a *Frame.

// Add runs FADD ST0, ST1.
func Add(f *Frame)

// Sub runs FSUB ST0, ST1.
func Sub(f *Frame)

// Mul runs FMUL ST0, ST1.
func Mul(f *Frame)

// Div runs FDIV ST0, ST1.
func Div(f *Frame)

// Sqrt runs FSQRT.
func Sqrt(f *Frame)

// RndInt runs FRNDINT.
func RndInt(f *Frame)

// Scale runs FSCALE.
func Scale(f *Frame)

// Prem runs FPREM.
func Prem(f *Frame)

// Prem1 runs FPREM1.
func Prem1(f *Frame)

// Xtract runs FXTRACT.
func Xtract(f *Frame)

// Com runs FCOM ST1.
func Com(f *Frame)

// Ucom runs FUCOM ST1.
func Ucom(f *Frame)

// StF32 runs FSTP m32fp.
func StF32(f *Frame)

// StF64 runs FSTP m64fp.
func StF64(f *Frame)

// StI16 runs FISTP m16int.
func StI16(f *Frame)

// StI32 runs FISTP m32int.
func StI32(f *Frame)

// StI64 runs FISTP m64int.
func StI64(f *Frame)

// SttI64 runs FISTTP m64int.
func SttI64(f *Frame)

// StBCD runs FBSTP m80bcd.
func StBCD(f *Frame)

// LdF32 runs FSTP ST0; FLD m32fp.
func LdF32(f *Frame)

// LdF64 runs FSTP ST0; FLD m64fp.
func LdF64(f *Frame)

// LdBCD runs FSTP ST0; FBLD m80bcd.
func LdBCD(f *Frame)

// F2xm1 runs F2XM1.
func F2xm1(f *Frame)

// Fyl2x runs FYL2X.
func Fyl2x(f *Frame)

// Fyl2xp1 runs FYL2XP1.
func Fyl2xp1(f *Frame)

// Fptan runs FPTAN.
func Fptan(f *Frame)

// Fpatan runs FPATAN.
func Fpatan(f *Frame)

// Fsin runs FSIN.
func Fsin(f *Frame)

// Fcos runs FCOS.
func Fcos(f *Frame)

// Fsincos runs FSINCOS.
func Fsincos(f *Frame)
