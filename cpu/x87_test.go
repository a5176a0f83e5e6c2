package cpu

import (
	"testing"

	"ftvm/cpu/fp80"
)

// Tests of the x87 instruction layer that the host oracle (the fpu guest)
// cannot make: #MF and #NM, the wait rules, state outside a Linux process.
// The arithmetic itself is checked against the host FPU in package fp80 and
// by the fpu guest.

// x87Pending leaves a zero-divide exception flagged and unmasked, so the
// next waiting x87 instruction raises #MF (CR0.NE is set by newTestCPU).
func x87Pending(c *CPU) {
	c.FPU.FCW = 0x37B
	c.FPU.FSW = fp80.FlagZE | fswES | fswB
}

func TestX87UnmaskedExceptionDefersToNextWait(t *testing.T) {
	// The divide completes with ZE unmasked: no result, no pop, ES and B
	// set; the no-wait FNSTSW still runs; nothing faults.
	c := runAsm(t, "fld1; fldz; fdivp st(1), st; fnstsw ax; mov ecx, eax; fnclex; fnstsw ax; mov edx, eax; mov eax, ecx", func(c *CPU) { c.FPU.FCW = 0x37B })
	if got, want := uint16(c.R[RAX]), uint16(fp80.FlagZE|fswES|fswB|6<<fswTopShift); got != want {
		t.Errorf("FSW after the divide %#04x, want %#04x", got, want)
	}
	if got := uint16(c.R[RDX]); got&^(7<<fswTopShift) != 0 {
		t.Errorf("FSW after FNCLEX %#04x, want only TOP", got)
	}
	if c.FPU.st(0) != fp80.Zero || c.FPU.st(1) != fp80.One {
		t.Errorf("stack %v %v, want 0 and 1 untouched", c.FPU.st(0), c.FPU.st(1))
	}
}

func TestX87WithoutNE(t *testing.T) {
	// With CR0.NE clear the FERR# path is not modelled: a waiting instruction
	// with an exception pending goes on.
	c := runAsm(t, "fwait; fld1", func(c *CPU) { x87Pending(c); c.CR0 &^= CR0NE })
	if c.FPU.st(0) != fp80.One {
		t.Errorf("ST(0) %v, want 1", c.FPU.st(0))
	}
}

func TestX87StackFaults(t *testing.T) {
	// Nine pushes: the ninth overflows (IE, SF, C1 = 1) and, masked, loads
	// the indefinite; then FADD of an empty register underflows (C1 = 0).
	c := runAsm(t, "fld1; fld1; fld1; fld1; fld1; fld1; fld1; fld1; fldz; fnstsw ax; mov ecx, eax; ffree st(3); fadd st(0), st(3); fnstsw ax; mov edx, eax; mov eax, ecx", nil)
	if got := uint16(c.R[RAX]) &^ (7 << fswTopShift); got != fp80.FlagIE|fswSF|fswC1 {
		t.Errorf("FSW after the overflow %#04x", got)
	}
	if c.FPU.st(0) != fp80.Indefinite {
		t.Errorf("ST(0) %v, want the indefinite", c.FPU.st(0))
	}
	if got := uint16(c.R[RDX]) &^ (7 << fswTopShift); got != fp80.FlagIE|fswSF {
		t.Errorf("FSW after the underflow %#04x", got)
	}
}

func TestX87EnvironmentLayouts(t *testing.T) {
	// FNSTENV 32-bit layout: FCW, FSW, FTW in the low halves of dwords 0-2
	// (the upper halves 0xFFFF), then masks every exception. The 16-bit
	// layout (66 prefix) packs them in words.
	c := runAsm(t, "fld1; fldcw [rbx+64]; fnstenv [rbx]; data16 fnstenv [rbx+32]; fnstcw [rbx+48]", func(c *CPU) {
		c.R[RBX] = dataBase
		put64(c, dataBase+64, 0x0272)
	})
	if got := get64(c, dataBase); got != 0xFFFF3800FFFF0272 {
		t.Errorf("FNSTENV FCW/FSW %#x", got)
	}
	if got := get64(c, dataBase+8) & 0xFFFFFFFF; got != 0xFFFF3FFF {
		t.Errorf("FNSTENV FTW %#x, want 0xFFFF3FFF (R7 valid)", got)
	}
	if got := get64(c, dataBase+32) & 0xFFFFFFFFFFFF; got != 0x3FFF3800027F { // FCW already masked by the first FNSTENV
		t.Errorf("16-bit FNSTENV %#x", got)
	}
	if got := get64(c, dataBase+48) & 0xFFFF; got != 0x027F {
		t.Errorf("FCW after FNSTENV %#x, want every exception masked", got)
	}
}

func TestX87ArithmeticDoesNotAllocate(t *testing.T) {
	code := assemble(t, "fldpi; fld1; fadd st(0), st(1); fmul st(0), st(1); fdiv st(0), st(1); fsqrt; fcomi st(0), st(1); fstp st(0); fstp st(0)")
	c := newTestCPU(t)
	load(c, code)
	allocs := testing.AllocsPerRun(100, func() {
		c.RIP = codeBase
		c.halted = false
		c.Run(1 << 20)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

func TestX87UnmaskedOverflow(t *testing.T) {
	// SDM Vol. 1, 8.5.4: to a register, the result is stored with its
	// exponent divided by 2^24576 and OE set; to memory, nothing is stored
	// and TOP is unchanged.
	c := runAsm(t, "fld tbyte ptr [rbx]; fld st(0); fmul st(0), st(1); fnstsw ax; mov ecx, eax; fnclex; fst dword ptr [rbx+16]; fnstsw ax",
		func(c *CPU) {
			c.R[RBX] = dataBase
			put64(c, dataBase, 0x8000000000000000)
			put64(c, dataBase+8, 0x7FF0)  // 2^16369
			put64(c, dataBase+16, 0x1234) // untouched by the store
			c.FPU.FCW = 0x0377            // OE unmasked
		})
	if got := c.FPU.st(0); got.Mant != 0x8000000000000000 || got.SignExp != uint16(2*(0x7FF0-0x3FFF)+0x3FFF-0x6000) {
		t.Errorf("ST(0) %04x:%016x, want 2^32738 scaled by 2^-24576", got.SignExp, got.Mant)
	}
	if got := uint16(c.R[RCX]) &^ (7 << fswTopShift); got != fp80.FlagOE|fswES|fswB {
		t.Errorf("FSW after the multiply %#04x", got)
	}
	if got := uint16(c.R[RAX]) &^ (7 << fswTopShift); got != fp80.FlagOE|fswES|fswB {
		t.Errorf("FSW after the store %#04x, want OE alone", got)
	}
	if got := get64(c, dataBase+16); got != 0x1234 {
		t.Errorf("memory %#x after an unmasked overflowing store", got)
	}
}
