// Package mmu models guest physical memory, the I/O port and MMIO bus the
// devices sit on, and the x86 page walk that translates linear addresses.
package mmu

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sort"
)

// PageShift is log2 of the smallest page size.
const PageShift = 12

// PageSize is the size of the smallest page, 4 KiB.
const PageSize = 1 << PageShift

// PortDevice is a device reached through x86 port I/O (IN/OUT).
type PortDevice interface {
	// ReadPort returns size bytes (1, 2 or 4) read at port.
	ReadPort(port uint16, size int) uint32
	// WritePort writes the low size bytes of value to port.
	WritePort(port uint16, size int, value uint32)
}

// MMIODevice is a device reached through memory-mapped I/O.
type MMIODevice interface {
	// ReadMMIO returns size bytes (1, 2, 4 or 8) read at offset from the
	// start of the device's region.
	ReadMMIO(offset uint64, size int) uint64
	// WriteMMIO writes the low size bytes of value at offset.
	WriteMMIO(offset uint64, size int, value uint64)
}

type portRange struct {
	first, last uint16
	dev         PortDevice
}

type mmioRange struct {
	base, size uint64
	dev        MMIODevice
}

// Memory is the guest's physical address space: RAM from address 0 and the
// devices mapped on the port and MMIO buses.
type Memory struct {
	// RAM is guest RAM; physical address a is RAM[a] for a < len(RAM).
	RAM []byte

	ports []portRange
	mmio  []mmioRange

	// code marks RAM pages that hold instructions the CPU has decoded and
	// cached; a write to such a page calls codeWrite.
	code      []uint64
	codeWrite func(page uint64)

	// dirty marks RAM pages written since tracking started or the last
	// harvest; nil when dirty tracking is off. dirtyFlush drops the
	// write translations a CPU caches, so that its next write to any
	// page passes MarkDirty again. Both are used only by the goroutine
	// running the machine.
	dirty      []uint64
	dirtyFlush func()
}

// NewMemory returns a physical address space with size bytes of zeroed RAM.
// size must be a positive multiple of the page size.
func NewMemory(size uint64) (*Memory, error) {
	if size == 0 || size%PageSize != 0 {
		return nil, fmt.Errorf("RAM size %d is not a positive multiple of %d", size, PageSize)
	}
	if size > 1<<40 {
		return nil, fmt.Errorf("RAM size %d is larger than 1 TiB", size)
	}
	pages := size >> PageShift
	return &Memory{
		RAM:  make([]byte, size),
		code: make([]uint64, (pages+63)/64),
	}, nil
}

// MapPorts attaches dev to ports first..last inclusive. Ranges must not
// overlap one already mapped.
func (m *Memory) MapPorts(first, last uint16, dev PortDevice) error {
	for _, r := range m.ports {
		if first <= r.last && r.first <= last {
			return fmt.Errorf("ports %#x-%#x overlap %#x-%#x", first, last, r.first, r.last)
		}
	}
	m.ports = append(m.ports, portRange{first, last, dev})
	return nil
}

// MapMMIO attaches dev to the physical range [base, base+size). The range
// must not overlap RAM or another device.
func (m *Memory) MapMMIO(base, size uint64, dev MMIODevice) error {
	if base < uint64(len(m.RAM)) {
		return fmt.Errorf("MMIO range %#x+%#x overlaps RAM", base, size)
	}
	for _, r := range m.mmio {
		if base < r.base+r.size && r.base < base+size {
			return fmt.Errorf("MMIO range %#x+%#x overlaps %#x+%#x", base, size, r.base, r.size)
		}
	}
	m.mmio = append(m.mmio, mmioRange{base, size, dev})
	sort.Slice(m.mmio, func(i, j int) bool { return m.mmio[i].base < m.mmio[j].base })
	return nil
}

// In performs a port read. Unmapped ports read as all ones, as on a PC.
func (m *Memory) In(port uint16, size int) uint32 {
	for i := range m.ports {
		r := &m.ports[i]
		if port >= r.first && port <= r.last {
			return r.dev.ReadPort(port, size)
		}
	}
	return uint32(1<<(8*size) - 1)
}

// Out performs a port write. Writes to unmapped ports are ignored.
func (m *Memory) Out(port uint16, size int, value uint32) {
	for i := range m.ports {
		r := &m.ports[i]
		if port >= r.first && port <= r.last {
			r.dev.WritePort(port, size, value)
			return
		}
	}
}

func (m *Memory) findMMIO(addr uint64) *mmioRange {
	for i := range m.mmio {
		r := &m.mmio[i]
		if addr >= r.base && addr-r.base < r.size {
			return r
		}
	}
	return nil
}

// IsRAM reports whether the size bytes at physical address addr are all RAM.
func (m *Memory) IsRAM(addr uint64, size uint64) bool {
	return addr < uint64(len(m.RAM)) && size <= uint64(len(m.RAM))-addr
}

// Read returns size bytes (1, 2, 4 or 8) at physical address addr. Reads of
// unmapped addresses return all ones.
func (m *Memory) Read(addr uint64, size int) uint64 {
	if m.IsRAM(addr, uint64(size)) {
		return loadLE(m.RAM[addr:], size)
	}
	if r := m.findMMIO(addr); r != nil {
		return r.dev.ReadMMIO(addr-r.base, size)
	}
	if size == 8 {
		return ^uint64(0)
	}
	return 1<<(8*size) - 1
}

// Write stores the low size bytes of value at physical address addr. Writes
// to unmapped addresses are ignored; writes to cached code pages are reported
// to the code-write hook.
func (m *Memory) Write(addr uint64, size int, value uint64) {
	if m.IsRAM(addr, uint64(size)) {
		m.NoteWrite(addr, uint64(size))
		storeLE(m.RAM[addr:], size, value)
		return
	}
	if r := m.findMMIO(addr); r != nil {
		r.dev.WriteMMIO(addr-r.base, size, value)
	}
}

// ReadBytes copies RAM at addr into dst; it fails if the range is not RAM.
// Devices use it for DMA.
func (m *Memory) ReadBytes(addr uint64, dst []byte) error {
	if !m.IsRAM(addr, uint64(len(dst))) {
		return fmt.Errorf("DMA read of %d bytes at %#x is outside RAM", len(dst), addr)
	}
	copy(dst, m.RAM[addr:])
	return nil
}

// WriteBytes copies src into RAM at addr; it fails if the range is not RAM.
// Devices use it for DMA; cached code in the range is invalidated.
func (m *Memory) WriteBytes(addr uint64, src []byte) error {
	if !m.IsRAM(addr, uint64(len(src))) {
		return fmt.Errorf("DMA write of %d bytes at %#x is outside RAM", len(src), addr)
	}
	m.NoteWrite(addr, uint64(len(src)))
	copy(m.RAM[addr:], src)
	return nil
}

// SetCodeWriteHook sets the function called with the page number of a code
// page (see MarkCode) when something writes to it. The mark is cleared first.
func (m *Memory) SetCodeWriteHook(hook func(page uint64)) { m.codeWrite = hook }

// MarkCode records that RAM page number page holds cached decoded code.
func (m *Memory) MarkCode(page uint64) {
	if page < uint64(len(m.code))*64 {
		m.code[page/64] |= 1 << (page % 64)
	}
}

// IsCode reports whether RAM page number page is marked as holding code.
func (m *Memory) IsCode(page uint64) bool {
	return page < uint64(len(m.code))*64 && m.code[page/64]&(1<<(page%64)) != 0
}

// NoteWrite tells the memory that [addr, addr+size) of RAM is about to be
// written by a path that bypasses Write (such as the CPU's TLB fast path when
// it was set up for a non-code page, or a bulk copy). It calls the code-write
// hook for every code page in the range.
func (m *Memory) NoteWrite(addr, size uint64) {
	if size == 0 {
		return
	}
	first, last := addr>>PageShift, (addr+size-1)>>PageShift
	if m.dirty != nil {
		for p := first; p <= last; p++ {
			m.dirty[p/64] |= 1 << (p % 64)
		}
	}
	for p := first; p <= last; p++ {
		w := m.code[p/64]
		if w == 0 {
			p |= 63 // skip the rest of this word
			continue
		}
		if w&(1<<(p%64)) != 0 {
			m.code[p/64] &^= 1 << (p % 64)
			if m.codeWrite != nil {
				m.codeWrite(p)
			}
		}
	}
}

// SetDirtyFlushHook sets the function that drops every write translation
// a CPU caches (its write TLB). Memory calls it when dirty tracking starts
// and at each harvest: a CPU marks a page dirty (MarkDirty) when it caches a
// write translation for it, and writes through that translation afterwards
// without telling Memory.
func (m *Memory) SetDirtyFlushHook(hook func()) { m.dirtyFlush = hook }

// StartDirtyTracking starts recording which RAM pages are written (by the
// CPU, by device DMA and by the page walk's accessed and dirty bits), with
// every page clean. Tracking stays on until StopDirtyTracking.
func (m *Memory) StartDirtyTracking() {
	m.dirty = make([]uint64, len(m.code))
	if m.dirtyFlush != nil {
		m.dirtyFlush()
	}
}

// StopDirtyTracking stops recording written pages.
func (m *Memory) StopDirtyTracking() { m.dirty = nil }

// DirtyTracking reports whether written pages are being recorded.
func (m *Memory) DirtyTracking() bool { return m.dirty != nil }

// MarkDirty records that RAM page number page is (about to be) written. A
// CPU calls it when it caches a write translation for the page; it does
// nothing when tracking is off or the page is not RAM.
func (m *Memory) MarkDirty(page uint64) {
	if m.dirty != nil && page < uint64(len(m.dirty))*64 {
		m.dirty[page/64] |= 1 << (page % 64)
	}
}

// HarvestDirty appends to dst the numbers, in increasing order, of the RAM
// pages written since tracking started or the previous harvest, marks every
// page clean and drops the CPU's cached write translations. It returns dst
// unchanged when tracking is off.
func (m *Memory) HarvestDirty(dst []uint64) []uint64 {
	if m.dirty == nil {
		return dst
	}
	pages := uint64(len(m.RAM)) >> PageShift
	for i, w := range m.dirty {
		for w != 0 {
			p := uint64(i)*64 + uint64(bits.TrailingZeros64(w))
			w &= w - 1
			if p < pages {
				dst = append(dst, p)
			}
		}
		m.dirty[i] = 0
	}
	if m.dirtyFlush != nil {
		m.dirtyFlush()
	}
	return dst
}

// CodePages returns the number of RAM pages currently marked as code.
func (m *Memory) CodePages() int {
	n := 0
	for _, w := range m.code {
		n += bits.OnesCount64(w)
	}
	return n
}

func loadLE(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func storeLE(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}
