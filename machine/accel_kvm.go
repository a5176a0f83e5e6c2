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
// interpreter uses; only the instruction execution moves into the kernel.
//
// Differences from the interpreter, all inherent to KVM:
//   - Retired instructions cannot be counted: Run's maxInsns is ignored, the
//     position does not advance (m.CPU.Retired keeps its value), and the
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

// RunKVM runs the guest on KVM from the state in m.CPU until it exits, and
// leaves the final state in m.CPU (cpu.SetState), so it can be inspected and
// compared as after Run. maxInsns cannot be honoured without counting
// instructions and is ignored (see KVM.Step for counted execution). The
// exit statuses are the interpreter's; an error means KVM itself failed
// (a *kvm.EmulationError is the host's limitation, not the guest's).
func (m *Machine) RunKVM(maxInsns uint64) (Exit, error) {
	_ = maxInsns
	k, err := m.OpenKVM(kvm.Options{})
	if err != nil {
		return Exit{}, err
	}
	defer k.Close()
	return k.Run()
}

// Run runs until the guest exits.
func (k *KVM) Run() (Exit, error) { return k.run(0) }

// Step single-steps up to n instructions (n > 0). It returns
// ExitInsnLimit when all n retired, or the guest's exit before that.
func (k *KVM) Step(n uint64) (Exit, error) {
	if n == 0 {
		return Exit{Reason: ExitInsnLimit}, nil
	}
	return k.run(n)
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

// run is Run (limit 0) and Step (limit > 0).
func (k *KVM) run(limit uint64) (exit Exit, err error) {
	m := k.m
	start := time.Now()
	defer func() { k.Wall += time.Since(start) }()
	unlock := kvm.LockThread()
	defer unlock()
	step := limit > 0
	if err := k.load(); err != nil {
		return Exit{}, err
	}
	if err := k.VM.SetSingleStep(step); err != nil {
		return Exit{}, err
	}
	k.halted = false
	defer func() {
		// Complete a pending I/O instruction (its RIP advances on the next
		// KVM_RUN) so the saved state is after it, as the interpreter's.
		stepped, cerr := k.VM.Complete()
		if cerr != nil && err == nil {
			err = cerr
		}
		if stepped && step {
			k.Steps++
		}
		if !k.NoSync {
			if serr := k.Sync(); serr != nil && err == nil {
				err = serr
			}
		}
		var ee *kvm.EmulationError
		if errors.As(err, &ee) {
			ee.Insn = describeInsn(k, ee.RIP)
		}
	}()
	k.clock0, k.host0 = m.Clock.Now(), time.Now()
	m.skippedAt = ^uint64(0) // positions do not advance: never hold inputs back
	target := k.Steps + limit
	src := m.CPU.InterruptSource()
	for {
		k.syncClock()
		m.deliver()
		deadline := m.advanceTimers()
		if m.exiting {
			return m.exit, nil
		}
		if m.stopReq.Load() || !k.Deadline.IsZero() && !time.Now().Before(k.Deadline) {
			return Exit{Reason: ExitStopped}, nil
		}
		pending := src != nil && src.Pending()
		if pending && k.VM.ReadyForInterrupt() {
			if err := k.VM.Interrupt(src.Acknowledge()); err != nil {
				return Exit{}, err
			}
			k.Injected++
			pending = src.Pending()
		}
		k.VM.RequestInterruptWindow(pending)
		wait := k.hostWait(deadline)
		if wait < 0 || wait > stopPoll {
			wait = stopPoll
		}
		timer := time.AfterFunc(wait, k.VM.Kick)
		if step {
			if err := k.armStep(); err != nil {
				return Exit{}, err
			}
		}
		ex, err := k.VM.Run()
		timer.Stop()
		if err != nil {
			return Exit{}, err
		}
		k.Exits[ex.Kind]++
		switch ex.Kind {
		case kvm.ExitIO:
			k.portIO(ex)
			if m.exiting {
				return m.exit, nil
			}
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
			if m.exiting {
				return m.exit, nil
			}
		case kvm.ExitDebug, kvm.ExitHLT:
			if step {
				k.Steps++ // the instruction (HLT, for a HLT exit) retired
			}
			if ex.Kind == kvm.ExitDebug && !(step && k.steppingHLT) {
				if step && k.Steps >= target {
					return Exit{Reason: ExitInsnLimit}, nil
				}
				break
			}
			// HLT: a HLT exit, or the single step of a HLT, which the host
			// may report as a debug exit after it.
			rflags, err := k.VM.RFLAGS()
			if err != nil {
				return Exit{}, err
			}
			if rflags&cpu.FlagIF == 0 {
				k.halted = true
				return Exit{Reason: ExitHalt}, nil
			}
			if !k.idle(src) {
				k.halted = true
				return Exit{Reason: ExitIdle}, nil
			}
			if step && k.Steps >= target {
				return Exit{Reason: ExitInsnLimit}, nil
			}
		case kvm.ExitShutdown:
			return Exit{Reason: ExitTripleFault}, nil
		case kvm.ExitSystemEvent:
			if ex.Arg == 2 { // KVM_SYSTEM_EVENT_RESET
				return Exit{Reason: ExitReset}, nil
			}
			return Exit{Reason: ExitHalt}, nil
		case kvm.ExitIRQWindow, kvm.ExitIntr:
		}
	}
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
	var bps []uint64
	b, ok := k.readLinear(rip, 2)
	k.steppingHLT = ok && b[0] == 0xF4
	if ok && b[0] == 0x48 && b[1] == 0xCF {
		if f, ok := k.readLinear(r[cpu.RSP], 16); ok && binary.LittleEndian.Uint64(f[8:])&3 == 3 {
			bps = append(bps, binary.LittleEndian.Uint64(f))
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
func (k *KVM) idle(src cpu.InterruptSource) bool {
	m := k.m
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
	b, ok := k.readLinear(rip, 15)
	if !ok {
		if b, ok = k.readLinear(rip, 1); !ok {
			return "instruction not mapped"
		}
	}
	if in, err := disasm.Decode(b, rip); err == nil {
		return fmt.Sprintf("%s: % x", in.Text, b[:in.Len])
	}
	return fmt.Sprintf("bytes % x", b)
}
