package machine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"ftvm/cpu"
	"ftvm/cpu/disasm"
	"ftvm/cpu/kvm"
)

// Hardware-assisted execution: the board's CPU runs on the host's KVM
// instead of the interpreter. The guest RAM slice, the device models (UART,
// debug-exit, i8042 reset, and whatever else is mapped on m.Mem) and the
// interrupt controller attached to m.CPU are the same objects the
// interpreter uses, and the run loop is the same (Machine.RunOn, with KVM
// as its Accelerator); only the instruction execution moves into the
// kernel.
//
// Differences from the interpreter, all inherent to KVM:
//   - Retired instructions cannot be counted: a free run has no instruction
//     limit, the position does not advance (m.CPU.Retired keeps its value), and the
//     guest clock follows host time (Clock.Skip to the host nanoseconds
//     since the run began) whatever its mode. A KVM run is therefore not
//     deterministic, and cannot be recorded or replayed.
//   - Single-stepping (Step) counts instructions, one KVM_RUN each, where
//     the host can single-step: ftvm difftest uses it to compare with the
//     interpreter instruction by instruction. Under PVM, native CPL3 code
//     runs on to its next trap within one step, and the step after an
//     emulated I/O instruction also executes the next one; difftest
//     follows such steps by RIP (see cpu/kvm's package comment).
//   - Device timers fire when the vCPU exits or, at their deadline, by a
//     host timer that kicks the vCPU out of KVM_RUN; every KVM_RUN is also
//     bounded (stopPoll) so RequestStop is seen. External interrupts from
//     m.CPU's interrupt source are injected with KVM_INTERRUPT when the
//     guest's interrupt window is open. HLT with interrupts enabled waits
//     (host time) for a timer or an input.

// KVM is the board's CPU running on KVM.
type KVM struct {
	m  *Machine
	VM *kvm.VM
	// base is the state last loaded, for what KVM does not hold.
	base   cpu.State
	loaded bool
	// Steps counts the instructions single-stepped so far.
	Steps uint64

	clock0 uint64
	host0  time.Time
	// Exits counts vCPU exits by kind, for statistics.
	Exits map[kvm.ExitKind]uint64
	// Injected counts the external interrupts injected.
	Injected uint64
	// Wall is the time spent in Run and Step.
	Wall time.Duration
	// NoSync leaves m.CPU alone after Run and Step (difftest steps the vCPU
	// and reads it with State; Sync copies it over at the end).
	NoSync bool
	// Deadline, if set, stops a run at that host time (ExitStopped).
	Deadline time.Time
	halted   bool
	// stepping: Step is running (single steps, counted in Steps).
	stepping bool
	// start and unlock belong to the run in progress: when it began, and
	// the release of its OS thread.
	start  time.Time
	unlock func()
	// iretTarget is the CPL3 target of the IRETQ being single-stepped, until
	// the step is reported (0 for another instruction).
	iretTarget uint64
	// steppingHLT: the instruction being single-stepped is HLT (under PVM
	// the step's debug exit then stands for the HLT exit).
	steppingHLT bool
}

// OpenKVM creates a KVM vCPU over the board's RAM. The error is a
// *kvm.UnavailableError when the host has no usable KVM.
func (m *Machine) OpenKVM(opts kvm.Options) (*KVM, error) {
	vm, err := kvm.Open(m.Mem.RAM, opts)
	if err != nil {
		return nil, err
	}
	return &KVM{m: m, VM: vm, Exits: map[kvm.ExitKind]uint64{}}, nil
}

// Close releases the vCPU (the state stays in m.CPU).
func (k *KVM) Close() error { return k.VM.Close() }

// Run runs the guest until it exits, and leaves the final state in m.CPU
// (unless NoSync), so it can be inspected and compared as after the
// interpreter's run. The exits are the interpreter's; an error means KVM
// itself failed (a *kvm.EmulationError is the host's limitation, not the
// guest's).
func (k *KVM) Run() (Exit, error) { return k.m.RunOn(k, 0) }

// Step single-steps up to n instructions (n > 0). It returns
// ExitInsnLimit when all n retired, or the guest's exit before that.
func (k *KVM) Step(n uint64) (Exit, error) {
	if n == 0 {
		return Exit{Reason: ExitInsnLimit}, nil
	}
	unlock := kvm.LockThread()
	defer unlock()
	if err := k.load(); err != nil {
		return Exit{}, err
	}
	k.stepping = true
	defer func() { k.stepping = false }()
	return k.m.RunOn(k, k.position()+n)
}

// load copies m.CPU's state into the vCPU, unless the vCPU already holds
// it or a later state that m.CPU has not been told about (see NoSync).
func (k *KVM) load() error {
	c := k.m.CPU
	s := c.State()
	if k.loaded && s == k.base {
		return nil
	}
	if err := k.VM.SetState(s, k.m.Clock.TSC(c.Position())+s.TSCOffset); err != nil {
		return err
	}
	k.base, k.loaded, k.Steps = s, true, 0
	return nil
}

// State returns the vCPU's current state (Retired counts the single steps
// since it was loaded).
func (k *KVM) State() (cpu.State, error) {
	s, err := k.VM.State(k.base)
	if err != nil {
		return s, err
	}
	s.Retired = k.base.Retired + k.Steps
	s.Halted = k.halted
	return s, nil
}

// Sync copies the vCPU's state into m.CPU (after runs with NoSync).
func (k *KVM) Sync() error {
	s, err := k.State()
	if err != nil {
		return err
	}
	k.m.CPU.SetState(s)
	k.base, k.Steps = s, 0
	return nil
}

// syncClock moves guest time to the host time elapsed since the run began.
func (k *KVM) syncClock() {
	k.m.Clock.Skip(k.clock0 + uint64(time.Since(k.host0).Nanoseconds()))
}

// pollInterval is how often a running vCPU is kicked to look at host inputs
// when something may post them; stopPoll bounds every KVM_RUN so a stop
// request (RequestStop, from a signal) is seen.
const (
	pollInterval = 10 * time.Millisecond
	stopPoll     = 50 * time.Millisecond
)

func (k *KVM) position() uint64 { return k.base.Retired + k.Steps }

// begin loads m.CPU's state into the vCPU (see load) and starts guest time
// following host time.
func (k *KVM) begin() error {
	m := k.m
	if m.checker != nil {
		return errors.New("KVM cannot run a machine with a checker (a recording or replay): it does not count instructions")
	}
	k.start = time.Now()
	k.unlock = kvm.LockThread()
	err := k.load()
	if err == nil {
		err = k.VM.SetSingleStep(k.stepping)
	}
	if err != nil {
		k.unlock()
		return err
	}
	k.halted, k.iretTarget = false, 0
	k.clock0, k.host0 = m.Clock.Now(), time.Now()
	m.skippedAt = ^uint64(0) // positions do not advance: never hold inputs back
	return nil
}

// end completes a pending I/O instruction (its RIP advances on the next
// KVM_RUN) so the saved state is after it, as the interpreter's, and
// copies the state back into m.CPU unless NoSync.
func (k *KVM) end(exit Exit, err error) (Exit, error) {
	defer func() {
		k.Wall += time.Since(k.start)
		k.unlock()
	}()
	stepped, cerr := k.VM.Complete()
	if cerr != nil && err == nil {
		err = cerr
	}
	if stepped && k.stepping {
		k.Steps++
	}
	k.halted = err == nil && (exit.Reason == ExitHalt || exit.Reason == ExitIdle)
	if !k.NoSync {
		if serr := k.Sync(); serr != nil && err == nil {
			err = serr
		}
	}
	var ee *kvm.EmulationError
	if errors.As(err, &ee) {
		ee.Insn = describeInsn(k, ee.RIP)
	}
	if err != nil {
		return Exit{}, err
	}
	return exit, nil
}

// turn moves guest time to the host time elapsed since the run began, and
// ends the run at Deadline.
func (k *KVM) turn() bool {
	k.syncClock()
	return !k.Deadline.IsZero() && !time.Now().Before(k.Deadline)
}

// execute injects a pending interrupt when the guest can take it, and
// enters the vCPU until its next exit, the next timer deadline or a poll
// for host inputs and stop requests; it performs the device access of an
// I/O exit.
func (k *KVM) execute(_, deadline uint64) (cpu.StopReason, error) {
	m := k.m
	src := m.CPU.InterruptSource()
	pending := src != nil && src.Pending()
	if pending && k.VM.ReadyForInterrupt() {
		if err := k.VM.Interrupt(src.Acknowledge()); err != nil {
			return 0, err
		}
		k.Injected++
		pending = src.Pending()
	}
	k.VM.RequestInterruptWindow(pending)
	if k.stepping {
		if err := k.armStep(); err != nil {
			return 0, err
		}
	}
	wait := k.hostWait(deadline)
	if wait < 0 || wait > stopPoll {
		wait = stopPoll
	}
	if k.stepping && k.iretTarget != 0 {
		// The step of an IRETQ to CPL3 is, under PVM, a whole native
		// stretch of user code; a kick inside it would resume that code
		// under the trap flag, whose trap PVM gives to the guest. Only
		// Deadline interrupts it.
		wait = -1
		if !k.Deadline.IsZero() {
			wait = max(time.Until(k.Deadline), 0)
		}
	}
	var timer *time.Timer
	if wait >= 0 {
		timer = time.AfterFunc(wait, k.VM.Kick)
	}
	ex, err := k.VM.Run()
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		return 0, err
	}
	k.Exits[ex.Kind]++
	switch ex.Kind {
	case kvm.ExitIO:
		k.portIO(ex)
	case kvm.ExitMMIO:
		if ex.In {
			v := m.Mem.Read(ex.Addr, ex.Size)
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			copy(ex.Data, b[:])
		} else {
			var b [8]byte
			copy(b[:], ex.Data)
			m.Mem.Write(ex.Addr, ex.Size, binary.LittleEndian.Uint64(b[:]))
		}
	case kvm.ExitDebug, kvm.ExitHLT:
		if k.stepping {
			k.Steps++ // the instruction (HLT, for a HLT exit) retired
			k.iretTarget = 0
		}
		if ex.Kind == kvm.ExitDebug && !(k.stepping && k.steppingHLT) {
			return cpu.StopBudget, nil
		}
		// HLT: a HLT exit, or the single step of a HLT, which the host
		// may report as a debug exit after it.
		rflags, err := k.VM.RFLAGS()
		if err != nil {
			return 0, err
		}
		if rflags&cpu.FlagIF == 0 {
			return cpu.StopHalt, nil
		}
		return cpu.StopHaltIdle, nil
	case kvm.ExitShutdown:
		return cpu.StopTripleFault, nil
	case kvm.ExitSystemEvent:
		if ex.Arg == 2 { // KVM_SYSTEM_EVENT_RESET
			m.stop(Exit{Reason: ExitReset})
			return cpu.StopRequested, nil
		}
		return cpu.StopHalt, nil
	case kvm.ExitIRQWindow, kvm.ExitIntr:
		return cpu.StopBudget, nil
	}
	if m.exiting {
		return cpu.StopRequested, nil
	}
	return cpu.StopDevice, nil
}

// armStep prepares the vCPU for one single step. KVM sets the trap flag
// only while RIP is where single-stepping was requested, and code it runs
// natively (CPL3 under PVM) is stepped by that flag alone, so it is
// re-armed before every entry. An IRETQ to CPL3 that the host emulates
// does not report its single step under PVM (the guest then runs free
// until it next traps): a hardware breakpoint on the IRETQ's target ends
// that step instead.
func (k *KVM) armStep() error {
	r, rip, _, err := k.VM.Regs()
	if err != nil {
		return err
	}
	if k.iretTarget != 0 {
		// The step of an IRETQ to CPL3 goes on after an exit that did
		// not report it (a signal): same arming.
		return k.VM.SetDebug(true, k.iretTarget)
	}
	var bps []uint64
	b, ok := k.readLinear(rip, 2)
	k.steppingHLT = ok && b[0] == 0xF4
	if ok && b[0] == 0x48 && b[1] == 0xCF {
		if f, ok := k.readLinear(r[cpu.RSP], 16); ok && binary.LittleEndian.Uint64(f[8:])&3 == 3 {
			k.iretTarget = binary.LittleEndian.Uint64(f)
			bps = append(bps, k.iretTarget)
		}
	}
	return k.VM.SetDebug(true, bps...)
}

// readLinear reads n bytes at a linear address of the vCPU's address space.
func (k *KVM) readLinear(addr uint64, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for len(out) < n {
		a := addr + uint64(len(out))
		phys, ok, err := k.VM.Translate(a)
		if err != nil || !ok {
			return nil, false
		}
		chunk := min(n-len(out), int(4096-a%4096))
		if !k.m.Mem.IsRAM(phys, uint64(chunk)) {
			return nil, false
		}
		out = append(out, k.m.Mem.RAM[phys:phys+uint64(chunk)]...)
	}
	return out, true
}

// hostWait returns how long the host may let the vCPU run before a device
// timer or a host input needs the board (-1: no limit).
func (k *KVM) hostWait(deadline uint64) time.Duration {
	wait := time.Duration(-1)
	if deadline != ^uint64(0) {
		now := k.m.Clock.Now()
		wait = 0
		if deadline > now {
			wait = time.Duration(deadline - now)
		}
	}
	if l := k.m.Live; l != nil && l.CanWake() && (wait < 0 || wait > pollInterval) {
		wait = pollInterval
	}
	if !k.Deadline.IsZero() {
		if d := max(time.Until(k.Deadline), 0); wait < 0 || d < wait {
			wait = d
		}
	}
	return wait
}

// idle waits while the guest is in HLT with interrupts enabled, until an
// interrupt is pending, a device timer is due or a host input arrives. It
// returns false when nothing can ever wake the guest.
func (k *KVM) idle(uint64) bool {
	m := k.m
	src := m.CPU.InterruptSource()
	for {
		if src != nil && src.Pending() || m.stopReq.Load() || !k.Deadline.IsZero() && !time.Now().Before(k.Deadline) {
			return true
		}
		k.syncClock()
		m.deliver()
		deadline := m.advanceTimers()
		if m.exiting || src != nil && src.Pending() {
			return true
		}
		wait := k.hostWait(deadline)
		if wait < 0 {
			return false
		}
		wait = min(wait, stopPoll)
		var wake chan struct{}
		if m.Live != nil {
			wake = m.Live.wake
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-wake:
		}
		t.Stop()
	}
}

// portIO performs the accesses of a port I/O exit on the board's ports.
func (k *KVM) portIO(ex kvm.Exit) {
	m := k.m
	for i := 0; i < ex.Count; i++ {
		b := ex.Data[i*ex.Size : (i+1)*ex.Size]
		if ex.In {
			v := m.Mem.In(ex.Port, ex.Size)
			for j := range b {
				b[j] = byte(v >> (8 * j))
			}
		} else {
			var v uint32
			for j := range b {
				v |= uint32(b[j]) << (8 * j)
			}
			m.Mem.Out(ex.Port, ex.Size, v)
		}
		if m.exiting {
			return
		}
	}
}

// describeInsn shows the instruction at rip in the vCPU's address space.
func describeInsn(k *KVM, rip uint64) string {
	var buf [disasm.MaxInstLen]byte
	in, code, err := disasm.At(k, rip, &buf)
	switch {
	case errors.Is(err, disasm.ErrNotMapped):
		return "instruction not mapped"
	case err != nil:
		return fmt.Sprintf("bytes % x", code)
	}
	return fmt.Sprintf("%s: % x", in.Text, code)
}

// ReadLinear copies the vCPU's memory at linear address addr into buf,
// through the vCPU's page tables (disasm.Memory).
func (k *KVM) ReadLinear(addr uint64, buf []byte) error {
	b, ok := k.readLinear(addr, len(buf))
	if !ok {
		return disasm.ErrNotMapped
	}
	copy(buf, b)
	return nil
}
