package cpu

// The x87 escape opcodes D8-DF as data (SDM Vol. 2, Appendix A.4). With a
// memory operand ModRM.reg selects the instruction (x87Mem); with a register
// operand the whole ModRM byte does (x87Reg, indexed [reg][rm]). The memory
// operand's type follows from the opcode byte (x87MemType).

// x87Mem holds the memory forms of D8-DF.
var x87Mem = [8][8]opEntry{
	x87ArithMem, // D8: m32fp
	{e(OpFLD, formE, 0), {}, e(OpFST, formE, 0), e(OpFSTP, formE, 0),
		e(OpFLDENV, formE, efEnd), e(OpFLDCW, formE, 0), e(OpFNSTENV, formE, 0), e(OpFNSTCW, formE, 0)},
	x87ArithMem, // DA: m32int
	{e(OpFILD, formE, 0), e(OpFISTTP, formE, 0), e(OpFIST, formE, 0), e(OpFISTP, formE, 0),
		{}, e(OpFLD, formE, 0), {}, e(OpFSTP, formE, 0)},
	x87ArithMem, // DC: m64fp
	{e(OpFLD, formE, 0), e(OpFISTTP, formE, 0), e(OpFST, formE, 0), e(OpFSTP, formE, 0),
		e(OpFRSTOR, formE, efEnd), {}, e(OpFNSAVE, formE, 0), e(OpFNSTSW, formE, 0)},
	x87ArithMem, // DE: m16int
	{e(OpFILD, formE, 0), e(OpFISTTP, formE, 0), e(OpFIST, formE, 0), e(OpFISTP, formE, 0),
		e(OpFBLD, formE, 0), e(OpFILD, formE, 0), e(OpFBSTP, formE, 0), e(OpFISTP, formE, 0)},
}

var x87ArithMem = [8]opEntry{
	e(OpFADD, formE, 0), e(OpFMUL, formE, 0), e(OpFCOM, formE, 0), e(OpFCOMP, formE, 0),
	e(OpFSUB, formE, 0), e(OpFSUBR, formE, 0), e(OpFDIV, formE, 0), e(OpFDIVR, formE, 0),
}

// x87Reg holds the register forms of D8-DF. The reserved encodings that
// Intel and AMD processors execute as aliases (FSTP1, FCOM2, FCOMP3, FXCH4,
// FCOMP5, FFREEP, FXCH7, FSTP8, FSTP9) are included.
var x87Reg = func() (t [8][8][8]opEntry) {
	row := func(op byte, reg int, o Op) {
		for rm := range 8 {
			t[op][reg][rm] = e(o, formE, 0)
		}
	}
	// D8: ST(0) = ST(0) op ST(i). DC: ST(i) = ST(i) op ST(0), where the
	// encodings of the subtractions and divisions and their reversed forms
	// trade places (FCOM2, FCOMP3 at reg 2, 3). DE: as DC, then pop (FCOMP5
	// at reg 2).
	arith := [8]Op{OpFADD, OpFMUL, OpFCOM, OpFCOMP, OpFSUB, OpFSUBR, OpFDIV, OpFDIVR}
	swapped := [8]Op{OpFADD, OpFMUL, OpFCOM, OpFCOMP, OpFSUBR, OpFSUB, OpFDIVR, OpFDIV}
	for reg := range 8 {
		row(0, reg, arith[reg])
		row(4, reg, swapped[reg])
		row(6, reg, swapped[reg])
	}
	row(6, 2, OpFCOMP) // FCOMP5
	t[6][3] = [8]opEntry{1: e(OpFCOMPP, formE, 0)}
	row(1, 0, OpFLD)
	row(1, 1, OpFXCH)
	t[1][2][0] = e(OpFNOP, formE, 0)
	row(1, 3, OpFSTP) // FSTP1
	t[1][4] = [8]opEntry{0: e(OpFCHS, formE, 0), 1: e(OpFABS, formE, 0), 4: e(OpFTST, formE, 0), 5: e(OpFXAM, formE, 0)}
	for rm := range 7 {
		t[1][5][rm] = e(OpFLDConst, formE, 0)
	}
	t[1][6] = [8]opEntry{e(OpF2XM1, formE, 0), e(OpFYL2X, formE, 0), e(OpFPTAN, formE, 0), e(OpFPATAN, formE, 0),
		e(OpFXTRACT, formE, 0), e(OpFPREM1, formE, 0), e(OpFDECSTP, formE, 0), e(OpFINCSTP, formE, 0)}
	t[1][7] = [8]opEntry{e(OpFPREM, formE, 0), e(OpFYL2XP1, formE, 0), e(OpFSQRT, formE, 0), e(OpFSINCOS, formE, 0),
		e(OpFRNDINT, formE, 0), e(OpFSCALE, formE, 0), e(OpFSIN, formE, 0), e(OpFCOS, formE, 0)}
	for reg := range 4 {
		row(2, reg, OpFCMOV) // FCMOVB, FCMOVE, FCMOVBE, FCMOVU
		row(3, reg, OpFCMOV) // FCMOVNB, FCMOVNE, FCMOVNBE, FCMOVNU
	}
	t[2][5][1] = e(OpFUCOMPP, formE, 0)
	t[3][4] = [8]opEntry{0: e(OpFNOP, formE, 0), 1: e(OpFNOP, formE, 0), 2: e(OpFNCLEX, formE, 0),
		3: e(OpFNINIT, formE, 0), 4: e(OpFNOP, formE, 0)} // FNENI, FNDISI, FNSETPM: NOPs since the 80387
	row(3, 5, OpFUCOMI)
	row(3, 6, OpFCOMI)
	row(5, 0, OpFFREE)
	row(5, 1, OpFXCH) // FXCH4
	row(5, 2, OpFST)
	row(5, 3, OpFSTP)
	row(5, 4, OpFUCOM)
	row(5, 5, OpFUCOMP)
	row(7, 0, OpFFREE) // FFREEP
	row(7, 1, OpFXCH)  // FXCH7
	row(7, 2, OpFSTP)  // FSTP8
	row(7, 3, OpFSTP)  // FSTP9
	t[7][4][0] = e(OpFNSTSW, formE, 0)
	row(7, 5, OpFUCOMI) // FUCOMIP
	row(7, 6, OpFCOMI)  // FCOMIP
	return
}()

// x87Escapes fills the D8-DF entries of the one-byte map.
func x87Escapes(t *[256]opEntry) {
	for i := range 8 {
		t[0xD8+i] = opEntry{group: &x87Mem[i], regGroup: &x87Reg[i]}
	}
}
