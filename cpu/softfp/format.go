package softfp

// format describes an IEEE binary interchange format.
type format struct {
	prec     uint   // significand bits including the hidden one
	fracBits uint   // stored fraction bits (prec-1)
	expMax   uint64 // the all-ones biased exponent
	bias     int
	emin     int // exponent of the smallest normal
	emax     int // exponent of the largest finite
	sign     uint64
	frac     uint64 // fraction mask
	quiet    uint64 // the quiet bit of a NaN
	indef    uint64 // the QNaN indefinite (negative, quiet, zero payload)
	inf      uint64 // +infinity
	max      uint64 // largest finite magnitude
}

func newFormat(expBits, fracBits uint) format {
	f := format{prec: fracBits + 1, fracBits: fracBits, expMax: 1<<expBits - 1}
	f.bias = 1<<(expBits-1) - 1
	f.emin = 1 - f.bias
	f.emax = f.bias
	f.sign = 1 << (expBits + fracBits)
	f.frac = 1<<fracBits - 1
	f.quiet = 1 << (fracBits - 1)
	f.inf = f.expMax << fracBits
	f.indef = f.sign | f.inf | f.quiet
	f.max = f.inf - 1
	return f
}

// The two SSE formats.
var (
	f32 = newFormat(8, 23)
	f64 = newFormat(11, 52)
)

// class is what an operand is.
type class uint8

const (
	clsZero class = iota
	clsNormal
	clsDenormal
	clsInf
	clsQNaN
	clsSNaN
)

func (c class) isNaN() bool { return c >= clsQNaN }

// classify returns x's class.
func (f *format) classify(x uint64) class {
	e := x >> f.fracBits & f.expMax
	m := x & f.frac
	switch {
	case e == f.expMax && m == 0:
		return clsInf
	case e == f.expMax && m&f.quiet != 0:
		return clsQNaN
	case e == f.expMax:
		return clsSNaN
	case e != 0:
		return clsNormal
	case m == 0:
		return clsZero
	}
	return clsDenormal
}

// neg reports whether x's sign bit is set.
func (f *format) neg(x uint64) bool { return x&f.sign != 0 }

// zero returns the zero with the given sign.
func (f *format) zero(neg bool) uint64 {
	if neg {
		return f.sign
	}
	return 0
}

// infinity returns the infinity with the given sign.
func (f *format) infinity(neg bool) uint64 { return f.zero(neg) | f.inf }

// propagate returns the NaN result of an operation on a and b of which at
// least one is a NaN, as SSE picks it (SDM Vol. 1, Table 4-7): the first
// operand if it is a NaN, else the second, made quiet; IE if either is a
// signaling NaN.
func (f *format) propagate(a uint64, ca class, b uint64, cb class) (uint64, uint32) {
	var fl uint32
	if ca == clsSNaN || cb == clsSNaN {
		fl = FlagIE
	}
	if ca.isNaN() {
		return a | f.quiet, fl
	}
	return b | f.quiet, fl
}

// operand applies DAZ to a finite operand, or records the denormal-operand
// flag; it returns the operand and class to compute with.
func (f *format) operand(x uint64, c class, csr uint32, fl *uint32) (uint64, class) {
	if c != clsDenormal {
		return x, c
	}
	if csr&DAZ != 0 {
		return x & f.sign, clsZero
	}
	*fl |= FlagDE
	return x, c
}
