package cpu

// Op is a decoded operation, independent of its encoding and operand form.
type Op uint16

// Operations. The opcode tables map encodings to these; each family's binder
// maps them to handlers.
const (
	OpInvalid Op = iota // no such instruction: #UD

	// Integer arithmetic and logic (alu.go).
	OpADD
	OpOR
	OpADC
	OpSBB
	OpAND
	OpSUB
	OpXOR
	OpCMP
	OpTEST
	OpINC
	OpDEC
	OpNOT
	OpNEG

	// Multiply and divide (muldiv.go).
	OpMUL
	OpIMUL1 // one-operand IMUL: rDX:rAX = rAX * E
	OpIMUL  // two- and three-operand IMUL
	OpDIV
	OpIDIV

	// Shifts and rotates (shift.go).
	OpROL
	OpROR
	OpRCL
	OpRCR
	OpSHL
	OpSHR
	OpSAR
	OpSHLD
	OpSHRD

	// Data movement (move.go).
	OpMOV
	OpMOVZX
	OpMOVSX
	OpMOVSXD
	OpLEA
	OpXCHG
	OpXADD
	OpCMPXCHG
	OpCMPXCHG16B // CMPXCHG8B without REX.W
	OpBSWAP
	OpCMOV
	OpSETCC
	OpCBW // CBW/CWDE/CDQE
	OpCWD // CWD/CDQ/CQO
	OpXLAT
	OpMOVSeg     // MOV Sreg, E
	OpMOVFromSeg // MOV E, Sreg
	OpMOVNTI

	// Bit instructions (bits.go).
	OpBT
	OpBTS
	OpBTR
	OpBTC
	OpBSF
	OpBSR
	OpTZCNT
	OpLZCNT
	OpPOPCNT

	// Control flow (control.go).
	OpJMP
	OpJMPInd
	OpJCC
	OpCALL
	OpCALLInd
	OpRET
	OpRETF
	OpJMPFar  // JMP m16:64 (FF /5)
	OpCALLFar // CALL m16:64 (FF /3)
	OpLOOP
	OpLOOPE
	OpLOOPNE
	OpJRCXZ

	// Stack (stack.go).
	OpPUSH
	OpPOP
	OpPUSHF
	OpPOPF
	OpENTER
	OpLEAVE
	OpPUSHSeg
	OpPOPSeg

	// String instructions (string.go).
	OpMOVS
	OpCMPS
	OpSTOS
	OpLODS
	OpSCAS
	OpINS
	OpOUTS

	// Flag instructions (flagops.go).
	OpCLC
	OpSTC
	OpCMC
	OpCLD
	OpSTD
	OpCLI
	OpSTI
	OpLAHF
	OpSAHF

	// Miscellaneous (misc.go).
	OpNOP
	OpPAUSE
	OpHLT
	OpCPUID
	OpRDTSC
	OpRDTSCP
	OpRDRAND
	OpRDSEED
	OpIN
	OpOUT
	OpUD2
	OpFENCE // LFENCE, MFENCE, SFENCE, CLFLUSH, PREFETCH: no architectural effect here

	// System instructions (system.go).
	OpLGDT
	OpLIDT
	OpSGDT
	OpSIDT
	OpLTR
	OpSTR
	OpLLDT
	OpSLDT
	OpLMSW
	OpSMSW
	OpINVLPG
	OpCLTS
	OpWBINVD
	OpMOVToCR
	OpMOVFromCR
	OpMOVToDR
	OpMOVFromDR
	OpRDMSR
	OpWRMSR
	OpSWAPGS
	OpSYSCALL
	OpSYSRET
	OpINT
	OpINT3
	OpINT1
	OpIRET

	// BMI1, VEX-encoded (vex.go).
	OpANDN
	OpBEXTR
	OpBLSGroup // group 17 before ModRM.reg selects BLSR, BLSMSK or BLSI
	OpBLSR
	OpBLSMSK
	OpBLSI

	numOps
)

var opNames = [numOps]string{
	OpInvalid: "(bad)", OpADD: "add", OpOR: "or", OpADC: "adc", OpSBB: "sbb", OpAND: "and", OpSUB: "sub",
	OpXOR: "xor", OpCMP: "cmp", OpTEST: "test", OpINC: "inc", OpDEC: "dec", OpNOT: "not", OpNEG: "neg",
	OpMUL: "mul", OpIMUL1: "imul", OpIMUL: "imul", OpDIV: "div", OpIDIV: "idiv",
	OpROL: "rol", OpROR: "ror", OpRCL: "rcl", OpRCR: "rcr", OpSHL: "shl", OpSHR: "shr", OpSAR: "sar",
	OpSHLD: "shld", OpSHRD: "shrd",
	OpMOV: "mov", OpMOVZX: "movzx", OpMOVSX: "movsx", OpMOVSXD: "movsxd", OpLEA: "lea", OpXCHG: "xchg",
	OpXADD: "xadd", OpCMPXCHG: "cmpxchg", OpCMPXCHG16B: "cmpxchg16b", OpBSWAP: "bswap", OpCMOV: "cmovcc",
	OpSETCC: "setcc", OpCBW: "cbw", OpCWD: "cwd", OpXLAT: "xlat", OpMOVSeg: "mov", OpMOVFromSeg: "mov",
	OpMOVNTI: "movnti",
	OpBT:     "bt", OpBTS: "bts", OpBTR: "btr", OpBTC: "btc", OpBSF: "bsf", OpBSR: "bsr", OpTZCNT: "tzcnt",
	OpLZCNT: "lzcnt", OpPOPCNT: "popcnt",
	OpJMP: "jmp", OpJMPInd: "jmp", OpJCC: "jcc", OpCALL: "call", OpCALLInd: "call", OpRET: "ret",
	OpRETF: "retf", OpJMPFar: "ljmp", OpCALLFar: "lcall", OpLOOP: "loop", OpLOOPE: "loope",
	OpLOOPNE: "loopne", OpJRCXZ: "jrcxz",
	OpPUSH: "push", OpPOP: "pop", OpPUSHF: "pushf", OpPOPF: "popf", OpENTER: "enter", OpLEAVE: "leave",
	OpPUSHSeg: "push", OpPOPSeg: "pop",
	OpMOVS: "movs", OpCMPS: "cmps", OpSTOS: "stos", OpLODS: "lods", OpSCAS: "scas", OpINS: "ins", OpOUTS: "outs",
	OpCLC: "clc", OpSTC: "stc", OpCMC: "cmc", OpCLD: "cld", OpSTD: "std", OpCLI: "cli", OpSTI: "sti",
	OpLAHF: "lahf", OpSAHF: "sahf",
	OpNOP: "nop", OpPAUSE: "pause", OpHLT: "hlt", OpCPUID: "cpuid", OpRDTSC: "rdtsc", OpRDTSCP: "rdtscp",
	OpRDRAND: "rdrand", OpRDSEED: "rdseed", OpIN: "in", OpOUT: "out", OpUD2: "ud2", OpFENCE: "fence",
	OpLGDT: "lgdt", OpLIDT: "lidt", OpSGDT: "sgdt", OpSIDT: "sidt", OpLTR: "ltr", OpSTR: "str",
	OpLLDT: "lldt", OpSLDT: "sldt", OpLMSW: "lmsw", OpSMSW: "smsw", OpINVLPG: "invlpg", OpCLTS: "clts",
	OpWBINVD: "wbinvd", OpMOVToCR: "mov", OpMOVFromCR: "mov", OpMOVToDR: "mov", OpMOVFromDR: "mov",
	OpRDMSR: "rdmsr", OpWRMSR: "wrmsr", OpSWAPGS: "swapgs", OpSYSCALL: "syscall", OpSYSRET: "sysret",
	OpINT: "int", OpINT3: "int3", OpINT1: "int1", OpIRET: "iret",
	OpANDN: "andn", OpBEXTR: "bextr", OpBLSR: "blsr", OpBLSMSK: "blsmsk", OpBLSI: "blsi",
}

// String returns the operation's mnemonic.
func (o Op) String() string {
	if o < numOps && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}
