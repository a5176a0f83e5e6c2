package cpu

// The SSE part of the opcode maps (SSE through SSE4.2, and MMX) as data: the
// mandatory-prefix variants of map 0F and the three-byte maps 0F38 and 0F3A,
// laid out as in the SDM's opcode map (Vol. 2, Appendix A, Tables A-3 to
// The MMX forms (no prefix, in 0F 60-7F, C4-C5, D1-FF, 0F38 00-1E and
// 0F3A 0F) are in mmxEncodings.

// Mandatory prefixes, indexing opEntry.sse.
const (
	mpNone = iota
	mp66
	mpF3
	mpF2
)

// sseEnc is one SSE encoding: the opcode in its map (1: 0F, 2: 0F38, 3:
// 0F3A) with a mandatory prefix selects the entry.
type sseEnc struct {
	opcode uint16 // map<<8 | opcode byte
	mp     int    // mpNone, mp66, mpF3 or mpF2
	ent    opEntry
}

// x is a shorthand for an SSE entry.
func x(op Op, f form, fl entryFlags) opEntry { return opEntry{op: op, form: f, flags: fl} }

// shiftGroup builds a 0F 71-73 shift group (register-only, imm8 count, form
// formVWIb for XMM or formPQIb for MMX) from the operations of ModRM.reg 0-7.
func shiftGroup(f form, ops [8]Op) *[8]opEntry {
	var g [8]opEntry
	for i, op := range ops {
		if op != OpInvalid {
			g[i] = x(op, f, efRegOnly)
		}
	}
	return &g
}

// sseEncodings lists every SSE encoding. Float arithmetic, compares and
// conversions go in sseFloatEncodings.
var sseEncodings = concatEnc(sseMoveEncodings, sseIntEncodings, sseFloatEncodings, mmxEncodings)

func concatEnc(lists ...[]sseEnc) (all []sseEnc) {
	for _, l := range lists {
		all = append(all, l...)
	}
	return
}

// sseMoveEncodings: data movement, logic, shuffles, blends, MXCSR.
var sseMoveEncodings = []sseEnc{
	{0x110, mpNone, x(OpMOVUPS, formVW, 0)}, {0x110, mp66, x(OpMOVUPD, formVW, 0)},
	{0x110, mpF3, x(OpMOVSS, formVW, 0)}, {0x110, mpF2, x(OpMOVSD_X, formVW, 0)},
	{0x111, mpNone, x(OpMOVUPS, formWV, 0)}, {0x111, mp66, x(OpMOVUPD, formWV, 0)},
	{0x111, mpF3, x(OpMOVSS, formWV, 0)}, {0x111, mpF2, x(OpMOVSD_X, formWV, 0)},
	{0x112, mpNone, x(OpMOVLPS, formVW, 0)}, // MOVHLPS with a register source (see bindSSEMove)
	{0x112, mp66, x(OpMOVLPD, formVW, efMemOnly)},
	{0x112, mpF3, x(OpMOVSLDUP, formVW, 0)}, {0x112, mpF2, x(OpMOVDDUP, formVW, 0)},
	{0x113, mpNone, x(OpMOVLPS, formWV, efMemOnly)}, {0x113, mp66, x(OpMOVLPD, formWV, efMemOnly)},
	{0x114, mpNone, x(OpUNPCKLPS, formVW, 0)}, {0x114, mp66, x(OpUNPCKLPD, formVW, 0)},
	{0x115, mpNone, x(OpUNPCKHPS, formVW, 0)}, {0x115, mp66, x(OpUNPCKHPD, formVW, 0)},
	{0x116, mpNone, x(OpMOVHPS, formVW, 0)}, // MOVLHPS with a register source
	{0x116, mp66, x(OpMOVHPD, formVW, efMemOnly)}, {0x116, mpF3, x(OpMOVSHDUP, formVW, 0)},
	{0x117, mpNone, x(OpMOVHPS, formWV, efMemOnly)}, {0x117, mp66, x(OpMOVHPD, formWV, efMemOnly)},
	{0x128, mpNone, x(OpMOVAPS, formVW, 0)}, {0x128, mp66, x(OpMOVAPD, formVW, 0)},
	{0x129, mpNone, x(OpMOVAPS, formWV, 0)}, {0x129, mp66, x(OpMOVAPD, formWV, 0)},
	{0x12B, mpNone, x(OpMOVNTPS, formWV, efMemOnly)}, {0x12B, mp66, x(OpMOVNTPD, formWV, efMemOnly)},
	{0x150, mpNone, x(OpMOVMSKPS, formVW, efRegOnly)}, {0x150, mp66, x(OpMOVMSKPD, formVW, efRegOnly)},
	{0x154, mpNone, x(OpANDPS, formVW, 0)}, {0x154, mp66, x(OpANDPD, formVW, 0)},
	{0x155, mpNone, x(OpANDNPS, formVW, 0)}, {0x155, mp66, x(OpANDNPD, formVW, 0)},
	{0x156, mpNone, x(OpORPS, formVW, 0)}, {0x156, mp66, x(OpORPD, formVW, 0)},
	{0x157, mpNone, x(OpXORPS, formVW, 0)}, {0x157, mp66, x(OpXORPD, formVW, 0)},
	{0x160, mp66, x(OpPUNPCKLBW, formVW, 0)}, {0x161, mp66, x(OpPUNPCKLWD, formVW, 0)},
	{0x162, mp66, x(OpPUNPCKLDQ, formVW, 0)}, {0x163, mp66, x(OpPACKSSWB, formVW, 0)},
	{0x167, mp66, x(OpPACKUSWB, formVW, 0)}, {0x168, mp66, x(OpPUNPCKHBW, formVW, 0)},
	{0x169, mp66, x(OpPUNPCKHWD, formVW, 0)}, {0x16A, mp66, x(OpPUNPCKHDQ, formVW, 0)},
	{0x16B, mp66, x(OpPACKSSDW, formVW, 0)}, {0x16C, mp66, x(OpPUNPCKLQDQ, formVW, 0)},
	{0x16D, mp66, x(OpPUNPCKHQDQ, formVW, 0)},
	{0x16E, mp66, x(OpMOVD, formVW, 0)}, // MOVD/MOVQ xmm, r/m32/64
	{0x16F, mp66, x(OpMOVDQA, formVW, 0)}, {0x16F, mpF3, x(OpMOVDQU, formVW, 0)},
	{0x170, mp66, x(OpPSHUFD, formVWIb, 0)}, {0x170, mpF3, x(OpPSHUFHW, formVWIb, 0)},
	{0x170, mpF2, x(OpPSHUFLW, formVWIb, 0)},
	{0x17E, mp66, x(OpMOVD, formWV, 0)}, // MOVD/MOVQ r/m32/64, xmm
	{0x17E, mpF3, x(OpMOVQ, formVW, 0)},
	{0x17F, mp66, x(OpMOVDQA, formWV, 0)}, {0x17F, mpF3, x(OpMOVDQU, formWV, 0)},
	{0x1C4, mp66, x(OpPINSRW, formVWIb, 0)}, {0x1C5, mp66, x(OpPEXTRW, formVWIb, efRegOnly)},
	{0x1C6, mpNone, x(OpSHUFPS, formVWIb, 0)}, {0x1C6, mp66, x(OpSHUFPD, formVWIb, 0)},
	{0x1D6, mp66, x(OpMOVQ, formWV, 0)},
	{0x1D7, mp66, x(OpPMOVMSKB, formVW, efRegOnly)},
	{0x1DB, mp66, x(OpPAND, formVW, 0)}, {0x1DF, mp66, x(OpPANDN, formVW, 0)},
	{0x1E7, mp66, x(OpMOVNTDQ, formWV, efMemOnly)},
	{0x1EB, mp66, x(OpPOR, formVW, 0)}, {0x1EF, mp66, x(OpPXOR, formVW, 0)},
	{0x1F0, mpF2, x(OpLDDQU, formVW, efMemOnly)},
	{0x1F7, mp66, x(OpMASKMOVDQU, formVW, efRegOnly)},

	{0x200, mp66, x(OpPSHUFB, formVW, 0)},
	{0x210, mp66, x(OpPBLENDVB, formVW, 0)}, {0x214, mp66, x(OpBLENDVPS, formVW, 0)},
	{0x215, mp66, x(OpBLENDVPD, formVW, 0)}, {0x217, mp66, x(OpPTEST, formVW, 0)},
	{0x220, mp66, x(OpPMOVSXBW, formVW, 0)}, {0x221, mp66, x(OpPMOVSXBD, formVW, 0)},
	{0x222, mp66, x(OpPMOVSXBQ, formVW, 0)}, {0x223, mp66, x(OpPMOVSXWD, formVW, 0)},
	{0x224, mp66, x(OpPMOVSXWQ, formVW, 0)}, {0x225, mp66, x(OpPMOVSXDQ, formVW, 0)},
	{0x22A, mp66, x(OpMOVNTDQA, formVW, efMemOnly)}, {0x22B, mp66, x(OpPACKUSDW, formVW, 0)},
	{0x230, mp66, x(OpPMOVZXBW, formVW, 0)}, {0x231, mp66, x(OpPMOVZXBD, formVW, 0)},
	{0x232, mp66, x(OpPMOVZXBQ, formVW, 0)}, {0x233, mp66, x(OpPMOVZXWD, formVW, 0)},
	{0x234, mp66, x(OpPMOVZXWQ, formVW, 0)}, {0x235, mp66, x(OpPMOVZXDQ, formVW, 0)},

	{0x30C, mp66, x(OpBLENDPS, formVWIb, 0)}, {0x30D, mp66, x(OpBLENDPD, formVWIb, 0)},
	{0x30E, mp66, x(OpPBLENDW, formVWIb, 0)}, {0x30F, mp66, x(OpPALIGNR, formVWIb, 0)},
	{0x314, mp66, x(OpPEXTRB, formVWIb, 0)}, {0x315, mp66, x(OpPEXTRW, formVWIb, 0)},
	{0x316, mp66, x(OpPEXTRD, formVWIb, 0)}, {0x317, mp66, x(OpEXTRACTPS, formVWIb, 0)},
	{0x320, mp66, x(OpPINSRB, formVWIb, 0)}, {0x321, mp66, x(OpINSERTPS, formVWIb, 0)},
	{0x322, mp66, x(OpPINSRD, formVWIb, 0)},
}

// sseIntEncodings: integer SIMD, string compares, CRC32.
var sseIntEncodings = []sseEnc{
	{0x164, mp66, x(OpPCMPGTB, formVW, 0)}, {0x165, mp66, x(OpPCMPGTW, formVW, 0)},
	{0x166, mp66, x(OpPCMPGTD, formVW, 0)},
	{0x171, mp66, opEntry{group: shiftGroup(formVWIb, [8]Op{2: OpPSRLW, 4: OpPSRAW, 6: OpPSLLW})}},
	{0x172, mp66, opEntry{group: shiftGroup(formVWIb, [8]Op{2: OpPSRLD, 4: OpPSRAD, 6: OpPSLLD})}},
	{0x173, mp66, opEntry{group: shiftGroup(formVWIb, [8]Op{2: OpPSRLQ, 3: OpPSRLDQ, 6: OpPSLLQ, 7: OpPSLLDQ})}},
	{0x174, mp66, x(OpPCMPEQB, formVW, 0)}, {0x175, mp66, x(OpPCMPEQW, formVW, 0)},
	{0x176, mp66, x(OpPCMPEQD, formVW, 0)},
	{0x1D1, mp66, x(OpPSRLW, formVW, 0)}, {0x1D2, mp66, x(OpPSRLD, formVW, 0)},
	{0x1D3, mp66, x(OpPSRLQ, formVW, 0)}, {0x1D4, mp66, x(OpPADDQ, formVW, 0)},
	{0x1D5, mp66, x(OpPMULLW, formVW, 0)},
	{0x1D8, mp66, x(OpPSUBUSB, formVW, 0)}, {0x1D9, mp66, x(OpPSUBUSW, formVW, 0)},
	{0x1DA, mp66, x(OpPMINUB, formVW, 0)}, {0x1DC, mp66, x(OpPADDUSB, formVW, 0)},
	{0x1DD, mp66, x(OpPADDUSW, formVW, 0)}, {0x1DE, mp66, x(OpPMAXUB, formVW, 0)},
	{0x1E0, mp66, x(OpPAVGB, formVW, 0)}, {0x1E1, mp66, x(OpPSRAW, formVW, 0)},
	{0x1E2, mp66, x(OpPSRAD, formVW, 0)}, {0x1E3, mp66, x(OpPAVGW, formVW, 0)},
	{0x1E4, mp66, x(OpPMULHUW, formVW, 0)}, {0x1E5, mp66, x(OpPMULHW, formVW, 0)},
	{0x1E8, mp66, x(OpPSUBSB, formVW, 0)}, {0x1E9, mp66, x(OpPSUBSW, formVW, 0)},
	{0x1EA, mp66, x(OpPMINSW, formVW, 0)}, {0x1EC, mp66, x(OpPADDSB, formVW, 0)},
	{0x1ED, mp66, x(OpPADDSW, formVW, 0)}, {0x1EE, mp66, x(OpPMAXSW, formVW, 0)},
	{0x1F1, mp66, x(OpPSLLW, formVW, 0)}, {0x1F2, mp66, x(OpPSLLD, formVW, 0)},
	{0x1F3, mp66, x(OpPSLLQ, formVW, 0)}, {0x1F4, mp66, x(OpPMULUDQ, formVW, 0)},
	{0x1F5, mp66, x(OpPMADDWD, formVW, 0)}, {0x1F6, mp66, x(OpPSADBW, formVW, 0)},
	{0x1F8, mp66, x(OpPSUBB, formVW, 0)}, {0x1F9, mp66, x(OpPSUBW, formVW, 0)},
	{0x1FA, mp66, x(OpPSUBD, formVW, 0)}, {0x1FB, mp66, x(OpPSUBQ, formVW, 0)},
	{0x1FC, mp66, x(OpPADDB, formVW, 0)}, {0x1FD, mp66, x(OpPADDW, formVW, 0)},
	{0x1FE, mp66, x(OpPADDD, formVW, 0)},

	{0x201, mp66, x(OpPHADDW, formVW, 0)}, {0x202, mp66, x(OpPHADDD, formVW, 0)},
	{0x203, mp66, x(OpPHADDSW, formVW, 0)}, {0x204, mp66, x(OpPMADDUBSW, formVW, 0)},
	{0x205, mp66, x(OpPHSUBW, formVW, 0)}, {0x206, mp66, x(OpPHSUBD, formVW, 0)},
	{0x207, mp66, x(OpPHSUBSW, formVW, 0)}, {0x208, mp66, x(OpPSIGNB, formVW, 0)},
	{0x209, mp66, x(OpPSIGNW, formVW, 0)}, {0x20A, mp66, x(OpPSIGND, formVW, 0)},
	{0x20B, mp66, x(OpPMULHRSW, formVW, 0)},
	{0x21C, mp66, x(OpPABSB, formVW, 0)}, {0x21D, mp66, x(OpPABSW, formVW, 0)},
	{0x21E, mp66, x(OpPABSD, formVW, 0)},
	{0x228, mp66, x(OpPMULDQ, formVW, 0)}, {0x229, mp66, x(OpPCMPEQQ, formVW, 0)},
	{0x237, mp66, x(OpPCMPGTQ, formVW, 0)},
	{0x238, mp66, x(OpPMINSB, formVW, 0)}, {0x239, mp66, x(OpPMINSD, formVW, 0)},
	{0x23A, mp66, x(OpPMINUW, formVW, 0)}, {0x23B, mp66, x(OpPMINUD, formVW, 0)},
	{0x23C, mp66, x(OpPMAXSB, formVW, 0)}, {0x23D, mp66, x(OpPMAXSD, formVW, 0)},
	{0x23E, mp66, x(OpPMAXUW, formVW, 0)}, {0x23F, mp66, x(OpPMAXUD, formVW, 0)},
	{0x240, mp66, x(OpPMULLD, formVW, 0)}, {0x241, mp66, x(OpPHMINPOSUW, formVW, 0)},
	// CRC32: F2 is mandatory; 66 and REX.W give the source size as usual.
	{0x2F0, mpF2, x(OpCRC32, formGE, efByte)}, {0x2F1, mpF2, x(OpCRC32, formGE, 0)},

	{0x342, mp66, x(OpMPSADBW, formVWIb, 0)},
	{0x360, mp66, x(OpPCMPESTRM, formVWIb, 0)}, {0x361, mp66, x(OpPCMPESTRI, formVWIb, 0)},
	{0x362, mp66, x(OpPCMPISTRM, formVWIb, 0)}, {0x363, mp66, x(OpPCMPISTRI, formVWIb, 0)},
}

// threeByte38 and threeByte3A are the 0F38 and 0F3A opcode maps; every
// entry they define is an SSE encoding.
var (
	threeByte38 = func() (t [256]opEntry) { addSSE(&t, 2); return }()
	threeByte3A = func() (t [256]opEntry) { addSSE(&t, 3); return }()
)

// addSSE puts the encodings of opcode map m into t.
func addSSE(t *[256]opEntry, m uint16) {
	for _, enc := range sseEncodings {
		if enc.opcode>>8 != m {
			continue
		}
		e := &t[enc.opcode&0xFF]
		if e.sse == nil {
			e.sse = new([4]opEntry)
		}
		e.sse[enc.mp] = enc.ent
	}
}
