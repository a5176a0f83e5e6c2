package cpu

import (
	"encoding/binary"

	"ftvm/mmu"
)

// String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, with and
// without REP/REPE/REPNE.
//
// The source is seg:rSI (default DS, overridable: only FS and GS have a base
// in 64-bit mode); the destination is always ES:rDI (base 0). With a 32-bit
// address size rSI, rDI and rCX are used as ESI, EDI and ECX: they wrap at
// 32 bits and writing them zeroes the upper halves.
//
// Retirement: every iteration of a REP instruction retires as one
// instruction. The REP loop runs at most c.remaining() iterations; it counts
// each completed iteration in c.Retired as it goes and takes one back at the
// end (the run loop counts the instruction itself). If an iteration faults,
// the completed ones are counted and the registers reflect them. If the
// budget runs out with rCX != 0, RIP stays at the instruction. A REP that ran
// more than one iteration ends the block so the rest of the block cannot
// overrun the budget.

func init() {
	setBinders(map[Op]func(*Inst) handler{
		OpMOVS: bindMOVS, OpCMPS: bindStr, OpSTOS: bindSTOS, OpLODS: bindStr, OpSCAS: bindStr,
		OpINS: bindStr, OpOUTS: bindStr,
	})
}

// strOnce performs one iteration of a string instruction and reports
// whether a REPE/REPNE repetition must stop (CMPS, SCAS).
type strOnce func(c *CPU, in *Inst) bool

// hasRep reports whether the instruction repeats. For MOVS, STOS, LODS, INS
// and OUTS, F2 repeats like F3.
func hasRep(in *Inst) bool { return in.prefix&(pfxRep|pfxRepne) != 0 }

// strKey indexes the per-operation handler tables.
func strKey(op Op) int { return int(op - OpMOVS) }

var (
	strOnces  = [7]strOnce{execMOVSOnce, execCMPSOnce, execSTOSOnce, execLODSOnce, execSCASOnce, execINSOnce, execOUTSOnce}
	strSingle [7]handler
	strRep    [7]handler
)

// The handlers are built once here (no closure is allocated per execution).
func init() {
	if OpOUTS-OpMOVS != 6 || OpSCAS-OpMOVS != 4 {
		panic("cpu: string operations are out of order")
	}
	for i := range strOnces {
		once := strOnces[i]
		strSingle[i] = func(c *CPU, in *Inst) { once(c, in) }
		strRep[i] = func(c *CPU, in *Inst) { c.repeat(in, once) }
	}
	// I/O strings end the block: a device may have raised an interrupt or
	// asked the CPU to stop.
	for _, op := range []Op{OpINS, OpOUTS} {
		k := strKey(op)
		once := strOnces[k]
		strSingle[k] = func(c *CPU, in *Inst) {
			c.checkIO()
			once(c, in)
			c.endBlock(in)
		}
		strRep[k] = func(c *CPU, in *Inst) {
			c.checkIO()
			if !c.repeat(in, once) {
				c.endBlock(in)
			}
		}
	}
}

func bindStr(in *Inst) handler {
	if !hasRep(in) {
		return strSingle[strKey(in.op)]
	}
	return strRep[strKey(in.op)]
}

func bindMOVS(in *Inst) handler {
	if hasRep(in) && in.asz == 8 {
		return execREPMOVSFast
	}
	return bindStr(in)
}

func bindSTOS(in *Inst) handler {
	if hasRep(in) && in.asz == 8 {
		return execREPSTOSFast
	}
	return bindStr(in)
}

// ---- register helpers ----

// strReg returns rSI/rDI/rCX at the address size.
func (c *CPU) strReg(in *Inst, r uint8) uint64 {
	if in.asz != 8 {
		return c.R[r] & sizeMask(in.asz)
	}
	return c.R[r]
}

// strStep advances register r by one element in the direction of DF.
func (c *CPU) strStep(in *Inst, r uint8) { c.strStepN(in, r, in.osz) }

// strSrc returns the linear address of the source element.
func (c *CPU) strSrc(in *Inst) uint64 { return c.strAddr(in, in.seg, RSI) }

// strDst returns the linear address of the destination element (ES:rDI).
func (c *CPU) strDst(in *Inst) uint64 { return c.strAddr(in, ES, RDI) }

// strAddr returns the linear address of string register r in segment s.
func (c *CPU) strAddr(in *Inst, s uint8, r uint8) uint64 {
	if c.csize != Code64 {
		return c.linear(s, c.strReg(in, r))
	}
	return c.strReg(in, r) + c.segBase64[s]
}

// ---- single iterations ----

func execMOVSOnce(c *CPU, in *Inst) bool {
	v := c.readN(c.strSrc(in), in.osz)
	c.writeN(c.strDst(in), in.osz, v)
	c.strStep(in, RSI)
	c.strStep(in, RDI)
	return false
}

// execCMPSOnce compares [seg:rSI] with [ES:rDI] (flags of src - dst).
func execCMPSOnce(c *CPU, in *Inst) bool {
	a := c.readN(c.strSrc(in), in.osz)
	b := c.readN(c.strDst(in), in.osz)
	c.strStep(in, RSI)
	c.strStep(in, RDI)
	r := (a - b) & sizeMask(in.osz)
	c.setFlags(flagsSub, in.osz, a, b, r)
	return repStops(in, r == 0)
}

// repStops reports whether REPE (F3) or REPNE (F2) stops given ZF.
func repStops(in *Inst, zf bool) bool {
	if in.prefix&pfxRepne != 0 {
		return zf
	}
	return !zf
}

func execSTOSOnce(c *CPU, in *Inst) bool {
	c.writeN(c.strDst(in), in.osz, c.R[RAX])
	c.strStep(in, RDI)
	return false
}

func execLODSOnce(c *CPU, in *Inst) bool {
	v := c.readN(c.strSrc(in), in.osz)
	c.setReg(RAX, in.osz, false, v)
	c.strStep(in, RSI)
	return false
}

// execSCASOnce compares rAX with [ES:rDI] (flags of rAX - dst).
func execSCASOnce(c *CPU, in *Inst) bool {
	m := sizeMask(in.osz)
	a := c.R[RAX] & m
	b := c.readN(c.strDst(in), in.osz)
	c.strStep(in, RDI)
	r := (a - b) & m
	c.setFlags(flagsSub, in.osz, a, b, r)
	return repStops(in, r == 0)
}

// execINSOnce reads port DX into [ES:rDI]. The destination is checked
// before the port is read, so a fault does not lose the input.
func execINSOnce(c *CPU, in *Inst) bool {
	size := ioSize(in)
	dst := c.strDst(in)
	c.probeWrite(dst, int(size))
	v := c.mem.In(uint16(c.R[RDX]), int(size))
	c.deviceAccess()
	c.writeN(dst, size, uint64(v))
	c.strStepN(in, RDI, size)
	return false
}

// execOUTSOnce writes [seg:rSI] to port DX.
func execOUTSOnce(c *CPU, in *Inst) bool {
	size := ioSize(in)
	v := c.readN(c.strSrc(in), size)
	c.mem.Out(uint16(c.R[RDX]), int(size), uint32(v))
	c.deviceAccess()
	c.strStepN(in, RSI, size)
	return false
}

// strStepN advances r by size bytes in the direction of DF, wrapping at
// the address size.
func (c *CPU) strStepN(in *Inst, r uint8, size uint8) {
	v := c.R[r] + uint64(size)
	if c.rflags&FlagDF != 0 {
		v = c.R[r] - uint64(size)
	}
	c.setReg(r, in.asz, false, v)
}

// ---- repetition ----

// setCount writes rCX at the address size.
func (c *CPU) setCount(in *Inst, n uint64) {
	c.setReg(RCX, in.asz, false, n)
}

// repeat runs a REP-prefixed string instruction within the budget. An
// iteration's stop report (the REPE/REPNE condition) ends the repetition
// after that iteration. It reports whether it stopped with rCX != 0 because
// the budget ran out or something (a device) asked the CPU to stop: then RIP
// is left at the instruction.
func (c *CPU) repeat(in *Inst, once strOnce) bool {
	count := c.strReg(in, RCX)
	if count == 0 {
		return false
	}
	n := c.remaining()
	var k uint64
	for {
		stop := once(c, in)
		count--
		c.setCount(in, count)
		c.Retired++
		k++
		if count == 0 || stop {
			break
		}
		if k >= n || c.stop != StopNone {
			c.repBudget(in)
			return true
		}
	}
	c.repDone(in, k)
	return false
}

// repBudget stops a repetition whose budget ran out with rCX != 0: the
// instruction stays current and the block ends.
func (c *CPU) repBudget(in *Inst) {
	c.Retired--
	c.RIP = in.rip
	c.brk = true
}

// repDone finishes a repetition of k >= 1 iterations. The block ends after
// it if it ran more than one iteration, or if something (a write to code, a
// device) already asked for the block to end.
func (c *CPU) repDone(in *Inst, k uint64) {
	c.Retired--
	if k > 1 || c.brk {
		c.endBlock(in)
	}
}

// ---- fast paths: REP MOVS / REP STOS with DF=0, 64-bit addresses ----

const pageMask = mmu.PageSize - 1

// ramChunk returns how many whole elements of size sz fit from linear
// address a to the end of its page.
func ramChunk(a, sz uint64) uint64 { return (mmu.PageSize - a&pageMask) / sz }

// repChunk does the next chunk of a fast REP MOVS or REP STOS directly
// within RAM: at most lim iterations, and only whole elements up to the end
// of the page (of either page, for MOVS). It returns the chunk's iterations
// (0 when the next element crosses a page) and whether it did them, with
// rSI/rDI advanced; false when the memory is not all RAM (nothing is done).
// It leaves rCX and the retirement count to repFast.
type repChunk func(c *CPU, in *Inst, lim uint64) (iters uint64, done bool)

// repFast runs REP MOVS or REP STOS (64-bit addresses) chunk by chunk
// within the budget when DF=0; with DF=1 it is repeat. Where a chunk cannot
// be done in RAM (an element crossing a page, memory that is not RAM), the
// chunk's iterations, or one, run one at a time with once. Either way every
// iteration is counted as one retired instruction and rCX follows it, so a
// fault leaves the completed iterations counted; the retirement contract at
// the top of the file holds as for repeat.
func (c *CPU) repFast(in *Inst, once strOnce, chunk repChunk) {
	if c.rflags&FlagDF != 0 {
		c.repeat(in, once)
		return
	}
	count := c.R[RCX]
	if count == 0 {
		return
	}
	n := c.remaining()
	var k uint64
	for {
		iters, done := chunk(c, in, min(count, n-k))
		if done {
			count -= iters
			c.R[RCX] = count
			c.Retired += iters
			k += iters
		} else {
			for j := max(iters, 1); j > 0; j-- {
				once(c, in)
				count--
				c.R[RCX] = count
				c.Retired++
				k++
				if c.stop != StopNone {
					break
				}
			}
		}
		if count == 0 {
			break
		}
		if k >= n || c.stop != StopNone {
			c.repBudget(in)
			return
		}
	}
	c.repDone(in, k)
}

// execREPMOVSFast copies page chunk by page chunk directly within RAM when
// DF=0.
func execREPMOVSFast(c *CPU, in *Inst) { c.repFast(in, execMOVSOnce, movsChunk) }

// execREPSTOSFast fills page chunk by page chunk directly within RAM when
// DF=0.
func execREPSTOSFast(c *CPU, in *Inst) { c.repFast(in, execSTOSOnce, stosChunk) }

// movsChunk is the repChunk of REP MOVS.
func movsChunk(c *CPU, in *Inst, lim uint64) (uint64, bool) {
	sz := uint64(in.osz)
	src := c.R[RSI] + c.segBase64[in.seg]
	dst := c.R[RDI]
	iters := min(ramChunk(src, sz), ramChunk(dst, sz), lim)
	if iters == 0 {
		return 0, false
	}
	ps := c.physFor(src, false)
	pd := c.physFor(dst, true)
	nb := iters * sz
	if !c.mem.IsRAM(ps, nb) || !c.mem.IsRAM(pd, nb) {
		return iters, false
	}
	c.mem.NoteWrite(pd, nb)
	ram := c.ram
	if pd > ps && pd < ps+nb {
		// Overlap with the destination ahead: copy element by element,
		// forward, as the instruction does.
		switch sz {
		case 1:
			for i := uint64(0); i < nb; i++ {
				ram[pd+i] = ram[ps+i]
			}
		default:
			for i := uint64(0); i < nb; i += sz {
				storeElem(ram[pd+i:], sz, loadElem(ram[ps+i:], sz))
			}
		}
	} else {
		copy(ram[pd:pd+nb], ram[ps:ps+nb])
	}
	c.R[RSI] += nb
	c.R[RDI] += nb
	return iters, true
}

// stosChunk is the repChunk of REP STOS.
func stosChunk(c *CPU, in *Inst, lim uint64) (uint64, bool) {
	sz := uint64(in.osz)
	dst := c.R[RDI]
	iters := min(ramChunk(dst, sz), lim)
	if iters == 0 {
		return 0, false
	}
	pd := c.physFor(dst, true)
	nb := iters * sz
	if !c.mem.IsRAM(pd, nb) {
		return iters, false
	}
	c.mem.NoteWrite(pd, nb)
	fill(c.ram[pd:pd+nb], sz, c.R[RAX])
	c.R[RDI] += nb
	return iters, true
}

// fill stores the low sz bytes of v repeatedly over b (len(b) is a multiple
// of sz).
func fill(b []byte, sz uint64, v uint64) {
	if len(b) == 0 {
		return
	}
	if sz == 1 {
		x := byte(v)
		for i := range b {
			b[i] = x
		}
		return
	}
	storeElem(b, sz, v)
	for n := sz; n < uint64(len(b)); n *= 2 {
		copy(b[n:], b[:n])
	}
}

func loadElem(b []byte, sz uint64) uint64 {
	switch sz {
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return uint64(b[0])
}

func storeElem(b []byte, sz uint64, v uint64) {
	switch sz {
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	default:
		b[0] = byte(v)
	}
}
