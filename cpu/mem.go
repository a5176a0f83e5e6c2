package cpu

import (
	"unsafe"

	"ftvm/mmu"
)

// The software TLB: direct-mapped caches of linear-to-physical translations
// of RAM pages, one for reads and one for writes, each entry holding the
// page of host memory itself. A hit costs one compare and an access to
// that page; everything else (misses, MMIO, page-crossing accesses, writes
// to pages holding decoded code) takes the slow path.

const tlbSize = 512

type tlbEntry struct {
	tag  uint64         // linear page number << 1 | ctx when filled; ^0 when empty
	page unsafe.Pointer // the first byte of the page of RAM it translates to
}

// The flush epoch occupies the tag bits above the shifted linear page
// number (52 bits for a canonical address, 53 shifted). Epoch epochLimit
// is never used, so no tag equals the empty ^0.
const (
	epochShift = 53
	epochLimit = 1<<(64-epochShift) - 1
)

type tlb struct {
	read, write [tlbSize]tlbEntry
	// ctx is or-ed into every tag. Bit 0 is 1 when the CPU runs at CPL 3,
	// so supervisor and user translations of a page never alias; the bits
	// from epochShift up are the flush epoch, so a flush only has to move
	// to a new epoch for every entry to stop matching.
	ctx uint64
}

// flush drops every translation.
func (t *tlb) flush() {
	e := t.ctx>>epochShift + 1
	if e == epochLimit {
		for i := range t.read {
			t.read[i].tag = ^uint64(0)
			t.write[i].tag = ^uint64(0)
		}
		e = 0
	}
	t.ctx = e<<epochShift | t.ctx&1
}

// user returns 1 when translations are made for CPL 3, else 0.
func (t *tlb) user() uint64 { return t.ctx & 1 }

// setUser makes translations be made for CPL 3 (u = 1) or supervisor (0).
func (t *tlb) setUser(u uint64) { t.ctx = t.ctx&^1 | u }

// flushWrites drops every write translation, so that the next write to
// each page takes the slow path (see mmu.Memory.HarvestDirty).
func (t *tlb) flushWrites() {
	for i := range t.write {
		t.write[i].tag = ^uint64(0)
	}
}

// flushPage drops the translations of the linear page holding addr.
func (t *tlb) flushPage(addr uint64) {
	vpn := addr >> mmu.PageShift
	i := vpn & (tlbSize - 1)
	tag := vpn<<1 | t.ctx&^1 // either privilege, this epoch
	if t.read[i].tag&^1 == tag {
		t.read[i].tag = ^uint64(0)
	}
	if t.write[i].tag&^1 == tag {
		t.write[i].tag = ^uint64(0)
	}
}

// flushPhys drops the write translations that point at the RAM page.
func (t *tlb) flushPhys(page unsafe.Pointer) {
	for i := range t.write {
		if t.write[i].page == page {
			t.write[i].tag = ^uint64(0)
		}
	}
}

func canonical(addr uint64) bool {
	return uint64(int64(addr<<16)>>16) == addr
}

// translate walks the page tables for an access to addr, raising #GP for a
// non-canonical address and #PF for a failed walk.
func (c *CPU) translate(addr uint64, acc mmu.Access) mmu.Translation {
	if !canonical(addr) {
		c.raise(VecGP, 0)
	}
	if c.CPL == 3 {
		acc |= mmu.AccessUser
	}
	t, code, ok := c.mem.Walk(&c.paging, addr, acc)
	if !ok {
		c.CR2 = addr
		c.raise(VecPF, code)
	}
	return t
}

// physFor translates addr for a data access and fills the TLB.
func (c *CPU) physFor(addr uint64, write bool) uint64 {
	acc := mmu.Access(0)
	if write {
		acc = mmu.AccessWrite
	}
	t := c.translate(addr, acc)
	page := addr >> mmu.PageShift
	if c.mem.IsRAM(t.Phys, mmu.PageSize) {
		tag := page<<1 | c.mmu.ctx
		i := page & (tlbSize - 1)
		ent := tlbEntry{tag, c.ramPage(t.Phys)}
		c.mmu.read[i] = ent
		if write && !c.mem.IsCode(t.Phys>>mmu.PageShift) {
			c.mem.MarkDirty(t.Phys >> mmu.PageShift)
			c.mmu.write[i] = ent
		}
	}
	return t.Phys | addr&(mmu.PageSize-1)
}

// readSlow reads size bytes at linear address addr through the page walk.
func (c *CPU) readSlow(addr uint64, size int) uint64 {
	if c.csize != Code64 {
		addr = c.unmark(addr, size, false)
	}
	if addr&(mmu.PageSize-1)+uint64(size) > mmu.PageSize {
		var v uint64
		for i := 0; i < size; i++ {
			v |= c.physRead(c.physFor(addr+uint64(i), false), 1) << (8 * i)
		}
		return v
	}
	return c.physRead(c.physFor(addr, false), size)
}

// physRead reads physical memory, noting an access to a device.
func (c *CPU) physRead(p uint64, size int) uint64 {
	if !c.mem.IsRAM(p, uint64(size)) {
		c.deviceAccess()
	}
	return c.mem.Read(p, size)
}

// physWrite writes physical memory, noting an access to a device.
func (c *CPU) physWrite(p uint64, size int, v uint64) {
	if !c.mem.IsRAM(p, uint64(size)) {
		c.deviceAccess()
	}
	c.mem.Write(p, size, v)
}

// deviceAccess ends the block after the current instruction, and with
// StopOnDevice the run (StopDevice): a device was read or written.
func (c *CPU) deviceAccess() {
	if c.blk != nil {
		c.RIP = c.blk.insts[c.instIndex()].next
	}
	c.brk, c.attn = true, true
	if c.StopOnDevice && c.stop == StopNone {
		c.stop = StopDevice
	}
}

// writeSlow writes size bytes at linear address addr through the page walk.
// For a page-crossing write both pages are translated before either is
// written, so a fault leaves memory unchanged.
func (c *CPU) writeSlow(addr uint64, size int, v uint64) {
	if c.csize != Code64 {
		addr = c.unmark(addr, size, true)
	}
	if addr&(mmu.PageSize-1)+uint64(size) > mmu.PageSize {
		var phys [8]uint64
		for i := 0; i < size; i++ {
			phys[i] = c.physFor(addr+uint64(i), true)
		}
		for i := 0; i < size; i++ {
			c.physWrite(phys[i], 1, v>>(8*i))
		}
		return
	}
	c.physWrite(c.physFor(addr, true), size, v)
}

// ramPage returns the first byte of the page of RAM at physical address
// base (page-aligned).
func (c *CPU) ramPage(base uint64) unsafe.Pointer {
	return unsafe.Pointer(&c.ram[base : base+mmu.PageSize][0])
}

// hit looks addr up in the TLB entries e (c.mmu.read or c.mmu.write) for an
// access of size bytes: it returns the address of the access's first byte
// in RAM, and false when the page is not cached or the access crosses into
// the next page. The callers load and store through it (x86 and amd64 are
// both little-endian and allow unaligned accesses): a slice would cost a
// nil check of the pointer on every access.
func (c *CPU) hit(e *[tlbSize]tlbEntry, addr, size uint64) (unsafe.Pointer, bool) {
	vpn := addr >> mmu.PageShift
	ent := &e[vpn&(tlbSize-1)]
	off := addr & (mmu.PageSize - 1)
	if ent.tag != vpn<<1|c.mmu.ctx || off > mmu.PageSize-size {
		return nil, false
	}
	return unsafe.Add(ent.page, off), true
}

// read8 reads a byte at linear address addr.
func (c *CPU) read8(addr uint64) uint8 {
	if p, ok := c.hit(&c.mmu.read, addr, 1); ok {
		return *(*uint8)(p)
	}
	return uint8(c.readSlow(addr, 1))
}

// read16 reads 2 bytes at linear address addr.
func (c *CPU) read16(addr uint64) uint16 {
	if p, ok := c.hit(&c.mmu.read, addr, 2); ok {
		return *(*uint16)(p)
	}
	return uint16(c.readSlow(addr, 2))
}

// read32 reads 4 bytes at linear address addr.
func (c *CPU) read32(addr uint64) uint32 {
	if p, ok := c.hit(&c.mmu.read, addr, 4); ok {
		return *(*uint32)(p)
	}
	return uint32(c.readSlow(addr, 4))
}

// read64 reads 8 bytes at linear address addr.
func (c *CPU) read64(addr uint64) uint64 {
	if p, ok := c.hit(&c.mmu.read, addr, 8); ok {
		return *(*uint64)(p)
	}
	return c.readSlow(addr, 8)
}

// write8 writes a byte at linear address addr.
func (c *CPU) write8(addr uint64, v uint8) {
	if p, ok := c.hit(&c.mmu.write, addr, 1); ok {
		*(*uint8)(p) = v
		return
	}
	c.writeSlow(addr, 1, uint64(v))
}

// write16 writes 2 bytes at linear address addr.
func (c *CPU) write16(addr uint64, v uint16) {
	if p, ok := c.hit(&c.mmu.write, addr, 2); ok {
		*(*uint16)(p) = v
		return
	}
	c.writeSlow(addr, 2, uint64(v))
}

// write32 writes 4 bytes at linear address addr.
func (c *CPU) write32(addr uint64, v uint32) {
	if p, ok := c.hit(&c.mmu.write, addr, 4); ok {
		*(*uint32)(p) = v
		return
	}
	c.writeSlow(addr, 4, uint64(v))
}

// write64 writes 8 bytes at linear address addr.
func (c *CPU) write64(addr uint64, v uint64) {
	if p, ok := c.hit(&c.mmu.write, addr, 8); ok {
		*(*uint64)(p) = v
		return
	}
	c.writeSlow(addr, 8, v)
}

// readN reads size (1, 2, 4 or 8) bytes at addr, zero-extended.
func (c *CPU) readN(addr uint64, size uint8) uint64 {
	switch size {
	case 1:
		return uint64(c.read8(addr))
	case 2:
		return uint64(c.read16(addr))
	case 4:
		return uint64(c.read32(addr))
	}
	return c.read64(addr)
}

// writeN writes the low size (1, 2, 4 or 8) bytes of v at addr.
func (c *CPU) writeN(addr uint64, size uint8, v uint64) {
	switch size {
	case 1:
		c.write8(addr, uint8(v))
	case 2:
		c.write16(addr, uint16(v))
	case 4:
		c.write32(addr, uint32(v))
	default:
		c.write64(addr, v)
	}
}

// probeWrite checks that size bytes at addr are writable, raising the fault a
// write would raise, without writing. Instructions that write two places
// use it so a fault on the second leaves the first unchanged.
func (c *CPU) probeWrite(addr uint64, size int) {
	if _, ok := c.hit(&c.mmu.write, addr, uint64(size)); ok {
		return
	}
	if c.csize != Code64 {
		addr = c.unmark(addr, size, true)
	}
	c.physFor(addr, true)
	if addr&(mmu.PageSize-1)+uint64(size) > mmu.PageSize {
		c.physFor(addr+uint64(size)-1, true)
	}
}

// readSystem reads from a system structure (descriptor tables, TSS) with
// supervisor privilege whatever the CPL.
func (c *CPU) readSystem(addr uint64, size uint8) (v uint64) {
	c.asCPL(0, func() { v = c.readN(addr, size) })
	return v
}

// writeSystem writes to a system structure with supervisor privilege.
func (c *CPU) writeSystem(addr uint64, size uint8, v uint64) {
	c.asCPL(0, func() { c.writeN(addr, size, v) })
}
