package machine

import (
	"encoding/binary"
	"fmt"

	"ftvm/cpu"
	"ftvm/mmu"
)

// The PVH boot ABI (Xen's xen/include/public/arch-x86/hvm/start_info.h, as
// QEMU and Firecracker enter a kernel whose ELF notes carry
// XEN_ELFNOTE_PHYS32_ENTRY): the kernel is entered in 32-bit protected mode
// with paging off, EBX the address of a struct hvm_start_info.
const (
	hvmStartMagic   = 0x336EC578
	hvmStartVersion = 1 // with the memory map
	// The start info, the module list and the memory map share the page
	// the 64-bit protocol's zero page uses.
	PVHStartInfoAddr = LinuxBootParamsAddr
	pvhModlistAddr   = PVHStartInfoAddr + 0x40
	pvhMemmapAddr    = PVHStartInfoAddr + 0x80
	hvmStartInfoSize = 56
	hvmModlistSize   = 32
	hvmMemmapSize    = 24
)

// PVHEntry is where and how a PVH kernel is entered: at EIP in 32-bit
// protected mode, paging off, CS a flat 32-bit code segment (LinuxBootCS32
// in the Linux boot GDT), DS, ES and SS flat data, EBX = StartInfo.
type PVHEntry struct {
	EIP       uint32
	StartInfo uint32
}

// pvhEntryPoint returns the PVH entry point of an ELF image, if its notes
// carry one.
func pvhEntryPoint(image []byte) (uint32, bool, error) {
	notes, err := elfNotes(image)
	if err != nil {
		return 0, false, err
	}
	for _, n := range notes {
		if n.owner != noteOwnerXen || n.typ != xenNotePhys32Entr {
			continue
		}
		switch len(n.desc) {
		case 4:
			return binary.LittleEndian.Uint32(n.desc), true, nil
		case 8:
			v := binary.LittleEndian.Uint64(n.desc)
			if v>>32 != 0 {
				return 0, false, fmt.Errorf("image: PVH entry point %#x is above 4 GiB", v)
			}
			return uint32(v), true, nil
		}
		return 0, false, fmt.Errorf("image: PVH entry note of %d bytes", len(n.desc))
	}
	return 0, false, nil
}

// LoadPVH loads an ELF kernel that carries a PVH entry note for the PVH
// boot ABI: its segments, the initrd (nil for none) as module 0, the
// command line, the ACPI tables and the hvm_start_info (version 1: with the
// e820 memory map and the RSDP address), and sets the CPU up at the entry
// as QEMU enters it: 32-bit protected mode, paging off, CS = LinuxBootCS32
// and DS = ES = SS = LinuxBootDS of the Linux boot GDT, interrupts off, EBX
// = the start info's address. (LoadImage boots a vmlinux through its 64-bit
// entry.)
func (m *Machine) LoadPVH(kernel, initrd []byte, cmdline string) (PVHEntry, error) {
	entry, ok, err := pvhEntryPoint(kernel)
	if err != nil {
		return PVHEntry{}, err
	}
	if !ok {
		return PVHEntry{}, fmt.Errorf("image: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)")
	}
	k, err := loadVmlinux(m.Mem, kernel)
	if err != nil {
		return PVHEntry{}, err
	}
	if uint64(entry) < k.start || uint64(entry) >= k.end {
		return PVHEntry{}, fmt.Errorf("image: PVH entry point %#x is outside the kernel (%#x-%#x)", entry, k.start, k.end)
	}
	rsdp, err := m.writeACPITables()
	if err != nil {
		return PVHEntry{}, err
	}
	if err := writeStartInfo(m.Mem, k, cmdline, initrd, rsdp); err != nil {
		return PVHEntry{}, err
	}
	if _, err := setupLongMode(m.Mem, linuxGDT); err != nil {
		return PVHEntry{}, err
	}
	m.enterProtected(len(linuxGDT), LinuxBootCS32, LinuxBootDS, entry)
	m.CPU.R[cpu.RBX] = PVHStartInfoAddr
	return PVHEntry{EIP: entry, StartInfo: PVHStartInfoAddr}, nil
}

// writeStartInfo writes the hvm_start_info, its module list and memory
// map, the command line and the initrd.
func writeStartInfo(mem *mmu.Memory, k *linuxKernel, cmdline string, initrd []byte, rsdp uint64) error {
	if len(cmdline) > k.cmdlineMax {
		return fmt.Errorf("command line: %d bytes, longer than the kernel's limit of %d", len(cmdline), k.cmdlineMax)
	}
	le := binary.LittleEndian
	page := make([]byte, bootParamsSize)
	si := page[:hvmStartInfoSize]
	le.PutUint32(si[0:], hvmStartMagic)
	le.PutUint32(si[4:], hvmStartVersion)
	le.PutUint64(si[16:], 0) // modlist_paddr, below
	le.PutUint64(si[24:], LinuxCmdlineAddr)
	le.PutUint64(si[32:], rsdp)
	if len(initrd) > 0 {
		at, err := placeInitrd(k, uint64(len(mem.RAM)), uint64(len(initrd)))
		if err != nil {
			return err
		}
		if err := mem.WriteBytes(at, initrd); err != nil {
			return fmt.Errorf("initrd: %w", err)
		}
		le.PutUint32(si[12:], 1) // nr_modules
		le.PutUint64(si[16:], pvhModlistAddr)
		mod := page[pvhModlistAddr-PVHStartInfoAddr:]
		le.PutUint64(mod[0:], at)
		le.PutUint64(mod[8:], uint64(len(initrd)))
	}
	mm := memoryMap(uint64(len(mem.RAM)))
	le.PutUint64(si[40:], pvhMemmapAddr)
	le.PutUint32(si[48:], uint32(len(mm)))
	for i, e := range mm {
		b := page[pvhMemmapAddr-PVHStartInfoAddr+hvmMemmapSize*i:]
		le.PutUint64(b[0:], e.addr)
		le.PutUint64(b[8:], e.size)
		le.PutUint32(b[16:], e.typ)
	}
	if err := mem.WriteBytes(LinuxCmdlineAddr, append([]byte(cmdline), 0)); err != nil {
		return fmt.Errorf("command line: %w", err)
	}
	return mem.WriteBytes(PVHStartInfoAddr, page)
}
