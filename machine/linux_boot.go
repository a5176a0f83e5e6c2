package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/cpu"
	"ftvm/devices"
	"ftvm/mmu"
)

// Guest physical layout of a Linux boot (Documentation/x86/boot.rst, the
// 64-bit boot protocol), as Firecracker lays it out. The boot GDT and page
// tables are SetupLongMode's, below BootTablesEnd.
const (
	LinuxBootParamsAddr = 0x7000  // struct boot_params, the "zero page" (RSI at entry)
	LinuxStackTop       = 0x8FF0  // RSP at entry
	LinuxCmdlineAddr    = 0x20000 // the NUL-terminated command line
	// ACPITablesAddr is where the RSDP and the ACPI tables go: in the BIOS
	// area, which the e820 map reserves.
	ACPITablesAddr = 0xE0000
	acpiTablesEnd  = 0x100000
	// ebdaStart is where conventional memory ends in the e820 map, as on a
	// PC whose extended BIOS data area is 1 KiB.
	ebdaStart = 0x9FC00
	// lowMMIOStart is the first address of the device hole below 4 GiB:
	// RAM there is shadowed by the virtio-mmio slots and the APICs.
	lowMMIOStart = devices.VirtioMMIOBase
)

// Segment selectors of the Linux boot GDT: __BOOT_CS and __BOOT_DS of the
// boot protocol, after a 32-bit code descriptor at 0x08 (what the PVH
// entry's CS is).
const (
	LinuxBootCS32 = 0x08
	LinuxBootCS   = 0x10
	LinuxBootDS   = 0x18
)

// miscEnableFastString is IA32_MISC_ENABLE bit 0, fast-string operations
// enabled.
const miscEnableFastString = 1 << 0

// linuxGDT is the boot GDT of a Linux boot: null, 32-bit code, 64-bit code,
// flat data, all DPL 0, base 0, 4 GiB limit, accessed.
var linuxGDT = []uint64{0, 0x00CF9B000000FFFF, gdtCode64, gdtData}

// e820 memory types.
const (
	e820RAM      = 1
	e820Reserved = 2
)

// e820Entry is one range of the physical memory map.
type e820Entry struct {
	addr, size uint64
	typ        uint32
}

// e820MaxZeroPage is how many entries boot_params holds.
const e820MaxZeroPage = 128

// memoryMap returns the e820 map of a board with ram bytes of RAM:
// conventional memory, the reserved BIOS area (where the ACPI tables are),
// RAM from 1 MiB up to the device hole and, when RAM is larger, from 4 GiB
// up.
func memoryMap(ram uint64) []e820Entry {
	m := []e820Entry{
		{0, ebdaStart, e820RAM},
		{ebdaStart, ImageMinAddr - ebdaStart, e820Reserved},
	}
	if top := min(ram, lowMMIOStart); top > ImageMinAddr {
		m = append(m, e820Entry{ImageMinAddr, top - ImageMinAddr, e820RAM})
	}
	if ram > 1<<32 {
		m = append(m, e820Entry{1 << 32, ram - 1<<32, e820RAM})
	}
	return m
}

// e820File returns the memory map of a board with ram bytes of RAM in the
// layout of fw_cfg's etc/e820 file: per range a 64-bit address, a 64-bit
// length and a 32-bit type, little-endian.
func e820File(ram uint64) []byte {
	var b []byte
	for _, e := range memoryMap(ram) {
		b = binary.LittleEndian.AppendUint64(b, e.addr)
		b = binary.LittleEndian.AppendUint64(b, e.size)
		b = binary.LittleEndian.AppendUint32(b, e.typ)
	}
	return b
}

// lowRAMTop returns the end of the RAM below the device hole.
func lowRAMTop(ram uint64) uint64 { return min(ram, lowMMIOStart) }

// Offsets in struct boot_params (arch/x86/include/uapi/asm/bootparam.h) and
// in its setup header, which starts at hdrStart both there and in a
// bzImage.
const (
	bpACPIRSDP         = 0x070
	bpExtRamdiskImage  = 0x0C0
	bpExtRamdiskSize   = 0x0C4
	bpExtCmdLinePtr    = 0x0C8
	bpE820Entries      = 0x1E8
	bpE820Table        = 0x2D0
	bootParamsSize     = 0x1000
	hdrStart           = 0x1F1
	hdrSetupSects      = 0x1F1
	hdrBootFlag        = 0x1FE
	hdrJump            = 0x200
	hdrMagic           = 0x202
	hdrVersion         = 0x206
	hdrTypeOfLoader    = 0x210
	hdrLoadFlags       = 0x211
	hdrCode32Start     = 0x214
	hdrRamdiskImage    = 0x218
	hdrRamdiskSize     = 0x21C
	hdrCmdLinePtr      = 0x228
	hdrInitrdAddrMax   = 0x22C
	hdrKernelAlignment = 0x230
	hdrRelocatable     = 0x234
	hdrXLoadFlags      = 0x236
	hdrCmdlineSize     = 0x238
	hdrPrefAddress     = 0x258
	hdrInitSize        = 0x260
	hdrMinEnd          = 0x264 // the header through init_size (protocol 2.10)

	bootFlagMagic  = 0xAA55
	hdrSignature   = "HdrS"
	loaderUnknown  = 0xFF // type_of_loader: a boot loader without an assigned id
	loadedHigh     = 1 << 0
	xlfKernel64    = 1 << 0 // startup_64 at the load address + 0x200
	startup64      = 0x200  // offset of startup_64 in the protected-mode kernel
	defaultAddrMax = 0x7FFFFFFF
	// linuxCmdlineSize is COMMAND_LINE_SIZE - 1 on x86, the limit when the
	// image has no setup header to say (an ELF vmlinux).
	linuxCmdlineSize = 2047
	// linuxProtocolVersion is the boot protocol version the loader speaks
	// (2.15), written into a vmlinux's synthesized setup header.
	linuxProtocolVersion = 0x020F
)

// linuxKernel is a kernel image loaded into RAM: what the boot parameters
// and the entry need to know about it.
type linuxKernel struct {
	// header is the setup header to copy into boot_params (from hdrStart),
	// or nil for an ELF vmlinux, which has none.
	header []byte
	// start and end bound the RAM the kernel owns once it runs: for a
	// bzImage the load address and init_size after it.
	start, end uint64
	entry      uint64 // physical address of startup_64
	cmdlineMax int    // longest command line (without the NUL)
	initrdMax  uint64 // highest address an initrd byte may have
}

// placeInitrd returns where an initrd of size bytes goes: the highest
// page-aligned address below both the kernel's limit and the end of low RAM,
// above the kernel.
func placeInitrd(k *linuxKernel, ram, size uint64) (uint64, error) {
	top := min(k.initrdMax+1, lowRAMTop(ram))
	if size > top || (top-size)&^(mmu.PageSize-1) < k.end {
		return 0, fmt.Errorf("initrd: %s does not fit in RAM between the kernel's end (%#x) and %#x: give the guest more RAM (-m)",
			formatSize(size), k.end, top)
	}
	return (top - size) &^ (mmu.PageSize - 1), nil
}

// writeBootParams fills the zero page at LinuxBootParamsAddr, the command
// line and the initrd for k, with the ACPI root pointer at rsdp.
func writeBootParams(mem *mmu.Memory, k *linuxKernel, cmdline string, initrd []byte, rsdp uint64) error {
	if len(cmdline) > k.cmdlineMax {
		return fmt.Errorf("command line: %d bytes, longer than the kernel's limit of %d", len(cmdline), k.cmdlineMax)
	}
	ram := uint64(len(mem.RAM))
	bp := make([]byte, bootParamsSize)
	le := binary.LittleEndian
	if k.header != nil {
		copy(bp[hdrStart:], k.header)
		le.PutUint32(bp[hdrCode32Start:], uint32(k.start))
	} else {
		le.PutUint16(bp[hdrBootFlag:], bootFlagMagic)
		copy(bp[hdrMagic:], hdrSignature)
		le.PutUint16(bp[hdrVersion:], linuxProtocolVersion)
		le.PutUint32(bp[hdrInitrdAddrMax:], uint32(k.initrdMax))
		le.PutUint32(bp[hdrCmdlineSize:], uint32(k.cmdlineMax))
	}
	bp[hdrTypeOfLoader] = loaderUnknown
	bp[hdrLoadFlags] |= loadedHigh
	le.PutUint32(bp[hdrCmdLinePtr:], uint32(LinuxCmdlineAddr))
	le.PutUint64(bp[bpACPIRSDP:], rsdp)
	if len(initrd) > 0 {
		at, err := placeInitrd(k, ram, uint64(len(initrd)))
		if err != nil {
			return err
		}
		if err := mem.WriteBytes(at, initrd); err != nil {
			return fmt.Errorf("initrd: %w", err)
		}
		le.PutUint32(bp[hdrRamdiskImage:], uint32(at))
		le.PutUint32(bp[bpExtRamdiskImage:], uint32(at>>32))
		le.PutUint32(bp[hdrRamdiskSize:], uint32(len(initrd)))
		le.PutUint32(bp[bpExtRamdiskSize:], uint32(uint64(len(initrd))>>32))
	}
	e820 := memoryMap(ram)
	bp[bpE820Entries] = byte(len(e820))
	for i, e := range e820 {
		b := bp[bpE820Table+20*i:]
		le.PutUint64(b, e.addr)
		le.PutUint64(b[8:], e.size)
		le.PutUint32(b[16:], e.typ)
	}
	if err := mem.WriteBytes(LinuxCmdlineAddr, append([]byte(cmdline), 0)); err != nil {
		return fmt.Errorf("command line: %w", err)
	}
	return mem.WriteBytes(LinuxBootParamsAddr, bp)
}

// LoadImage loads a guest image: a Linux kernel (see IsLinuxKernel) with
// its initrd and command line through the Linux boot protocol, a multiboot
// kernel (see IsMultiboot) as QEMU boots it, any other image as an ELF64 by
// the direct-boot ABI, which has no initrd.
func (m *Machine) LoadImage(image, initrd []byte, cmdline string) error {
	if IsMultiboot(image) {
		if initrd != nil {
			return fmt.Errorf("a multiboot kernel takes modules (LoadMultiboot), not an initrd")
		}
		return m.LoadMultiboot(image, nil, cmdline)
	}
	if IsLinuxKernel(image) {
		return m.LoadLinux(image, initrd, cmdline)
	}
	if initrd != nil {
		return fmt.Errorf("an initrd needs a Linux kernel (a bzImage or a vmlinux), not a plain ELF64 guest")
	}
	return m.LoadELF64(image)
}

// LoadLinux loads a Linux kernel (a bzImage, or an ELF vmlinux as
// Firecracker boots it), its initrd (nil for none) and command line, writes
// the ACPI tables describing the board, and sets the CPU up at startup_64
// as the 64-bit boot protocol prescribes: long mode with the first 4 GiB
// identity-mapped, CS = __BOOT_CS, DS = ES = SS = __BOOT_DS, interrupts
// off, RSI = the boot_params address. Attach the devices first: the tables
// describe the virtio slots in use.
func (m *Machine) LoadLinux(kernel, initrd []byte, cmdline string) error {
	var k *linuxKernel
	var err error
	if isELF(kernel) {
		k, err = loadVmlinux(m.Mem, kernel)
	} else {
		k, err = loadBzImage(m.Mem, kernel)
	}
	if err != nil {
		return err
	}
	rsdp, err := m.writeACPITables()
	if err != nil {
		return err
	}
	if err := writeBootParams(m.Mem, k, cmdline, initrd, rsdp); err != nil {
		return err
	}
	tables, err := setupLongMode(m.Mem, linuxGDT)
	if err != nil {
		return err
	}
	m.enterLongMode(tables, LinuxBootCS, LinuxBootDS, k.entry, LinuxStackTop)
	m.CPU.R[cpu.RSI] = LinuxBootParamsAddr
	// Firmware leaves fast string operations enabled; Linux otherwise
	// stops using REP MOVSB/STOSB for copies.
	m.CPU.MiscEnable |= miscEnableFastString
	m.CPU.StateChanged()
	return nil
}

// writeACPITables writes the board's ACPI tables at ACPITablesAddr and
// returns the RSDP's address.
func (m *Machine) writeACPITables() (uint64, error) {
	img, err := m.ACPITables().Build(ACPITablesAddr)
	if err != nil {
		return 0, err
	}
	if ACPITablesAddr+uint64(len(img.Bytes)) > acpiTablesEnd {
		return 0, fmt.Errorf("acpi: %d bytes of tables do not fit in the BIOS area", len(img.Bytes))
	}
	if err := m.Mem.WriteBytes(ACPITablesAddr, img.Bytes); err != nil {
		return 0, fmt.Errorf("acpi: %w", err)
	}
	return img.RSDP, nil
}
