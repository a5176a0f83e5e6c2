package machine

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

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
	// Clock selects where guest time comes from.
	Clock ClockMode
	// Seed seeds the virtual clock's random numbers.
	Seed uint64
	// Cmdline is the command line handed to the guest (RSI at entry).
	Cmdline string
	// Inputs supplies host inputs; nil uses Live.
	Inputs InputSource
	// Live is where host backends post inputs; nil makes one when Inputs
	// is nil too.
	Live *LiveInputs
	// WrapEnv, if set, wraps the CPU's environment (the guest clock), so
	// the lockstep layer can record or replay random numbers.
	WrapEnv func(cpu.Env) cpu.Env
	// Checker, if set, is called at the positions it asks for.
	Checker Checker
	// RTCBase is the wall-clock time (Unix seconds) of guest time 0; zero
	// selects DefaultRTCBase.
	RTCBase int64
}

// DefaultRTCBase is the RTC's wall-clock time at boot when none is given:
// 2026-01-01T00:00:00Z.
const DefaultRTCBase = 1767225600

// Checker observes the machine at exact positions; the lockstep layer uses
// it for divergence digests.
type Checker interface {
	// NextCheck returns the position of the next check (^0 for none).
	NextCheck() uint64
	// Check is called when the position reaches NextCheck. An error ends
	// the run with ExitDiverged.
	Check(m *Machine) error
}

// ExitReason says why a run ended.
type ExitReason int

// Why Run returned.
const (
	ExitDebug       ExitReason = iota // the guest wrote to isa-debug-exit
	ExitReset                         // keyboard-controller or ACPI reset
	ExitHalt                          // HLT with interrupts disabled
	ExitIdle                          // HLT with interrupts enabled and nothing that could wake it
	ExitInsnLimit                     // the instruction limit was reached
	ExitTripleFault                   // an exception could not be delivered
	ExitStopped                       // Stop was called
	ExitDiverged                      // a Checker found a divergence (see Machine.Err)
	ExitPaused                        // Pause was called; Run may be called again
	ExitPowerOff                      // the guest entered ACPI S5 (soft off)
)

var exitNames = [...]string{"debug-exit", "reset", "halt", "idle halt", "instruction limit", "triple fault", "stopped", "diverged", "paused", "power off"}

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
	case ExitDiverged:
		return 125
	}
	return 0
}

// ExitForStatus returns an outcome with the given process exit status: the
// inverse of Status, for a replay that ends where its recording ended.
func ExitForStatus(status int) Exit {
	switch {
	case status == 124:
		return Exit{Reason: ExitInsnLimit}
	case status == 126:
		return Exit{Reason: ExitTripleFault}
	case status&1 == 1:
		return Exit{Reason: ExitDebug, Value: uint32(status >> 1)}
	}
	return Exit{Reason: ExitHalt}
}

// Machine is the board: RAM, the device map and one CPU.
type Machine struct {
	CPU   *cpu.CPU
	Mem   *mmu.Memory
	UART  *devices.UART
	PIC   *devices.PIC
	LAPIC *devices.LAPIC
	PIT   *devices.PIT
	RTC   *devices.RTC
	Clock *GuestClock
	// IOAPIC routes ISA and virtio interrupts in APIC mode.
	IOAPIC *devices.IOAPIC
	// Live is the live input source when the machine made its own.
	Live *LiveInputs

	cmdline string
	inputs  InputSource
	timed   []devices.Timed
	// receivers routes inputs by kind and device number.
	receivers map[receiverKey]devices.Receiver
	consoleIn []byte // console bytes not yet taken by the UART
	// consoleTold is the len(consoleIn) Live was last told (ConsoleBacklog).
	consoleTold int
	inbuf       []devices.Input

	checker Checker
	snaps   map[string]Snapshotter
	virtio  []*devices.VirtioMMIO
	// Err is the error that ended the run with ExitDiverged.
	Err error

	exit    Exit
	exiting bool
	// skippedAt is the position where idle time was last skipped to a
	// timer deadline; no inputs are taken there.
	skippedAt uint64
	// stopReq is set from any goroutine to end the run (signals).
	stopReq  atomic.Bool
	pauseReq atomic.Bool
	// waker is what RequestStop and Pause wake (set with the inputs).
	waker atomic.Pointer[wakers]
	// seen is the position at the run loop's last turn, for readers on
	// other goroutines (metrics).
	seen atomic.Uint64
}

// SeenPosition returns the position at the run loop's last turn (at most
// about a millisecond of execution old). Safe from any goroutine.
func (m *Machine) SeenPosition() uint64 { return m.seen.Load() }

// ErrEndOfRun, returned by a Checker, ends the run with ExitStopped: a
// replay reached the position where its recording stopped.
var ErrEndOfRun = errors.New("end of the recorded run")

// ClearStop withdraws a RequestStop (a backup that stopped to go live).
func (m *Machine) ClearStop() { m.stopReq.Store(false) }

// Pause makes Run return ExitPaused at its next look at the inputs (within
// about a millisecond of guest execution); calling Run again continues.
// Safe from any goroutine.
func (m *Machine) Pause() {
	m.pauseReq.Store(true)
	m.wakeIdle()
}

// SetInputs replaces the input source, the live inputs and the checker (a
// backup going live). Call it between runs.
func (m *Machine) SetInputs(src InputSource, live *LiveInputs, checker Checker) {
	m.inputs, m.Live, m.checker = src, live, checker
	m.setWaker()
}

// Waker is an input source whose Wait can be ended early from another
// goroutine: RequestStop and Pause call Wake so that a guest idle with
// nothing to wake it still stops.
type Waker interface {
	// Wake makes a Wait in progress (or the next one) return at once.
	Wake()
}

// setWaker records what RequestStop and Pause wake: the input source and
// the live inputs.
func (m *Machine) setWaker() {
	var ws wakers
	if w, ok := m.inputs.(Waker); ok {
		ws = append(ws, w)
	}
	if m.Live != nil && m.Live != m.inputs {
		ws = append(ws, m.Live)
	}
	m.waker.Store(&ws)
}

// wakers wakes several sources.
type wakers []Waker

func (m *Machine) wakeIdle() {
	if ws := m.waker.Load(); ws != nil {
		for _, w := range *ws {
			w.Wake()
		}
	}
}

// RequestStop asks the run to end with ExitStopped within about a
// millisecond of guest execution, or at once when the guest is idle. Safe
// from any goroutine.
func (m *Machine) RequestStop() {
	m.stopReq.Store(true)
	m.wakeIdle()
}

type receiverKey struct {
	kind devices.InputKind
	dev  uint8
}

// New builds a board with the fixed device map of ARCHITECTURE.md §4.
func New(cfg Config) (*Machine, error) {
	size := cfg.RAM
	if size == 0 {
		size = DefaultRAM
	}
	if size < 2<<20 {
		return nil, fmt.Errorf("RAM size %d is too small (at least 2 MiB)", size)
	}
	if len(cfg.Cmdline) >= cmdlineMax {
		return nil, fmt.Errorf("command line is %d bytes, more than %d", len(cfg.Cmdline), cmdlineMax-1)
	}
	mem, err := mmu.NewMemory(size)
	if err != nil {
		return nil, err
	}
	m := &Machine{Mem: mem, cmdline: cfg.Cmdline, receivers: map[receiverKey]devices.Receiver{}, skippedAt: ^uint64(0)}
	m.Clock = NewGuestClock(cfg.Clock, func() uint64 { return m.CPU.Position() })
	m.Clock.seed = cfg.Seed
	var env cpu.Env = m.Clock
	if cfg.WrapEnv != nil {
		env = cfg.WrapEnv(env)
	}
	m.CPU = cpu.New(mem, env)
	m.checker = cfg.Checker
	m.inputs, m.Live = cfg.Inputs, cfg.Live
	if m.inputs == nil {
		if m.Live == nil {
			m.Live = NewLiveInputs(cfg.Clock == ClockHost)
		}
		m.inputs = m.Live
	}
	m.setWaker()
	// Interrupt controllers and timers, wired as firmware leaves a PC.
	rtcBase := cfg.RTCBase
	if rtcBase == 0 {
		rtcBase = DefaultRTCBase
	}
	m.PIC = devices.NewPIC()
	m.LAPIC = devices.NewLAPIC(m.Clock, m.PIC)
	m.IOAPIC = devices.NewIOAPIC(m.LAPIC)
	m.LAPIC.SetIOAPIC(m.IOAPIC)
	m.PIT = devices.NewPIT(m.Clock, m.ISALine(devices.PITIRQ))
	m.RTC = devices.NewRTC(m.Clock, rtcBase, m.ISALine(devices.RTCIRQ))
	m.UART = devices.NewUART(cfg.Console, m.ISALine(devices.COM1IRQ))
	m.CPU.SetInterruptSource(m.LAPIC)
	m.CPU.StopOnDevice = true
	m.CPU.SetMSRDevice(m.LAPIC)
	m.timed = []devices.Timed{m.PIT, m.LAPIC, m.RTC}
	m.AddSnapshotter("uart", deviceSnap[devices.UARTState]{m.UART})
	m.AddSnapshotter("pic", deviceSnap[devices.PICState]{m.PIC})
	m.AddSnapshotter("lapic", deviceSnap[devices.LAPICState]{m.LAPIC})
	m.AddSnapshotter("ioapic", deviceSnap[devices.IOAPICState]{m.IOAPIC})
	m.AddSnapshotter("pit", deviceSnap[devices.PITState]{m.PIT})
	m.AddSnapshotter("rtc", deviceSnap[devices.RTCState]{m.RTC})
	for _, r := range []struct {
		base, size uint64
		dev        mmu.MMIODevice
	}{
		{devices.LAPICBase, devices.LAPICSize, m.LAPIC},
		{devices.IOAPICBase, devices.IOAPICSize, m.IOAPIC},
	} {
		if err := mem.MapMMIO(r.base, r.size, r.dev); err != nil {
			return nil, err
		}
	}
	debugExit := devices.NewDebugExit(func(v uint32) { m.stop(Exit{Reason: ExitDebug, Value: v}) })
	kbd := devices.NewI8042(func() { m.stop(Exit{Reason: ExitReset}) })
	power := &devices.ACPIPower{
		OnPowerOff: func() { m.stop(Exit{Reason: ExitPowerOff}) },
		OnReset:    func() { m.stop(Exit{Reason: ExitReset}) },
	}
	fwcfg, err := devices.NewFwCfg(size, 1, []devices.FwCfgFile{{Name: "etc/e820", Data: e820File(size)}})
	if err != nil {
		return nil, err
	}
	testdev := devices.NewTestDev(func(n int) devices.IRQLine {
		if n < 16 {
			return m.ISALine(n)
		}
		return m.IOAPIC.Line(n)
	})
	m.AddSnapshotter("fwcfg", deviceSnap[devices.FwCfgState]{fwcfg})
	m.AddSnapshotter("testdev", deviceSnap[devices.TestDevState]{testdev})
	for _, p := range []struct {
		first, last uint16
		dev         mmu.PortDevice
	}{
		{devices.COM1Base, devices.COM1Last, m.UART},
		{devices.PICMasterCmd, devices.PICMasterData, m.PIC},
		{devices.PICSlaveCmd, devices.PICSlaveData, m.PIC},
		{devices.PICELCRMaster, devices.PICELCRSlave, m.PIC},
		{devices.PITBase, devices.PITLast, m.PIT},
		{devices.PITPort61, devices.PITPort61, m.PIT},
		{devices.RTCIndexPort, devices.RTCDataPort, m.RTC},
		{devices.DebugExitPort, devices.DebugExitPort + devices.DebugExitSize - 1, debugExit},
		{0x60, 0x60, kbd},
		{0x64, 0x64, kbd},
		{devices.ACPISleepControlPort, devices.ACPIPowerLast, power},
		{devices.FwCfgSelector, devices.FwCfgData, fwcfg},
		{devices.TestDevScratch, devices.TestDevScratchByte + 3, testdev},
		{devices.TestDevIRQBase, devices.TestDevIRQBase + devices.TestDevIRQLines - 1, testdev},
	} {
		if err := mem.MapPorts(p.first, p.last, p.dev); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ISALine returns the interrupt line of ISA IRQ irq: the 8259 input and the
// I/O APIC pin together.
func (m *Machine) ISALine(irq int) devices.IRQLine { return devices.ISALine(m.PIC, m.IOAPIC, irq) }

// AddReceiver routes inputs of kind for device dev to r.
func (m *Machine) AddReceiver(kind devices.InputKind, dev uint8, r devices.Receiver) {
	m.receivers[receiverKey{kind, dev}] = r
}

// Inputs returns the machine's input source.
func (m *Machine) Inputs() InputSource { return m.inputs }

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
	m.enterLongMode(tables, BootCS, BootDS, entry, BootRSP)
	c := m.CPU
	c.R[cpu.RDI] = uint64(len(m.Mem.RAM))
	if m.cmdline != "" {
		copy(m.Mem.RAM[CmdlineAddr:CmdlineAddr+cmdlineMax], m.cmdline+"\x00")
		c.R[cpu.RSI] = CmdlineAddr
	}
	c.StateChanged()
	return nil
}

// enterLongMode puts the CPU in 64-bit mode at rip with the GDT and page
// tables of tables: code selector cs (64-bit, DPL 0), flat data selector ds
// in DS, ES, SS, FS and GS, the boot ABI's control registers, interrupts
// off, RSP = rsp and the other general registers 0.
func (m *Machine) enterLongMode(tables BootTables, cs, ds uint16, rip, rsp uint64) {
	c := m.CPU
	c.GDTR = cpu.DTR{Base: tables.GDTBase, Limit: uint16(tables.GDTLimit)}
	c.IDTR = cpu.DTR{}
	c.Seg[cpu.CS] = cpu.Segment{Selector: cs, Limit: 0xFFFFFFFF, Attr: 0x9B | cpu.SegAttrL | 0x8000}
	for _, s := range []int{cpu.DS, cpu.ES, cpu.SS, cpu.FS, cpu.GS} {
		c.Seg[s] = cpu.Segment{Selector: ds, Limit: 0xFFFFFFFF, Attr: 0x93 | cpu.SegAttrD | 0x8000}
	}
	c.TR = cpu.Segment{Limit: 0xFFFF, Attr: 0x8B}
	c.CR0, c.CR3, c.CR4, c.EFER = BootCR0, tables.CR3, BootCR4, BootEFER
	c.R = [len(c.R)]uint64{}
	c.R[cpu.RSP] = rsp
	c.RIP = rip
	c.SetRFLAGS(BootRFLAGS)
	c.StateChanged()
}

// runChunk is the most instructions Run executes before it looks at the
// input source again (about a millisecond of guest execution).
const runChunk = 1 << 18

// Diverge ends the run with ExitDiverged and err at the next instruction
// boundary; the lockstep replayer calls it when the guest asks for an input
// its log does not hold.
func (m *Machine) Diverge(err error) {
	if !m.exiting {
		m.Err = err
	}
	m.stop(Exit{Reason: ExitDiverged})
}

// Stop makes Run return ExitStopped at the next instruction boundary. Call
// it from the goroutine that runs the machine (a device callback, say).
func (m *Machine) Stop() { m.stop(Exit{Reason: ExitStopped}) }

// deliver hands the inputs due at the current position to their devices.
func (m *Machine) deliver() {
	pos := m.CPU.Position()
	if pos == m.skippedAt && m.Live != nil && m.inputs.Next() == ^uint64(0) {
		// The guest's idle time was skipped to a timer deadline at this
		// position, a decision a replaying board makes only where its log
		// has no input: inputs taken here log the skip first.
		m.Live.MarkIdle(pos, m.Clock.Now())
	}
	m.inbuf = m.inputs.Take(pos, m.inbuf[:0])
	for _, in := range m.inbuf {
		switch in.Kind {
		case devices.InputClock:
			if in.Dev == ClockSkip {
				m.Clock.Skip(in.Arg)
			} else {
				m.Clock.Anchor(in.Arg)
			}
		case devices.InputConsole:
			m.consoleIn = append(m.consoleIn, in.Data...)
			m.consoleTold = -1 // Live counts these as the board's backlog
		default:
			if r := m.receivers[receiverKey{in.Kind, in.Dev}]; r != nil {
				if err := r.Deliver(in); err != nil {
					// Live inputs answer the device's own requests; one it
					// cannot take comes from a log the execution left.
					m.Diverge(fmt.Errorf("replay diverged at position %d: input for device %d: %v", pos, in.Dev, err))
				}
			}
		}
	}
	if len(m.consoleIn) > 0 {
		if n := min(m.UART.RxFree(), len(m.consoleIn)); n > 0 {
			m.UART.Receive(m.consoleIn[:n])
			m.consoleIn = m.consoleIn[n:]
		}
	}
	if len(m.consoleIn) != m.consoleTold && m.Live != nil {
		m.Live.ConsoleBacklog(len(m.consoleIn))
		m.consoleTold = len(m.consoleIn)
	}
}

// advanceTimers fires the device timers due by now and returns the guest
// time of the next one (^0 if none).
func (m *Machine) advanceTimers() uint64 {
	now := m.Clock.Now()
	next := ^uint64(0)
	for _, t := range m.timed {
		t.Advance(now)
		if at, ok := t.NextEvent(); ok {
			next = min(next, max(at, now))
		}
	}
	return next
}

// Run executes the guest on the interpreter until it exits or, when
// maxInsns is not zero, until that many instructions have retired since
// boot. Inputs are delivered and timers fire at exact positions, so a run
// is a deterministic function of the image and of the inputs (their
// contents and positions).
func (m *Machine) Run(maxInsns uint64) Exit {
	exit, _ := m.RunOn(m.Interpreter(), maxInsns) // the interpreter cannot fail
	return exit
}

// RunOn executes the guest on acc until it exits or, when maxInsns is not
// zero, until acc's position reaches maxInsns. This is the one run loop:
// whatever executes the instructions, inputs are delivered, timers fire,
// checks are made, stop and pause requests are honoured and stops become
// exits here. An error means the accelerator itself failed.
func (m *Machine) RunOn(acc Accelerator, maxInsns uint64) (Exit, error) {
	if err := acc.begin(); err != nil {
		return Exit{}, err
	}
	exit, err := m.loop(acc, maxInsns)
	return acc.end(exit, err)
}

// loop is RunOn between its accelerator's begin and end.
func (m *Machine) loop(acc Accelerator, maxInsns uint64) (Exit, error) {
	for {
		if m.stopReq.Load() || acc.turn() {
			return Exit{Reason: ExitStopped}, nil
		}
		if m.pauseReq.Swap(false) {
			return Exit{Reason: ExitPaused}, nil
		}
		m.deliver()
		deadline := m.advanceTimers()
		pos := acc.position()
		m.seen.Store(pos)
		if maxInsns != 0 && pos >= maxInsns {
			return Exit{Reason: ExitInsnLimit}, nil
		}
		if m.checker != nil && m.checker.NextCheck() <= pos {
			if err := m.checker.Check(m); errors.Is(err, ErrEndOfRun) {
				return Exit{Reason: ExitStopped}, nil
			} else if err != nil {
				m.Err = err
				return Exit{Reason: ExitDiverged}, nil
			}
		}
		end := min(pos+runChunk, m.inputs.Next())
		if m.checker != nil {
			end = min(end, max(m.checker.NextCheck(), pos+1))
		}
		if maxInsns != 0 {
			end = min(end, maxInsns)
		}
		if deadline != ^uint64(0) {
			end = min(end, max(m.Clock.PosAt(deadline), pos+1))
		}
		if end <= pos {
			end = pos + 1
		}
		if m.exiting {
			// stopped outside the CPU (a divergence found while
			// delivering inputs): c.Run would clear the request
			return m.exit, nil
		}
		stop, err := acc.execute(end-pos, deadline)
		if err != nil {
			return Exit{}, err
		}
		switch stop {
		case cpu.StopBudget, cpu.StopDevice:
		case cpu.StopRequested:
			if m.exiting {
				return m.exit, nil
			}
		case cpu.StopHalt:
			return Exit{Reason: ExitHalt}, nil
		case cpu.StopHaltIdle:
			// The deadline was computed before the instructions just run,
			// which may have reprogrammed a timer: idle to the current
			// one. Idle skips must not depend on where this run began,
			// which differs between a recording and its replay.
			if !acc.idle(m.nextDeadline()) {
				return Exit{Reason: ExitIdle}, nil
			}
		case cpu.StopTripleFault:
			return Exit{Reason: ExitTripleFault}, nil
		}
	}
}

// nextDeadline returns the guest time of the next timer event, as
// advanceTimers does, without advancing the timers.
func (m *Machine) nextDeadline() uint64 {
	now := m.Clock.Now()
	next := ^uint64(0)
	for _, t := range m.timed {
		if at, ok := t.NextEvent(); ok {
			next = min(next, max(at, now))
		}
	}
	return next
}

// skipTo moves guest time to a timer deadline while the guest idles.
func (m *Machine) skipTo(deadline uint64) {
	m.Clock.Skip(deadline)
	m.skippedAt = m.CPU.Position()
}

// idle lets time pass while the guest waits in HLT for an interrupt: up to
// the next timer deadline or the next input. Reaching the deadline is a
// deterministic jump of guest time (both sides make it, so it needs no
// record); being woken early by an input is host timing, which a host clock
// logs as a skip re-anchor. It returns false when nothing can ever wake the
// guest.
func (m *Machine) idle(deadline uint64) bool {
	if next := m.inputs.Next(); next != ^uint64(0) {
		// Replaying: positions do not advance in HLT, so an input due now
		// woke the guest; otherwise the deadline did.
		if next <= m.CPU.Position() {
			return true
		}
		if deadline == ^uint64(0) {
			return false
		}
		m.skipTo(deadline)
		return true
	}
	if m.Clock.Mode() == ClockVirtual && deadline != ^uint64(0) {
		m.skipTo(deadline)
		return true
	}
	if deadline == ^uint64(0) && !m.inputs.CanWake() {
		return false
	}
	if m.stopReq.Load() || m.pauseReq.Load() {
		return true // Run returns at the top of its loop
	}
	if !m.inputs.Wait(deadline) && deadline != ^uint64(0) {
		m.skipTo(deadline)
	}
	return true
}
