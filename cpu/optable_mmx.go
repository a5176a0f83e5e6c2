package cpu

// mmxEncodings lists the MMX encodings (no mandatory prefix; SDM Vol. 2,
// Table A-3 "NP" columns): MMX, the SSE additions on MMX registers, SSE2's
// PADDQ/PSUBQ/PMULUDQ and SSSE3's MMX forms, plus MOVQ2DQ, MOVDQ2Q and the
// conversions of 0F 2A/2C/2D between MMX int32 pairs and SSE floats.
var mmxEncodings = func() []sseEnc {
	l := []sseEnc{
		{0x16E, mpNone, x(OpMOVD, formPQ, 0)}, {0x17E, mpNone, x(OpMOVD, formQP, 0)},
		{0x16F, mpNone, x(OpMOVQ, formPQ, 0)}, {0x17F, mpNone, x(OpMOVQ, formQP, 0)},
		{0x170, mpNone, x(OpPSHUFW, formPQIb, 0)},
		{0x171, mpNone, opEntry{group: shiftGroup(formPQIb, [8]Op{2: OpPSRLW, 4: OpPSRAW, 6: OpPSLLW})}},
		{0x172, mpNone, opEntry{group: shiftGroup(formPQIb, [8]Op{2: OpPSRLD, 4: OpPSRAD, 6: OpPSLLD})}},
		{0x173, mpNone, opEntry{group: shiftGroup(formPQIb, [8]Op{2: OpPSRLQ, 6: OpPSLLQ})}},
		{0x177, mpNone, x(OpEMMS, formNone, 0)},
		{0x1C4, mpNone, x(OpPINSRW, formPQIb, 0)}, {0x1C5, mpNone, x(OpPEXTRW, formPQIb, efRegOnly)},
		{0x1D7, mpNone, x(OpPMOVMSKB, formPQ, efRegOnly)},
		{0x1E7, mpNone, x(OpMOVNTQ, formQP, efMemOnly)},
		{0x1F7, mpNone, x(OpMASKMOVQ, formPQ, efRegOnly)},
		{0x1D6, mpF3, x(OpMOVQ2DQ, formVW, efRegOnly)}, {0x1D6, mpF2, x(OpMOVDQ2Q, formPQ, efRegOnly)},
		{0x30F, mpNone, x(OpPALIGNR, formPQIb, 0)},
		// The conversions between MMX int32 pairs and SSE floats.
		{0x12A, mpNone, x(OpCVTPI2PS, formVW, 0)}, {0x12A, mp66, x(OpCVTPI2PD, formVW, 0)},
		{0x12C, mpNone, x(OpCVTTPS2PI, formPQ, 0)}, {0x12C, mp66, x(OpCVTTPD2PI, formPQ, 0)},
		{0x12D, mpNone, x(OpCVTPS2PI, formPQ, 0)}, {0x12D, mp66, x(OpCVTPD2PI, formPQ, 0)},
	}
	// The two-operand instructions whose 66 form is in sseIntEncodings or
	// sseMoveEncodings with the same opcode.
	for _, opcode := range []uint16{
		0x160, 0x161, 0x162, 0x163, 0x164, 0x165, 0x166, 0x167, 0x168, 0x169, 0x16A, 0x16B,
		0x174, 0x175, 0x176,
		0x1D1, 0x1D2, 0x1D3, 0x1D4, 0x1D5, 0x1D8, 0x1D9, 0x1DA, 0x1DB, 0x1DC, 0x1DD, 0x1DE, 0x1DF,
		0x1E0, 0x1E1, 0x1E2, 0x1E3, 0x1E4, 0x1E5, 0x1E8, 0x1E9, 0x1EA, 0x1EB, 0x1EC, 0x1ED, 0x1EE, 0x1EF,
		0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F8, 0x1F9, 0x1FA, 0x1FB, 0x1FC, 0x1FD, 0x1FE,
		0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x208, 0x209, 0x20A, 0x20B,
		0x21C, 0x21D, 0x21E,
	} {
		l = append(l, sseEnc{opcode, mpNone, x(sse66Op(opcode), formPQ, 0)})
	}
	return l
}()

// sse66Op returns the operation of the 66 variant of an SSE opcode.
func sse66Op(opcode uint16) Op {
	for _, enc := range concatEnc(sseMoveEncodings, sseIntEncodings) {
		if enc.opcode == opcode && enc.mp == mp66 {
			return enc.ent.op
		}
	}
	panic("cpu: no 66 variant of MMX opcode") // a table error, found at init
}
