package cpu

// The x87 environment and state images: FNSTENV/FLDENV and FNSAVE/FRSTOR in
// the 32-bit protected-mode layout (16-bit with an operand-size prefix), as
// 64-bit mode uses them, and FXSAVE/FXRSTOR's 512-byte image (SDM Vol. 1,
// 8.1.10 and Vol. 2, FXSAVE, Tables 3-53 and 3-56). The FPU CS and DS
// selectors are deprecated, as CPUID.(EAX=7,ECX=0):EBX[13] says: they are
// stored as 0 and never loaded.

func init() {
	bindFixed(map[Op]handler{
		OpFNSTENV: execFNSTENV, OpFLDENV: execFLDENV, OpFNSAVE: execFNSAVE, OpFRSTOR: execFRSTOR,
		OpFXSAVE: execFXSAVE, OpFXRSTOR: execFXRSTOR,
	})
}

// fullTags returns the tag word FNSTENV stores: empty registers as marked,
// the others classified by content.
func (f *FPUState) fullTags() uint16 {
	var w uint16
	for p := range 8 {
		t := tagEmpty
		if f.tag(p) != tagEmpty {
			t = tagOf(f.ST[p])
		}
		w |= uint16(t) << (2 * p)
	}
	return w
}

// loadTags sets the tag word from a stored one: only empty versus not
// empty is kept (as the abridged tag the hardware holds); the rest follows
// from the registers' contents.
func (f *FPUState) loadTags(empty func(p int) bool) {
	for p := range 8 {
		t := tagEmpty
		if !empty(p) {
			t = tagOf(f.ST[p])
		}
		f.setTag(p, t)
	}
}

// envSize returns the size of the FNSTENV image: 14 bytes with an
// operand-size prefix, else 28.
func envSize(in *Inst) uint64 {
	if in.osz == 2 {
		return 14
	}
	return 28
}

// storeEnv writes the environment image at addr and returns its size.
func (c *CPU) storeEnv(in *Inst, addr uint64) uint64 {
	f := &c.FPU
	n := envSize(in)
	c.probeWrite(addr, int(n))
	if n == 14 {
		for i, v := range [7]uint16{f.FCW, f.FSW, f.fullTags(), uint16(f.FIP), f.FCS, uint16(f.FDP), f.FDS} {
			c.write16(addr+uint64(2*i), v)
		}
		return n
	}
	for i, v := range [7]uint32{
		0xFFFF0000 | uint32(f.FCW), 0xFFFF0000 | uint32(f.FSW), 0xFFFF0000 | uint32(f.fullTags()),
		uint32(f.FIP), uint32(f.FCS) | uint32(f.FOP&0x7FF)<<16, uint32(f.FDP), 0xFFFF0000 | uint32(f.FDS),
	} {
		c.write32(addr+uint64(4*i), v)
	}
	return n
}

// loadEnv reads the environment image at addr and returns its size.
func (c *CPU) loadEnv(in *Inst, addr uint64) uint64 {
	f := &c.FPU
	n := envSize(in)
	var w [7]uint32
	for i := range w {
		if n == 14 {
			w[i] = uint32(c.read16(addr + uint64(2*i)))
		} else {
			w[i] = c.read32(addr + uint64(4*i))
		}
	}
	f.FCW = fcwValid(uint16(w[0]))
	f.FSW = uint16(w[1])
	ftw := uint16(w[2])
	f.loadTags(func(p int) bool { return ftw>>(2*p)&3 == tagEmpty })
	f.FIP, f.FDP = uint64(w[3]), uint64(w[5]) // FCS, FDS: deprecated, stay 0
	if n == 28 {
		f.FOP = uint16(w[4]>>16) & 0x7FF
	}
	f.summarize()
	return n
}

// execFNSTENV stores the environment, then masks all exceptions.
func execFNSTENV(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	c.storeEnv(in, c.ea(in))
	c.FPU.FCW |= fswExc
}

func execFLDENV(c *CPU, in *Inst) {
	c.x87Begin(in, true, true)
	c.loadEnv(in, c.ea(in))
}

// execFNSAVE stores the environment and the eight registers in stack order,
// then initializes the FPU.
func execFNSAVE(c *CPU, in *Inst) {
	c.x87Begin(in, false, true)
	addr := c.ea(in)
	f := &c.FPU
	n := envSize(in)
	c.probeWrite(addr, int(n+80))
	c.storeEnv(in, addr)
	for i := range 8 {
		v := f.st(i)
		c.write64(addr+n+uint64(10*i), v.Mant)
		c.write16(addr+n+uint64(10*i)+8, v.SignExp)
	}
	c.x87Init()
}

// execFRSTOR loads what FNSAVE stored.
func execFRSTOR(c *CPU, in *Inst) {
	c.x87Begin(in, true, true)
	addr := c.ea(in)
	f := &c.FPU
	n := envSize(in)
	var regs [8]Float80
	for i := range regs {
		regs[i] = Float80{Mant: c.read64(addr + n + uint64(10*i)), SignExp: c.read16(addr + n + uint64(10*i) + 8)}
	}
	top := int(c.read16(addr+n/7) >> fswTopShift & 7) // FSW: offset 2 or 4
	for i, v := range regs {
		f.ST[(top+i)&7] = v
	}
	c.loadEnv(in, addr)
}

// fxImage checks FXSAVE/FXRSTOR's preconditions and returns the image's
// address: #NM when CR0.EM or CR0.TS, #GP(0) unless 16-byte aligned.
func (c *CPU) fxImage(in *Inst) uint64 {
	if c.CR0&(CR0EM|CR0TS) != 0 {
		c.raise(VecNM, 0)
	}
	addr := c.ea(in)
	if addr&15 != 0 {
		c.raise(VecGP, 0)
	}
	return addr
}

// execFXSAVE stores the x87, MXCSR and XMM state in the 512-byte layout;
// with REX.W the instruction and data pointers are 64-bit, otherwise 32-bit
// offsets with selectors. Bytes 416-511 are left alone.
func execFXSAVE(c *CPU, in *Inst) {
	addr := c.fxImage(in)
	c.probeWrite(addr, 416)
	f := &c.FPU
	var abridged uint64
	for p := range 8 {
		if f.tag(p) != tagEmpty {
			abridged |= 1 << p
		}
	}
	c.write64(addr, uint64(f.FCW)|uint64(f.FSW)<<16|abridged<<32|uint64(f.FOP&0x7FF)<<48)
	if in.prefix&pfxRexW != 0 {
		c.write64(addr+8, f.FIP)
		c.write64(addr+16, f.FDP)
	} else {
		c.write64(addr+8, f.FIP&0xFFFFFFFF|uint64(f.FCS)<<32)
		c.write64(addr+16, f.FDP&0xFFFFFFFF|uint64(f.FDS)<<32)
	}
	c.write64(addr+24, uint64(f.MXCSR)|MXCSRWritable<<32)
	for i := range 8 {
		v := f.st(i)
		o := addr + 32 + uint64(16*i)
		c.write64(o, v.Mant)
		c.write64(o+8, uint64(v.SignExp))
	}
	for i, x := range f.XMM {
		o := addr + 160 + uint64(16*i)
		c.write64(o, x[0])
		c.write64(o+8, x[1])
	}
}

// execFXRSTOR loads what FXSAVE stored; MXCSR bits outside MXCSR_MASK
// (MXCSRWritable) raise #GP(0).
func execFXRSTOR(c *CPU, in *Inst) {
	addr := c.fxImage(in)
	mxcsr := c.read32(addr + 24)
	if mxcsr&^MXCSRWritable != 0 {
		c.raise(VecGP, 0)
	}
	var img [52]uint64 // bytes 0-415
	for i := range img {
		img[i] = c.read64(addr + uint64(8*i))
	}
	f := &c.FPU
	f.FCW = fcwValid(uint16(img[0]))
	f.FSW = uint16(img[0] >> 16)
	abridged := uint8(img[0] >> 32)
	f.FOP = uint16(img[0]>>48) & 0x7FF
	if in.prefix&pfxRexW != 0 {
		f.FIP, f.FDP = img[1], img[2]
	} else {
		f.FIP, f.FDP = img[1]&0xFFFFFFFF, img[2]&0xFFFFFFFF // FCS, FDS: deprecated, stay 0
	}
	f.MXCSR = mxcsr
	top := f.top()
	for i := range 8 {
		f.ST[(top+i)&7] = Float80{Mant: img[4+2*i], SignExp: uint16(img[5+2*i])}
	}
	f.loadTags(func(p int) bool { return abridged>>p&1 == 0 })
	for i := range f.XMM {
		f.XMM[i] = XMM{img[20+2*i], img[21+2*i]}
	}
	f.summarize()
}
