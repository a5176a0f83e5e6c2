package mmu

import "encoding/binary"

// Access describes a memory access for the page walk. Its bits match the
// corresponding bits of the x86 page-fault error code.
type Access uint32

// Access bits.
const (
	AccessWrite Access = 1 << 1 // a write (error code bit W/R)
	AccessUser  Access = 1 << 2 // made at CPL 3 (error code bit U/S)
	AccessFetch Access = 1 << 4 // an instruction fetch (error code bit I/D)
	// AccessProbe asks only whether the address is mapped: no permission
	// checks and no accessed or dirty bits set (debuggers, tracing).
	AccessProbe Access = 1 << 8
)

// Page-fault error code bits.
const (
	PFPresent  = 1 << 0 // the fault was a protection violation, not a not-present page
	PFWrite    = 1 << 1
	PFUser     = 1 << 2
	PFReserved = 1 << 3 // a reserved bit was set in a paging entry
	PFFetch    = 1 << 4
)

// Page-table entry bits.
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteUser     = 1 << 2
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	ptePS       = 1 << 7
	pteGlobal   = 1 << 8
	pteNX       = 1 << 63
)

// PhysAddrBits is the guest's physical address width (CPUID 0x80000008).
const PhysAddrBits = 40

const physMask = (1<<PhysAddrBits - 1) &^ (PageSize - 1)

// Mode is the paging mode selected by CR0.PG, CR4.PAE and EFER.LMA.
type Mode uint8

// Paging modes.
const (
	ModeNone  Mode = iota // paging disabled: linear equals physical
	ModeLong4             // 4-level long-mode paging
	Mode32                // 32-bit paging (4 KiB pages, 4 MiB ones with CR4.PSE)
	ModePAE               // PAE paging: 4 PDPTEs, then 8-byte entries
)

// Paging is the part of the CPU state the page walk depends on.
type Paging struct {
	Mode Mode
	CR3  uint64
	WP   bool // CR0.WP: supervisor writes honour read-only pages
	NXE  bool // EFER.NXE: the XD bit is enabled
	PGE  bool // CR4.PGE: leaf entries may mark translations global
	PSE  bool // CR4.PSE: 4 MiB pages in 32-bit paging
}

// Perm is the effective permission of a translated page, the combination of
// every level of the walk.
type Perm uint8

// Perm bits.
const (
	PermWrite Perm = 1 << 0 // writable
	PermUser  Perm = 1 << 1 // accessible at CPL 3
	PermExec  Perm = 1 << 2 // executable (XD clear or NXE off)
	PermDirty Perm = 1 << 3 // the leaf entry's dirty bit is already set
)

// Translation is the result of a successful page walk for one 4 KiB page.
type Translation struct {
	Phys uint64 // physical address of the 4 KiB page holding the linear address
	Perm Perm
	// Shift is log2 of the size of the page that maps the linear address:
	// 12, 21 or 30 (4 KiB, 2 MiB, 1 GiB); 12 without paging.
	Shift uint8
	// Global is set for a translation the leaf entry marks global (with
	// CR4.PGE): it survives CR3 writes.
	Global bool
}

// Walk translates the linear address vaddr for an access of kind acc. On
// success it sets the accessed bits (and the dirty bit for writes) in the
// paging entries and returns the translation. On failure it returns ok=false
// and the page-fault error code; the caller raises #PF with CR2 = vaddr.
func (m *Memory) Walk(p *Paging, vaddr uint64, acc Access) (t Translation, errCode uint32, ok bool) {
	if p.Mode == ModeNone {
		return Translation{Phys: vaddr &^ (PageSize - 1), Perm: PermWrite | PermUser | PermExec | PermDirty, Shift: PageShift}, 0, true
	}
	// Entry addresses visited, so accessed/dirty bits are set only when the
	// whole walk succeeds.
	var entries [4]uint64
	table := p.CR3 & physMask
	perm := PermWrite | PermUser | PermExec
	rsvdNX := uint64(0)
	if !p.NXE {
		rsvdNX = pteNX
	}
	fault := func(code uint32) (Translation, uint32, bool) {
		return Translation{}, code | uint32(acc&(AccessWrite|AccessUser)) | uint32(acc&AccessFetch)&^boolBit(!p.NXE, PFFetch), false
	}
	var phys uint64
	var pageShift uint8
	var global bool
	level := 0
	// The levels: 9 index bits and 8-byte entries from bit 39 down (long
	// mode) or bit 21 down (PAE, after the PDPTE); 10 bits and 4-byte
	// entries from bit 22 down (32-bit paging).
	top, bits, esize := uint(39), uint(9), uint64(8)
	ignored := uint64(0x7ff << 52) // bits 62:52 are ignored in long mode
	switch p.Mode {
	case Mode32:
		table &= 0xFFFFF000
		top, bits, esize = 22, 10, 4
	case ModePAE:
		ea := p.CR3&0xFFFFFFE0 + vaddr>>30&3*8
		if !m.IsRAM(ea, 8) {
			return fault(0)
		}
		e := binary.LittleEndian.Uint64(m.RAM[ea:])
		if e&ptePresent == 0 {
			return fault(0)
		}
		if e&^(physMask|0xfff)|e&0x1E6 != 0 {
			return fault(PFPresent | PFReserved)
		}
		table = e & physMask
		top, ignored = 21, 0
	}
	for shift := top; ; shift -= bits {
		ea := table + (vaddr>>shift&(1<<bits-1))*esize
		if !m.IsRAM(ea, esize) {
			return fault(0)
		}
		var e uint64
		if esize == 4 {
			e = uint64(binary.LittleEndian.Uint32(m.RAM[ea:]))
		} else {
			e = binary.LittleEndian.Uint64(m.RAM[ea:])
		}
		entries[level] = ea
		level++
		if e&ptePresent == 0 {
			return fault(0)
		}
		large := e&ptePS != 0
		var rsvd uint64
		if esize == 4 {
			// A 4 MiB page (CR4.PSE) takes physical address bits 39:32
			// from entry bits 20:13 (PSE-36); bit 21 is reserved.
			large = large && shift == 22 && p.PSE
			if large {
				rsvd = e & (1 << 21)
				e = e&0xFFC00FFF | e>>13&0xFF<<32
			} else {
				e &= 0xFFFFFFFF
			}
		} else {
			rsvd = e&^(physMask|0xfff|pteNX)&^ignored | e&rsvdNX
			if large && shift == 39 {
				rsvd |= ptePS
			}
			if large && shift < 39 {
				// Bits 12..shift-1 of a large page's address are reserved, except PAT (bit 12).
				rsvd |= e & ((1<<shift - 1) &^ 0x1fff)
			}
		}
		if rsvd != 0 {
			return fault(PFPresent | PFReserved)
		}
		if e&pteWritable == 0 {
			perm &^= PermWrite
		}
		if e&pteUser == 0 {
			perm &^= PermUser
		}
		if p.NXE && e&pteNX != 0 {
			perm &^= PermExec
		}
		if shift == 12 || large {
			base := e & physMask &^ (1<<shift - 1)
			phys = base | vaddr&(1<<shift-1)&^(PageSize-1)
			if e&pteDirty != 0 {
				perm |= PermDirty
			}
			pageShift = uint8(shift)
			global = p.PGE && e&pteGlobal != 0
			break
		}
		table = e & physMask
	}
	if acc&AccessProbe != 0 {
		return Translation{Phys: phys, Perm: perm, Shift: pageShift, Global: global}, 0, true
	}
	if acc&AccessUser != 0 && perm&PermUser == 0 {
		return fault(PFPresent)
	}
	if acc&AccessWrite != 0 && perm&PermWrite == 0 && (acc&AccessUser != 0 || p.WP) {
		return fault(PFPresent)
	}
	if acc&AccessFetch != 0 && perm&PermExec == 0 {
		return fault(PFPresent)
	}
	for i := 0; i < level; i++ {
		// The accessed and dirty bits are in the low byte of every entry
		// size.
		ea := entries[i]
		e := m.RAM[ea] | pteAccessed
		if i == level-1 && acc&AccessWrite != 0 {
			e |= pteDirty
			perm |= PermDirty
		}
		m.NoteWrite(ea, 1)
		m.RAM[ea] = e
	}
	return Translation{Phys: phys, Perm: perm, Shift: pageShift, Global: global}, 0, true
}

func boolBit(b bool, bit uint32) uint32 {
	if b {
		return bit
	}
	return 0
}
