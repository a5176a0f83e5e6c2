package cpu

// State is the CPU's whole architectural state as plain data, for snapshots
// and divergence checks.
type State struct {
	R         [16]uint64
	RIP       uint64
	RFLAGS    uint64
	Sys       SystemRegs
	FPU       FPUState
	TSCOffset uint64
	Retired   uint64
	Halted    bool
	IntShadow bool
}

// State returns the CPU state. It must be called between runs.
func (c *CPU) State() State {
	s := State{
		RIP:       c.RIP,
		RFLAGS:    c.flags(),
		Sys:       c.SystemRegs,
		FPU:       c.FPU,
		TSCOffset: c.tscOffset,
		Retired:   c.Retired,
		Halted:    c.halted,
		IntShadow: c.intShadow,
	}
	copy(s.R[:], c.R[:16])
	return s
}

// SetState loads a state returned by State. Decoded code and translations
// are dropped.
func (c *CPU) SetState(s State) {
	copy(c.R[:16], s.R[:])
	c.RIP = s.RIP
	c.SetRFLAGS(s.RFLAGS)
	c.SystemRegs = s.Sys
	c.FPU = s.FPU
	c.tscOffset = s.TSCOffset
	c.Retired = s.Retired
	c.halted = s.Halted
	c.intShadow = s.IntShadow
	c.code.flushAll()
	c.StateChanged()
}
