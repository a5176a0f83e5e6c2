// Package cpu is the x86-64 interpreter: a table-driven decoder, a cache of
// decoded instruction blocks, and handlers grouped by instruction family.
//
// The CPU is a deterministic function of its state, of memory and of the
// inputs it takes through Env: that is what makes record and replay exact.
package cpu

import (
	"ftvm/mmu"
)

// General register numbers in the order of the x86 encoding.
const (
	RAX = iota
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
	// regZero is a register slot that always reads as zero, used as the base
	// or index of an address that has none.
	regZero
	numRegSlots
)

// Segment register numbers in the order of the x86 encoding.
const (
	ES = iota
	CS
	SS
	DS
	FS
	GS
)

// RFLAGS bits.
const (
	FlagCF   = 1 << 0
	FlagPF   = 1 << 2
	FlagAF   = 1 << 4
	FlagZF   = 1 << 6
	FlagSF   = 1 << 7
	FlagTF   = 1 << 8
	FlagIF   = 1 << 9
	FlagDF   = 1 << 10
	FlagOF   = 1 << 11
	FlagIOPL = 3 << 12
	FlagNT   = 1 << 14
	FlagRF   = 1 << 16
	FlagVM   = 1 << 17
	FlagAC   = 1 << 18
	FlagVIF  = 1 << 19
	FlagVIP  = 1 << 20
	FlagID   = 1 << 21

	// FlagsArith are the six status flags the lazy-flag machinery computes.
	FlagsArith = FlagCF | FlagPF | FlagAF | FlagZF | FlagSF | FlagOF
	// flagsWritable are the bits POPF/IRET may change at CPL 0.
	flagsWritable = FlagsArith | FlagTF | FlagIF | FlagDF | FlagIOPL | FlagNT | FlagRF | FlagAC | FlagID
	flagsFixed    = 1 << 1
)

// Control register bits.
const (
	CR0PE = 1 << 0
	CR0MP = 1 << 1
	CR0EM = 1 << 2
	CR0TS = 1 << 3
	CR0ET = 1 << 4
	CR0NE = 1 << 5
	CR0WP = 1 << 16
	CR0AM = 1 << 18
	CR0NW = 1 << 29
	CR0CD = 1 << 30
	CR0PG = 1 << 31

	CR4VME        = 1 << 0
	CR4PVI        = 1 << 1
	CR4TSD        = 1 << 2
	CR4DE         = 1 << 3
	CR4PSE        = 1 << 4
	CR4PAE        = 1 << 5
	CR4MCE        = 1 << 6
	CR4PGE        = 1 << 7
	CR4PCE        = 1 << 8
	CR4OSFXSR     = 1 << 9
	CR4OSXMMEXCPT = 1 << 10

	EFERSCE = 1 << 0
	EFERLME = 1 << 8
	EFERLMA = 1 << 10
	EFERNXE = 1 << 11
)

// Segment is a segment register: the visible selector and the hidden
// descriptor cache.
type Segment struct {
	Selector uint16
	Base     uint64
	Limit    uint32
	// Attr holds descriptor bits 40-47 (type, S, DPL, P) in its low byte and
	// bits 52-55 (AVL, L, D/B, G) in bits 12-15, as VMX and KVM lay them out.
	Attr uint16
}

// Segment attribute bits (see Segment.Attr).
const (
	SegAttrL = 1 << 13 // 64-bit code segment
	SegAttrD = 1 << 14 // default operand size 32 (code) or big (stack)
	SegAttrP = 1 << 7  // present
)

// CodeSize is the default operand and address size of the code segment,
// which decoding depends on.
type CodeSize uint8

// Code sizes.
const (
	Code64 CodeSize = iota // 64-bit mode
	Code32                 // a 32-bit code segment (protected or compatibility mode)
	Code16                 // a 16-bit code segment
)

// DTR is a descriptor-table register (GDTR or IDTR).
type DTR struct {
	Base  uint64
	Limit uint16
}

// Env supplies the inputs the CPU takes from outside the guest. The lockstep
// layer implements it as a recorder or a replayer; the CPU never reads the
// host directly.
type Env interface {
	// TSC returns the time-stamp counter at the given position.
	TSC(pos uint64) uint64
	// Random returns a value for RDRAND or RDSEED, and whether one was
	// available (CF is set from it).
	Random(pos uint64, seed bool) (uint64, bool)
}

// Stop reasons reported by Run.
type StopReason int

// Why Run returned.
const (
	StopNone      StopReason = iota
	StopBudget               // the instruction budget was used up
	StopHalt                 // HLT with interrupts disabled (or nothing to wake it)
	StopRequested            // something called RequestStop (a device, an exit)
	StopTripleFault
	StopHaltIdle // HLT with interrupts enabled: waiting for an interrupt
	// StopDevice: the last instruction read or wrote a device, which may
	// have changed its timers or interrupt lines; the board looks at them
	// before the guest goes on, so that this happens at the same position
	// however the run was split into budgets.
	StopDevice
)

// SystemRegs are the segment, descriptor-table, control and model-specific
// registers.
type SystemRegs struct {
	Seg         [6]Segment
	LDTR, TR    Segment
	GDTR, IDTR  DTR
	CR0, CR2    uint64
	CR3, CR4    uint64
	CR8         uint64
	EFER        uint64
	STAR, LSTAR uint64
	CSTAR       uint64
	FMASK       uint64
	KernelGS    uint64
	TSCAux      uint64
	APICBase    uint64
	MiscEnable  uint64
	PAT         uint64
	SysenterCS  uint64
	SysenterESP uint64
	SysenterEIP uint64
	MTRRDefType uint64
	// DR0-DR3, DR6 and DR7 as the guest wrote them (no breakpoints fire).
	DR       [4]uint64
	DR6, DR7 uint64
}

// CPU is one x86-64 processor.
type CPU struct {
	// R holds the 16 general registers and the zero slot (regZero); the
	// slots after it are never used. It has 256 slots so that indexing it
	// by a uint8 register number (Inst.rm, reg, base, index) needs no
	// bounds check.
	R   [256]uint64
	RIP uint64

	// rflags holds RFLAGS; its arithmetic bits are stale while lazy.op is
	// not flagsNone.
	rflags uint64
	lazy   lazyFlags

	SystemRegs
	tscOffset uint64 // added to Env.TSC, set by WRMSR to the TSC

	// FPU is the x87, SSE and MXCSR state.
	FPU FPUState
	// srcXMM holds the memory operand of the instruction running in
	// xmmLanes; it means nothing between instructions.
	srcXMM XMM

	// CPL is the current privilege level.
	CPL uint8

	mem *mmu.Memory
	ram []byte
	env Env

	paging mmu.Paging
	mmu    tlb
	code   blockCache

	// segBase64 is the base added to offsets to form linear addresses, by
	// segment: in 64-bit mode zero except FS and GS; outside it every
	// segment's base. Its length is a power of two so that indexing it by
	// a segment number masked to 3 bits needs no bounds check.
	segBase64 [8]uint64
	// csize is the code size decoding follows (from CS and EFER.LMA);
	// csTag marks the block-table tags of blocks decoded for it.
	csize CodeSize
	csTag uint64
	// stackMask selects the stack pointer's bits the stack instructions
	// use: all of RSP in 64-bit mode, else ESP or SP by SS's B bit.
	stackMask uint64
	// segSlow has bit s set outside 64-bit mode when segment register s is
	// not a flat writable data segment (base 0, 4 GiB limit, expand-up,
	// usable, writable): accesses through it are checked (see linear).
	// updateMode sets it, segMark, segLo and segHi.
	segSlow uint8
	// segMark holds the rights markers (markNoWrite, markNoRead) of each
	// segment register outside 64-bit mode.
	segMark [6]uint64
	// segLo and segHi are the lowest and highest offset each segment
	// register allows outside 64-bit mode (see segBounds).
	segLo, segHi [6]uint64

	// Execution state of the current block.
	blk *block
	at  uintptr // the address of the instruction being executed in blk.insts (see instIndex)
	brk bool    // the current instruction changed control flow or state that ends the block
	// attn asks the run loop to look at stop requests, HLT, interrupts and
	// tracing before the next block; endBlock, privilege changes and stop
	// requests set it.
	attn bool

	// dispatchByCall makes the decoder leave every instruction kindCall,
	// so that runBlocks calls each handler through Inst.fn; tests set it
	// to compare the two ways of dispatching.
	dispatchByCall bool

	// recent holds the addresses of the last blocks entered, for
	// divergence and crash reports.
	recent  [16]uint64
	nrecent uint

	// Retired counts instructions retired since reset: the position.
	Retired uint64
	// UD counts what the interpreter does not implement and refused: #UD
	// for opcodes, #GP for task switches.
	UD uint64
	// Unimplemented counts UD by key, for diagnostics: the first opcode
	// bytes of an opcode, unimplTaskSwitch|type of a task switch.
	Unimplemented map[uint32]uint64

	stop      StopReason
	halted    bool
	intShadow bool

	// intr is the external interrupt source, consulted when IF=1.
	intr InterruptSource
	// msrDev owns the MSRs the CPU does not.
	msrDev MSRDevice

	// end is the position at which the current Run stops.
	end uint64
	// fault is the exception being raised (the panic value points at it, so
	// raising one does not allocate).
	fault  guestFault
	triple TripleFault

	// StopOnDevice makes Run return StopDevice after any instruction that
	// read or wrote a device (port I/O, MMIO). The board sets it so timers
	// a device access reprograms take effect at an exact position.
	StopOnDevice bool

	// Trace, when set, is called before each instruction executes. It slows
	// execution: blocks are one instruction long while it is set. A Trace
	// that calls RequestStop ends the run before that instruction.
	Trace func(c *CPU, rip uint64)
}

// MSRDevice is a device that owns model-specific registers the CPU itself
// does not (the local APIC's TSC-deadline register, say).
type MSRDevice interface {
	// ReadMSR returns MSR n, or ok=false if the device has no such MSR.
	ReadMSR(n uint32) (v uint64, ok bool)
	// WriteMSR writes MSR n and reports whether the write was valid.
	WriteMSR(n uint32, v uint64) bool
}

// SetMSRDevice attaches the device consulted for MSRs the CPU does not own.
func (c *CPU) SetMSRDevice(d MSRDevice) { c.msrDev = d }

// Position returns the current position: instructions retired since boot,
// including those of the block being executed.
func (c *CPU) Position() uint64 { return c.position() }

// InterruptSource is the interrupt controller as the CPU sees it.
type InterruptSource interface {
	// Pending reports whether a maskable interrupt is waiting.
	Pending() bool
	// Acknowledge returns the vector of the highest-priority pending
	// interrupt and marks it in service.
	Acknowledge() uint8
}

// New returns a CPU attached to mem, in the state after reset except that it
// is placed in 64-bit long mode by the loader (see machine).
func New(mem *mmu.Memory, env Env) *CPU {
	c := &CPU{mem: mem, ram: mem.RAM, env: env, Unimplemented: map[uint32]uint64{}}
	c.rflags = flagsFixed
	c.lazy.op = flagsNone
	c.CR0 = CR0ET | CR0NW | CR0CD
	c.APICBase = 0xFEE00000 | 1<<11 | 1<<8
	c.PAT = 0x0007040600070406
	c.FPU.reset()
	c.code.init()
	mem.SetCodeWriteHook(c.codeWritten)
	mem.SetDirtyFlushHook(c.mmu.flushWrites)
	c.mmu.flush()
	return c
}

// Memory returns the physical memory the CPU is attached to.
func (c *CPU) Memory() *mmu.Memory { return c.mem }

// SetInterruptSource attaches the interrupt controller.
func (c *CPU) SetInterruptSource(s InterruptSource) { c.intr = s }

// InterruptSource returns the attached interrupt controller (nil if none).
func (c *CPU) InterruptSource() InterruptSource { return c.intr }

// RequestStop makes Run return with StopRequested at the next instruction
// boundary. Devices call it (through the machine) for exits and resets.
func (c *CPU) RequestStop() {
	c.stop = StopRequested
	c.brk = true
	c.attn = true
}

// RFLAGS returns the full RFLAGS register.
func (c *CPU) RFLAGS() uint64 { return c.flags() }

// SetRFLAGS sets RFLAGS (reserved bits are forced to their fixed values).
func (c *CPU) SetRFLAGS(v uint64) {
	c.lazy.op = flagsNone
	c.rflags = v&flagsWritable | flagsFixed
}

// Halted reports whether the CPU is stopped in HLT.
func (c *CPU) Halted() bool { return c.halted }

// StateChanged must be called after registers that affect translation or
// decoding (CR0, CR3, CR4, EFER, CS, FS/GS bases, CPL) were changed from
// outside the CPU, such as by a loader or a snapshot restore.
func (c *CPU) StateChanged() {
	c.updateMode()
	c.mmu.flush()
	c.code.newGeneration()
}

// updateMode recomputes the cached paging configuration and segment bases.
func (c *CPU) updateMode() {
	c.paging.CR3 = c.CR3
	c.paging.WP = c.CR0&CR0WP != 0
	c.paging.NXE = c.EFER&EFERNXE != 0
	c.paging.PGE = c.CR4&CR4PGE != 0
	c.paging.PSE = c.CR4&CR4PSE != 0
	switch {
	case c.CR0&CR0PG == 0:
		c.paging.Mode = mmu.ModeNone
	case c.EFER&EFERLMA != 0:
		c.paging.Mode = mmu.ModeLong4
	case c.CR4&CR4PAE != 0:
		c.paging.Mode = mmu.ModePAE
	default:
		c.paging.Mode = mmu.Mode32
	}
	switch {
	case c.longMode64():
		c.csize, c.csTag = Code64, 0
	case c.Seg[CS].Attr&SegAttrD != 0:
		c.csize, c.csTag = Code32, csTag32
	default:
		c.csize, c.csTag = Code16, csTag16
	}
	c.segSlow = 0
	if c.csize == Code64 {
		c.segBase64 = [8]uint64{FS: c.Seg[FS].Base, GS: c.Seg[GS].Base}
		c.stackMask = ^uint64(0)
	} else {
		for i := range c.Seg {
			c.segBase64[i] = c.Seg[i].Base & 0xFFFFFFFF
		}
		c.stackMask = stackMaskOf(&c.Seg[SS])
		for s := range c.Seg {
			d := &c.Seg[s]
			c.segMark[s] = segRights(d.Attr)
			c.segLo[s], c.segHi[s] = segBounds(d)
			if c.segMark[s] != 0 || d.Base != 0 || c.segLo[s] != 0 || c.segHi[s] != 0xFFFFFFFF {
				c.segSlow |= 1 << s
			}
		}
	}
	c.CPL = uint8(c.Seg[CS].Selector & 3)
	if c.CPL == 3 {
		c.mmu.setUser(1)
	} else {
		c.mmu.setUser(0)
	}
}

// Block-table tag bits of blocks decoded outside 64-bit mode: a tag is
// rip<<1 | CPL class, and no canonical rip gives bit 63 clear with bit 62
// set.
const (
	csTag32 = 1 << 62
	csTag16 = 3 << 61
)

// longMode64 reports whether the CPU executes 64-bit code.
func (c *CPU) longMode64() bool {
	return c.EFER&EFERLMA != 0 && c.Seg[CS].Attr&SegAttrL != 0
}
