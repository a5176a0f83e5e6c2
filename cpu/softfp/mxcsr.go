// Package softfp is SSE's binary32 and binary64 arithmetic as x86 processors
// perform it under MXCSR control: the four rounding modes, flush-to-zero and
// denormals-are-zero, the six exception flags, NaN propagation and the QNaN
// and integer indefinites.
//
// Every operation takes the operands as raw bits (binary32 in the low 32
// bits of a uint64) and the MXCSR, and returns the result and the exception
// flags it raised (MXCSR bits 0-5). The flags are those of the masked
// response, except that an unmasked underflow is also reported for an exact
// tiny result, as the SDM specifies; the caller ORs them into MXCSR, or, when
// a raised flag is unmasked, raises #XM and keeps the destination.
package softfp

// Exception flags, the DAZ and FTZ controls and the rounding-control field of
// MXCSR (SDM Vol. 1, 10.2.3).
const (
	FlagIE uint32 = 1 << 0 // invalid operation
	FlagDE uint32 = 1 << 1 // denormal operand
	FlagZE uint32 = 1 << 2 // divide by zero
	FlagOE uint32 = 1 << 3 // overflow
	FlagUE uint32 = 1 << 4 // underflow
	FlagPE uint32 = 1 << 5 // precision (inexact)
	// Flags is all six exception flags.
	Flags uint32 = 0x3F
	// DAZ makes denormal source operands zeros.
	DAZ uint32 = 1 << 6
	// MaskShift is the distance from a flag to its mask bit (IM is bit 7).
	MaskShift = 7
	// RCShift is the position of the two-bit rounding-control field.
	RCShift = 13
	// FTZ flushes tiny results to zero when underflow is masked.
	FTZ uint32 = 1 << 15
	// rcMask is the rounding-control field in place.
	rcMask uint32 = 3 << RCShift
)

// Rounding modes as MXCSR.RC and ROUNDSS's imm8[1:0] encode them.
const (
	RoundNearest = 0
	RoundDown    = 1
	RoundUp      = 2
	RoundZero    = 3
)

// Unmasked returns the flags in raised that MXCSR csr does not mask.
func Unmasked(csr, raised uint32) uint32 {
	return raised &^ (csr >> MaskShift) & Flags
}

// mode returns the rounding mode of csr.
func mode(csr uint32) uint32 { return csr >> RCShift & 3 }

// masked reports whether flag is masked in csr.
func masked(csr, flag uint32) bool { return csr>>MaskShift&flag != 0 }

// peKnown reports whether an inexact result need not be detected: PE is
// already set and masked, so raising it again changes nothing.
func peKnown(csr uint32) bool {
	return csr&(FlagPE|FlagPE<<MaskShift) == FlagPE|FlagPE<<MaskShift
}
