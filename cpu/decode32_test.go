package cpu

import "testing"

// Decoding outside 64-bit mode: a table of encodings whose meaning differs
// from 64-bit mode (TestDecodeDifferential32 compares 32-bit decoding with
// the disassembler).

func TestDecodeLegacyTable(t *testing.T) {
	const rip = 0x1000
	type want struct {
		op          Op
		len, osz    uint8
		asz         uint8
		base, index uint8
		seg         uint8
		disp, imm   uint64
	}
	z := uint8(regZero)
	tests := []struct {
		mode CodeSize
		code string
		w    want
	}{
		{Code32, "40", want{OpINC, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "66 4f", want{OpDEC, 2, 2, 4, z, z, DS, 0, 0}},
		{Code32, "8b 45 08", want{OpMOV, 3, 4, 4, RBP, z, SS, 8, 0}},
		{Code32, "8b 04 24", want{OpMOV, 3, 4, 4, RSP, z, SS, 0, 0}},
		{Code32, "8b 05 78 56 34 12", want{OpMOV, 6, 4, 4, z, z, DS, 0x12345678, 0}},
		{Code32, "26 8b 45 08", want{OpMOV, 4, 4, 4, RBP, z, ES, 8, 0}},
		{Code32, "2e 8b 00", want{OpMOV, 3, 4, 4, RAX, z, CS, 0, 0}},
		{Code32, "67 8b 07", want{OpMOV, 3, 4, 2, RBX, z, DS, 0, 0}},
		{Code32, "67 8b 42 fe", want{OpMOV, 4, 4, 2, RBP, RSI, SS, ^uint64(1), 0}},
		{Code32, "67 8b 06 34 12", want{OpMOV, 5, 4, 2, z, z, DS, 0x1234, 0}},
		{Code32, "a1 44 33 22 11", want{OpMOV, 5, 4, 4, z, z, DS, 0x11223344, 0}},
		{Code32, "ea 78 56 34 12 08 00", want{OpJMPFar, 7, 4, 4, z, z, DS, 8, 0x12345678}},
		{Code32, "66 9a 34 12 10 00", want{OpCALLFar, 6, 2, 4, z, z, DS, 0x10, 0x1234}},
		{Code32, "e8 00 00 00 00", want{OpCALL, 5, 4, 4, z, z, DS, 0, rip + 5}},
		{Code32, "eb fe", want{OpJMP, 2, 4, 4, z, z, DS, 0, rip}},
		{Code32, "66 e9 fd ff", want{OpJMP, 4, 2, 4, z, z, DS, 0, rip + 1}},
		{Code32, "c3", want{OpRET, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "9c", want{OpPUSHF, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "06", want{OpPUSHSeg, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "17", want{OpPOPSeg, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "60", want{OpPUSHA, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "66 61", want{OpPOPA, 2, 2, 4, z, z, DS, 0, 0}},
		{Code32, "27", want{OpDAA, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "d5 0a", want{OpAAD, 2, 4, 4, z, z, DS, 0, 0xA}},
		{Code32, "62 03", want{OpBOUND, 2, 4, 4, RBX, z, DS, 0, 0}},
		{Code32, "62 c0", want{OpInvalid, 2, 4, 4, z, z, DS, 0, 0}},
		{Code32, "63 c8", want{OpARPL, 2, 2, 4, z, z, DS, 0, 0}},
		{Code32, "c4 06", want{OpLES, 2, 4, 4, RSI, z, DS, 0, 0}},
		{Code32, "c5 06", want{OpLDS, 2, 4, 4, RSI, z, DS, 0, 0}},
		{Code32, "c4 44 24 08", want{OpLES, 4, 4, 4, RSP, z, SS, 8, 0}},
		// C4/C5 with the next byte's top bits 11 are VEX: BMI1 runs (VEX.W
		// and VEX.B ignored), AVX is invalid.
		{Code32, "c4 e2 70 f2 c3", want{OpANDN, 5, 4, 4, z, z, DS, 0, 0}},
		{Code32, "c4 c2 f0 f2 43 04", want{OpANDN, 6, 4, 4, RBX, z, DS, 4, 0}},
		{Code32, "67 c4 e2 70 f7 07", want{OpBEXTR, 6, 4, 2, RBX, z, DS, 0, 0}},
		{Code32, "c5 f8 77", want{OpInvalid, 3, 4, 4, z, z, DS, 0, 0}},
		{Code32, "c5 f8 58 c1", want{OpInvalid, 4, 4, 4, z, z, DS, 0, 0}},
		{Code16, "c4 e2 70 f2 c3", want{OpANDN, 5, 4, 2, z, z, DS, 0, 0}},
		{Code32, "ce", want{OpINTO, 1, 4, 4, z, z, DS, 0, 0}},
		{Code32, "0f 34", want{OpSYSENTER, 2, 4, 4, z, z, DS, 0, 0}},
		{Code32, "ff 25 00 20 00 00", want{OpJMPInd, 6, 4, 4, z, z, DS, 0x2000, 0}},
		{Code32, "0f 22 d8", want{OpMOVToCR, 3, 4, 4, z, z, DS, 0, 0}},
		{Code16, "8b 07", want{OpMOV, 2, 2, 2, RBX, z, DS, 0, 0}},
		{Code16, "66 67 8b 07", want{OpMOV, 4, 4, 4, RDI, z, DS, 0, 0}},
		{Code16, "e8 fd ff", want{OpCALL, 3, 2, 2, z, z, DS, 0, rip}},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			in, err := DecodeMode(dtHex(t, tc.code), rip, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			got := want{in.op, in.len, in.osz, in.asz, in.base, in.index, in.seg, in.disp, in.imm}
			if in.mod == 3 || !in.modrm && in.form != formMoffs {
				got.base, got.index, got.disp = z, z, 0 // no memory operand
			}
			if in.form == formPtr {
				got.disp = in.disp
			}
			if got != tc.w {
				t.Errorf("got  %+v\nwant %+v", got, tc.w)
			}
		})
	}
}
