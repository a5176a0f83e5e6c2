package cpu

// The opcode maps of 64-bit mode as data. Each entry names the operation, its
// operand form and a few flags; ModRM-selected groups point to a sub-table
// indexed by ModRM.reg. The layout follows the SDM's opcode map (Vol. 2,
// Appendix A).

// entryFlags qualify an opcode-table entry.
type entryFlags uint16

const (
	efByte       entryFlags = 1 << iota // operands are 8-bit
	efDef64                             // default operand size 64 in long mode (66 selects 16)
	efForce64                           // operand size always 64 in long mode (near branches)
	efEnd                               // ends a decoded block (control flow, mode changes)
	efMemOnly                           // ModRM must name memory, else #UD
	efRegOnly                           // ModRM must name a register, else #UD
	efNoModRM                           // group entries only: none (never set on top-level)
	efRepOK                             // F3 selects a different instruction (see repAlt)
	efLockOK                            // LOCK is allowed with a memory destination
	efPrivileged                        // #GP(0) unless CPL 0 (checked by the handler)
)

type opEntry struct {
	op    Op
	form  form
	flags entryFlags
	group *[8]opEntry // ModRM.reg selects the entry
	// regGroup, if set, is used instead of group when ModRM.mod == 3.
	regGroup *[8][8]opEntry // [reg][rm]
	// repAlt is the entry used when an F3 prefix is present.
	repAlt *opEntry
	// sse, if set, replaces the entry by the variant its mandatory prefix
	// selects (none, 66, F3, F2: see mandatoryPrefix).
	sse *[4]opEntry
}

func e(op Op, f form, fl entryFlags) opEntry { return opEntry{op: op, form: f, flags: fl} }

// bw fills opcode o with op's byte form and o+1 with its full-size form
// (the W bit of the classic encodings).
func bw(t *[256]opEntry, o int, op Op, f form, fl entryFlags) {
	t[o] = e(op, f, fl|efByte)
	t[o+1] = e(op, f, fl)
}

// bwGroup points opcode o and o+1 at group g, for the byte and the
// full-size forms.
func bwGroup(t *[256]opEntry, o int, g *[8]opEntry) {
	t[o] = opEntry{flags: efByte, group: g}
	t[o+1] = opEntry{group: g}
}

// alu6 fills the six classic ALU encodings at base: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib rAX,Iz.
func alu6(t *[256]opEntry, base int, op Op) {
	lock := efLockOK
	if op == OpCMP {
		lock = 0
	}
	bw(t, base, op, formEG, lock)
	bw(t, base+2, op, formGE, 0)
	bw(t, base+4, op, formAI, 0)
}

var grp1 = [8]opEntry{
	e(OpADD, formEI, efLockOK), e(OpOR, formEI, efLockOK), e(OpADC, formEI, efLockOK), e(OpSBB, formEI, efLockOK),
	e(OpAND, formEI, efLockOK), e(OpSUB, formEI, efLockOK), e(OpXOR, formEI, efLockOK), e(OpCMP, formEI, 0),
}

var grp1b = func() (g [8]opEntry) {
	g = grp1
	for i := range g {
		g[i].form = formEIb
	}
	return
}()

// grp2 is the shift group; the count form is set per opcode.
func grp2(f form) (g [8]opEntry) {
	ops := [8]Op{OpROL, OpROR, OpRCL, OpRCR, OpSHL, OpSHR, OpSHL, OpSAR}
	for i, op := range ops {
		g[i] = e(op, f, 0)
	}
	return
}

var (
	grp2Ib  = grp2(formEIbCount)
	grp2One = grp2(formE)
	grp2CL  = grp2(formE)
)

var grp3 = [8]opEntry{
	e(OpTEST, formEI, 0), e(OpTEST, formEI, 0), e(OpNOT, formE, efLockOK), e(OpNEG, formE, efLockOK),
	e(OpMUL, formE, 0), e(OpIMUL1, formE, 0), e(OpDIV, formE, 0), e(OpIDIV, formE, 0),
}

var grp4 = [8]opEntry{
	e(OpINC, formE, efLockOK), e(OpDEC, formE, efLockOK),
}

var grp5 = [8]opEntry{
	e(OpINC, formE, efLockOK), e(OpDEC, formE, efLockOK),
	e(OpCALLInd, formE, efForce64|efEnd), e(OpCALLFar, formE, efMemOnly|efEnd),
	e(OpJMPInd, formE, efForce64|efEnd), e(OpJMPFar, formE, efMemOnly|efEnd),
	e(OpPUSH, formE, efDef64), {},
}

var grp1A = [8]opEntry{e(OpPOP, formE, efDef64)}

var grp11b = [8]opEntry{e(OpMOV, formEI, 0)}

var grp6 = [8]opEntry{
	e(OpSLDT, formE, 0), e(OpSTR, formE, 0), e(OpLLDT, formE, efEnd|efPrivileged), e(OpLTR, formE, efEnd|efPrivileged),
	e(OpVERR, formE, 0), e(OpVERW, formE, 0),
}

var grp7 = [8]opEntry{
	e(OpSGDT, formE, efMemOnly), e(OpSIDT, formE, efMemOnly),
	e(OpLGDT, formE, efMemOnly|efEnd|efPrivileged|efForce64), e(OpLIDT, formE, efMemOnly|efEnd|efPrivileged|efForce64),
	e(OpSMSW, formE, 0), {}, e(OpLMSW, formE, efEnd|efPrivileged), e(OpINVLPG, formE, efMemOnly|efEnd|efPrivileged),
}

var grp7Reg = func() (g [8][8]opEntry) {
	for rm := range 8 {
		g[4][rm] = e(OpSMSW, formE, 0)
		g[6][rm] = e(OpLMSW, formE, efEnd|efPrivileged)
	}
	g[7][0] = e(OpSWAPGS, formNone, efEnd|efPrivileged)
	g[7][1] = e(OpRDTSCP, formNone, 0)
	return
}()

var grp8 = [8]opEntry{
	4: e(OpBT, formEIbCount, 0), 5: e(OpBTS, formEIbCount, efLockOK),
	6: e(OpBTR, formEIbCount, efLockOK), 7: e(OpBTC, formEIbCount, efLockOK),
}

var grp9 = [8]opEntry{
	1: e(OpCMPXCHG16B, formE, efMemOnly|efLockOK),
}

var grp9Reg = func() (g [8][8]opEntry) {
	for rm := range 8 {
		g[6][rm] = e(OpRDRAND, formE, 0)
		g[7][rm] = e(OpRDSEED, formE, 0)
	}
	return
}()

var grp15 = [8]opEntry{
	0: e(OpFXSAVE, formE, efMemOnly), 1: e(OpFXRSTOR, formE, efMemOnly|efEnd),
	2: e(OpLDMXCSR, formE, efMemOnly), 3: e(OpSTMXCSR, formE, efMemOnly),
	7: e(OpFENCE, formE, efMemOnly), // CLFLUSH
}

var grp15Reg = func() (g [8][8]opEntry) {
	for rm := range 8 {
		g[5][rm] = e(OpFENCE, formNone, 0) // LFENCE
		g[6][rm] = e(OpFENCE, formNone, 0) // MFENCE
		g[7][rm] = e(OpFENCE, formNone, 0) // SFENCE
	}
	return
}()

var nopGroup = [8]opEntry{
	e(OpNOP, formE, 0), e(OpNOP, formE, 0), e(OpNOP, formE, 0), e(OpNOP, formE, 0),
	e(OpNOP, formE, 0), e(OpNOP, formE, 0), e(OpNOP, formE, 0), e(OpNOP, formE, 0),
}

var (
	pauseEntry  = e(OpPAUSE, formNone, 0)
	popcntEntry = e(OpPOPCNT, formGE, 0)
	tzcntEntry  = e(OpTZCNT, formGE, 0)
	lzcntEntry  = e(OpLZCNT, formGE, 0)
)

// oneByte is the primary opcode map.
var oneByte = func() (t [256]opEntry) {
	alu6(&t, 0x00, OpADD)
	alu6(&t, 0x08, OpOR)
	alu6(&t, 0x10, OpADC)
	alu6(&t, 0x18, OpSBB)
	alu6(&t, 0x20, OpAND)
	alu6(&t, 0x28, OpSUB)
	alu6(&t, 0x30, OpXOR)
	alu6(&t, 0x38, OpCMP)
	for i := 0; i < 8; i++ {
		t[0x50+i] = e(OpPUSH, formReg, efDef64)
		t[0x58+i] = e(OpPOP, formReg, efDef64)
		t[0xB0+i] = e(OpMOV, formRegI, efByte)
		t[0xB8+i] = e(OpMOV, formRegI, 0)
		t[0x91+i] = e(OpXCHG, formReg, 0) // 0x98 is overwritten below
	}
	for i := 0; i < 16; i++ {
		t[0x70+i] = e(OpJCC, formJb, efForce64)
	}
	t[0x63] = e(OpMOVSXD, formGE, 0)
	t[0x68] = e(OpPUSH, formIz, efDef64)
	t[0x69] = e(OpIMUL, formGEI, 0)
	t[0x6A] = e(OpPUSH, formIb, efDef64)
	t[0x6B] = e(OpIMUL, formGEIb, 0)
	bw(&t, 0x6C, OpINS, formNone, 0)
	bw(&t, 0x6E, OpOUTS, formNone, 0)
	bwGroup(&t, 0x80, &grp1)
	t[0x83] = opEntry{group: &grp1b}
	bw(&t, 0x84, OpTEST, formEG, 0)
	bw(&t, 0x86, OpXCHG, formEG, efLockOK)
	bw(&t, 0x88, OpMOV, formEG, 0)
	bw(&t, 0x8A, OpMOV, formGE, 0)
	t[0x8C] = e(OpMOVFromSeg, formEG, 0)
	t[0x8D] = e(OpLEA, formGE, efMemOnly)
	t[0x8E] = e(OpMOVSeg, formGE, efEnd)
	t[0x8F] = opEntry{group: &grp1A}
	t[0x90] = opEntry{op: OpXCHG, form: formReg, repAlt: &pauseEntry}
	t[0x98] = e(OpCBW, formNone, 0)
	t[0x99] = e(OpCWD, formNone, 0)
	t[0x9B] = e(OpFWAIT, formNone, 0)
	t[0x9C] = e(OpPUSHF, formNone, efDef64)
	t[0x9D] = e(OpPOPF, formNone, efDef64|efEnd)
	t[0x9E] = e(OpSAHF, formNone, 0)
	t[0x9F] = e(OpLAHF, formNone, 0)
	bw(&t, 0xA0, OpMOV, formMoffs, 0)
	bw(&t, 0xA2, OpMOV, formMoffs, 0)
	bw(&t, 0xA4, OpMOVS, formNone, 0)
	bw(&t, 0xA6, OpCMPS, formNone, 0)
	bw(&t, 0xA8, OpTEST, formAI, 0)
	bw(&t, 0xAA, OpSTOS, formNone, 0)
	bw(&t, 0xAC, OpLODS, formNone, 0)
	bw(&t, 0xAE, OpSCAS, formNone, 0)
	bwGroup(&t, 0xC0, &grp2Ib)
	t[0xC2] = e(OpRET, formIw, efForce64|efEnd)
	t[0xC3] = e(OpRET, formNone, efForce64|efEnd)
	bwGroup(&t, 0xC6, &grp11b)
	t[0xC8] = e(OpENTER, formIwIb, efDef64)
	t[0xC9] = e(OpLEAVE, formNone, efDef64)
	t[0xCA] = e(OpRETF, formIw, efEnd)
	t[0xCB] = e(OpRETF, formNone, efEnd)
	t[0xCC] = e(OpINT3, formNone, efEnd)
	t[0xCD] = e(OpINT, formIb, efEnd)
	t[0xCF] = e(OpIRET, formNone, efEnd)
	bwGroup(&t, 0xD0, &grp2One)
	bwGroup(&t, 0xD2, &grp2CL)
	t[0xD7] = e(OpXLAT, formNone, 0)
	t[0xE0] = e(OpLOOPNE, formJb, efForce64)
	t[0xE1] = e(OpLOOPE, formJb, efForce64)
	t[0xE2] = e(OpLOOP, formJb, efForce64)
	t[0xE3] = e(OpJRCXZ, formJb, efForce64)
	bw(&t, 0xE4, OpIN, formIb, efEnd)
	bw(&t, 0xE6, OpOUT, formIb, efEnd)
	t[0xE8] = e(OpCALL, formJz, efForce64|efEnd)
	t[0xE9] = e(OpJMP, formJz, efForce64|efEnd)
	t[0xEB] = e(OpJMP, formJb, efForce64|efEnd)
	bw(&t, 0xEC, OpIN, formNone, efEnd)
	bw(&t, 0xEE, OpOUT, formNone, efEnd)
	t[0xF1] = e(OpINT1, formNone, efEnd)
	t[0xF4] = e(OpHLT, formNone, efEnd|efPrivileged)
	t[0xF5] = e(OpCMC, formNone, 0)
	bwGroup(&t, 0xF6, &grp3)
	t[0xF8] = e(OpCLC, formNone, 0)
	t[0xF9] = e(OpSTC, formNone, 0)
	t[0xFA] = e(OpCLI, formNone, 0)
	t[0xFB] = e(OpSTI, formNone, efEnd)
	t[0xFC] = e(OpCLD, formNone, 0)
	t[0xFD] = e(OpSTD, formNone, 0)
	t[0xFE] = opEntry{flags: efByte, group: &grp4}
	t[0xFF] = opEntry{group: &grp5}
	x87Escapes(&t)
	return
}()

// legacyOneByte is the primary opcode map outside 64-bit mode: 40-4F are
// INC and DEC, and the opcodes 64-bit mode dropped are back. efDef64 and
// efForce64 mean nothing there (the code segment's size is the default).
var legacyOneByte = func() (t [256]opEntry) {
	t = oneByte
	for i := 0; i < 8; i++ {
		t[0x40+i] = e(OpINC, formReg, 0)
		t[0x48+i] = e(OpDEC, formReg, 0)
	}
	for _, op := range []int{0x06, 0x0E, 0x16, 0x1E} {
		t[op] = e(OpPUSHSeg, formNone, 0)
	}
	t[0x07] = e(OpPOPSeg, formNone, efEnd)
	t[0x17] = e(OpPOPSeg, formNone, efEnd)
	t[0x1F] = e(OpPOPSeg, formNone, efEnd)
	t[0x27] = e(OpDAA, formNone, 0)
	t[0x2F] = e(OpDAS, formNone, 0)
	t[0x37] = e(OpAAA, formNone, 0)
	t[0x3F] = e(OpAAS, formNone, 0)
	t[0x60] = e(OpPUSHA, formNone, 0)
	t[0x61] = e(OpPOPA, formNone, 0)
	t[0x62] = e(OpBOUND, formGE, efMemOnly)
	t[0x63] = e(OpARPL, formEG, 0)
	t[0x82] = t[0x80]
	t[0x9A] = e(OpCALLFar, formPtr, efEnd)
	t[0xC4] = e(OpLES, formGE, efMemOnly|efEnd)
	t[0xC5] = e(OpLDS, formGE, efMemOnly|efEnd)
	t[0xCE] = e(OpINTO, formNone, efEnd)
	t[0xD4] = e(OpAAM, formIb, 0)
	t[0xD5] = e(OpAAD, formIb, 0)
	t[0xD6] = e(OpSALC, formNone, 0)
	t[0xEA] = e(OpJMPFar, formPtr, efEnd)
	return
}()

// twoByte is the 0F opcode map.
var twoByte = func() (t [256]opEntry) {
	t[0x00] = opEntry{group: &grp6}
	t[0x01] = opEntry{group: &grp7, regGroup: &grp7Reg}
	t[0x05] = e(OpSYSCALL, formNone, efEnd)
	t[0x06] = e(OpCLTS, formNone, efPrivileged)
	t[0x07] = e(OpSYSRET, formNone, efEnd|efPrivileged)
	t[0x08] = e(OpWBINVD, formNone, efPrivileged) // INVD
	t[0x09] = e(OpWBINVD, formNone, efPrivileged)
	t[0x0B] = e(OpUD2, formNone, efEnd)
	t[0x0D] = opEntry{group: &nopGroup} // PREFETCHW
	for i := 0x18; i <= 0x1F; i++ {
		t[i] = opEntry{group: &nopGroup} // PREFETCHh, hint NOPs
	}
	t[0x20] = e(OpMOVFromCR, formCR, efForce64|efPrivileged)
	t[0x21] = e(OpMOVFromDR, formCR, efForce64|efPrivileged)
	t[0x22] = e(OpMOVToCR, formCR, efForce64|efEnd|efPrivileged)
	t[0x23] = e(OpMOVToDR, formCR, efForce64|efPrivileged)
	t[0x30] = e(OpWRMSR, formNone, efEnd|efPrivileged)
	t[0x31] = e(OpRDTSC, formNone, 0)
	t[0x32] = e(OpRDMSR, formNone, efPrivileged)
	t[0x34] = e(OpSYSENTER, formNone, efEnd)
	t[0x35] = e(OpSYSEXIT, formNone, efEnd|efPrivileged)
	for i := 0; i < 16; i++ {
		t[0x40+i] = e(OpCMOV, formGE, 0)
		t[0x80+i] = e(OpJCC, formJz, efForce64)
		t[0x90+i] = e(OpSETCC, formE, efByte)
	}
	for i := 0; i < 8; i++ {
		t[0xC8+i] = e(OpBSWAP, formReg, 0)
	}
	t[0xA0] = e(OpPUSHSeg, formNone, efDef64)
	t[0xA1] = e(OpPOPSeg, formNone, efDef64|efEnd)
	t[0xA2] = e(OpCPUID, formNone, 0)
	t[0xA3] = e(OpBT, formEG, 0)
	t[0xA4] = e(OpSHLD, formEGIb, 0)
	t[0xA5] = e(OpSHLD, formEGCL, 0)
	t[0xA8] = e(OpPUSHSeg, formNone, efDef64)
	t[0xA9] = e(OpPOPSeg, formNone, efDef64|efEnd)
	t[0xAB] = e(OpBTS, formEG, efLockOK)
	t[0xAC] = e(OpSHRD, formEGIb, 0)
	t[0xAD] = e(OpSHRD, formEGCL, 0)
	t[0xAE] = opEntry{group: &grp15, regGroup: &grp15Reg}
	t[0xAF] = e(OpIMUL, formGE, 0)
	bw(&t, 0xB0, OpCMPXCHG, formEG, efLockOK)
	t[0xB3] = e(OpBTR, formEG, efLockOK)
	t[0xB6] = e(OpMOVZX, formGE, 0)
	t[0xB7] = e(OpMOVZX, formGE, 0)
	t[0xB8] = opEntry{repAlt: &popcntEntry} // POPCNT needs F3
	t[0xBA] = opEntry{group: &grp8}
	t[0xBB] = e(OpBTC, formEG, efLockOK)
	t[0xBC] = opEntry{op: OpBSF, form: formGE, repAlt: &tzcntEntry}
	t[0xBD] = opEntry{op: OpBSR, form: formGE, repAlt: &lzcntEntry}
	t[0xBE] = e(OpMOVSX, formGE, 0)
	t[0xBF] = e(OpMOVSX, formGE, 0)
	bw(&t, 0xC0, OpXADD, formEG, efLockOK)
	t[0xC3] = e(OpMOVNTI, formEG, efMemOnly)
	t[0xC7] = opEntry{group: &grp9, regGroup: &grp9Reg}
	addSSE(&t, 1)
	return
}()
