package cpu

// Miscellaneous instructions: NOP, PAUSE, HLT, and fences.

func init() {
	binders[OpNOP] = func(*Inst) handler { return execNOP }
	binders[OpPAUSE] = func(*Inst) handler { return execNOP }
	binders[OpFENCE] = func(*Inst) handler { return execNOP }
	binders[OpHLT] = func(*Inst) handler { return execHLT }
}

func execNOP(c *CPU, in *Inst) {}

// execHLT stops the CPU until an interrupt arrives.
func execHLT(c *CPU, in *Inst) {
	if c.CPL != 0 {
		c.raise(VecGP, 0)
	}
	c.halted = true
	c.endBlock(in)
}
