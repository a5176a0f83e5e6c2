package hostx87

// Operations run on the host FPU; each takes a *Frame.
var (
	// Add runs FADD ST0, ST1.
	Add = opAdd
	// Sub runs FSUB ST0, ST1.
	Sub = opSub
	// Mul runs FMUL ST0, ST1.
	Mul = opMul
	// Div runs FDIV ST0, ST1.
	Div = opDiv
	// Sqrt runs FSQRT.
	Sqrt = opSqrt
	// RndInt runs FRNDINT.
	RndInt = opRndInt
	// Scale runs FSCALE.
	Scale = opScale
	// Prem runs FPREM.
	Prem = opPrem
	// Prem1 runs FPREM1.
	Prem1 = opPrem1
	// Xtract runs FXTRACT.
	Xtract = opXtract
	// Com runs FCOM ST1.
	Com = opCom
	// Ucom runs FUCOM ST1.
	Ucom = opUcom
	// StF32 runs FSTP m32fp.
	StF32 = opStF32
	// StF64 runs FSTP m64fp.
	StF64 = opStF64
	// StI16 runs FISTP m16int.
	StI16 = opStI16
	// StI32 runs FISTP m32int.
	StI32 = opStI32
	// StI64 runs FISTP m64int.
	StI64 = opStI64
	// SttI64 runs FISTTP m64int.
	SttI64 = opSttI64
	// StBCD runs FBSTP m80bcd.
	StBCD = opStBCD
	// LdF32 runs FSTP ST0; FLD m32fp.
	LdF32 = opLdF32
	// LdF64 runs FSTP ST0; FLD m64fp.
	LdF64 = opLdF64
	// LdBCD runs FSTP ST0; FBLD m80bcd.
	LdBCD = opLdBCD
	// F2xm1 runs F2XM1.
	F2xm1 = opF2xm1
	// Fyl2x runs FYL2X.
	Fyl2x = opFyl2x
	// Fyl2xp1 runs FYL2XP1.
	Fyl2xp1 = opFyl2xp1
	// Fptan runs FPTAN.
	Fptan = opFptan
	// Fpatan runs FPATAN.
	Fpatan = opFpatan
	// Fsin runs FSIN.
	Fsin = opFsin
	// Fcos runs FCOS.
	Fcos = opFcos
	// Fsincos runs FSINCOS.
	Fsincos = opFsincos
)

func opAdd(f *Frame)
func opSub(f *Frame)
func opMul(f *Frame)
func opDiv(f *Frame)
func opSqrt(f *Frame)
func opRndInt(f *Frame)
func opScale(f *Frame)
func opPrem(f *Frame)
func opPrem1(f *Frame)
func opXtract(f *Frame)
func opCom(f *Frame)
func opUcom(f *Frame)
func opStF32(f *Frame)
func opStF64(f *Frame)
func opStI16(f *Frame)
func opStI32(f *Frame)
func opStI64(f *Frame)
func opSttI64(f *Frame)
func opStBCD(f *Frame)
func opLdF32(f *Frame)
func opLdF64(f *Frame)
func opLdBCD(f *Frame)
func opF2xm1(f *Frame)
func opFyl2x(f *Frame)
func opFyl2xp1(f *Frame)
func opFptan(f *Frame)
func opFpatan(f *Frame)
func opFsin(f *Frame)
func opFcos(f *Frame)
func opFsincos(f *Frame)
