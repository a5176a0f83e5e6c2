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
	OpVERR
	OpVERW
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
	OpSYSENTER
	OpSYSEXIT
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

	// SSE through SSE4.2: data movement, logic, shuffles, integer SIMD,
	// string compares, CRC32, MXCSR access (sse*.go).
	OpMOVUPS
	OpMOVUPD
	OpMOVAPS
	OpMOVAPD
	OpMOVSS
	OpMOVSD_X
	OpMOVLPS
	OpMOVHLPS
	OpMOVLPD
	OpMOVHPS
	OpMOVLHPS
	OpMOVHPD
	OpMOVSLDUP
	OpMOVSHDUP
	OpMOVDDUP
	OpMOVNTPS
	OpMOVNTPD
	OpMOVNTDQ
	OpMOVNTDQA
	OpMOVMSKPS
	OpMOVMSKPD
	OpPMOVMSKB
	OpMASKMOVDQU
	OpMOVD
	OpMOVQ
	OpMOVDQA
	OpMOVDQU
	OpLDDQU
	OpPEXTRB
	OpPEXTRW
	OpPEXTRD
	OpPINSRB
	OpPINSRW
	OpPINSRD
	OpEXTRACTPS
	OpINSERTPS
	OpPMOVSXBW
	OpPMOVSXBD
	OpPMOVSXBQ
	OpPMOVSXWD
	OpPMOVSXWQ
	OpPMOVSXDQ
	OpPMOVZXBW
	OpPMOVZXBD
	OpPMOVZXBQ
	OpPMOVZXWD
	OpPMOVZXWQ
	OpPMOVZXDQ
	OpANDPS
	OpANDPD
	OpANDNPS
	OpANDNPD
	OpORPS
	OpORPD
	OpXORPS
	OpXORPD
	OpPAND
	OpPANDN
	OpPOR
	OpPXOR
	OpPTEST
	OpSHUFPS
	OpSHUFPD
	OpPSHUFD
	OpPSHUFHW
	OpPSHUFLW
	OpPSHUFB
	OpPALIGNR
	OpUNPCKLPS
	OpUNPCKHPS
	OpUNPCKLPD
	OpUNPCKHPD
	OpPUNPCKLBW
	OpPUNPCKLWD
	OpPUNPCKLDQ
	OpPUNPCKLQDQ
	OpPUNPCKHBW
	OpPUNPCKHWD
	OpPUNPCKHDQ
	OpPUNPCKHQDQ
	OpPACKSSWB
	OpPACKSSDW
	OpPACKUSWB
	OpPACKUSDW
	OpBLENDPS
	OpBLENDPD
	OpBLENDVPS
	OpBLENDVPD
	OpPBLENDW
	OpPBLENDVB
	OpPADDB
	OpPADDW
	OpPADDD
	OpPADDQ
	OpPSUBB
	OpPSUBW
	OpPSUBD
	OpPSUBQ
	OpPADDSB
	OpPADDSW
	OpPADDUSB
	OpPADDUSW
	OpPSUBSB
	OpPSUBSW
	OpPSUBUSB
	OpPSUBUSW
	OpPMULLW
	OpPMULLD
	OpPMULHW
	OpPMULHUW
	OpPMULUDQ
	OpPMULDQ
	OpPMADDWD
	OpPMADDUBSW
	OpPMULHRSW
	OpPAVGB
	OpPAVGW
	OpPSADBW
	OpMPSADBW
	OpPMINUB
	OpPMINSB
	OpPMINUW
	OpPMINSW
	OpPMINUD
	OpPMINSD
	OpPMAXUB
	OpPMAXSB
	OpPMAXUW
	OpPMAXSW
	OpPMAXUD
	OpPMAXSD
	OpPCMPEQB
	OpPCMPEQW
	OpPCMPEQD
	OpPCMPEQQ
	OpPCMPGTB
	OpPCMPGTW
	OpPCMPGTD
	OpPCMPGTQ
	OpPSLLW
	OpPSLLD
	OpPSLLQ
	OpPSRLW
	OpPSRLD
	OpPSRLQ
	OpPSRAW
	OpPSRAD
	OpPSLLDQ
	OpPSRLDQ
	OpPHADDW
	OpPHADDD
	OpPHADDSW
	OpPHSUBW
	OpPHSUBD
	OpPHSUBSW
	OpPSIGNB
	OpPSIGNW
	OpPSIGND
	OpPABSB
	OpPABSW
	OpPABSD
	OpPHMINPOSUW
	OpPCMPESTRI
	OpPCMPESTRM
	OpPCMPISTRI
	OpPCMPISTRM
	OpCRC32
	OpLDMXCSR
	OpSTMXCSR

	// MMX-only instructions (mmx.go); the MMX forms of the SSE integer
	// instructions share their Ops.
	OpPSHUFW
	OpMOVNTQ
	OpMASKMOVQ
	OpEMMS
	OpMOVQ2DQ
	OpMOVDQ2Q
	OpCVTPI2PS
	OpCVTPI2PD
	OpCVTPS2PI
	OpCVTTPS2PI
	OpCVTPD2PI
	OpCVTTPD2PI

	// SSE floating point: arithmetic, compares, conversions, rounding, dot
	// products (sse_float.go).
	OpADDPS
	OpADDSS
	OpADDPD
	OpADDSD
	OpSUBPS
	OpSUBSS
	OpSUBPD
	OpSUBSD
	OpMULPS
	OpMULSS
	OpMULPD
	OpMULSD
	OpDIVPS
	OpDIVSS
	OpDIVPD
	OpDIVSD
	OpMINPS
	OpMINSS
	OpMINPD
	OpMINSD
	OpMAXPS
	OpMAXSS
	OpMAXPD
	OpMAXSD
	OpSQRTPS
	OpSQRTSS
	OpSQRTPD
	OpSQRTSD
	OpRCPPS
	OpRCPSS
	OpRSQRTPS
	OpRSQRTSS
	OpADDSUBPS
	OpADDSUBPD
	OpHADDPS
	OpHADDPD
	OpHSUBPS
	OpHSUBPD
	OpCMPPS
	OpCMPSS
	OpCMPPD
	OpCMPSD_X
	OpCOMISS
	OpCOMISD
	OpUCOMISS
	OpUCOMISD
	OpCVTSI2SS
	OpCVTSI2SD
	OpCVTSS2SI
	OpCVTSD2SI
	OpCVTTSS2SI
	OpCVTTSD2SI
	OpCVTPS2PD
	OpCVTPD2PS
	OpCVTSS2SD
	OpCVTSD2SS
	OpCVTDQ2PS
	OpCVTPS2DQ
	OpCVTTPS2DQ
	OpCVTDQ2PD
	OpCVTPD2DQ
	OpCVTTPD2DQ
	OpROUNDPS
	OpROUNDPD
	OpROUNDSS
	OpROUNDSD
	OpDPPS
	OpDPPD
	// x87 FPU (x87.go, x87ctl.go, x87env.go, x87trans.go).
	OpFADD
	OpFMUL
	OpFCOM
	OpFCOMP
	OpFSUB
	OpFSUBR
	OpFDIV
	OpFDIVR
	OpFLD
	OpFST
	OpFSTP
	OpFILD
	OpFIST
	OpFISTP
	OpFISTTP
	OpFBLD
	OpFBSTP
	OpFLDENV
	OpFLDCW
	OpFNSTENV
	OpFNSTCW
	OpFRSTOR
	OpFNSAVE
	OpFNSTSW
	OpFXCH
	OpFNOP
	OpFCHS
	OpFABS
	OpFTST
	OpFXAM
	OpFLDConst
	OpF2XM1
	OpFYL2X
	OpFPTAN
	OpFPATAN
	OpFXTRACT
	OpFPREM1
	OpFDECSTP
	OpFINCSTP
	OpFPREM
	OpFYL2XP1
	OpFSQRT
	OpFSINCOS
	OpFRNDINT
	OpFSCALE
	OpFSIN
	OpFCOS
	OpFCMOV
	OpFUCOM
	OpFUCOMP
	OpFUCOMPP
	OpFCOMPP
	OpFNCLEX
	OpFNINIT
	OpFUCOMI
	OpFCOMI
	OpFFREE
	OpFWAIT
	OpFXSAVE
	OpFXRSTOR

	// Outside 64-bit mode only (legacy.go).
	OpPUSHA
	OpPOPA
	OpDAA
	OpDAS
	OpAAA
	OpAAS
	OpAAM
	OpAAD
	OpSALC
	OpINTO
	OpBOUND
	OpARPL
	OpLES
	OpLDS

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
	OpPUSHA: "pusha", OpPOPA: "popa", OpDAA: "daa", OpDAS: "das", OpAAA: "aaa", OpAAS: "aas", OpAAM: "aam",
	OpAAD: "aad", OpSALC: "salc", OpINTO: "into", OpBOUND: "bound", OpARPL: "arpl", OpLES: "les", OpLDS: "lds",
	OpMOVS: "movs", OpCMPS: "cmps", OpSTOS: "stos", OpLODS: "lods", OpSCAS: "scas", OpINS: "ins", OpOUTS: "outs",
	OpCLC: "clc", OpSTC: "stc", OpCMC: "cmc", OpCLD: "cld", OpSTD: "std", OpCLI: "cli", OpSTI: "sti",
	OpLAHF: "lahf", OpSAHF: "sahf",
	OpNOP: "nop", OpPAUSE: "pause", OpHLT: "hlt", OpCPUID: "cpuid", OpRDTSC: "rdtsc", OpRDTSCP: "rdtscp",
	OpRDRAND: "rdrand", OpRDSEED: "rdseed", OpIN: "in", OpOUT: "out", OpUD2: "ud2", OpFENCE: "fence",
	OpLGDT: "lgdt", OpLIDT: "lidt", OpSGDT: "sgdt", OpSIDT: "sidt", OpLTR: "ltr", OpSTR: "str",
	OpLLDT: "lldt", OpSLDT: "sldt", OpVERR: "verr", OpVERW: "verw", OpLMSW: "lmsw", OpSMSW: "smsw", OpINVLPG: "invlpg", OpCLTS: "clts",
	OpWBINVD: "wbinvd", OpMOVToCR: "mov", OpMOVFromCR: "mov", OpMOVToDR: "mov", OpMOVFromDR: "mov",
	OpRDMSR: "rdmsr", OpWRMSR: "wrmsr", OpSWAPGS: "swapgs", OpSYSCALL: "syscall", OpSYSENTER: "sysenter", OpSYSEXIT: "sysexit", OpSYSRET: "sysret",
	OpINT: "int", OpINT3: "int3", OpINT1: "int1", OpIRET: "iret",
	OpANDN: "andn", OpBEXTR: "bextr", OpBLSR: "blsr", OpBLSMSK: "blsmsk", OpBLSI: "blsi",
	OpMOVUPS: "movups", OpMOVUPD: "movupd", OpMOVAPS: "movaps", OpMOVAPD: "movapd", OpMOVSS: "movss",
	OpMOVSD_X: "movsd", OpMOVLPS: "movlps", OpMOVHLPS: "movhlps", OpMOVLPD: "movlpd", OpMOVHPS: "movhps",
	OpMOVLHPS: "movlhps", OpMOVHPD: "movhpd", OpMOVSLDUP: "movsldup", OpMOVSHDUP: "movshdup",
	OpMOVDDUP: "movddup", OpMOVNTPS: "movntps", OpMOVNTPD: "movntpd", OpMOVNTDQ: "movntdq",
	OpMOVNTDQA: "movntdqa", OpMOVMSKPS: "movmskps", OpMOVMSKPD: "movmskpd", OpPMOVMSKB: "pmovmskb",
	OpMASKMOVDQU: "maskmovdqu", OpMOVD: "movd", OpMOVQ: "movq", OpMOVDQA: "movdqa", OpMOVDQU: "movdqu",
	OpLDDQU: "lddqu", OpPEXTRB: "pextrb", OpPEXTRW: "pextrw", OpPEXTRD: "pextrd", OpPINSRB: "pinsrb",
	OpPINSRW: "pinsrw", OpPINSRD: "pinsrd", OpEXTRACTPS: "extractps", OpINSERTPS: "insertps",
	OpPMOVSXBW: "pmovsxbw", OpPMOVSXBD: "pmovsxbd", OpPMOVSXBQ: "pmovsxbq", OpPMOVSXWD: "pmovsxwd",
	OpPMOVSXWQ: "pmovsxwq", OpPMOVSXDQ: "pmovsxdq", OpPMOVZXBW: "pmovzxbw", OpPMOVZXBD: "pmovzxbd",
	OpPMOVZXBQ: "pmovzxbq", OpPMOVZXWD: "pmovzxwd", OpPMOVZXWQ: "pmovzxwq", OpPMOVZXDQ: "pmovzxdq",
	OpANDPS: "andps", OpANDPD: "andpd", OpANDNPS: "andnps", OpANDNPD: "andnpd", OpORPS: "orps", OpORPD: "orpd",
	OpXORPS: "xorps", OpXORPD: "xorpd", OpPAND: "pand", OpPANDN: "pandn", OpPOR: "por", OpPXOR: "pxor",
	OpPTEST: "ptest", OpSHUFPS: "shufps", OpSHUFPD: "shufpd", OpPSHUFD: "pshufd", OpPSHUFHW: "pshufhw",
	OpPSHUFLW: "pshuflw", OpPSHUFB: "pshufb", OpPALIGNR: "palignr", OpUNPCKLPS: "unpcklps",
	OpUNPCKHPS: "unpckhps", OpUNPCKLPD: "unpcklpd", OpUNPCKHPD: "unpckhpd", OpPUNPCKLBW: "punpcklbw",
	OpPUNPCKLWD: "punpcklwd", OpPUNPCKLDQ: "punpckldq", OpPUNPCKLQDQ: "punpcklqdq", OpPUNPCKHBW: "punpckhbw",
	OpPUNPCKHWD: "punpckhwd", OpPUNPCKHDQ: "punpckhdq", OpPUNPCKHQDQ: "punpckhqdq", OpPACKSSWB: "packsswb",
	OpPACKSSDW: "packssdw", OpPACKUSWB: "packuswb", OpPACKUSDW: "packusdw", OpBLENDPS: "blendps",
	OpBLENDPD: "blendpd", OpBLENDVPS: "blendvps", OpBLENDVPD: "blendvpd", OpPBLENDW: "pblendw",
	OpPBLENDVB: "pblendvb", OpPADDB: "paddb", OpPADDW: "paddw", OpPADDD: "paddd", OpPADDQ: "paddq",
	OpPSUBB: "psubb", OpPSUBW: "psubw", OpPSUBD: "psubd", OpPSUBQ: "psubq", OpPADDSB: "paddsb",
	OpPADDSW: "paddsw", OpPADDUSB: "paddusb", OpPADDUSW: "paddusw", OpPSUBSB: "psubsb", OpPSUBSW: "psubsw",
	OpPSUBUSB: "psubusb", OpPSUBUSW: "psubusw", OpPMULLW: "pmullw", OpPMULLD: "pmulld", OpPMULHW: "pmulhw",
	OpPMULHUW: "pmulhuw", OpPMULUDQ: "pmuludq", OpPMULDQ: "pmuldq", OpPMADDWD: "pmaddwd",
	OpPMADDUBSW: "pmaddubsw", OpPMULHRSW: "pmulhrsw", OpPAVGB: "pavgb", OpPAVGW: "pavgw", OpPSADBW: "psadbw",
	OpMPSADBW: "mpsadbw", OpPMINUB: "pminub", OpPMINSB: "pminsb", OpPMINUW: "pminuw", OpPMINSW: "pminsw",
	OpPMINUD: "pminud", OpPMINSD: "pminsd", OpPMAXUB: "pmaxub", OpPMAXSB: "pmaxsb", OpPMAXUW: "pmaxuw",
	OpPMAXSW: "pmaxsw", OpPMAXUD: "pmaxud", OpPMAXSD: "pmaxsd", OpPCMPEQB: "pcmpeqb", OpPCMPEQW: "pcmpeqw",
	OpPCMPEQD: "pcmpeqd", OpPCMPEQQ: "pcmpeqq", OpPCMPGTB: "pcmpgtb", OpPCMPGTW: "pcmpgtw",
	OpPCMPGTD: "pcmpgtd", OpPCMPGTQ: "pcmpgtq", OpPSLLW: "psllw", OpPSLLD: "pslld", OpPSLLQ: "psllq",
	OpPSRLW: "psrlw", OpPSRLD: "psrld", OpPSRLQ: "psrlq", OpPSRAW: "psraw", OpPSRAD: "psrad",
	OpPSLLDQ: "pslldq", OpPSRLDQ: "psrldq", OpPHADDW: "phaddw", OpPHADDD: "phaddd", OpPHADDSW: "phaddsw",
	OpPHSUBW: "phsubw", OpPHSUBD: "phsubd", OpPHSUBSW: "phsubsw", OpPSIGNB: "psignb", OpPSIGNW: "psignw",
	OpPSIGND: "psignd", OpPABSB: "pabsb", OpPABSW: "pabsw", OpPABSD: "pabsd", OpPHMINPOSUW: "phminposuw",
	OpPCMPESTRI: "pcmpestri", OpPCMPESTRM: "pcmpestrm", OpPCMPISTRI: "pcmpistri", OpPCMPISTRM: "pcmpistrm",
	OpCRC32: "crc32", OpLDMXCSR: "ldmxcsr", OpSTMXCSR: "stmxcsr",
	OpPSHUFW: "pshufw", OpMOVNTQ: "movntq", OpMASKMOVQ: "maskmovq", OpEMMS: "emms", OpMOVQ2DQ: "movq2dq",
	OpMOVDQ2Q: "movdq2q", OpCVTPI2PS: "cvtpi2ps", OpCVTPI2PD: "cvtpi2pd", OpCVTPS2PI: "cvtps2pi",
	OpCVTTPS2PI: "cvttps2pi", OpCVTPD2PI: "cvtpd2pi", OpCVTTPD2PI: "cvttpd2pi",
	OpADDPS: "addps", OpADDSS: "addss", OpADDPD: "addpd", OpADDSD: "addsd", OpSUBPS: "subps", OpSUBSS: "subss",
	OpSUBPD: "subpd", OpSUBSD: "subsd", OpMULPS: "mulps", OpMULSS: "mulss", OpMULPD: "mulpd", OpMULSD: "mulsd",
	OpDIVPS: "divps", OpDIVSS: "divss", OpDIVPD: "divpd", OpDIVSD: "divsd", OpMINPS: "minps", OpMINSS: "minss",
	OpMINPD: "minpd", OpMINSD: "minsd", OpMAXPS: "maxps", OpMAXSS: "maxss", OpMAXPD: "maxpd", OpMAXSD: "maxsd",
	OpSQRTPS: "sqrtps", OpSQRTSS: "sqrtss", OpSQRTPD: "sqrtpd", OpSQRTSD: "sqrtsd", OpRCPPS: "rcpps",
	OpRCPSS: "rcpss", OpRSQRTPS: "rsqrtps", OpRSQRTSS: "rsqrtss", OpADDSUBPS: "addsubps",
	OpADDSUBPD: "addsubpd", OpHADDPS: "haddps", OpHADDPD: "haddpd", OpHSUBPS: "hsubps", OpHSUBPD: "hsubpd",
	OpCMPPS: "cmpps", OpCMPSS: "cmpss", OpCMPPD: "cmppd", OpCMPSD_X: "cmpsd", OpCOMISS: "comiss",
	OpCOMISD: "comisd", OpUCOMISS: "ucomiss", OpUCOMISD: "ucomisd", OpCVTSI2SS: "cvtsi2ss",
	OpCVTSI2SD: "cvtsi2sd", OpCVTSS2SI: "cvtss2si", OpCVTSD2SI: "cvtsd2si", OpCVTTSS2SI: "cvttss2si",
	OpCVTTSD2SI: "cvttsd2si", OpCVTPS2PD: "cvtps2pd", OpCVTPD2PS: "cvtpd2ps", OpCVTSS2SD: "cvtss2sd",
	OpCVTSD2SS: "cvtsd2ss", OpCVTDQ2PS: "cvtdq2ps", OpCVTPS2DQ: "cvtps2dq", OpCVTTPS2DQ: "cvttps2dq",
	OpCVTDQ2PD: "cvtdq2pd", OpCVTPD2DQ: "cvtpd2dq", OpCVTTPD2DQ: "cvttpd2dq", OpROUNDPS: "roundps",
	OpROUNDPD: "roundpd", OpROUNDSS: "roundss", OpROUNDSD: "roundsd", OpDPPS: "dpps", OpDPPD: "dppd",
	OpFADD: "fadd", OpFMUL: "fmul", OpFCOM: "fcom", OpFCOMP: "fcomp", OpFSUB: "fsub", OpFSUBR: "fsubr", OpFDIV: "fdiv", OpFDIVR: "fdivr", OpFLD: "fld", OpFST: "fst", OpFSTP: "fstp", OpFILD: "fild", OpFIST: "fist", OpFISTP: "fistp", OpFISTTP: "fisttp", OpFBLD: "fbld", OpFBSTP: "fbstp", OpFLDENV: "fldenv", OpFLDCW: "fldcw", OpFNSTENV: "fnstenv", OpFNSTCW: "fnstcw", OpFRSTOR: "frstor", OpFNSAVE: "fnsave", OpFNSTSW: "fnstsw", OpFXCH: "fxch", OpFNOP: "fnop", OpFCHS: "fchs", OpFABS: "fabs", OpFTST: "ftst", OpFXAM: "fxam", OpFLDConst: "fldconst", OpF2XM1: "f2xm1", OpFYL2X: "fyl2x", OpFPTAN: "fptan", OpFPATAN: "fpatan", OpFXTRACT: "fxtract", OpFPREM1: "fprem1", OpFDECSTP: "fdecstp", OpFINCSTP: "fincstp", OpFPREM: "fprem", OpFYL2XP1: "fyl2xp1", OpFSQRT: "fsqrt", OpFSINCOS: "fsincos", OpFRNDINT: "frndint", OpFSCALE: "fscale", OpFSIN: "fsin", OpFCOS: "fcos", OpFCMOV: "fcmovcc", OpFUCOM: "fucom", OpFUCOMP: "fucomp", OpFUCOMPP: "fucompp", OpFCOMPP: "fcompp", OpFNCLEX: "fnclex", OpFNINIT: "fninit", OpFUCOMI: "fucomi", OpFCOMI: "fcomi", OpFFREE: "ffree", OpFWAIT: "fwait", OpFXSAVE: "fxsave", OpFXRSTOR: "fxrstor",
}

// String returns the operation's mnemonic.
func (o Op) String() string {
	if o < numOps && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}
