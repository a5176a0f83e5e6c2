package mmu

import (
	"encoding/binary"
	"testing"
)

// A 4-level table set mapping three 4 KiB pages with different rights, a
// 2 MiB page and a 1 GiB page.
func testTables(t *testing.T) (*Memory, *Paging) {
	t.Helper()
	m, err := NewMemory(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	put := func(a, v uint64) { binary.LittleEndian.PutUint64(m.RAM[a:], v) }
	const pml4, pdpt, pd, pt = 0x1000, 0x2000, 0x3000, 0x4000
	put(pml4, pdpt|7)                 // user, writable
	put(pdpt, pd|7)                   // 0 - 1 GiB through pd
	put(pdpt+8, 0x40000000|0x83)      // 1-2 GiB: a 1 GiB page, supervisor
	put(pd, pt|7)                     // 0 - 2 MiB through pt
	put(pd+8, 0x200000|0x87)          // 2-4 MiB: a 2 MiB user page
	put(pt+0x10*8, 0x10000|0x7)       // 0x10000: user, writable
	put(pt+0x11*8, 0x11000|0x5)       // 0x11000: user, read-only
	put(pt+0x12*8, 0x12000|0x3|1<<63) // 0x12000: supervisor, writable, NX
	put(pt+0x13*8, 0x13000|0x3|1<<51) // 0x13000: a reserved address bit
	return m, &Paging{Mode: ModeLong4, CR3: pml4, WP: true, NXE: true}
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name  string
		addr  uint64
		acc   Access
		phys  uint64
		fault uint32 // error code; 0 = no fault
		shift uint8  // page size of a successful walk; 0 = 4 KiB
	}{
		{"user read", 0x10123, AccessUser, 0x10000, 0, 0},
		{"user write", 0x10123, AccessUser | AccessWrite, 0x10000, 0, 0},
		{"user write read-only", 0x11000, AccessUser | AccessWrite, 0, PFPresent | PFWrite | PFUser, 0},
		{"supervisor write read-only with WP", 0x11000, AccessWrite, 0, PFPresent | PFWrite, 0},
		{"user read supervisor page", 0x12000, AccessUser, 0, PFPresent | PFUser, 0},
		{"fetch NX", 0x12000, AccessFetch, 0, PFPresent | PFFetch, 0},
		{"not present", 0x14000, 0, 0, 0x10000 /* marker: any not-present */, 0},
		{"reserved bit", 0x13000, 0, 0, PFPresent | PFReserved, 0},
		{"2 MiB page", 0x345678, AccessUser | AccessWrite, 0x345000, 0, 21},
		{"1 GiB page", 0x40000000 + 0x1234567, AccessWrite, 0x40000000 + 0x1234000, 0, 30},
		{"1 GiB page from user", 0x40000000, AccessUser, 0, PFPresent | PFUser, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, p := testTables(t)
			tr, code, ok := m.Walk(p, tc.addr, tc.acc)
			switch {
			case tc.fault == 0x10000:
				if ok || code&PFPresent != 0 {
					t.Errorf("ok %v code %#x, want a not-present fault", ok, code)
				}
			case tc.fault != 0:
				if ok || code != tc.fault {
					t.Errorf("ok %v code %#x, want fault %#x", ok, code, tc.fault)
				}
			default:
				if !ok || tr.Phys != tc.phys {
					t.Errorf("ok %v phys %#x (code %#x), want %#x", ok, tr.Phys, code, tc.phys)
				}
				if want := max(tc.shift, PageShift); tr.Shift != want {
					t.Errorf("page shift %d, want %d", tr.Shift, want)
				}
			}
		})
	}
}

func TestWalkSetsAccessedAndDirty(t *testing.T) {
	m, p := testTables(t)
	pte := func() uint64 { return binary.LittleEndian.Uint64(m.RAM[0x4000+0x10*8:]) }
	if _, _, ok := m.Walk(p, 0x10000, 0); !ok || pte()&pteAccessed == 0 || pte()&pteDirty != 0 {
		t.Fatalf("after a read: pte %#x, want accessed, not dirty", pte())
	}
	if _, _, ok := m.Walk(p, 0x10000, AccessWrite); !ok || pte()&pteDirty == 0 {
		t.Fatalf("after a write: pte %#x, want dirty", pte())
	}
	// A probe changes nothing.
	binary.LittleEndian.PutUint64(m.RAM[0x4000+0x10*8:], 0x10000|7)
	if _, _, ok := m.Walk(p, 0x10000, AccessProbe|AccessWrite); !ok || pte() != 0x10000|7 {
		t.Fatalf("probe changed the pte to %#x", pte())
	}
}

type regDev struct{ last uint64 }

func (d *regDev) ReadMMIO(off uint64, size int) uint64      { return off + uint64(size) }
func (d *regDev) WriteMMIO(off uint64, size int, v uint64)  { d.last = v }
func (d *regDev) ReadPort(port uint16, size int) uint32     { return uint32(port) }
func (d *regDev) WritePort(port uint16, size int, v uint32) { d.last = uint64(v) }

func TestBusDispatch(t *testing.T) {
	m, err := NewMemory(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	d := &regDev{}
	if err := m.MapMMIO(0xD0000000, 0x1000, d); err != nil {
		t.Fatal(err)
	}
	if err := m.MapMMIO(0xD0000800, 0x1000, d); err == nil {
		t.Error("overlapping MMIO ranges accepted")
	}
	if err := m.MapMMIO(0x1000, 0x1000, d); err == nil {
		t.Error("MMIO over RAM accepted")
	}
	if got := m.Read(0xD0000010, 4); got != 0x14 {
		t.Errorf("MMIO read %#x, want 0x14", got)
	}
	m.Write(0xD0000000, 8, 42)
	if d.last != 42 {
		t.Errorf("MMIO write not dispatched")
	}
	if got := m.Read(0xE0000000, 4); got != 0xFFFFFFFF {
		t.Errorf("unmapped read %#x, want all ones", got)
	}
	m.MapPorts(0x3F8, 0x3FF, d)
	if err := m.MapPorts(0x3FF, 0x400, d); err == nil {
		t.Error("overlapping port ranges accepted")
	}
	if got := m.In(0x3FA, 1); got != 0x3FA {
		t.Errorf("port read %#x", got)
	}
	if got := m.In(0x80, 2); got != 0xFFFF {
		t.Errorf("unmapped port read %#x, want 0xffff", got)
	}
	if err := m.ReadBytes(1<<20-2, make([]byte, 4)); err == nil {
		t.Error("DMA beyond RAM accepted")
	}
	if _, err := NewMemory(4095); err == nil {
		t.Error("RAM size not a page multiple accepted")
	}
}

func TestCodeWriteHook(t *testing.T) {
	m, _ := NewMemory(1 << 20)
	var hit []uint64
	m.SetCodeWriteHook(func(page uint64) { hit = append(hit, page) })
	m.MarkCode(3)
	m.Write(0x2FFF, 2, 0xFFFF) // straddles pages 2 and 3
	if len(hit) != 1 || hit[0] != 3 || m.IsCode(3) {
		t.Fatalf("hook calls %v, code mark %v", hit, m.IsCode(3))
	}
	m.Write(0x3000, 1, 1) // no longer code: no call
	if len(hit) != 1 {
		t.Errorf("hook called for a page no longer marked")
	}
}

// TestWalkGlobal checks that a translation is global only when its leaf
// entry has the G bit and CR4.PGE is set.
func TestWalkGlobal(t *testing.T) {
	m, p := testTables(t)
	binary.LittleEndian.PutUint64(m.RAM[0x3000+8:], 0x200000|0x87|pteGlobal) // the 2 MiB page
	for _, pge := range []bool{false, true} {
		p.PGE = pge
		if tr, _, ok := m.Walk(p, 0x345678, 0); !ok || tr.Global != pge {
			t.Errorf("PGE %v: G page: ok %v global %v, want %v", pge, ok, tr.Global, pge)
		}
		if tr, _, ok := m.Walk(p, 0x10123, 0); !ok || tr.Global {
			t.Errorf("PGE %v: page without G: ok %v global %v", pge, ok, tr.Global)
		}
	}
}
