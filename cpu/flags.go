package cpu

import "math/bits"

// Lazy flags: an arithmetic instruction records its operands and result, and
// the six status flags are computed only when something reads them.

// flagOp says how the recorded operation defines the status flags.
type flagOp uint8

const (
	flagsNone  flagOp = iota // rflags holds the status flags
	flagsAdd                 // r = a + b
	flagsAdc                 // r = a + b + 1 (ADC with carry in)
	flagsSub                 // r = a - b
	flagsSbb                 // r = a - b - 1 (SBB with borrow in)
	flagsLogic               // r = a op b; CF=OF=AF=0
	flagsInc                 // r = a + 1; CF from rflags
	flagsDec                 // r = a - 1; CF from rflags
	flagsShl                 // r = a << b (b in 1..63)
	flagsShr                 // r = a >> b (b in 1..63)
	flagsSar                 // r = a >>s b (b in 1..63; a is recorded sign-extended to 64 bits)
	flagsMul                 // CF=OF=(b != 0); SF/ZF/PF from r; AF=0
	flagsRot                 // a rotate (setRotateFlags): CF, OF and AF are the flag bits in b; SF/ZF/PF from r
)

// lazyFlags is the record of the last flag-setting operation. a, b and r are
// truncated to the operand size; top is the operand's sign bit number.
type lazyFlags struct {
	op   flagOp
	top  uint8
	a, b uint64
	r    uint64
}

// setFlags records an operation of width size bytes.
func (c *CPU) setFlags(op flagOp, size uint8, a, b, r uint64) {
	// Field by field: a struct literal is built on the stack and copied with
	// wide loads that defeat store forwarding (measured: 3x slower ALU ops).
	l := &c.lazy
	l.op, l.top, l.a, l.b, l.r = op, size*8-1, a, b, r
}

var parityTable = func() (t [256]bool) {
	for i := range t {
		t[i] = bits.OnesCount8(uint8(i))%2 == 0
	}
	return
}()

// flags returns RFLAGS with the status flags brought up to date.
func (c *CPU) flags() uint64 {
	if c.lazy.op == flagsNone {
		return c.rflags
	}
	c.rflags = c.rflags&^FlagsArith | c.lazyStatus()
	c.lazy.op = flagsNone
	return c.rflags
}

// lazyStatus computes the six status flags from the lazy record.
func (c *CPU) lazyStatus() uint64 {
	l := &c.lazy
	var f uint64
	if l.r == 0 {
		f |= FlagZF
	}
	f |= (l.r >> l.top & 1) << 7 // SF
	if parityTable[uint8(l.r)] {
		f |= FlagPF
	}
	if c.lazyCF() {
		f |= FlagCF
	}
	if c.lazyOF() {
		f |= FlagOF
	}
	return f | c.lazyAF()
}

// lazyAF returns the lazy record's AF as a flag bit.
func (c *CPU) lazyAF() uint64 {
	l := &c.lazy
	switch l.op {
	case flagsAdd, flagsAdc, flagsSub, flagsSbb, flagsInc, flagsDec:
		return (l.a ^ l.b ^ l.r) & FlagAF
	case flagsRot:
		return l.b & FlagAF
	}
	return 0
}

func (c *CPU) lazyCF() bool {
	l := &c.lazy
	switch l.op {
	case flagsAdd:
		return (l.r < l.a) != breakAddCarry()
	case flagsAdc:
		return l.r <= l.a
	case flagsSub:
		return l.a < l.b
	case flagsSbb:
		return l.a <= l.b
	case flagsInc, flagsDec:
		return c.rflags&FlagCF != 0
	case flagsShl:
		return l.a>>(uint64(l.top)+1-l.b)&1 != 0
	case flagsShr, flagsSar:
		return l.a>>(l.b-1)&1 != 0
	case flagsMul:
		return l.b != 0
	case flagsRot:
		return l.b&FlagCF != 0
	case flagsNone:
		return c.rflags&FlagCF != 0
	}
	return false
}

func (c *CPU) lazyOF() bool {
	l := &c.lazy
	switch l.op {
	case flagsAdd, flagsAdc, flagsInc:
		return ((l.a^l.r)&(l.b^l.r))>>l.top&1 != 0
	case flagsSub, flagsSbb, flagsDec:
		return ((l.a^l.b)&(l.a^l.r))>>l.top&1 != 0
	case flagsShl:
		// OF = MSB(result) XOR CF; Intel CPUs compute it so for every count.
		return (l.r>>l.top&1 != 0) != c.lazyCF()
	case flagsShr:
		// OF = MSB of the original operand (defined for count 1; Intel
		// CPUs compute the same for larger counts).
		return l.a>>l.top&1 != 0 && l.b == 1
	case flagsSar:
		return false
	case flagsMul:
		return l.b != 0
	case flagsRot:
		return l.b&FlagOF != 0
	case flagsNone:
		return c.rflags&FlagOF != 0
	}
	return false
}

// cf reports the carry flag.
func (c *CPU) cf() bool {
	if c.lazy.op == flagsNone {
		return c.rflags&FlagCF != 0
	}
	return c.lazyCF()
}

// zf reports the zero flag.
func (c *CPU) zf() bool {
	if c.lazy.op == flagsNone {
		return c.rflags&FlagZF != 0
	}
	return c.lazy.r == 0
}

// sf reports the sign flag.
func (c *CPU) sf() bool {
	if c.lazy.op == flagsNone {
		return c.rflags&FlagSF != 0
	}
	return c.lazy.r>>c.lazy.top&1 != 0
}

// of reports the overflow flag.
func (c *CPU) of() bool {
	if c.lazy.op == flagsNone {
		return c.rflags&FlagOF != 0
	}
	return c.lazyOF()
}

// pf reports the parity flag.
func (c *CPU) pf() bool {
	if c.lazy.op == flagsNone {
		return c.rflags&FlagPF != 0
	}
	return parityTable[uint8(c.lazy.r)]
}

// setRotateFlags sets CF and OF (each 0 or 1) as a rotate does, leaving
// the other status flags as they were: a lazy record becomes flagsRot,
// which keeps r (for SF, ZF and PF) and holds CF, OF and AF as flag bits
// in b, so that a rotate (as in ChaCha, BLAKE2s or SHA-256) does not bring
// all the flags up to date.
func (c *CPU) setRotateFlags(cf, of uint64) {
	l, f := &c.lazy, cf*FlagCF|of*FlagOF
	if l.op == flagsNone {
		c.rflags = c.rflags&^(FlagCF|FlagOF) | f
		return
	}
	l.b, l.op = f|c.lazyAF(), flagsRot
}

// setStatus replaces the status flags selected by mask with those in v.
func (c *CPU) setStatus(mask, v uint64) {
	c.rflags = c.flags()&^mask | v&mask
}

// cond evaluates condition code cc (the low nibble of Jcc/SETcc/CMOVcc).
func (c *CPU) cond(cc uint8) bool {
	var r bool
	switch cc >> 1 {
	case 0:
		r = c.of()
	case 1:
		r = c.cf()
	case 2:
		r = c.zf()
	case 3:
		r = c.cf() || c.zf()
	case 4:
		r = c.sf()
	case 5:
		r = c.pf()
	case 6:
		r = c.sf() != c.of()
	default:
		r = c.zf() || c.sf() != c.of()
	}
	return r != (cc&1 != 0)
}
