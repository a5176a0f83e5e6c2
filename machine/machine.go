package machine

import (
	"fmt"
	"io"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/mmu"
)

// DefaultRAM is the guest RAM size when none is given (ARCHITECTURE.md §3).
const DefaultRAM = 64 << 20

// Config describes a board to build.
type Config struct {
	// RAM is the guest RAM size in bytes (DefaultRAM when zero).
	RAM uint64
	// Console receives the bytes the guest transmits on COM1 (nil discards).
	Console io.Writer
	// Env supplies the CPU's outside inputs (time-stamp counter, random
	// numbers); nil selects the virtual clock.
	Env cpu.Env
}

// ExitReason says why a run ended.
type ExitReason int

// Why Run returned.
const (
	ExitDebug       ExitReason = iota // the guest wrote to isa-debug-exit
	ExitReset                         // keyboard-controller reset
	ExitHalt                          // HLT with interrupts disabled
	ExitIdle                          // HLT with interrupts enabled and nothing that could wake it
	ExitInsnLimit                     // the instruction limit was reached
	ExitTripleFault                   // an exception could not be delivered
)

var exitNames = [...]string{"debug-exit", "reset", "halt", "idle halt", "instruction limit", "triple fault"}

func (r ExitReason) String() string {
	if int(r) < len(exitNames) {
		return exitNames[r]
	}
	return fmt.Sprintf("exit(%d)", int(r))
}

// Exit is the outcome of a run.
type Exit struct {
	Reason ExitReason
	// Value is the value written to isa-debug-exit (ExitDebug only).
	Value uint32
}

// Status returns the process exit status the CLI contract assigns to the
// outcome (ARCHITECTURE.md §5).
func (e Exit) Status() int {
	switch e.Reason {
	case ExitDebug:
		return int(e.Value<<1|1) & 0xFF
	case ExitInsnLimit:
		return 124
	case ExitTripleFault:
		return 126
	}
	return 0
}

// Machine is the board: RAM, the device map and one CPU.
type Machine struct {
	CPU  *cpu.CPU
	Mem  *mmu.Memory
	UART *devices.UART

	exit    Exit
	exiting bool
}

// New builds a board with the fixed device map of ARCHITECTURE.md §4.
func New(cfg Config) (*Machine, error) {
	size := cfg.RAM
	if size == 0 {
		size = DefaultRAM
	}
	if size < BootTablesEnd+ImageMinAddr {
		return nil, fmt.Errorf("RAM size %d is too small (at least 2 MiB)", size)
	}
	mem, err := mmu.NewMemory(size)
	if err != nil {
		return nil, err
	}
	env := cfg.Env
	if env == nil {
		env = NewVirtualClock(0)
	}
	m := &Machine{Mem: mem}
	m.CPU = cpu.New(mem, env)
	m.UART = devices.NewUART(cfg.Console, nil)
	debugExit := devices.NewDebugExit(func(v uint32) { m.stop(Exit{Reason: ExitDebug, Value: v}) })
	kbd := devices.NewI8042(func() { m.stop(Exit{Reason: ExitReset}) })
	for _, p := range []struct {
		first, last uint16
		dev         mmu.PortDevice
	}{
		{devices.COM1Base, devices.COM1Last, m.UART},
		{devices.DebugExitPort, devices.DebugExitPort + devices.DebugExitSize - 1, debugExit},
		{0x60, 0x60, kbd},
		{0x64, 0x64, kbd},
	} {
		if err := mem.MapPorts(p.first, p.last, p.dev); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// stop ends the run at the current instruction boundary. The first request
// wins.
func (m *Machine) stop(e Exit) {
	if !m.exiting {
		m.exit, m.exiting = e, true
	}
	m.CPU.RequestStop()
}

// LoadELF64 loads a static ELF64 image and sets the CPU up at its entry point
// exactly as the direct-boot ABI prescribes (ARCHITECTURE.md §3).
func (m *Machine) LoadELF64(image []byte) error {
	entry, err := LoadELF64(m.Mem, image)
	if err != nil {
		return err
	}
	tables, err := SetupLongMode(m.Mem)
	if err != nil {
		return err
	}
	c := m.CPU
	c.GDTR = cpu.DTR{Base: tables.GDTBase, Limit: uint16(tables.GDTLimit)}
	c.IDTR = cpu.DTR{}
	c.Seg[cpu.CS] = cpu.Segment{Selector: BootCS, Limit: 0xFFFFFFFF, Attr: 0x9B | cpu.SegAttrL | 0x8000}
	for _, s := range []int{cpu.DS, cpu.ES, cpu.SS, cpu.FS, cpu.GS} {
		c.Seg[s] = cpu.Segment{Selector: BootDS, Limit: 0xFFFFFFFF, Attr: 0x93 | cpu.SegAttrD | 0x8000}
	}
	c.TR = cpu.Segment{Limit: 0xFFFF, Attr: 0x8B}
	c.CR0, c.CR3, c.CR4, c.EFER = BootCR0, tables.CR3, BootCR4, BootEFER
	c.R = [len(c.R)]uint64{}
	c.R[cpu.RSP] = BootRSP
	c.R[cpu.RDI] = uint64(len(m.Mem.RAM))
	c.RIP = entry
	c.SetRFLAGS(BootRFLAGS)
	c.StateChanged()
	return nil
}

// runChunk is how many instructions Run executes between checks of the
// instruction limit.
const runChunk = 1 << 24

// Run executes the guest until it exits or, when maxInsns is not zero, until
// that many instructions have retired since boot.
func (m *Machine) Run(maxInsns uint64) Exit {
	c := m.CPU
	for {
		budget := uint64(runChunk)
		if maxInsns != 0 {
			if c.Retired >= maxInsns {
				return Exit{Reason: ExitInsnLimit}
			}
			budget = min(budget, maxInsns-c.Retired)
		}
		switch c.Run(budget) {
		case cpu.StopBudget:
			continue
		case cpu.StopRequested:
			if m.exiting {
				return m.exit
			}
		case cpu.StopHalt:
			return Exit{Reason: ExitHalt}
		case cpu.StopHaltIdle:
			// No device can raise an interrupt yet: nothing will wake it.
			return Exit{Reason: ExitIdle}
		case cpu.StopTripleFault:
			return Exit{Reason: ExitTripleFault}
		}
	}
}
