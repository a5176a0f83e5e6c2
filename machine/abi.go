// Package machine is the ftvm board: guest RAM, the image loaders, the device
// map and the CPU state the guest boot ABI prescribes.
package machine

// Control register bits used by the boot ABI (ARCHITECTURE.md §3).
const (
	CR0PE = 1 << 0  // protection enable
	CR0MP = 1 << 1  // monitor coprocessor
	CR0ET = 1 << 4  // extension type (always 1 on modern CPUs)
	CR0NE = 1 << 5  // native x87 error reporting
	CR0WP = 1 << 16 // supervisor writes honour read-only pages
	CR0PG = 1 << 31 // paging

	CR4PAE        = 1 << 5  // physical address extension
	CR4OSFXSR     = 1 << 9  // FXSAVE/FXRSTOR and SSE enabled
	CR4OSXMMEXCPT = 1 << 10 // unmasked SSE exceptions raise #XM

	EFERSCE = 1 << 0  // SYSCALL/SYSRET enable
	EFERLME = 1 << 8  // long mode enable
	EFERLMA = 1 << 10 // long mode active
	EFERNXE = 1 << 11 // execute-disable bit enable
)

// CPU state at the entry point of an ELF64 image (ARCHITECTURE.md §3).
const (
	BootCR0    = CR0PE | CR0MP | CR0ET | CR0NE | CR0WP | CR0PG
	BootCR4    = CR4PAE | CR4OSFXSR | CR4OSXMMEXCPT
	BootEFER   = EFERLME | EFERLMA | EFERNXE | EFERSCE
	BootRFLAGS = 0x2     // reserved bit 1 only: interrupts disabled
	BootRSP    = 0x80000 // initial stack pointer
	BootCS     = 0x08    // 64-bit code selector
	BootDS     = 0x10    // flat data selector for DS, ES, SS, FS and GS
)

// Selectors of the ring-3 descriptors in the boot GDT, without RPL bits. They
// are laid out for SYSCALL/SYSRET with STAR[47:32] = BootCS and
// STAR[63:48] = BootDS: SYSRET to 64-bit mode loads SS = 0x18|3 and
// CS = 0x20|3.
const (
	BootUserDS = 0x18 // flat data, DPL 3
	BootUserCS = 0x20 // 64-bit code, DPL 3
)

// Guest physical layout of the boot structures. Everything the loader writes
// for itself lies below BootTablesEnd; images are linked at or above
// ImageMinAddr.
const (
	BootGDTAddr   = 0x500    // boot GDT
	BootPML4Addr  = 0x1000   // page map level 4 (CR3)
	BootPDPTAddr  = 0x2000   // page directory pointer table
	BootPDAddr    = 0x3000   // four page directories, 0x3000-0x6FFF
	BootTablesEnd = 0x8000   // end of the region reserved for boot structures
	ImageMinAddr  = 0x100000 // lowest address an ELF64 image may load at (1 MiB)
)

// The guest command line (an extension of the boot ABI): a NUL-terminated
// string at CmdlineAddr whose address is in RSI at entry; RSI is 0 when
// there is none.
const (
	CmdlineAddr = 0x7000
	cmdlineMax  = BootTablesEnd - CmdlineAddr
)
