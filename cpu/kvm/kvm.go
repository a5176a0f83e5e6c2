// Package kvm runs the ftvm guest CPU on the host's KVM: one virtual CPU
// over the board's guest RAM, loaded from and saved back to cpu.State, so
// the same board, devices and state comparisons serve the interpreter and
// hardware-assisted execution (ftvm run --accel kvm, ftvm difftest).
//
// It is deliberately thin: the VM has no in-kernel interrupt controller,
// timer or devices. Every port and MMIO access comes back to the caller
// (package machine), which dispatches it to the board's device models, and
// external interrupts are injected with KVM_INTERRUPT when the guest opens
// its interrupt window. KVM cannot count retired instructions, so a run is
// not deterministic and cannot be recorded; with SetSingleStep every
// instruction ends in ExitDebug, which is how difftest compares state at
// instruction counts.
//
// The vCPU presents ftvm's fixed CPUID model (cpu.CPUIDModel) through
// KVM_SET_CPUID2. Where the host's KVM cannot do that (PVM runs guest user
// code natively on the host CPU, so CPUID executed at CPL3 answers with the
// host's values), the difference is the host's, not ftvm's.
//
// PVM. On a host whose /dev/kvm is PVM (kvm_pvm: no VMX/SVM; IsPVM), the
// following was measured; all of it is the host's behaviour, reported as
// such, never as an ftvm mismatch:
//   - CPL3 code runs natively (bench_r3: about 6,600-8,000 million
//     instructions per second); CPL0 code goes through the host kernel's
//     instruction emulator at about 1 million per second (4.48 million
//     instructions of the exercise guest in 4.5 s).
//   - The emulator fails (KVM_EXIT_INTERNAL_ERROR, EmulationError) on
//     POPCNT and INT3 at CPL0 (seen here; LOCK CMPXCHG16B and XRSTOR were
//     reported too), and computes TZCNT and LZCNT wrongly without an error
//     (the exercise guest's tzcnt and lzcnt lines differ at CPL0 only).
//   - From CPL3, SYSCALL reaches LSTAR without supervisor rights (the
//     handler's first supervisor-page access faults with U=1) and INT 0x80
//     raises #UD; exceptions (#PF, #UD, INT3's #BP) are delivered through
//     the guest's IDT with the TSS stack switch, and IRETQ returns to CPL3.
//   - Single-stepping and hardware breakpoints work for emulated (CPL0)
//     code only: native CPL3 code runs on to its next trap. The step after
//     an emulated OUT also executes the next instruction, and the step of a
//     HLT is reported as a debug exit after it.
//   - No MSR of cpu.SystemRegs is refused; KVM_SET_TSC_KHZ is.
//
// No cgo: the ioctls go through golang.org/x/sys/unix.
package kvm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"ftvm/cpu"
)

// DefaultDevice is the KVM device node.
const DefaultDevice = "/dev/kvm"

// DeviceEnv names the environment variable that overrides the device node
// (tests point it at a missing path to exercise the unavailable case).
const DeviceEnv = "FTVM_KVM_DEVICE"

// APIVersion is the only KVM API version there is (KVM_GET_API_VERSION).
const APIVersion = 12

// Device returns the device node to use: $FTVM_KVM_DEVICE or /dev/kvm.
func Device() string {
	if d := os.Getenv(DeviceEnv); d != "" {
		return d
	}
	return DefaultDevice
}

// UnavailableError says KVM cannot be used on this host.
type UnavailableError struct{ Reason string }

func (e *UnavailableError) Error() string { return "KVM is not available: " + e.Reason }

func unavailable(format string, args ...any) error {
	return &UnavailableError{Reason: fmt.Sprintf(format, args...)}
}

// IsPVM reports whether the host's KVM is the PVM module (pagetable-based
// virtual machine, no VMX/SVM): guest CPL3 code runs natively, guest CPL0
// code is handled by the host kernel, much more slowly.
func IsPVM() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}

// hostName names the host's hypervisor in messages.
func hostName() string {
	if IsPVM() {
		return "PVM"
	}
	return "KVM"
}

// Options configure a VM.
type Options struct {
	// Device is the KVM device node (Device() when empty).
	Device string
}

// VM is one KVM virtual machine with one vCPU.
type VM struct {
	kvmFD, vmFD, vcpuFD int
	run                 []byte // the mmapped struct kvm_run
	hdr                 *runHeader
	ram                 []byte
	singleStep          bool
	// Rejected lists the MSRs the host refused in SetState (PVM, for
	// instance, keeps its own SYSENTER MSRs); they keep the host's values.
	Rejected []uint32
	// tid is the host thread running the vCPU (for Kick).
	tid atomic.Int32
	// kickMu keeps Kick off a kvm_run that Close unmaps.
	kickMu sync.Mutex
	// TSCKHz is the guest TSC frequency KVM accepted (0: the host's).
	TSCKHz uint32
}

// Open creates a VM whose guest physical memory [0, len(ram)) is ram, and
// its vCPU. ram must be page-aligned and a multiple of the page size.
func Open(ram []byte, opts Options) (*VM, error) {
	dev := opts.Device
	if dev == "" {
		dev = Device()
	}
	if len(ram) == 0 || len(ram)%4096 != 0 {
		return nil, fmt.Errorf("kvm: guest RAM size %d is not a positive multiple of 4096", len(ram))
	}
	if a := uintptr(unsafe.Pointer(&ram[0])); a%4096 != 0 {
		return nil, fmt.Errorf("kvm: guest RAM at %#x is not page-aligned", a)
	}
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, unavailable("open %s: %v", dev, err)
	}
	v := &VM{kvmFD: fd, vmFD: -1, vcpuFD: -1, ram: ram}
	ok := false
	defer func() {
		if !ok {
			v.Close()
		}
	}()
	ver, err := ioctl(fd, kvmGetAPIVersion, 0)
	if err != nil {
		return nil, unavailable("%s: KVM_GET_API_VERSION: %v", dev, err)
	}
	if ver != APIVersion {
		return nil, unavailable("%s: KVM API version %d, want %d", dev, ver, APIVersion)
	}
	if n, _ := ioctl(fd, kvmCheckExtension, capUserMemory); n <= 0 {
		return nil, unavailable("%s: no KVM_CAP_USER_MEMORY", dev)
	}
	if v.vmFD, err = ioctl(fd, kvmCreateVM, 0); err != nil {
		v.vmFD = -1
		return nil, unavailable("%s: KVM_CREATE_VM: %v", dev, err)
	}
	region := userspaceMemoryRegion{MemorySize: uint64(len(ram)), UserspaceAddr: uint64(uintptr(unsafe.Pointer(&ram[0])))}
	if _, err := ioctlPtr(v.vmFD, kvmSetUserMemoryRegion, unsafe.Pointer(&region)); err != nil {
		return nil, fmt.Errorf("kvm: KVM_SET_USER_MEMORY_REGION (%d bytes): %v", len(ram), err)
	}
	if v.vcpuFD, err = ioctl(v.vmFD, kvmCreateVCPU, 0); err != nil {
		v.vcpuFD = -1
		return nil, fmt.Errorf("kvm: KVM_CREATE_VCPU: %v", err)
	}
	size, err := ioctl(fd, kvmGetVCPUMmapSize, 0)
	if err != nil || size < 4096 {
		return nil, fmt.Errorf("kvm: KVM_GET_VCPU_MMAP_SIZE: %d, %v", size, err)
	}
	if v.run, err = unix.Mmap(v.vcpuFD, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, fmt.Errorf("kvm: mmap of kvm_run: %v", err)
	}
	v.hdr = (*runHeader)(unsafe.Pointer(&v.run[0]))
	if err := v.setCPUID(); err != nil {
		return nil, err
	}
	// One guest TSC tick per guest nanosecond, as the interpreter's
	// (machine.TSCHz). Not every host can scale the TSC; RDTSC values are a
	// documented don't-care of the comparisons anyway.
	if _, err := ioctl(v.vcpuFD, kvmSetTSCKHz, 1_000_000); err == nil {
		v.TSCKHz = 1_000_000
	}
	ok = true
	return v, nil
}

// Close releases the VM.
func (v *VM) Close() error {
	v.kickMu.Lock()
	defer v.kickMu.Unlock()
	if v.run != nil {
		unix.Munmap(v.run)
		v.run, v.hdr = nil, nil
	}
	for _, fd := range []*int{&v.vcpuFD, &v.vmFD, &v.kvmFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	return nil
}

// setCPUID loads ftvm's fixed CPUID model into the vCPU.
func (v *VM) setCPUID() error {
	var c cpuid2
	add := func(fn, idx, flags uint32) {
		r := cpu.CPUIDModel(fn, idx)
		c.Entries[c.N] = cpuidEntry{Function: fn, Index: idx, Flags: flags, EAX: r.EAX, EBX: r.EBX, ECX: r.ECX, EDX: r.EDX}
		c.N++
	}
	maxBasic := cpu.CPUIDModel(0, 0).EAX
	for fn := uint32(0); fn <= maxBasic; fn++ {
		switch fn {
		case 4:
			for sub := uint32(0); sub <= cpu.CPUIDCacheLeaves; sub++ {
				add(fn, sub, cpuidFlagSignificantIndex)
			}
			continue
		case 7:
			for sub := uint32(0); sub <= cpu.CPUIDModel(7, 0).EAX; sub++ {
				add(fn, sub, cpuidFlagSignificantIndex)
			}
			continue
		}
		add(fn, 0, 0)
	}
	maxExt := cpu.CPUIDModel(0x80000000, 0).EAX
	for fn := uint32(0x80000000); fn <= maxExt; fn++ {
		add(fn, 0, 0)
	}
	if _, err := ioctlPtr(v.vcpuFD, kvmSetCPUID2, unsafe.Pointer(&c)); err != nil {
		return fmt.Errorf("kvm: KVM_SET_CPUID2: %v", err)
	}
	return nil
}

// msrTSC is IA32_TIME_STAMP_COUNTER, set with the other MSRs of a state.
const msrTSC = 0x10

// stateMSRs returns the MSRs of s in the order SetState writes them.
func stateMSRs(s *cpu.SystemRegs) []msrEntry {
	var list []msrEntry
	for _, n := range cpu.SystemMSRs() {
		list = append(list, msrEntry{Index: n, Data: *s.MSR(n)})
	}
	return list
}

func toKVMSegment(s cpu.Segment) segment {
	a := s.Attr
	k := segment{
		Base: s.Base, Limit: s.Limit, Selector: s.Selector,
		Type: uint8(a & 0xF), S: uint8(a >> 4 & 1), DPL: uint8(a >> 5 & 3), Present: uint8(a >> 7 & 1),
		AVL: uint8(a >> 12 & 1), L: uint8(a >> 13 & 1), DB: uint8(a >> 14 & 1), G: uint8(a >> 15 & 1),
	}
	if k.Present == 0 {
		k.Unusable = 1
	}
	return k
}

func fromKVMSegment(k segment) cpu.Segment {
	a := uint16(k.Type&0xF) | uint16(k.S&1)<<4 | uint16(k.DPL&3)<<5 | uint16(k.Present&1)<<7 |
		uint16(k.AVL&1)<<12 | uint16(k.L&1)<<13 | uint16(k.DB&1)<<14 | uint16(k.G&1)<<15
	if k.Unusable != 0 {
		a &^= cpu.SegAttrP
	}
	return cpu.Segment{Selector: k.Selector, Base: k.Base, Limit: k.Limit, Attr: a}
}

// SetState loads s into the vCPU: general registers, RIP, RFLAGS, segment,
// descriptor-table and control registers, EFER, the APIC base and the
// MSRs of cpu.SystemRegs, and the TSC (tsc, the guest's TSC now). Debug
// registers and the interrupt shadow are not transferred.
func (v *VM) SetState(s cpu.State, tsc uint64) error {
	sys := &s.Sys
	sr := sregs{
		CS: toKVMSegment(sys.Seg[cpu.CS]), DS: toKVMSegment(sys.Seg[cpu.DS]), ES: toKVMSegment(sys.Seg[cpu.ES]),
		FS: toKVMSegment(sys.Seg[cpu.FS]), GS: toKVMSegment(sys.Seg[cpu.GS]), SS: toKVMSegment(sys.Seg[cpu.SS]),
		TR: toKVMSegment(sys.TR), LDT: toKVMSegment(sys.LDTR),
		GDT: dtable{Base: sys.GDTR.Base, Limit: sys.GDTR.Limit}, IDT: dtable{Base: sys.IDTR.Base, Limit: sys.IDTR.Limit},
		CR0: sys.CR0, CR2: sys.CR2, CR3: sys.CR3, CR4: sys.CR4, CR8: sys.CR8, EFER: sys.EFER, APICBase: sys.APICBase,
	}
	if _, err := ioctlPtr(v.vcpuFD, kvmSetSregs, unsafe.Pointer(&sr)); err != nil {
		return fmt.Errorf("kvm: KVM_SET_SREGS: %v", err)
	}
	r := s.R
	rg := regs{
		RAX: r[cpu.RAX], RBX: r[cpu.RBX], RCX: r[cpu.RCX], RDX: r[cpu.RDX], RSI: r[cpu.RSI], RDI: r[cpu.RDI],
		RSP: r[cpu.RSP], RBP: r[cpu.RBP], R8: r[cpu.R8], R9: r[cpu.R9], R10: r[cpu.R10], R11: r[cpu.R11],
		R12: r[cpu.R12], R13: r[cpu.R13], R14: r[cpu.R14], R15: r[cpu.R15], RIP: s.RIP, RFLAGS: s.RFLAGS,
	}
	if _, err := ioctlPtr(v.vcpuFD, kvmSetRegs, unsafe.Pointer(&rg)); err != nil {
		return fmt.Errorf("kvm: KVM_SET_REGS: %v", err)
	}
	v.Rejected = v.Rejected[:0]
	for _, e := range append(stateMSRs(sys), msrEntry{Index: msrTSC, Data: tsc}) {
		m := msrs{N: 1}
		m.Entries[0] = e
		if n, err := ioctlPtr(v.vcpuFD, kvmSetMSRs, unsafe.Pointer(&m)); err != nil || n != 1 {
			v.Rejected = append(v.Rejected, e.Index)
		}
	}
	return nil
}

// State returns the vCPU's state, starting from base for what KVM does not
// hold (debug registers, TSC offset, Retired, Halted, IntShadow).
func (v *VM) State(base cpu.State) (cpu.State, error) {
	s := base
	var rg regs
	if _, err := ioctlPtr(v.vcpuFD, kvmGetRegs, unsafe.Pointer(&rg)); err != nil {
		return s, fmt.Errorf("kvm: KVM_GET_REGS: %v", err)
	}
	s.R = [16]uint64{rg.RAX, rg.RCX, rg.RDX, rg.RBX, rg.RSP, rg.RBP, rg.RSI, rg.RDI,
		rg.R8, rg.R9, rg.R10, rg.R11, rg.R12, rg.R13, rg.R14, rg.R15}
	s.RIP, s.RFLAGS = rg.RIP, rg.RFLAGS
	var sr sregs
	if _, err := ioctlPtr(v.vcpuFD, kvmGetSregs, unsafe.Pointer(&sr)); err != nil {
		return s, fmt.Errorf("kvm: KVM_GET_SREGS: %v", err)
	}
	sys := &s.Sys
	sys.Seg[cpu.CS], sys.Seg[cpu.DS], sys.Seg[cpu.ES] = fromKVMSegment(sr.CS), fromKVMSegment(sr.DS), fromKVMSegment(sr.ES)
	sys.Seg[cpu.FS], sys.Seg[cpu.GS], sys.Seg[cpu.SS] = fromKVMSegment(sr.FS), fromKVMSegment(sr.GS), fromKVMSegment(sr.SS)
	sys.TR, sys.LDTR = fromKVMSegment(sr.TR), fromKVMSegment(sr.LDT)
	sys.GDTR = cpu.DTR{Base: sr.GDT.Base, Limit: sr.GDT.Limit}
	sys.IDTR = cpu.DTR{Base: sr.IDT.Base, Limit: sr.IDT.Limit}
	sys.CR0, sys.CR2, sys.CR3, sys.CR4, sys.CR8 = sr.CR0, sr.CR2, sr.CR3, sr.CR4, sr.CR8
	sys.EFER, sys.APICBase = sr.EFER, sr.APICBase
	list := stateMSRs(sys)
	var m msrs
	for _, e := range list {
		if !v.rejected(e.Index) {
			m.Entries[m.N] = msrEntry{Index: e.Index}
			m.N++
		}
	}
	n, err := ioctlPtr(v.vcpuFD, kvmGetMSRs, unsafe.Pointer(&m))
	if err != nil {
		return s, fmt.Errorf("kvm: KVM_GET_MSRS: %v", err)
	}
	for _, e := range m.Entries[:n] {
		if p := sys.MSR(e.Index); p != nil {
			*p = e.Data
		}
	}
	var ev vcpuEvents
	if _, err := ioctlPtr(v.vcpuFD, kvmGetVCPUEvents, unsafe.Pointer(&ev)); err == nil {
		s.IntShadow = ev.IntShadow != 0
	}
	return s, nil
}

func (v *VM) rejected(index uint32) bool {
	for _, r := range v.Rejected {
		if r == index {
			return true
		}
	}
	return false
}

// SetSingleStep turns single-stepping on or off: when on, each Run ends
// with ExitDebug after one instruction (or before it, with an I/O exit).
// KVM sets the trap flag for code it runs natively only while RIP is where
// single-stepping was requested, so call it again before every Run.
func (v *VM) SetSingleStep(on bool) error { return v.SetDebug(on) }

// SetDebug sets single-stepping and up to four hardware instruction
// breakpoints (linear addresses): Run ends with ExitDebug before the
// instruction at a breakpoint executes.
func (v *VM) SetDebug(singleStep bool, breakpoints ...uint64) error {
	var d guestDebug
	if singleStep || len(breakpoints) > 0 {
		d.Control = guestDbgEnable
	}
	if singleStep {
		d.Control |= guestDbgSingleStep
	}
	if len(breakpoints) > 4 {
		return fmt.Errorf("kvm: %d hardware breakpoints, at most 4", len(breakpoints))
	}
	if len(breakpoints) > 0 {
		d.Control |= guestDbgUseHWBP
		dr7 := uint64(0x400)
		for i, a := range breakpoints {
			d.DebugReg[i] = a
			dr7 |= 3 << (2 * i) // L and G enable, RW=00 (execute), LEN=00
		}
		d.DebugReg[7] = dr7
	}
	if _, err := ioctlPtr(v.vcpuFD, kvmSetGuestDebug, unsafe.Pointer(&d)); err != nil {
		return fmt.Errorf("kvm: KVM_SET_GUEST_DEBUG: %v", err)
	}
	v.singleStep = singleStep
	return nil
}

// Translate returns the guest physical address of a linear address in the
// vCPU's current address space.
func (v *VM) Translate(linear uint64) (phys uint64, ok bool, err error) {
	t := translation{LinearAddress: linear}
	if _, err := ioctlPtr(v.vcpuFD, kvmTranslate, unsafe.Pointer(&t)); err != nil {
		return 0, false, fmt.Errorf("kvm: KVM_TRANSLATE: %v", err)
	}
	return t.PhysicalAddress, t.Valid != 0, nil
}

// Regs returns the general registers (in cpu.State order), RIP and RFLAGS.
func (v *VM) Regs() (r [16]uint64, rip, rflags uint64, err error) {
	var rg regs
	if _, err := ioctlPtr(v.vcpuFD, kvmGetRegs, unsafe.Pointer(&rg)); err != nil {
		return r, 0, 0, fmt.Errorf("kvm: KVM_GET_REGS: %v", err)
	}
	r = [16]uint64{rg.RAX, rg.RCX, rg.RDX, rg.RBX, rg.RSP, rg.RBP, rg.RSI, rg.RDI,
		rg.R8, rg.R9, rg.R10, rg.R11, rg.R12, rg.R13, rg.R14, rg.R15}
	return r, rg.RIP, rg.RFLAGS, nil
}

// RequestInterruptWindow asks KVM to exit (ExitIRQWindow) as soon as the
// guest can take an external interrupt.
func (v *VM) RequestInterruptWindow(on bool) {
	if on {
		v.hdr.RequestInterruptWindow = 1
	} else {
		v.hdr.RequestInterruptWindow = 0
	}
}

// ReadyForInterrupt reports whether an interrupt can be injected now
// (RFLAGS.IF set, no interrupt shadow, nothing else being injected).
func (v *VM) ReadyForInterrupt() bool { return v.hdr.ReadyForInjection != 0 }

// Interrupt queues external interrupt vector for injection at the next
// Run. Call it only when ReadyForInterrupt.
func (v *VM) Interrupt(vector uint8) error {
	irq := uint32(vector)
	if _, err := ioctlPtr(v.vcpuFD, kvmInterrupt, unsafe.Pointer(&irq)); err != nil {
		return fmt.Errorf("kvm: KVM_INTERRUPT %d: %v", vector, err)
	}
	return nil
}

// Kick makes a Run in progress on another goroutine return ExitIntr soon
// (it is safe to call at any time, from any goroutine).
func (v *VM) Kick() {
	v.kickMu.Lock()
	defer v.kickMu.Unlock()
	if v.hdr == nil {
		return
	}
	v.hdr.ImmediateExit = 1 // picked up if the vCPU is between runs
	if tid := v.tid.Load(); tid != 0 {
		// SIGURG: the Go runtime's own preemption signal, harmless to
		// any Go thread; it makes KVM_RUN return with EINTR.
		unix.Tgkill(os.Getpid(), int(tid), unix.SIGURG)
	}
}

// ExitKind classifies why Run returned.
type ExitKind int

// Exit kinds.
const (
	ExitIO          ExitKind = iota + 1 // port I/O: Port, Size, Count, In, Data
	ExitMMIO                            // MMIO: Addr, Size, In, Data
	ExitHLT                             // HLT executed (RIP is past it)
	ExitShutdown                        // triple fault
	ExitIRQWindow                       // the interrupt window opened
	ExitIntr                            // a signal or Kick interrupted the run
	ExitDebug                           // single step done
	ExitSystemEvent                     // shutdown/reset request (Arg: type)
)

var exitKindNames = [...]string{"", "io", "mmio", "hlt", "shutdown", "irq-window", "intr", "debug", "system-event"}

func (k ExitKind) String() string {
	if int(k) < len(exitKindNames) && k > 0 {
		return exitKindNames[k]
	}
	return fmt.Sprintf("exit(%d)", int(k))
}

// Exit describes a vCPU exit that the caller handles.
type Exit struct {
	Kind ExitKind
	// Port I/O and MMIO.
	Port  uint16
	Addr  uint64
	Size  int  // bytes per access
	Count int  // accesses (string I/O); 1 otherwise
	In    bool // a read: fill Data before the next Run
	// Data is the transfer buffer inside kvm_run (Count*Size bytes).
	Data []byte
	// Arg is the system event type or the debug exception's PC.
	Arg uint64
}

// EmulationError is KVM_EXIT_INTERNAL_ERROR: the host's KVM could not
// emulate an instruction. On PVM this is a limitation of the host, not a
// mismatch of ftvm.
type EmulationError struct {
	Host     string // "PVM" or "KVM"
	RIP      uint64
	Suberror uint32
	Data     []uint64
	// Insn is the instruction at RIP when known (filled by the caller).
	Insn string
}

func (e *EmulationError) Error() string {
	what := "internal error"
	switch e.Suberror {
	case internalEmulation:
		what = "emulation failure"
	case internalSimulEx:
		what = "simultaneous exceptions"
	case internalDelivery:
		what = "event delivery failure"
	case internalUnexpected:
		what = "unexpected exit"
	}
	insn := ""
	if e.Insn != "" {
		insn = " (" + e.Insn + ")"
	}
	var data []string
	for _, d := range e.Data {
		data = append(data, fmt.Sprintf("%#x", d))
	}
	extra := ""
	if len(data) > 0 {
		extra = fmt.Sprintf(" [suberror %d data %s]", e.Suberror, strings.Join(data, " "))
	}
	return fmt.Sprintf("PVM/KVM %s at RIP %#x%s%s on this %s host (a limitation of this host's KVM, not an ftvm mismatch)",
		what, e.RIP, insn, extra, e.Host)
}

// FailEntryError is KVM_EXIT_FAIL_ENTRY: the host refused the guest state.
type FailEntryError struct {
	Reason uint64
	RIP    uint64
}

func (e *FailEntryError) Error() string {
	return fmt.Sprintf("KVM refused to enter the guest at RIP %#x (hardware entry failure reason %#x)", e.RIP, e.Reason)
}

// ErrUnknownExit is wrapped for exits ftvm does not know.
var ErrUnknownExit = errors.New("unexpected KVM exit")

func (v *VM) rip() uint64 {
	var rg regs
	ioctlPtr(v.vcpuFD, kvmGetRegs, unsafe.Pointer(&rg))
	return rg.RIP
}

// Run runs the vCPU until an exit the caller must handle. The calling
// goroutine should be locked to its OS thread (runtime.LockOSThread): KVM
// charges a vCPU that moves between threads.
func (v *VM) Run() (Exit, error) {
	v.tid.Store(int32(unix.Gettid()))
	defer v.tid.Store(0)
	for {
		_, err := ioctl(v.vcpuFD, kvmRun, 0)
		v.hdr.ImmediateExit = 0
		if err == unix.EINTR || err == unix.EAGAIN {
			return Exit{Kind: ExitIntr}, nil
		}
		if err != nil {
			return Exit{}, fmt.Errorf("kvm: KVM_RUN: %v", err)
		}
		u := unsafe.Pointer(&v.run[runUnionOffset])
		switch v.hdr.ExitReason {
		case exitIO:
			io := (*runIO)(u)
			n := int(io.Size) * int(io.Count)
			off := int(io.DataOffset)
			if off+n > len(v.run) {
				return Exit{}, fmt.Errorf("kvm: I/O exit data at %d+%d is outside kvm_run", off, n)
			}
			return Exit{Kind: ExitIO, Port: io.Port, Size: int(io.Size), Count: int(io.Count), In: io.Direction == 0,
				Data: v.run[off : off+n : off+n]}, nil
		case exitMMIO:
			mm := (*runMMIO)(u)
			return Exit{Kind: ExitMMIO, Addr: mm.PhysAddr, Size: int(mm.Len), Count: 1, In: mm.IsWrite == 0,
				Data: unsafe.Slice(&mm.Data[0], min(int(mm.Len), 8))}, nil
		case exitHLT:
			return Exit{Kind: ExitHLT}, nil
		case exitShutdown:
			return Exit{Kind: ExitShutdown}, nil
		case exitIRQWindowOpen:
			return Exit{Kind: ExitIRQWindow}, nil
		case exitIntr:
			return Exit{Kind: ExitIntr}, nil
		case exitDebug:
			d := (*runDebug)(u)
			return Exit{Kind: ExitDebug, Arg: d.PC}, nil
		case exitSystemEvent:
			return Exit{Kind: ExitSystemEvent, Arg: uint64((*runSystemEvent)(u).Type)}, nil
		case exitInternalError:
			in := (*runInternal)(u)
			e := &EmulationError{Host: hostName(), RIP: v.rip(), Suberror: in.Suberror}
			e.Data = append(e.Data, in.Data[:min(in.NData, 16)]...)
			return Exit{}, e
		case exitFailEntry:
			return Exit{}, &FailEntryError{Reason: (*runFailEntry)(u).Reason, RIP: v.rip()}
		case exitException:
			ex := (*runException)(u)
			return Exit{}, fmt.Errorf("%w: exception %d error code %#x at RIP %#x reported by %s (a limitation of this host's KVM, not an ftvm mismatch)",
				ErrUnknownExit, ex.Exception, ex.ErrorCode, v.rip(), hostName())
		default:
			return Exit{}, fmt.Errorf("%w: reason %d at RIP %#x", ErrUnknownExit, v.hdr.ExitReason, v.rip())
		}
	}
}

// LockThread locks the calling goroutine to its OS thread for a run and
// returns the function that unlocks it.
func LockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// Complete finishes an instruction whose I/O or MMIO exit was handled (KVM
// completes it on the next KVM_RUN) without running the guest further, so
// the state read afterwards is after that instruction. It reports whether
// a single step ended there (the instruction retired under SetSingleStep).
func (v *VM) Complete() (stepped bool, err error) {
	v.hdr.ImmediateExit = 1
	_, err = ioctl(v.vcpuFD, kvmRun, 0)
	v.hdr.ImmediateExit = 0
	if err == unix.EINTR || err == unix.EAGAIN {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kvm: KVM_RUN (completing I/O): %v", err)
	}
	return v.hdr.ExitReason == exitDebug, nil
}

// RFLAGS returns the vCPU's RFLAGS.
func (v *VM) RFLAGS() (uint64, error) {
	var rg regs
	if _, err := ioctlPtr(v.vcpuFD, kvmGetRegs, unsafe.Pointer(&rg)); err != nil {
		return 0, fmt.Errorf("kvm: KVM_GET_REGS: %v", err)
	}
	return rg.RFLAGS, nil
}
