package mmu

import (
	"encoding/binary"
	"testing"
)

// The legacy paging modes: 32-bit paging (4-byte entries, 4 MiB pages with
// CR4.PSE and PSE-36 address bits) and PAE paging (4 PDPTEs, then 8-byte
// entries with XD).
func TestWalkLegacy(t *testing.T) {
	m, err := NewMemory(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	put32 := func(a uint64, v uint32) { le.PutUint32(m.RAM[a:], v) }
	put64 := func(a, v uint64) { le.PutUint64(m.RAM[a:], v) }
	// 32-bit paging: PD at 0x1000, PT at 0x2000.
	put32(0x1000, 0x2000|7)                    // 0-4 MiB through the PT
	put32(0x1000+1*4, 0x400000|0x87)           // 4-8 MiB: a 4 MiB user page (with PSE)
	put32(0x1000+2*4, 0x00C00000|0x83|0x3<<13) // 8-12 MiB: 4 MiB page at 0x3_00C00000 (PSE-36)
	put32(0x1000+3*4, 0x01000000|0x83|1<<21)   // reserved bit 21
	put32(0x2000+0x10*4, 0x10000|7)
	put32(0x2000+0x11*4, 0x11000|5) // read-only
	// PAE: PDPT at 0x3020 (32-byte aligned), PD at 0x4000, PT at 0x5000.
	put64(0x3020, 0x4000|1)
	put64(0x3020+8, 0x4000|1|1<<2) // reserved PDPTE bit 2
	put64(0x4000, 0x5000|7)
	put64(0x4000+8, 0x200000|0x87)
	put64(0x5000+0x10*8, 0x10000|3|1<<63) // supervisor, XD
	put64(0x5000+0x11*8, 0x11000|7|1<<52) // bit 52: reserved in PAE (ignored in long mode)

	p32 := &Paging{Mode: Mode32, CR3: 0x1000, WP: true}
	p32pse := &Paging{Mode: Mode32, CR3: 0x1000, WP: true, PSE: true}
	pae := &Paging{Mode: ModePAE, CR3: 0x3020, WP: true, NXE: true}
	tests := []struct {
		name  string
		p     *Paging
		addr  uint64
		acc   Access
		phys  uint64
		fault uint32 // 0: no fault
		shift uint8
	}{
		{"32: 4 KiB user page", p32, 0x10123, AccessUser | AccessWrite, 0x10000, 0, 12},
		{"32: read-only with WP", p32, 0x11000, AccessWrite, 0, PFPresent | PFWrite, 0},
		{"32: not present", p32, 0x12000, 0, 0, 1 << 20, 0},
		{"32: 4 MiB page", p32pse, 0x512345, AccessUser, 0x512000, 0, 22},
		{"32: PS without PSE is a table pointer", p32, 0x400000, 0, 0, 1 << 20, 0},
		{"32: PSE-36 address bits", p32pse, 0x800000 + 0x1000, 0, 0x3_00C01000, 0, 22},
		{"32: reserved bit 21", p32pse, 0xC00000, 0, 0, PFPresent | PFReserved, 0},
		{"pae: 2 MiB page", pae, 0x234567, AccessUser | AccessWrite, 0x234000, 0, 21},
		{"pae: execute-disable", pae, 0x10000, AccessFetch, 0, PFPresent | PFFetch, 0},
		{"pae: supervisor page from user", pae, 0x10000, AccessUser, 0, PFPresent | PFUser, 0},
		{"pae: bit 52 reserved", pae, 0x11000, 0, 0, PFPresent | PFReserved, 0},
		{"pae: reserved PDPTE bit", pae, 0x40000000, 0, 0, PFPresent | PFReserved, 0},
		{"pae: PDPTE not present", pae, 0x80000000, AccessWrite, 0, 1 << 20, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, code, ok := m.Walk(tc.p, tc.addr, tc.acc)
			switch {
			case tc.fault == 1<<20:
				if ok || code&PFPresent != 0 {
					t.Errorf("ok %v code %#x, want a not-present fault", ok, code)
				}
			case tc.fault != 0:
				if ok || code != tc.fault {
					t.Errorf("ok %v code %#x, want %#x", ok, code, tc.fault)
				}
			case !ok || tr.Phys != tc.phys || tr.Shift != tc.shift:
				t.Errorf("ok %v phys %#x shift %d (code %#x), want %#x shift %d", ok, tr.Phys, tr.Shift, code, tc.phys, tc.shift)
			}
		})
	}
	// A successful 32-bit walk sets A in the PDE and A and D in the PTE,
	// and nothing in the neighbouring bytes.
	if _, _, ok := m.Walk(p32, 0x10000, AccessWrite); !ok {
		t.Fatal("walk failed")
	}
	if pde, pte := le.Uint32(m.RAM[0x1000:]), le.Uint32(m.RAM[0x2000+0x10*4:]); pde != 0x2000|7|pteAccessed || pte != 0x10000|7|pteAccessed|pteDirty {
		t.Errorf("PDE %#x PTE %#x after a write", pde, pte)
	}
}
