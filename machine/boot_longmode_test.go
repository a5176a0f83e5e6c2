package machine

import (
	"encoding/binary"
	"testing"

	"ftvm/mmu"
)

func TestSetupLongModePaging(t *testing.T) {
	mem := newTestMemory(t, testRAMSize)
	tables, err := SetupLongMode(mem)
	if err != nil {
		t.Fatalf("SetupLongMode: %v", err)
	}
	if tables.CR3 != BootPML4Addr || tables.GDTBase != BootGDTAddr || tables.GDTLimit != 5*8-1 {
		t.Errorf("tables = %+v", tables)
	}
	paging := &mmu.Paging{Mode: mmu.ModeLong4, CR3: tables.CR3, WP: true, NXE: true}
	tests := []struct {
		addr    uint64
		acc     mmu.Access
		present bool
		errCode uint32 // when the walk fails
	}{
		{0, 0, true, 0},
		{0, mmu.AccessWrite, true, 0},
		{0x7FF8, mmu.AccessWrite, true, 0},
		{0x100000, mmu.AccessFetch, true, 0},
		{0x1FFFFF, mmu.AccessWrite, true, 0},
		{0x200000, mmu.AccessFetch, true, 0},
		{0x3FFFF000, 0, true, 0},
		{0x40000000, mmu.AccessWrite, true, 0}, // second page directory
		{0xD0000000, mmu.AccessWrite, true, 0}, // virtio-mmio slots
		{0xFEC00000, mmu.AccessWrite, true, 0}, // I/O APIC
		{0xFEE00000, mmu.AccessWrite, true, 0}, // local APIC
		{0xFEE00000, mmu.AccessFetch, true, 0},
		{0xFFFFF000, mmu.AccessWrite, true, 0},
		{0xFFFFFFFF, 0, true, 0},
		{0x100000, mmu.AccessUser, false, mmu.PFPresent | mmu.PFUser}, // supervisor only
		{0x100000000, 0, false, 0},
		{0x100000000, mmu.AccessWrite, false, mmu.PFWrite},
		{0x7FFFFFFFF000, 0, false, 0},
		{0xFFFFFFFFFFFFF000, 0, false, 0}, // PML4 entry 511
	}
	for _, tt := range tests {
		tr, code, ok := mem.Walk(paging, tt.addr, tt.acc)
		if ok != tt.present {
			t.Errorf("Walk(%#x, %#x): ok = %v (error code %#x), want %v", tt.addr, tt.acc, ok, code, tt.present)
			continue
		}
		if !ok {
			if code != tt.errCode {
				t.Errorf("Walk(%#x, %#x): error code %#x, want %#x", tt.addr, tt.acc, code, tt.errCode)
			}
			continue
		}
		if want := tt.addr &^ (mmu.PageSize - 1); tr.Phys != want {
			t.Errorf("Walk(%#x): phys %#x, want %#x (identity)", tt.addr, tr.Phys, want)
		}
		if tr.Perm&(mmu.PermWrite|mmu.PermExec) != mmu.PermWrite|mmu.PermExec || tr.Perm&mmu.PermUser != 0 {
			t.Errorf("Walk(%#x): perm %#x, want writable, executable, supervisor", tt.addr, tr.Perm)
		}
	}
}

func TestSetupLongModeGDT(t *testing.T) {
	mem := newTestMemory(t, testRAMSize)
	tables, err := SetupLongMode(mem)
	if err != nil {
		t.Fatalf("SetupLongMode: %v", err)
	}
	desc := func(sel uint64) uint64 {
		return binary.LittleEndian.Uint64(mem.RAM[tables.GDTBase+sel:])
	}
	// Access byte (bits 40-47) and flags nibble (bits 52-55: AVL, L, D/B, G).
	tests := []struct {
		name   string
		sel    uint64
		access uint8
		flags  uint8
	}{
		{"null", 0, 0, 0},
		{"kernel code", BootCS, 0x9B, 0xA}, // P, DPL0, S, execute/read accessed; G, L
		{"kernel data", BootDS, 0x93, 0xC}, // P, DPL0, S, read/write accessed; G, D/B
		{"user data", BootUserDS, 0xF3, 0xC},
		{"user code", BootUserCS, 0xFB, 0xA},
	}
	for _, tt := range tests {
		d := desc(tt.sel)
		if got := uint8(d >> 40); got != tt.access {
			t.Errorf("%s (%#x): access %#x, want %#x", tt.name, tt.sel, got, tt.access)
		}
		if got := uint8(d>>52) & 0xF; got != tt.flags {
			t.Errorf("%s (%#x): flags %#x, want %#x", tt.name, tt.sel, got, tt.flags)
		}
		base := d>>16&0xFFFFFF | d>>56<<24
		if base != 0 {
			t.Errorf("%s (%#x): base %#x, want 0", tt.name, tt.sel, base)
		}
		if limit := d&0xFFFF | d>>48&0xF<<16; tt.sel != 0 && limit != 0xFFFFF {
			t.Errorf("%s (%#x): limit %#x, want 0xfffff", tt.name, tt.sel, limit)
		}
	}
	if end := tables.GDTBase + tables.GDTLimit + 1; end > BootPML4Addr {
		t.Errorf("GDT ends at %#x, past the PML4 at %#x", end, BootPML4Addr)
	}
	for a := BootTablesEnd; a < BootTablesEnd+0x1000; a++ {
		if mem.RAM[a] != 0 {
			t.Fatalf("SetupLongMode wrote RAM at %#x, above BootTablesEnd", a)
		}
	}
}

func TestBootConstants(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"CR0", BootCR0, 0x80010033},
		{"CR4", BootCR4, 0x620},
		{"EFER", BootEFER, 0xD01},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Boot%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}

func TestSetupLongModeSmallRAM(t *testing.T) {
	if _, err := SetupLongMode(newTestMemory(t, 0x4000)); err == nil {
		t.Error("SetupLongMode succeeded with 16 KiB of RAM")
	}
	if _, err := SetupLongMode(nil); err == nil {
		t.Error("SetupLongMode(nil) succeeded")
	}
}
