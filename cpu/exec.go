package cpu

import (
	"slices"

	"ftvm/mmu"
)

// block is a run of decoded instructions starting at a linear address. It
// ends at a control transfer other than a conditional branch (a branch not
// taken goes on in the block), at an instruction that changes modes, or at
// the end of a page. An instruction that spans two pages is a block of its
// own (crosses). The decoded instructions hold linear addresses (their
// own, branch targets, RIP-relative operands), so a block belongs to one
// linear address and the physical bytes it was decoded from.
type block struct {
	rip, phys uint64 // offset (linear in 64-bit mode) and physical address of the first instruction
	csize     CodeSize
	limit     uint32 // the CS limit it was decoded under (0 in 64-bit mode)
	valid     bool   // false once code in its pages was written or it was dropped
	crosses   bool   // its only instruction spans two pages
	insts     []Inst
	pages     [2]uint64 // physical page numbers it was decoded from
	// stamp, inv and gen are the table slot's translation check (a block
	// has one linear address, so one slot): stamp is gens[gen] +
	// inv[inv] when it was made, inv the INVLPG counter that covers the
	// translation, gen the generation that covers it (0, or 1 if global).
	stamp uint64
	inv   uint16
	gen   uint8
	// loop is the index of the first relative branch to the block's
	// first instruction, -1 if none: the run loop may, once that branch
	// is taken, run the block again without looking it up (see runBlocks).
	loop int
}

const (
	blockTableSize = 1 << 14
	maxBlockInsts  = 64
	// maxCachedInsts bounds the decoded instructions the cache holds (64
	// bytes each); past it the cache starts over.
	maxCachedInsts = 1 << 19
	// invSize is the number of INVLPG counters (see invCounter).
	invSize = 1 << 13
)

// blockKey names a block: the physical address of its first byte, its
// offset in the code segment and the code size it was decoded for.
type blockKey struct {
	phys, rip uint64
	csize     CodeSize
	limit     uint32 // the CS limit decoding applied (0 in 64-bit mode)
}

// blockRef is a slot of the fast-path table: the block last run at a linear
// address; the block's stamp, inv and gen say the translation state the
// slot was checked in.
type blockRef struct {
	tag uint64 // rip<<1 | 1 if checked for CPL 3 | csTag; ^0 when empty
	b   *block
}

// blockCache holds decoded blocks: a direct-mapped table by linear address
// for the fast path, a map by physical (and linear) address to find them
// again after translation changes, and lists by physical page for
// invalidation when code is written. Translation changes never discard
// blocks; they only make the fast path redo the linear-to-physical check:
// a paging-mode change for every block (ggen); a CR3 write for those whose
// translation is not global (gen); an INVLPG for
// the blocks on its page, whatever that page's size, and those crossing
// into it (see invCounter); a privilege change for none (the table's tags
// include the CPL class the fetch was checked for). A block dropped (its
// code written, or replaced) leaves the table at once.
type blockCache struct {
	table  [blockTableSize]blockRef
	byKey  map[blockKey]*block
	byPage map[uint64][]*block
	insts  int // instructions in the blocks of byKey
	// gens[0] is bumped whenever a cached non-global linear-to-physical
	// relation may have changed (CR3 writes and everything that bumps
	// gens[1]); gens[1] whenever any may have, global ones included (paging
	// mode, CR4.PGE, far jumps).
	gens [2]uint64
	// inv holds the INVLPG counters (see invCounter).
	inv [invSize]uint32
	// misses counts lookups that left the fast path; decodes counts blocks
	// decoded.
	misses, decodes uint64
}

func (bc *blockCache) init() {
	bc.flushAll()
	bc.gens = [2]uint64{1, 1}
}

// newGeneration makes every block's translation be checked again.
func (bc *blockCache) newGeneration() {
	bc.gens[0]++
	bc.gens[1]++
}

// newAddressSpace makes the translations that are not global be checked
// again (a CR3 write).
func (bc *blockCache) newAddressSpace() { bc.gens[0]++ }

// invalidatePage makes the blocks whose translation covers the linear page
// holding addr have it checked again (INVLPG).
func (bc *blockCache) invalidatePage(addr uint64) {
	bc.inv[invCounter(addr, mmu.PageShift)]++
	bc.inv[invCounter(addr, 21)]++
	bc.inv[invLarge]++
}

// invLarge is the INVLPG counter every INVLPG bumps: it covers translations
// through 1 GiB pages and those of blocks that cross pages.
const invLarge = invSize - 1

// invCounter returns the index of the INVLPG counter covering a
// translation of addr by a page of size 1<<shift: the 4 KiB pages hash into
// the first half of inv, the 2 MiB pages into the third quarter, and 1 GiB
// pages use invLarge.
func invCounter(addr uint64, shift uint8) uint16 {
	switch shift {
	case mmu.PageShift:
		return uint16(addr >> mmu.PageShift & (invSize/2 - 1))
	case 21:
		return uint16(invSize/2 + addr>>21&(invSize/4-1))
	}
	return invLarge
}

// flushAll forgets every decoded block.
func (bc *blockCache) flushAll() {
	for _, b := range bc.byKey {
		b.valid = false
	}
	for i := range bc.table {
		bc.table[i] = blockRef{tag: ^uint64(0)}
	}
	bc.byKey = map[blockKey]*block{}
	bc.byPage = map[uint64][]*block{}
	bc.insts = 0
}

// drop removes b from the cache.
func (bc *blockCache) drop(b *block) {
	b.valid = false
	if r := &bc.table[blockSlot(b.rip)]; r.b == b {
		*r = blockRef{tag: ^uint64(0)}
	}
	k := blockKey{b.phys, b.rip, b.csize, b.limit}
	if bc.byKey[k] == b {
		delete(bc.byKey, k)
		bc.insts -= len(b.insts)
	}
	for _, p := range b.pages[:pagesUsed(b)] {
		l := bc.byPage[p]
		if i := slices.Index(l, b); i >= 0 {
			l[i] = l[len(l)-1]
			l[len(l)-1] = nil
			l = l[:len(l)-1]
		}
		if len(l) == 0 {
			delete(bc.byPage, p)
		} else {
			bc.byPage[p] = l
		}
	}
}

func blockSlot(rip uint64) uint64 { return (rip ^ rip>>14) & (blockTableSize - 1) }

// codeWritten is the memory's hook for a write to a page holding decoded
// code: it drops the page's blocks and, if the current block is among them,
// ends it after the writing instruction.
func (c *CPU) codeWritten(page uint64) {
	for _, b := range slices.Clone(c.code.byPage[page]) {
		c.code.drop(b)
	}
	if c.blk != nil && !c.blk.valid {
		c.RIP = c.blk.insts[c.instIndex()].next
		c.brk = true
	}
}

// tableBlock returns the block the fast-path table holds for linear
// address rip if its slot's translation check still holds, else nil (the
// run loop then calls blockSlow). It makes no call, so that the compiler
// inlines it into the run loop without a profile.
func (c *CPU) tableBlock(rip uint64) *block {
	r := &c.code.table[blockSlot(rip)]
	if r.tag != rip<<1|c.mmu.user()|c.csTag {
		return nil
	}
	if b := r.b; b.stamp == c.code.gens[b.gen&1]+uint64(c.code.inv[b.inv&(invSize-1)]) {
		return b
	}
	return nil
}

// blockSlow translates rip for a fetch (raising #PF or #GP as the fetch
// would) and finds or decodes the block there. Outside 64-bit mode rip is
// an offset in CS, checked against its limit.
func (c *CPU) blockSlow(rip uint64) *block {
	c.code.misses++
	if c.csize != Code64 && rip > uint64(c.Seg[CS].Limit) {
		c.raise(VecGP, 0)
	}
	lin := rip + c.segBase64[CS]
	t := c.translate(lin, mmu.AccessFetch)
	phys := t.Phys | lin&(mmu.PageSize-1)
	key := blockKey{phys, rip, c.csize, c.codeLimit()}
	b := c.code.byKey[key]
	if b != nil && b.crosses {
		// Its instruction's second page must still map the same bytes.
		t2 := c.translate(lin+mmu.PageSize-lin&(mmu.PageSize-1), mmu.AccessFetch)
		if t2.Phys>>mmu.PageShift != b.pages[1] {
			c.code.drop(b)
			b = nil
		}
	}
	if b == nil || c.Trace != nil && len(b.insts) > 1 {
		if b != nil {
			c.code.drop(b)
		}
		if c.code.insts >= maxCachedInsts {
			c.code.flushAll()
		}
		b = c.buildBlock(rip, phys)
		c.code.byKey[key] = b
		c.code.insts += len(b.insts)
	}
	g, i := uint8(0), invCounter(lin, t.Shift)
	if t.Global {
		g = 1
	}
	if b.crosses {
		g, i = 0, invLarge
	}
	b.stamp, b.inv, b.gen = c.code.gens[g]+uint64(c.code.inv[i]), i, g
	c.code.table[blockSlot(rip)] = blockRef{tag: rip<<1 | c.mmu.user() | c.csTag, b: b}
	return b
}

// codeLimit returns the CS limit outside 64-bit mode, 0 in it.
func (c *CPU) codeLimit() uint32 {
	if c.csize == Code64 {
		return 0
	}
	return c.Seg[CS].Limit
}

// buildBlock decodes a block at rip (physical address phys).
func (c *CPU) buildBlock(rip, phys uint64) *block {
	c.code.decodes++
	b := &block{rip: rip, phys: phys, csize: c.csize, limit: c.codeLimit(), valid: true}
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
		off := (cur + c.segBase64[CS]) & (mmu.PageSize - 1)
		code := c.pageBytes(phys&^(mmu.PageSize-1), off)
		var in Inst
		err := decode(&in, code, cur, c.csize)
		if err == errNeedMore {
			// The instruction continues on the next page.
			if len(insts) > 0 {
				break
			}
			next := cur + uint64(len(code)) + c.segBase64[CS]
			t2 := c.translate(next, mmu.AccessFetch)
			n := copy(buf[:], code)
			n += copy(buf[n:], c.pageBytes(t2.Phys, 0))
			err = decode(&in, buf[:n], cur, c.csize)
			b.crosses = true
			b.pages[1] = t2.Phys >> mmu.PageShift
		}
		if err != nil {
			// Longer than 15 bytes: #GP(0) when executed.
			in = Inst{rip: cur, next: cur, op: OpInvalid, fn: gpHandler, prefix: pfxEndsBlock}
		} else {
			in.fn = bind(&in)
			if c.csize != Code64 {
				checkCodeLimit(&in, uint64(b.limit))
			}
		}
		if !c.dispatchByCall {
			in.kind = kindOf(in.fn)
		}
		insts = append(insts, in)
		if in.prefix&pfxEndsBlock != 0 || b.crosses {
			break
		}
		cur = in.next
		if (cur+c.segBase64[CS])&(mmu.PageSize-1) == 0 {
			break
		}
	}
	fuse(insts) // no pair kinds with dispatchByCall: every kind is kindCall
	// The end marker runBlocks stops at (see nextInst).
	b.insts = append(insts, Inst{kind: kindEnd})[:len(insts)]
	b.loop = slices.IndexFunc(insts, func(in Inst) bool { return relativeBranch(in.op) && in.imm == rip })
	for _, p := range b.pages[:pagesUsed(b)] {
		c.code.byPage[p] = append(c.code.byPage[p], b)
		if !c.mem.IsCode(p) {
			c.mem.MarkCode(p)
			if base := p << mmu.PageShift; c.mem.IsRAM(base, mmu.PageSize) {
				c.mmu.flushPhys(c.ramPage(base))
			}
		}
	}
	return b
}

// relativeBranch reports whether op is a direct relative branch: one that,
// taken, only sets RIP to its target and leaves the block.
func relativeBranch(op Op) bool {
	switch op {
	case OpJMP, OpJCC, OpLOOP, OpLOOPE, OpLOOPNE, OpJRCXZ:
		return true
	}
	return false
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

// always returns a binder that picks fn whatever the form.
func always(fn handler) func(*Inst) handler {
	return func(*Inst) handler { return fn }
}

// setBinders sets the binder of each operation in ops.
func setBinders(ops map[Op]func(*Inst) handler) {
	for op, b := range ops {
		binders[op] = b
	}
}

// bindFixed makes each handler in ops its operation's binder whatever the
// form (always): the operations with one handler.
func bindFixed(ops map[Op]handler) {
	for op, h := range ops {
		binders[op] = always(h)
	}
}

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
	key := uint32(in.opcode)
	if in.modrm {
		key = key<<8 | 0x80 | uint32(in.reg&7)
	}
	c.countUnimplemented(key)
	c.raise(VecUD, 0)
}

// unimplTaskSwitch is or-ed with a descriptor type to key a task switch the
// CPU does not model (it raises #GP instead) in Unimplemented; type 0 is
// IRET's return to the previous task (NT set).
const unimplTaskSwitch = 1 << 24

// countUnimplemented counts something the CPU does not implement under key
// (see Unimplemented).
func (c *CPU) countUnimplemented(key uint32) {
	c.UD++
	c.Unimplemented[key]++
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
			i := c.instIndex()
			c.Retired += uint64(i)
			c.RIP = c.blk.insts[i].rip
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
		if c.stop != StopNone {
			return 0 // the tracer stopped the run before this instruction
		}
	}
	return limit
}

// remaining returns how many more instructions may retire in this Run,
// counting the current one; REP string handlers use it to bound their
// iterations so every iteration retires at an exact position.
func (c *CPU) remaining() uint64 {
	return c.end - c.Retired - uint64(c.instIndex())
}
