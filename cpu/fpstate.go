package cpu

import "ftvm/cpu/fp80"

// Float80 is an x87 data register as the hardware stores it: a 64-bit
// significand with an explicit integer bit, and the sign (bit 15) with a
// 15-bit biased exponent.
type Float80 = fp80.F80

// XMM is a 128-bit SSE register, low quadword first.
type XMM [2]uint64

// FPUState is the x87 FPU, SSE and MXCSR state: what FXSAVE stores.
type FPUState struct {
	// FCW and FSW are the x87 control and status words; TOP lives in FSW
	// bits 11-13.
	FCW, FSW uint16
	// FTW is the full x87 tag word, two bits a physical register (00 valid,
	// 01 zero, 10 special, 11 empty), as FNSTENV stores it.
	FTW uint16
	// FOP is the last non-control x87 instruction's opcode (11 bits).
	FOP uint16
	// FIP and FDP are the last x87 instruction and operand pointers; FCS
	// and FDS their selectors.
	FIP, FDP uint64
	FCS, FDS uint16
	// ST holds the physical registers R0-R7 (ST(i) is R[(TOP+i)&7]).
	ST [8]Float80
	// XMM holds XMM0-XMM15.
	XMM [16]XMM
	// MXCSR is the SSE control and status register.
	MXCSR uint32
}

// Reset values of the FPU state (SDM Vol. 3, Table 9-1: after FNINIT and at
// power-up).
const (
	FCWReset   = 0x037F
	FTWEmpty   = 0xFFFF
	MXCSRReset = 0x1F80
)

// reset puts the FPU state in its power-up state.
func (f *FPUState) reset() {
	*f = FPUState{FCW: FCWReset, FTW: FTWEmpty, MXCSR: MXCSRReset}
}
