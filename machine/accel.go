package machine

import "ftvm/cpu"

// An Accelerator executes the guest's instructions for the run loop
// (Machine.RunOn): the interpreter (Machine.Interpreter) or the host's KVM
// (Machine.OpenKVM). Everything around the instructions — inputs, timers,
// checks, stop and pause requests, exits — is the loop's, written once.
type Accelerator interface {
	// begin prepares a run; end finishes it, given the loop's outcome,
	// and returns the run's outcome.
	begin() error
	end(exit Exit, err error) (Exit, error)
	// position is the number of instructions retired, as far as the
	// accelerator counts them (KVM counts only single steps).
	position() uint64
	// turn is called at the top of every turn of the loop, before inputs
	// and timers; true ends the run with ExitStopped.
	turn() (stop bool)
	// execute runs the guest for at most budget instructions where the
	// accelerator counts them, and not far past guest time deadline (the
	// next timer event, ^0 for none) where it does not, and says why it
	// stopped.
	execute(budget, deadline uint64) (cpu.StopReason, error)
	// idle waits, the guest being in HLT with interrupts enabled, for
	// something that can wake it (deadline is the next timer event), and
	// reports false when nothing ever can.
	idle(deadline uint64) bool
}

// Interpreter returns the accelerator that executes the guest with the
// board's own CPU interpreter, deterministically: positions count retired
// instructions and guest time follows them (or the recorded host clock).
func (m *Machine) Interpreter() Accelerator { return interpreter{m} }

// interpreter is the pure-Go CPU as an accelerator.
type interpreter struct{ m *Machine }

func (interpreter) begin() error                           { return nil }
func (interpreter) end(exit Exit, err error) (Exit, error) { return exit, err }
func (i interpreter) position() uint64                     { return i.m.CPU.Position() }
func (interpreter) turn() bool                             { return false }
func (i interpreter) idle(deadline uint64) bool            { return i.m.idle(deadline) }

func (i interpreter) execute(budget, _ uint64) (cpu.StopReason, error) {
	return i.m.CPU.Run(budget), nil
}
