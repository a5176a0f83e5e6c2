package fp80

import "testing"

func BenchmarkArithmetic(b *testing.B) {
	e := Env{Prec: 64, Mask: 0x3F}
	x, y := F80{0xC90FDAA22168C235, 0x4000}, F80{0xB504F333F9DE6484, 0x3FFF}
	for i := 0; i < b.N; i++ {
		x = e.Add(e.Mul(x, y), e.Div(x, y))
		x = e.Sqrt(x)
	}
}

func BenchmarkTranscendental(b *testing.B) {
	e := Env{Prec: 64, Mask: 0x3F}
	x := F80{0xC90FDAA22168C235, 0x3FFE}
	for i := 0; i < b.N; i++ {
		s, _, _ := e.SinCos(x, true, false)
		x = e.Atan(s, One)
	}
}
