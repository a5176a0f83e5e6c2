package cpu

// handler executes one decoded instruction.
type handler func(c *CPU, in *Inst)

// Inst is a decoded instruction. The decoder fills every field but fn; the
// binder of the instruction's family then picks fn, a handler specialized for
// the operand form where that pays.
type Inst struct {
	fn handler

	// disp is the memory operand's displacement; for RIP-relative
	// addressing it is the absolute address (base and index are regZero).
	disp uint64
	// imm is the immediate operand, sign- or zero-extended as the opcode
	// defines; for relative branches it is the absolute target.
	imm uint64
	// rip is the instruction's linear address; next is the address after it.
	rip, next uint64

	op     Op
	opcode uint16 // map<<8 | opcode byte (map 0: one byte, 1: 0F, 2: 0F38, 3: 0F3A)
	len    uint8
	osz    uint8 // operand size in bytes: 1, 2, 4 or 8
	asz    uint8 // address size in bytes: 4 or 8
	form   form

	modrm bool  // the instruction has a ModRM byte
	mod   uint8 // ModRM.mod; 3 means the E operand is a register
	reg   uint8 // ModRM.reg extended by REX.R, or the +r register of the opcode
	rm    uint8 // ModRM.rm extended by REX.B (the register when mod == 3)
	base  uint8 // base register slot of the memory operand (regZero if none)
	index uint8 // index register slot (regZero if none)
	scale uint8 // index shift count, 0-3
	seg   uint8 // effective segment of the memory operand
	imm2  uint8 // second immediate (ENTER's nesting level)
	vreg  uint8 // VEX.vvvv register

	prefix prefixes
	cc     uint8 // condition code for Jcc/SETcc/CMOVcc
	kind   uint8 // how runBlocks dispatches it: a kind whose handler is fn, or kindCall
}

// prefixes is the set of prefixes an instruction carried.
type prefixes uint16

const (
	pfxLock   prefixes = 1 << iota
	pfxRep             // F3
	pfxRepne           // F2
	pfxOpsize          // 66
	pfxAddr            // 67
	pfxRex             // any REX prefix
	pfxRexW
	pfxSegOverride
)

// form is the operand encoding of an opcode, as in the operand columns of the
// SDM's opcode map (E = ModRM r/m, G = ModRM reg, I = immediate).
type form uint8

const (
	formNone     form = iota
	formEG            // E, G
	formGE            // G, E
	formEI            // E, immediate of the operand size (at most 32 bits, sign-extended)
	formEIb           // E, imm8 sign-extended
	formE             // E only (ModRM.reg selects the operation or is unused)
	formGEI           // G, E, immediate of the operand size (IMUL 69)
	formGEIb          // G, E, imm8 sign-extended (IMUL 6B)
	formEGIb          // E, G, imm8 (SHLD/SHRD)
	formEGCL          // E, G, CL (SHLD/SHRD)
	formAI            // rAX, immediate of the operand size
	formReg           // register in the opcode's low three bits
	formRegI          // register in the opcode, full-size immediate (MOV r, imm64)
	formJb            // rel8
	formJz            // rel32
	formIb            // imm8
	formIw            // imm16
	formIz            // immediate of the operand size, at most 32 bits
	formIwIb          // imm16, imm8 (ENTER)
	formMoffs         // absolute memory offset of the address size (MOV A0-A3)
	formCR            // MOV to/from control register: ModRM always names registers
	formEIbCount      // E, imm8 zero-extended (shift count, BT offset)
	formPtr           // ptr16:16 or ptr16:32 (far JMP and CALL outside 64-bit mode): offset in imm, selector in disp
	// SSE forms: V is the ModRM.reg operand, W the ModRM r/m operand (an XMM
	// register or memory, or a general register where the instruction says
	// so). The operand size is 8 with REX.W, else 4: a mandatory 66 prefix
	// does not make it 16 bits.
	formVW   // V, W: W is the source (loads and two-operand arithmetic)
	formWV   // W, V: W is the destination (stores)
	formVWIb // V, W, imm8 zero-extended (PEXTR*, EXTRACTPS and the shift groups write W)
	// MMX forms, the same with P (ModRM.reg) an MMX register and Q (ModRM
	// r/m) an MMX register or memory; REX.R and REX.B do not extend them.
	formPQ
	formQP
	formPQIb
)

// isSSEForm reports whether f is one of the SSE or MMX operand forms.
func (f form) isSSEForm() bool { return f >= formVW && f <= formPQIb }

// isMMXForm reports whether f is one of the MMX operand forms.
func (f form) isMMXForm() bool { return f >= formPQ && f <= formPQIb }

// isReg reports whether the E operand is a register.
func (in *Inst) isReg() bool { return in.mod == 3 }

// Length returns the instruction's length in bytes.
func (in *Inst) Length() int { return int(in.len) }

// Op returns the decoded operation.
func (in *Inst) Op() Op { return in.op }
