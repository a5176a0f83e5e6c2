package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/cpu"
	"ftvm/mmu"
)

// Multiboot v1 (the Multiboot Specification 0.6.96), as
// qemu-system-x86_64 -kernel boots it: an ELF32 image, or any image whose
// header gives the load addresses (the "a.out kludge", flag bit 16), is
// entered in 32-bit protected mode with paging off, EAX = MultibootMagic and
// EBX = the address of the multiboot information.
const (
	multibootHeaderMagic = 0x1BADB002
	// MultibootMagic is the value in EAX at a multiboot kernel's entry.
	MultibootMagic = 0x2BADB002
	// multibootSearch is how far into the image the header may start.
	multibootSearch = 8192

	mbFlagAOut = 1 << 16 // the header's address fields are valid

	// MultibootInfoAddr is where the multiboot information is written; the
	// memory map and the strings follow it, below BootTablesEnd.
	MultibootInfoAddr = 0x6000
	mbModsAddr        = MultibootInfoAddr + 0x80 // up to mbMaxMods entries of 16 bytes
	mbMmapAddr        = MultibootInfoAddr + 0x100
	mbLoaderNameAddr  = MultibootInfoAddr + 0x200
	mbStringsAddr     = MultibootInfoAddr + 0x220 // module strings, up to mbCmdlineAddr
	mbCmdlineAddr     = CmdlineAddr
	mbMaxMods         = 8

	// multiboot_info flags.
	mbInfoMem     = 1 << 0
	mbInfoCmdline = 1 << 2
	mbInfoMods    = 1 << 3
	mbInfoMmap    = 1 << 6
	mbInfoName    = 1 << 9

	// Selectors of the GDT a multiboot kernel is entered with.
	multibootCS = 0x08
	multibootDS = 0x10
)

// multibootGDT is null, flat 32-bit code, flat data (DPL 0, accessed).
var multibootGDT = []uint64{0, 0x00CF9B000000FFFF, gdtData}

// multibootHeader finds the multiboot header in the first 8 KiB of image:
// its offset and flags.
func multibootHeader(image []byte) (off int, flags uint32, ok bool) {
	for off = 0; off+12 <= len(image) && off < multibootSearch; off += 4 {
		magic := binary.LittleEndian.Uint32(image[off:])
		flags = binary.LittleEndian.Uint32(image[off+4:])
		sum := binary.LittleEndian.Uint32(image[off+8:])
		if magic == multibootHeaderMagic && magic+flags+sum == 0 {
			return off, flags, true
		}
	}
	return 0, 0, false
}

// IsMultiboot reports whether image is a multiboot v1 kernel ftvm boots as
// such: it carries a valid header and is not an ELF64 (which boots by the
// direct-boot ABI, as QEMU refuses it as a multiboot kernel).
func IsMultiboot(image []byte) bool {
	_, _, ok := multibootHeader(image)
	return ok && !(isELF(image) && len(image) > 4 && image[4] == 2)
}

// MultibootModule is a module handed to a multiboot kernel: its bytes and
// its string (QEMU's: the -initrd item, file name and arguments).
type MultibootModule struct {
	String string
	Data   []byte
}

// LoadMultiboot loads a multiboot v1 kernel and its modules (each at the
// next page boundary after the kernel and the module before it, as QEMU
// places them) and enters it as the spec says: 32-bit protected mode,
// paging off, flat CS (0x08) and data segments (0x10) from a GDT below
// BootTablesEnd, interrupts off, EAX = MultibootMagic, EBX =
// MultibootInfoAddr. The information holds the memory sizes, the e820
// memory map, the command line, the modules and the loader's name.
func (m *Machine) LoadMultiboot(image []byte, mods []MultibootModule, cmdline string) error {
	off, flags, ok := multibootHeader(image)
	if !ok {
		return fmt.Errorf("image: no multiboot header in the first %d bytes", multibootSearch)
	}
	if flags&0xFFFC != 0 {
		return fmt.Errorf("image: multiboot header requests unsupported features (flags %#x)", flags)
	}
	var entry, end uint32
	var err error
	if flags&mbFlagAOut != 0 {
		entry, end, err = loadMultibootAOut(m.Mem, image, off)
	} else {
		entry, end, err = loadELF32(m.Mem, image)
	}
	if err != nil {
		return err
	}
	if err := writeMultibootInfo(m.Mem, cmdline, mods, uint64(end)); err != nil {
		return err
	}
	if err := writeQwords(m.Mem, BootGDTAddr, multibootGDT); err != nil {
		return err
	}
	m.enterProtected(len(multibootGDT), multibootCS, multibootDS, entry)
	m.CPU.R[cpu.RAX] = MultibootMagic
	m.CPU.R[cpu.RBX] = MultibootInfoAddr
	return nil
}

// loadMultibootAOut loads an image by the header's address fields and
// returns its entry point and end (bss included).
func loadMultibootAOut(mem *mmu.Memory, image []byte, off int) (entry, end uint32, err error) {
	if off+32 > len(image) {
		return 0, 0, fmt.Errorf("image: multiboot header truncated")
	}
	f := func(i int) uint32 { return binary.LittleEndian.Uint32(image[off+12+4*i:]) }
	headerAddr, loadAddr, loadEnd, bssEnd := f(0), f(1), f(2), f(3)
	entry = f(4)
	if headerAddr < loadAddr || uint64(headerAddr-loadAddr) > uint64(off) {
		return 0, 0, fmt.Errorf("image: multiboot header_addr %#x below load_addr %#x or before the file", headerAddr, loadAddr)
	}
	start := uint64(off) - uint64(headerAddr-loadAddr)
	size := uint64(len(image)) - start
	if loadEnd != 0 {
		if loadEnd < loadAddr || uint64(loadEnd-loadAddr) > size {
			return 0, 0, fmt.Errorf("image: multiboot load_end_addr %#x outside the file", loadEnd)
		}
		size = uint64(loadEnd - loadAddr)
	}
	if loadAddr < ImageMinAddr || !mem.IsRAM(uint64(loadAddr), size) {
		return 0, 0, fmt.Errorf("image: multiboot load range %#x+%#x is not in RAM above %#x", loadAddr, size, ImageMinAddr)
	}
	if err := mem.WriteBytes(uint64(loadAddr), image[start:start+size]); err != nil {
		return 0, 0, err
	}
	e := uint64(loadAddr) + size
	if bssEnd != 0 && uint64(bssEnd) > e {
		if !mem.IsRAM(e, uint64(bssEnd)-e) {
			return 0, 0, fmt.Errorf("image: multiboot bss_end_addr %#x beyond RAM", bssEnd)
		}
		clear(mem.RAM[e:bssEnd])
		e = uint64(bssEnd)
	}
	return entry, uint32(e), nil
}

// loadELF32 loads the PT_LOAD segments of an ELF32 i386 executable at
// their physical addresses and returns the entry point and the end of the
// highest segment.
func loadELF32(mem *mmu.Memory, image []byte) (entry, end uint32, err error) {
	if !isELF(image) || len(image) < 52 || image[4] != 1 || image[5] != 1 {
		return 0, 0, fmt.Errorf("image: a multiboot kernel without address fields must be a little-endian ELF32")
	}
	if m := binary.LittleEndian.Uint16(image[18:]); m != elfMachine86 {
		return 0, 0, fmt.Errorf("image: ELF32 machine %d, want i386", m)
	}
	entry = binary.LittleEndian.Uint32(image[24:])
	phoff := uint64(binary.LittleEndian.Uint32(image[28:]))
	phentsize := uint64(binary.LittleEndian.Uint16(image[42:]))
	phnum := uint64(binary.LittleEndian.Uint16(image[44:]))
	if phentsize < 32 || phoff+phnum*phentsize > uint64(len(image)) {
		return 0, 0, fmt.Errorf("image: ELF32 program headers outside the file")
	}
	loaded := false
	for i := range phnum {
		ph := image[phoff+i*phentsize:]
		if binary.LittleEndian.Uint32(ph) != 1 { // PT_LOAD
			continue
		}
		offset := uint64(binary.LittleEndian.Uint32(ph[4:]))
		paddr := uint64(binary.LittleEndian.Uint32(ph[12:]))
		filesz := uint64(binary.LittleEndian.Uint32(ph[16:]))
		memsz := uint64(binary.LittleEndian.Uint32(ph[20:]))
		if filesz > memsz || offset+filesz > uint64(len(image)) {
			return 0, 0, fmt.Errorf("image: ELF32 segment %d: file range outside the file or larger than memory size", i)
		}
		if paddr < ImageMinAddr || !mem.IsRAM(paddr, memsz) {
			return 0, 0, fmt.Errorf("image: ELF32 segment %d at %#x+%#x is not in RAM above %#x", i, paddr, memsz, ImageMinAddr)
		}
		if err := mem.WriteBytes(paddr, image[offset:offset+filesz]); err != nil {
			return 0, 0, err
		}
		clear(mem.RAM[paddr+filesz : paddr+memsz])
		loaded = true
		end = max(end, uint32(paddr+memsz))
	}
	if !loaded {
		return 0, 0, fmt.Errorf("image: ELF32 without PT_LOAD segments")
	}
	return entry, end, nil
}

// writeMultibootInfo writes the multiboot information: mem_lower and
// mem_upper (KiB of conventional memory, and from 1 MiB up to the first
// hole, as the memory map has them), the memory map, the command line, the
// modules (loaded from the first page boundary at or above end) and the
// loader's name.
func writeMultibootInfo(mem *mmu.Memory, cmdline string, mods []MultibootModule, end uint64) error {
	ram := uint64(len(mem.RAM))
	// Multiboot's map entries are etc/e820's, each after its size (20).
	var mm []byte
	for e := e820File(ram); len(e) >= 20; e = e[20:] {
		mm = binary.LittleEndian.AppendUint32(mm, 20)
		mm = append(mm, e[:20]...)
	}
	if len(cmdline) >= cmdlineMax {
		return fmt.Errorf("command line of %d bytes: at most %d", len(cmdline), cmdlineMax-1)
	}
	info := make([]byte, 0x58)
	put := func(off int, v uint32) { binary.LittleEndian.PutUint32(info[off:], v) }
	flags := uint32(mbInfoMem | mbInfoCmdline | mbInfoMmap | mbInfoName)
	if len(mods) > 0 {
		if len(mods) > mbMaxMods {
			return fmt.Errorf("multiboot: %d modules, at most %d", len(mods), mbMaxMods)
		}
		var list, strs []byte
		at := (end + mmu.PageSize - 1) &^ (mmu.PageSize - 1)
		for _, md := range mods {
			size := uint64(len(md.Data))
			if at+size > lowRAMTop(ram) || !mem.IsRAM(at, size) {
				return fmt.Errorf("multiboot: module %q (%d bytes) does not fit in RAM at %#x", md.String, size, at)
			}
			if err := mem.WriteBytes(at, md.Data); err != nil {
				return err
			}
			list = binary.LittleEndian.AppendUint32(list, uint32(at))
			list = binary.LittleEndian.AppendUint32(list, uint32(at+size))
			list = binary.LittleEndian.AppendUint32(list, uint32(mbStringsAddr+len(strs)))
			list = binary.LittleEndian.AppendUint32(list, 0)
			strs = append(append(strs, md.String...), 0)
			at = (at + size + mmu.PageSize - 1) &^ (mmu.PageSize - 1)
		}
		if mbStringsAddr+len(strs) > mbCmdlineAddr {
			return fmt.Errorf("multiboot: module strings of %d bytes, at most %d", len(strs), mbCmdlineAddr-mbStringsAddr)
		}
		if err := mem.WriteBytes(mbModsAddr, list); err != nil {
			return err
		}
		if err := mem.WriteBytes(mbStringsAddr, strs); err != nil {
			return err
		}
		flags |= mbInfoMods
		put(20, uint32(len(mods)))
		put(24, mbModsAddr)
	}
	put(0, flags)
	put(4, ebdaStart/1024)
	put(8, uint32(lowRAMTop(ram)/1024-1024))
	put(16, mbCmdlineAddr)
	put(44, uint32(len(mm)))
	put(48, mbMmapAddr)
	put(64, mbLoaderNameAddr)
	for _, w := range []struct {
		addr uint64
		b    []byte
	}{
		{MultibootInfoAddr, info},
		{mbMmapAddr, mm},
		{mbLoaderNameAddr, []byte("ftvm\x00")},
		{mbCmdlineAddr, append([]byte(cmdline), 0)},
	} {
		if err := mem.WriteBytes(w.addr, w.b); err != nil {
			return err
		}
	}
	return nil
}

// enterProtected puts the CPU in 32-bit protected mode at eip with paging
// off: the GDT of gdtLen descriptors at BootGDTAddr, code selector cs (flat
// 32-bit), flat data selector ds in DS, ES, SS, FS and GS, interrupts off,
// the general registers 0.
func (m *Machine) enterProtected(gdtLen int, cs, ds uint16, eip uint32) {
	c := m.CPU
	c.GDTR = cpu.DTR{Base: BootGDTAddr, Limit: uint16(gdtLen*8 - 1)}
	c.IDTR = cpu.DTR{Limit: 0x3FF}
	c.Seg[cpu.CS] = cpu.Segment{Selector: cs, Limit: 0xFFFFFFFF, Attr: 0x9B | cpu.SegAttrD | 0x8000}
	for _, s := range []int{cpu.DS, cpu.ES, cpu.SS, cpu.FS, cpu.GS} {
		c.Seg[s] = cpu.Segment{Selector: ds, Limit: 0xFFFFFFFF, Attr: 0x93 | cpu.SegAttrD | 0x8000}
	}
	c.TR = cpu.Segment{Limit: 0xFFFF, Attr: 0x8B}
	c.CR0, c.CR3, c.CR4, c.EFER = cpu.CR0PE|cpu.CR0ET, 0, 0, 0
	c.R = [len(c.R)]uint64{}
	c.RIP = uint64(eip)
	c.SetRFLAGS(BootRFLAGS)
	c.StateChanged()
}
