package cpu

import (
	"ftvm/mmu"
)

// block is a run of decoded instructions starting at a linear address. It
// ends at a control transfer, at an instruction that changes modes, or at
// the end of a page.
type block struct {
	rip, phys uint64 // linear and physical address of the first instruction
	gen       uint64 // translation generation it was validated in
	valid     bool   // false once code in its pages was written
	crosses   bool   // its last instruction spans two pages
	insts     []Inst
	pages     [2]uint64 // physical page numbers it was decoded from
}

const (
	blockTableSize = 1 << 14
	maxBlockInsts  = 64
)

// blockCache holds decoded blocks: a direct-mapped table by linear address
// for the fast path, and maps by physical address and page for reuse across
// translation changes and for invalidation.
type blockCache struct {
	table  [blockTableSize]*block
	byPhys map[uint64]*block
	byPage map[uint64][]*block
	// gen is bumped whenever a cached linear-to-physical relation may have
	// changed (CR3, INVLPG, paging mode, privilege level).
	gen uint64
}

func (bc *blockCache) init() {
	bc.byPhys = map[uint64]*block{}
	bc.byPage = map[uint64][]*block{}
	bc.gen = 1
}

func (bc *blockCache) newGeneration() { bc.gen++ }

// flushAll forgets every decoded block.
func (bc *blockCache) flushAll() {
	for _, bs := range bc.byPage {
		for _, b := range bs {
			b.valid = false
		}
	}
	bc.table = [blockTableSize]*block{}
	bc.byPhys = map[uint64]*block{}
	bc.byPage = map[uint64][]*block{}
}

func blockSlot(rip uint64) uint64 { return (rip ^ rip>>14) & (blockTableSize - 1) }

// codeWritten is the memory's hook for a write to a page holding decoded
// code: it drops the page's blocks and, if the current block is among them,
// ends it after the writing instruction.
func (c *CPU) codeWritten(page uint64) {
	for _, b := range c.code.byPage[page] {
		if b.valid {
			b.valid = false
			if c.code.byPhys[b.phys] == b {
				delete(c.code.byPhys, b.phys)
			}
		}
	}
	delete(c.code.byPage, page)
	if c.blk != nil && !c.blk.valid {
		c.RIP = c.blk.insts[c.idx].next
		c.brk = true
	}
}

// blockAt returns the decoded block at linear address rip.
func (c *CPU) blockAt(rip uint64) *block {
	b := c.code.table[blockSlot(rip)]
	if b != nil && b.rip == rip && b.gen == c.code.gen && b.valid {
		return b
	}
	return c.blockSlow(rip)
}

func (c *CPU) blockSlow(rip uint64) *block {
	t := c.translate(rip, mmu.AccessFetch)
	phys := t.Phys | rip&(mmu.PageSize-1)
	if b := c.code.byPhys[phys]; b != nil && b.rip == rip && b.valid && !b.crosses && c.Trace == nil {
		b.gen = c.code.gen
		c.code.table[blockSlot(rip)] = b
		return b
	}
	b := c.buildBlock(rip, phys)
	c.code.table[blockSlot(rip)] = b
	if !b.crosses {
		c.code.byPhys[phys] = b
	}
	return b
}

// buildBlock decodes a block at rip (physical address phys).
func (c *CPU) buildBlock(rip, phys uint64) *block {
	b := &block{rip: rip, phys: phys, gen: c.code.gen, valid: true}
	page := phys >> mmu.PageShift
	b.pages = [2]uint64{page, page}
	limit := maxBlockInsts
	if c.Trace != nil {
		limit = 1
	}
	insts := make([]Inst, 0, 8)
	cur := rip
	var buf [maxInstLen]byte
	for len(insts) < limit {
		off := cur & (mmu.PageSize - 1)
		code := c.pageBytes(phys&^(mmu.PageSize-1), off)
		var in Inst
		err := decode(&in, code, cur)
		if err == errNeedMore {
			// The instruction continues on the next page.
			if len(insts) > 0 {
				break
			}
			next := cur + uint64(len(code))
			t2 := c.translate(next, mmu.AccessFetch)
			n := copy(buf[:], code)
			n += copy(buf[n:], c.pageBytes(t2.Phys, 0))
			err = decode(&in, buf[:n], cur)
			b.crosses = true
			b.pages[1] = t2.Phys >> mmu.PageShift
		}
		if err != nil {
			// Longer than 15 bytes: #GP(0) when executed.
			in = Inst{rip: cur, next: cur, op: OpInvalid, fn: gpHandler, prefix: pfxEndsBlock}
		} else {
			in.fn = bind(&in)
		}
		insts = append(insts, in)
		if in.prefix&pfxEndsBlock != 0 || b.crosses {
			break
		}
		cur = in.next
		if cur&(mmu.PageSize-1) == 0 {
			break
		}
	}
	b.insts = insts
	for _, p := range b.pages[:pagesUsed(b)] {
		c.code.byPage[p] = append(c.code.byPage[p], b)
		if !c.mem.IsCode(p) {
			c.mem.MarkCode(p)
			c.mmu.flushPhys(p << mmu.PageShift)
		}
	}
	return b
}

func pagesUsed(b *block) int {
	if b.pages[1] != b.pages[0] {
		return 2
	}
	return 1
}

// pageBytes returns the bytes of the physical page at base from offset off;
// a page that is not RAM reads as 0xFF bytes (which decode as invalid).
func (c *CPU) pageBytes(base, off uint64) []byte {
	if c.mem.IsRAM(base, mmu.PageSize) {
		return c.ram[base+off : base+mmu.PageSize]
	}
	return ffPage[off:]
}

var ffPage = func() (p [mmu.PageSize]byte) {
	for i := range p {
		p[i] = 0xFF
	}
	return
}()

// binders maps each operation to the function that picks its handler. The
// family files fill it in their init functions.
var binders [numOps]func(in *Inst) handler

// bind returns the handler for a decoded instruction.
func bind(in *Inst) handler {
	if in.op == OpInvalid || binders[in.op] == nil {
		return udHandler
	}
	if fn := binders[in.op](in); fn != nil {
		return fn
	}
	return udHandler
}

// udHandler raises #UD for an encoding the interpreter does not implement,
// counting it.
func udHandler(c *CPU, in *Inst) {
	c.UD++
	key := uint32(in.opcode)
	if in.modrm {
		key = key<<8 | 0x80 | uint32(in.reg&7)
	}
	c.Unimplemented[key]++
	c.raise(VecUD, 0)
}

// gpHandler raises #GP(0) (for an over-long instruction).
func gpHandler(c *CPU, in *Inst) { c.raise(VecGP, 0) }

// Run executes instructions until budget of them have retired or something
// stops the CPU, and says why it returned. Exceptions are delivered to the
// guest; only a triple fault stops it.
func (c *CPU) Run(budget uint64) StopReason {
	c.stop = StopNone
	c.end = c.Retired + budget
	c.attn = true
	for c.stop == StopNone {
		if c.Retired >= c.end {
			return StopBudget
		}
		c.runSafe()
	}
	return c.stop
}

// runSafe runs blocks and turns a guest exception into its delivery.
func (c *CPU) runSafe() {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(*guestFault)
		if !ok {
			panic(r)
		}
		if c.blk != nil {
			c.Retired += uint64(c.idx)
			c.RIP = c.blk.insts[c.idx].rip
			c.blk = nil
		}
		c.deliverFault(*f)
	}()
	c.runBlocks()
}

// attend handles what the fast loop does not look at: stop requests,
// HLT, interrupt delivery and its shadow, tracing. It returns the most
// instructions the next block may run, or 0 to leave the run loop.
func (c *CPU) attend() uint64 {
	c.attn = c.Trace != nil
	if c.stop != StopNone {
		return 0
	}
	limit := uint64(maxBlockInsts)
	if c.intShadow {
		// Interrupts stay blocked for one more instruction: run just it.
		c.intShadow = false
		c.attn = true
		limit = 1
	} else if c.rflags&FlagIF != 0 && c.intr != nil && c.intr.Pending() {
		c.halted = false
		v := c.intr.Acknowledge()
		c.interrupt(v, 0, false, c.RIP, false)
	}
	if c.halted {
		if c.rflags&FlagIF != 0 {
			c.stop = StopHaltIdle
		} else {
			c.stop = StopHalt
		}
		return 0
	}
	if c.Trace != nil {
		c.Trace(c, c.RIP)
	}
	return limit
}

func (c *CPU) runBlocks() {
	for c.Retired < c.end {
		limit := uint64(maxBlockInsts)
		if c.attn {
			if limit = c.attend(); limit == 0 {
				return
			}
		}
		c.recent[c.nrecent%uint(len(c.recent))] = c.RIP
		c.nrecent++
		b := c.blockAt(c.RIP)
		insts := b.insts
		if rem := min(c.end-c.Retired, limit); uint64(len(insts)) > rem {
			insts = insts[:rem]
		}
		c.blk = b
		c.brk = false
		for i := range insts {
			in := &insts[i]
			c.idx = i
			in.fn(c, in)
			if c.brk {
				c.Retired += uint64(i + 1)
				c.blk = nil
				goto next
			}
		}
		c.Retired += uint64(len(insts))
		c.RIP = insts[len(insts)-1].next
		c.blk = nil
	next:
	}
}

// remaining returns how many more instructions may retire in this Run,
// counting the current one; REP string handlers use it to bound their
// iterations so every iteration retires at an exact position.
func (c *CPU) remaining() uint64 {
	return c.end - c.Retired - uint64(c.idx)
}
