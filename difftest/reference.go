package difftest

import (
	"ftvm/cpu"
	"ftvm/cpu/kvm"
	"ftvm/machine"
)

// Reference is the execution the interpreter is compared with: the host CPU
// behind KVM, or, in tests, a model of another processor. It runs the
// reference side's machine (its RAM and devices).
type Reference interface {
	// Run runs the guest to its end.
	Run() (machine.Exit, error)
	// Step executes one step: one instruction, or, where the reference
	// cannot single-step (NativeUser), the user-mode code up to the next
	// kernel entry. It returns machine.ExitInsnLimit after a step, or how
	// the guest ended.
	Step() (machine.Exit, error)
	// State returns the reference's state after the last step.
	State() (cpu.State, error)
	// Sync makes the reference side's machine hold that state.
	Sync() error
	// Interrupts counts the external interrupts the reference has taken.
	Interrupts() uint64
	// NativeUser reports that a step runs user-mode (CPL 3) code whole, to
	// its next kernel entry.
	NativeUser() bool
}

// kvmReference is the host CPU behind KVM.
type kvmReference struct{ k *machine.KVM }

func (r kvmReference) Run() (machine.Exit, error)  { return r.k.Run() }
func (r kvmReference) Step() (machine.Exit, error) { return r.k.Step(1) }
func (r kvmReference) State() (cpu.State, error)   { return r.k.State() }
func (r kvmReference) Sync() error                 { return r.k.Sync() }
func (r kvmReference) Interrupts() uint64          { return r.k.Injected }

// NativeUser: PVM runs CPL3 code natively and cannot single-step it.
func (r kvmReference) NativeUser() bool { return kvm.IsPVM() }
