package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/mmu"
)

// BootTables describes the descriptor and page tables SetupLongMode wrote:
// the values to load into GDTR and CR3.
type BootTables struct {
	GDTBase  uint64 // linear (= physical) address of the GDT
	GDTLimit uint64 // GDTR limit: size of the GDT in bytes minus one
	CR3      uint64 // physical address of the PML4
}

// Boot GDT descriptors: base 0, limit 0xFFFFF with 4 KiB granularity,
// present, accessed (so the CPU never needs to write the table).
const (
	gdtCode64   = 0x00AF9B000000FFFF // 0x08: 64-bit code, DPL 0, execute/read (L=1, D=0)
	gdtData     = 0x00CF93000000FFFF // 0x10: data, DPL 0, read/write
	gdtUserData = 0x00CFF3000000FFFF // 0x18: data, DPL 3, read/write
	gdtUser64   = 0x00AFFB000000FFFF // 0x20: 64-bit code, DPL 3, execute/read
)

// Paging entry bits used by the boot tables.
const (
	ptPresent  = 1 << 0
	ptWritable = 1 << 1
	ptLarge    = 1 << 7 // PS: a 2 MiB page in a page directory
)

// bootMapped is how much the boot page tables identity-map: 4 GiB, with
// four page directories of 512 2 MiB pages.
const bootMapped = 4 << 30

// SetupLongMode writes the boot GDT and identity page tables into RAM below
// BootTablesEnd and returns where they are.
//
// The GDT holds the null descriptor, BootCS (64-bit code, DPL 0), BootDS
// (flat data, DPL 0), BootUserDS and BootUserCS (their DPL 3 counterparts).
// The page tables map linear addresses 0 to 4 GiB to the same physical
// addresses with 2 MiB pages that are present, writable, supervisor-only and
// executable; addresses from 4 GiB up are not mapped. RAM must hold at least
// BootTablesEnd bytes.
func SetupLongMode(mem *mmu.Memory) (BootTables, error) {
	return setupLongMode(mem, []uint64{0, gdtCode64, gdtData, gdtUserData, gdtUser64})
}

// setupLongMode writes gdt at BootGDTAddr and the identity page tables.
func setupLongMode(mem *mmu.Memory, gdt []uint64) (BootTables, error) {
	if mem == nil || !mem.IsRAM(0, BootTablesEnd) {
		return BootTables{}, fmt.Errorf("boot: RAM is smaller than the %#x bytes the boot tables need", BootTablesEnd)
	}
	if err := writeQwords(mem, BootGDTAddr, gdt); err != nil {
		return BootTables{}, err
	}

	pml4 := make([]uint64, 512)
	pml4[0] = BootPDPTAddr | ptPresent | ptWritable
	if err := writeQwords(mem, BootPML4Addr, pml4); err != nil {
		return BootTables{}, err
	}

	const dirs = bootMapped >> 30
	pdpt := make([]uint64, 512)
	for i := range uint64(dirs) {
		pdpt[i] = (BootPDAddr + i*mmu.PageSize) | ptPresent | ptWritable
	}
	if err := writeQwords(mem, BootPDPTAddr, pdpt); err != nil {
		return BootTables{}, err
	}

	pd := make([]uint64, dirs*512)
	for i := range pd {
		pd[i] = uint64(i)<<21 | ptPresent | ptWritable | ptLarge
	}
	if err := writeQwords(mem, BootPDAddr, pd); err != nil {
		return BootTables{}, err
	}

	return BootTables{
		GDTBase:  BootGDTAddr,
		GDTLimit: uint64(len(gdt)*8 - 1),
		CR3:      BootPML4Addr,
	}, nil
}

// writeQwords stores q little-endian at physical address addr.
func writeQwords(mem *mmu.Memory, addr uint64, q []uint64) error {
	b := make([]byte, 8*len(q))
	for i, v := range q {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	if err := mem.WriteBytes(addr, b); err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	return nil
}
