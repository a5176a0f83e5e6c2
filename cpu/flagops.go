package cpu

// Flag instructions: CLC STC CMC CLD STD LAHF SAHF. (CLI and STI belong with
// the system instructions.)
//
// LAHF and SAHF are valid in 64-bit mode: the fixed CPUID advertises
// LAHF-SAHF (leaf 0x80000001 ECX bit 0).

func init() {
	bindFixed(map[Op]handler{
		OpCLC: execCLC, OpSTC: execSTC, OpCMC: execCMC, OpCLD: execCLD, OpSTD: execSTD,
		OpLAHF: execLAHF, OpSAHF: execSAHF,
	})
}

func execCLC(c *CPU, in *Inst) { c.setStatus(FlagCF, 0) }

func execSTC(c *CPU, in *Inst) { c.setStatus(FlagCF, FlagCF) }

func execCMC(c *CPU, in *Inst) { c.setStatus(FlagCF, c.carry()^1) }

// DF is not a status flag: rflags always holds it.
func execCLD(c *CPU, in *Inst) { c.rflags &^= FlagDF }

func execSTD(c *CPU, in *Inst) { c.rflags |= FlagDF }

// execLAHF loads AH with SF:ZF:0:AF:0:PF:1:CF.
func execLAHF(c *CPU, in *Inst) {
	f := c.flags() & (FlagSF | FlagZF | FlagAF | FlagPF | FlagCF)
	c.R[RAX] = c.R[RAX]&^0xFF00 | (f|flagsFixed)<<8
}

// execSAHF stores AH into SF, ZF, AF, PF and CF.
func execSAHF(c *CPU, in *Inst) {
	c.setStatus(FlagSF|FlagZF|FlagAF|FlagPF|FlagCF, c.R[RAX]>>8)
}
